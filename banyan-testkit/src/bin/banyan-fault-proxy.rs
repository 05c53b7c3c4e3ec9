//! `banyan-fault-proxy`: the test kit's [`FaultProxy`] as a command, for scripts whose MCU
//! side is another process with a TCP serial port (the Pico harness of `scripts/pico-emu.sh`,
//! QEMU's `-serial tcp:`). Listens on 127.0.0.1 (port chosen by the kernel), relays every
//! connection to `--upstream` and damages the bytes both ways.
//!
//! ```text
//! banyan-fault-proxy --upstream 127.0.0.1:PORT [--corrupt-byte-ppm N] [--seed S]
//! ```
//!
//! Prints `listening on 127.0.0.1:P` once, then, every second while bytes flow, one line of
//! totals: `to-upstream bytes=… corrupted 12 | to-client bytes=… corrupted 9`. Runs until
//! killed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use banyan_testkit::{FaultProxy, FaultStats, Faults};

struct Options {
    upstream: SocketAddr,
    corrupt_byte_ppm: u32,
    seed: u64,
}

fn parse() -> Result<Options> {
    let mut upstream = None;
    let mut corrupt_byte_ppm = 0;
    let mut seed = 1;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--upstream" => {
                let text = value()?;
                upstream = Some(
                    text.parse()
                        .with_context(|| format!("--upstream {text}: want IP:PORT"))?,
                );
            }
            "--corrupt-byte-ppm" => {
                let text = value()?;
                corrupt_byte_ppm = text
                    .parse()
                    .with_context(|| format!("--corrupt-byte-ppm {text}: want 0-1000000"))?;
                if corrupt_byte_ppm > 1_000_000 {
                    bail!("--corrupt-byte-ppm {text}: want 0-1000000");
                }
            }
            "--seed" => {
                let text = value()?;
                seed = text
                    .parse()
                    .with_context(|| format!("--seed {text}: want an unsigned integer"))?;
            }
            "-h" | "--help" => {
                println!("banyan-fault-proxy --upstream IP:PORT [--corrupt-byte-ppm N] [--seed S]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    let upstream = upstream.context("--upstream IP:PORT is required")?;
    Ok(Options {
        upstream,
        corrupt_byte_ppm,
        seed,
    })
}

fn line(stats: &FaultStats) -> String {
    format!("bytes={} corrupted {}", stats.bytes, stats.corrupted_bytes)
}

fn run() -> Result<()> {
    let options = parse()?;
    let faults = Faults {
        corrupt_byte: options.corrupt_byte_ppm,
        ..Faults::NONE
    };
    let proxy = FaultProxy::tcp(options.upstream, options.seed, faults, faults)
        .context("starting the proxy")?;
    println!("listening on {}", proxy.address());
    let mut last = (0, 0);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let (up, down) = (proxy.to_upstream(), proxy.to_client());
        if (up.bytes, down.bytes) != last {
            last = (up.bytes, down.bytes);
            println!("to-upstream {} | to-client {}", line(&up), line(&down));
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("banyan-fault-proxy: {error:#}");
            ExitCode::from(2)
        }
    }
}
