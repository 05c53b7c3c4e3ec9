//! `banyan-linerate-proxy --upstream HOST:PORT --baud N [--bits-per-byte B]`: a TCP proxy on
//! 127.0.0.1 that paces both directions at a serial line's rate
//! ([`banyan_testkit::LineRateProxy`]), for putting QEMU's emulated UART (which is not
//! baud-limited) behind a real UART's speed. Prints `listening 127.0.0.1:PORT` once ready and
//! runs until it is killed (by its PID).

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use banyan_testkit::{LineRate, LineRateProxy};

const USAGE: &str =
    "usage: banyan-linerate-proxy --upstream HOST:PORT --baud N [--bits-per-byte B]";

fn parse(args: &[String]) -> Result<(SocketAddr, LineRate), String> {
    let (mut upstream, mut baud, mut bits) = (None, None, 10u32);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--upstream" => {
                upstream = value
                    .to_socket_addrs()
                    .map_err(|e| format!("--upstream {value}: {e}"))?
                    .next();
            }
            "--baud" => {
                baud = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|b| *b > 0)
                        .ok_or_else(|| {
                            format!("--baud {value}: give a positive number of bits per second")
                        })?,
                );
            }
            "--bits-per-byte" => {
                bits = value
                    .parse::<u32>()
                    .ok()
                    .filter(|b| (7..=12).contains(b))
                    .ok_or_else(|| format!("--bits-per-byte {value}: give 7–12 (10 for 8N1)"))?;
            }
            other => return Err(format!("unknown argument {other}; {USAGE}")),
        }
    }
    let upstream = upstream.ok_or_else(|| format!("--upstream is required; {USAGE}"))?;
    let baud = baud.ok_or_else(|| format!("--baud is required; {USAGE}"))?;
    Ok((
        upstream,
        LineRate {
            baud,
            bits_per_byte: bits,
        },
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (upstream, rate) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("banyan-linerate-proxy: {message}");
            return ExitCode::from(2);
        }
    };
    let proxy = match LineRateProxy::tcp(upstream, rate) {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("banyan-linerate-proxy: cannot listen on 127.0.0.1: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening {}", proxy.address());
    println!(
        "pacing {} baud, {} bits per byte ({} bytes/s) to {upstream}",
        rate.baud,
        rate.bits_per_byte,
        rate.bytes_per_sec()
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
