//! What `/proc` says about a process (CPU time, memory) and where the benchmark's sibling
//! binaries are. Child processes themselves are `banyan_testkit::ChildGuard`s.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// `sysconf(_SC_CLK_TCK)`: ticks per second of `/proc/PID/stat` times.
pub fn clock_ticks_per_second() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks as f64,
        _ => 100.0,
    }
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
    use std::time::Instant;

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
}
