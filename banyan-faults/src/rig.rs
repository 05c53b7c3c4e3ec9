//! The processes and measurements the faults share: binaries next to the runner, a backplane
//! on fixed loopback ports (so a restarted one is found again), echo servers and clients, RSS.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use banyan_testkit::{ChildGuard, free_port};

/// Where the host binaries are.
#[derive(Debug, Clone)]
pub struct Bins {
    pub dir: PathBuf,
}

impl Bins {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn command(&self, name: &str) -> Result<Command> {
        let path = self.path(name);
        if !path.is_file() {
            bail!(
                "{} not built (cargo build --workspace --bins)",
                path.display()
            );
        }
        Ok(Command::new(path))
    }

    /// `true` when `name --help` mentions `flag` (a feature that may not have landed yet).
    pub fn supports(&self, name: &str, flag: &str) -> bool {
        Command::new(self.path(name))
            .arg("--help")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).contains(flag))
            .unwrap_or(false)
    }
}

/// Two ports free on 127.0.0.1.
pub fn two_ports() -> Result<(u16, u16)> {
    loop {
        let (a, b) = (free_port()?, free_port()?);
        if a != b {
            return Ok((a, b));
        }
    }
}

/// A backplane process on 127.0.0.1 with fixed ports.
pub struct BackplaneProc {
    pub child: ChildGuard,
}

impl BackplaneProc {
    pub fn start(bins: &Bins, ports: (u16, u16), extra: &[&str]) -> Result<Self> {
        let mut command = bins.command("backplane")?;
        command.args([
            "--bind",
            "127.0.0.1",
            "-p",
            &ports.0.to_string(),
            "-s",
            &ports.1.to_string(),
        ]);
        command.args(extra);
        let mut child = ChildGuard::spawn("backplane", command)?;
        child.set_deadline(Instant::now() + Duration::from_secs(30));
        child.wait_stdout("Publisher  Port")?;
        Ok(Self { child })
    }

    /// Peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        peak_rss(self.child.pid())
    }
}

pub fn component_flags(ports: (u16, u16)) -> Vec<String> {
    vec![
        "-b".into(),
        "127.0.0.1".into(),
        "-p".into(),
        ports.0.to_string(),
        "-s".into(),
        ports.1.to_string(),
    ]
}

/// `simple-echo-server` on the backplane at `ports`, once its subscription is proven.
pub fn echo_server(bins: &Bins, ports: (u16, u16), deadline: Instant) -> Result<ChildGuard> {
    let mut command = bins.command("simple-echo-server")?;
    command.args(component_flags(ports));
    command.args(["--connect-timeout", "30"]);
    let mut child = ChildGuard::spawn("echo server", command)?;
    child.set_deadline(deadline);
    child.wait_line("****")?;
    Ok(child)
}

/// `simple-echo-client -m N` (started, not waited for).
pub fn echo_client(
    bins: &Bins,
    ports: (u16, u16),
    messages: u32,
    deadline: Instant,
) -> Result<ChildGuard> {
    let mut command = bins.command("simple-echo-client")?;
    command.args(component_flags(ports));
    command.args(["-m", &messages.to_string(), "--connect-timeout", "30"]);
    let mut child = ChildGuard::spawn("echo client", command)?;
    child.set_deadline(deadline);
    Ok(child)
}

/// Message numbers an echo server printed.
pub use banyan_testkit::served_numbers as served;

/// Waits until `server` served at least `n` messages (or the deadline passes).
pub fn wait_served(server: &ChildGuard, n: usize, deadline: Instant) -> Result<()> {
    while served(server).len() < n {
        if Instant::now() >= deadline {
            bail!(
                "the echo server served {} of {n} messages in time",
                served(server).len()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Runs a complete echo of `messages` through the backplane at `ports` (a fresh server and
/// client); `Ok(())` when the client counted down to 0.
pub fn echo_round(bins: &Bins, ports: (u16, u16), messages: u32) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let _server = echo_server(bins, ports, deadline).context("echo server")?;
    let mut client = echo_client(bins, ports, messages, deadline)?;
    client.wait_success().context("echo client")?;
    client.wait_stdout(&format!("{messages} messages sent and received."))?;
    Ok(())
}

/// VmHWM of `pid`, bytes (0 when unreadable).
pub fn peak_rss(pid: u32) -> u64 {
    kib_field(pid, "VmHWM")
}

fn kib_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
        })
        .unwrap_or(0)
        * 1024
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
