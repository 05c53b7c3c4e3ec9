//! Memory and CPU: the `backplane` binary as a separate process during a throughput run
//! (peak RSS from `/proc/PID/status` `VmHWM`, CPU from `/proc/PID/stat`), and the CPU an idle
//! component uses.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use banyan_testkit::{ChildGuard, backplane_ports};

use crate::procs::{cpu_time, resident};
use crate::pubsub::{Endpoints, Throughput, banyan_run};

/// The Rust `backplane` binary running as its own process on 127.0.0.1 (killed on drop).
#[derive(Debug)]
pub struct BackplaneProcess {
    child: ChildGuard,
    /// Where components connect.
    pub endpoints: Endpoints,
}

impl BackplaneProcess {
    /// Starts `exe --bind 127.0.0.1 -p 0 -s 0` and reads the ports from its banner.
    pub fn start(exe: &Path) -> Result<Self> {
        let mut command = Command::new(exe);
        command.args(["-n", "bench", "--bind", "127.0.0.1", "-p", "0", "-s", "0"]);
        let mut child = ChildGuard::spawn("backplane", command)?;
        child.set_deadline(Instant::now() + Duration::from_secs(20));
        let (publisher_port, subscriber_port) = backplane_ports(&child)?;
        Ok(Self {
            child,
            endpoints: Endpoints {
                address: "127.0.0.1".into(),
                publisher_port,
                subscriber_port,
            },
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// What the backplane process used during one throughput run.
#[derive(Debug, Clone, Copy)]
pub struct BackplaneUsage {
    /// The run through it.
    pub throughput: Throughput,
    /// Resident set before the run, bytes.
    pub rss_before: u64,
    /// Peak resident set (`VmHWM`) after the run, bytes.
    pub peak_rss: u64,
    /// Resident set after the run, bytes.
    pub rss_after: u64,
    /// CPU time the backplane used during the run.
    pub cpu: Duration,
    /// Wall time of the run (connects included).
    pub wall: Duration,
}

/// Runs `count` messages through a fresh backplane process and reads its memory and CPU.
pub fn backplane_usage(exe: &Path, count: u64, quiet: Duration) -> Result<BackplaneUsage> {
    let backplane = BackplaneProcess::start(exe)?;
    let pid = backplane.pid();
    let rss_before = resident(pid)?.now;
    let cpu_before = cpu_time(pid)?;
    let start = Instant::now();
    let throughput = banyan_run(&backplane.endpoints, count, quiet)
        .context("throughput run through the backplane process")?;
    let wall = start.elapsed();
    let cpu = cpu_time(pid)?.saturating_sub(cpu_before);
    let after = resident(pid)?;
    Ok(BackplaneUsage {
        throughput,
        rss_before,
        peak_rss: after.peak,
        rss_after: after.now,
        cpu,
        wall,
    })
}

/// CPU time a process uses over `window`, read from `/proc` at both ends.
pub fn cpu_over(pids: &[u32], window: Duration) -> Result<Vec<Duration>> {
    let before = pids
        .iter()
        .map(|&pid| cpu_time(pid))
        .collect::<Result<Vec<_>>>()?;
    std::thread::sleep(window);
    pids.iter()
        .zip(before)
        .map(|(&pid, before)| Ok(cpu_time(pid)?.saturating_sub(before)))
        .collect()
}
