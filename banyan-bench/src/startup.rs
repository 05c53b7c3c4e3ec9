//! Startup and idle probes: the benchmark binary re-runs itself as a tiny component
//! (`banyan-bench startup-probe ...`) so that process start, exec, library loading and
//! `Component::connect` are all timed, and so that an idle component's CPU can be read
//! from `/proc` without counting the benchmark's own threads.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use banyan_host::ComponentConfig;

use crate::pubsub::Endpoints;
use banyan_testkit::ChildGuard;

/// Subcommand name of the probe mode.
pub const PROBE_COMMAND: &str = "startup-probe";

/// The child side: connects (proving the path, as every component does), prints
/// `READY connect_us=N`, then idles in `recv_timeout` for `idle` (no traffic arrives: it
/// subscribes to a topic nobody publishes). `asynchronous`: the async component instead
/// (`banyan_host::aio`, on a current-thread tokio runtime), idling in `recv` under a
/// `tokio::time::timeout`.
pub fn probe_main(
    address: &str,
    publisher_port: u16,
    subscriber_port: u16,
    idle: Duration,
    asynchronous: bool,
) -> Result<()> {
    let start = Instant::now();
    let config = ComponentConfig::new("bench-probe")
        .backplane(address, publisher_port, subscriber_port)
        .subscribe("bench-idle");
    if asynchronous {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            let mut component = banyan_host::aio::Component::connect(config).await?;
            ready(start.elapsed())?;
            // Cancel-safe: the timeout ending the wait loses nothing.
            if let Ok(message) = tokio::time::timeout(idle, component.recv()).await {
                message?;
            }
            Ok(())
        });
    }
    let mut component = config.connect()?;
    ready(start.elapsed())?;
    let until = Instant::now() + idle;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        component.recv_timeout(left)?;
    }
}

/// Prints the `READY` line.
fn ready(connect: Duration) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "READY connect_us={}", connect.as_micros())?;
    stdout.flush()?;
    Ok(())
}

/// A running probe: the process and the times it took to get ready.
#[derive(Debug)]
pub struct Probe {
    /// The process (killed on drop).
    pub child: ChildGuard,
    /// From `spawn()` to the `READY` line.
    pub spawn_to_ready: Duration,
    /// `Component::connect` as timed inside the child.
    pub connect: Duration,
}

/// Spawns `exe startup-probe ...` against `endpoints` and waits for `READY`.
pub fn spawn_probe(
    exe: &Path,
    endpoints: &Endpoints,
    idle: Duration,
    asynchronous: bool,
) -> Result<Probe> {
    let mut command = Command::new(exe);
    command
        .arg(PROBE_COMMAND)
        .arg("--backplane")
        .arg(&endpoints.address)
        .arg("-p")
        .arg(endpoints.publisher_port.to_string())
        .arg("-s")
        .arg(endpoints.subscriber_port.to_string())
        .arg("--idle-secs")
        .arg(idle.as_secs_f64().to_string());
    if asynchronous {
        command.arg("--async");
    }
    let start = Instant::now();
    let mut child = ChildGuard::spawn("startup probe", command)?;
    let line = child.wait_line_until("READY", start + Duration::from_secs(20))?;
    let spawn_to_ready = start.elapsed();
    let micros: u64 = line
        .strip_prefix("connect_us=")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("bad READY line `{line}`"))?;
    Ok(Probe {
        child,
        spawn_to_ready,
        connect: Duration::from_micros(micros),
    })
}
