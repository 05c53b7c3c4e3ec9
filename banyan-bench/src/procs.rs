//! Child processes (killed on drop), their output lines, and what `/proc` says about them.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// How many stderr lines a [`ChildGuard`] keeps for error messages.
const STDERR_TAIL: usize = 20;

/// A child process with piped output that is killed and reaped when dropped (also when the
/// benchmark fails or unwinds).
pub struct ChildGuard {
    name: String,
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl std::fmt::Debug for ChildGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildGuard")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .finish()
    }
}

fn forward_lines(
    stream: impl Read + Send + 'static,
    mut sink: impl FnMut(String) + Send + 'static,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => sink(line),
                Err(_) => break,
            }
        }
    });
}

impl ChildGuard {
    /// Spawns `command` with stdin closed and stdout/stderr captured line by line.
    pub fn spawn(name: impl Into<String>, mut command: Command) -> Result<Self> {
        let name = name.into();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        let (tx, lines) = channel();
        if let Some(stdout) = child.stdout.take() {
            forward_lines(stdout, move |line| {
                let _ = tx.send(line);
            });
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stream) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            forward_lines(stream, move |line| {
                let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            });
        }
        Ok(Self {
            name,
            child,
            lines,
            stderr,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the process wrote to stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Waits until a stdout line starts with `prefix` and returns the rest of it (other lines
    /// are skipped). Fails at `deadline` or when the process closes its stdout.
    pub fn wait_line(&mut self, prefix: &str, deadline: Instant) -> Result<String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_owned());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    bail!(
                        "{} printed no `{prefix}` line in time; stderr:\n{}",
                        self.name,
                        self.stderr_tail()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    // Give the stderr reader a moment to collect the last words.
                    std::thread::sleep(Duration::from_millis(50));
                    bail!(
                        "{} exited ({status:?}) without printing `{prefix}`; stderr:\n{}",
                        self.name,
                        self.stderr_tail()
                    )
                }
            }
        }
    }

    /// Waits for the process to exit by itself until `deadline`; kills it after that.
    pub fn wait_exit(&mut self, deadline: Instant) -> Result<std::process::ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                bail!("{} did not exit in time", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `sysconf(_SC_CLK_TCK)`: ticks per second of `/proc/PID/stat` times.
pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the C library; it has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU time a process used so far: the sum of its threads' `/proc/PID/task/*/schedstat`
/// (nanoseconds; threads that already exited are not counted), or, where that is not
/// available, utime + stime of `/proc/PID/stat` (clock ticks, usually 10 ms).
pub fn cpu_time(pid: u32) -> Result<Duration> {
    match schedstat_ns(pid) {
        Some(ns) => Ok(Duration::from_nanos(ns)),
        None => stat_cpu_time(pid),
    }
}

fn schedstat_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let text = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// CPU time (user + system) of `/proc/PID/stat`, in clock-tick resolution.
pub fn stat_cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    let seconds = parse_stat_cpu_ticks(&stat)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat: {stat}"))? as f64
        / clock_ticks_per_second();
    Ok(Duration::from_secs_f64(seconds))
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock ticks. The command
/// name (field 2) may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` field of `/proc/PID/status` (e.g. `VmHWM`, `VmRSS`), in bytes.
pub fn status_kib_field(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    parse_status_field(&status, field)
        .map(|kib| kib * 1024)
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
}

/// The number of a `Field:   1234 kB` line of `/proc/PID/status`.
pub fn parse_status_field(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Two TCP ports that were free on all IPv4 interfaces a moment ago, for a process that needs
/// explicit ports (Python's backplane).
pub fn free_port_pair() -> Result<(u16, u16)> {
    let a = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    let b = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

/// Waits until something accepts TCP connections on `address:port`.
pub fn wait_listening(address: IpAddr, port: u16, deadline: Instant) -> Result<()> {
    let target = SocketAddr::new(address, port);
    loop {
        if TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("nothing listens on {target}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A sibling executable of the running benchmark (`target/release/NAME` when run by cargo).
pub fn sibling_exe(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{exe:?} has no directory"))?;
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        bail!(
            "{} not found (build it with `cargo build --release -p banyan-cli --bins`)",
            path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    17 5 0 0 20 0 1 0 12345 1000 200";
        assert_eq!(parse_stat_cpu_ticks(line), Some(22));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_fields() {
        let status = "Name:\tbackplane\nVmHWM:\t   10240 kB\nVmRSS:\t    8000 kB\n";
        assert_eq!(parse_status_field(status, "VmHWM"), Some(10240));
        assert_eq!(parse_status_field(status, "VmRSS"), Some(8000));
        assert_eq!(parse_status_field(status, "VmSwap"), None);
    }

    #[test]
    fn own_process() {
        let pid = std::process::id();
        assert!(status_kib_field(pid, "VmRSS").unwrap() > 0);
        let before = cpu_time(pid).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0u64.wrapping_add(1));
        }
        assert!(cpu_time(pid).unwrap() > before);
        stat_cpu_time(pid).unwrap();
    }

    #[test]
    fn child_lines_and_kill() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo hello; echo 'READY 42'; echo oops >&2; sleep 30"]);
        let mut child = ChildGuard::spawn("sh", command).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(child.wait_line("READY", deadline).unwrap(), "42");
        let pid = child.pid();
        drop(child);
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| !stat.contains(") Z"))
            .unwrap_or(false);
        assert!(!alive, "child {pid} survived its guard");
    }
}
