//! What `/proc` says about a process (CPU time, memory; read with `procfs`) and where the
//! benchmark's sibling binaries are. Child processes themselves are `banyan_testkit::ChildGuard`s.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use procfs::process::Process;

/// CPU time a process used so far: the sum of its threads' schedstat run times
/// (nanoseconds; threads that already exited are not counted), or, where that is not
/// available, utime + stime of its stat (clock ticks, usually 10 ms).
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let process = process(pid)?;
    match schedstat_ns(&process) {
        Some(ns) => Ok(Duration::from_nanos(ns)),
        None => stat_cpu_time(&process),
    }
}

fn process(pid: u32) -> Result<Process> {
    let id = i32::try_from(pid).map_err(|_| anyhow!("pid {pid} out of range"))?;
    Process::new(id).with_context(|| format!("no process {pid} in /proc"))
}

fn schedstat_ns(process: &Process) -> Option<u64> {
    let mut total = 0u64;
    for task in process.tasks().ok()? {
        total += task.ok()?.schedstat().ok()?.sum_exec_runtime;
    }
    Some(total)
}

/// CPU time (user + system) of a process's stat, in clock-tick resolution.
fn stat_cpu_time(process: &Process) -> Result<Duration> {
    let stat = process
        .stat()
        .with_context(|| format!("cannot read /proc/{}/stat", process.pid))?;
    let ticks = stat.utime + stat.stime;
    Ok(Duration::from_secs_f64(
        ticks as f64 / procfs::ticks_per_second() as f64,
    ))
}

/// A process's peak and current resident memory (`VmHWM`, `VmRSS`), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resident {
    /// `VmHWM`: the peak.
    pub peak: u64,
    /// `VmRSS`: now.
    pub now: u64,
}

/// What `/proc/PID/status` says of a process's resident memory.
pub fn resident(pid: u32) -> Result<Resident> {
    let status = process(pid)?
        .status()
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let field = |value: Option<u64>, name: &str| {
        value
            .map(|kib| kib * 1024)
            .ok_or_else(|| anyhow!("no {name} in /proc/{pid}/status"))
    };
    Ok(Resident {
        peak: field(status.vmhwm, "VmHWM")?,
        now: field(status.vmrss, "VmRSS")?,
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
    fn own_process() {
        let pid = std::process::id();
        let memory = resident(pid).unwrap();
        assert!(memory.now > 0 && memory.peak >= memory.now, "{memory:?}");
        let before = cpu_time(pid).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0u64.wrapping_add(1));
        }
        assert!(cpu_time(pid).unwrap() > before);
        stat_cpu_time(&process(pid).unwrap()).unwrap();
    }
}
