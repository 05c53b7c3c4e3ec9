//! The launcher's processes on Unix: each command in a process group of its own (its pid is
//! the group id), SIGTERM then SIGKILL to the whole group, and on Linux `PR_SET_PDEATHSIG` so
//! that a launcher that dies without cleaning up still takes its children along.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// A launched command: the child is its process group's leader.
pub(super) type Launched = Child;

/// Spawns `argv` (`command` split into words) in a new process group. With `window`, runs it
/// in `xterm -e` as Python does, when a display is available. With `capture`, its stdout and
/// stderr are pipes for [`take_output`].
pub(super) fn spawn(
    command: &str,
    argv: &[String],
    window: bool,
    capture: bool,
) -> std::io::Result<Launched> {
    let mut process = if window && std::env::var_os("DISPLAY").is_some() {
        let mut xterm = Command::new("xterm");
        xterm.arg("-e").args(argv);
        xterm
    } else {
        if window {
            tracing::warn!(%command, "spawn = yes but no DISPLAY: running without a window");
        }
        let mut process = Command::new(&argv[0]);
        process.args(&argv[1..]);
        process
    };
    process.stdin(Stdio::null()).process_group(0);
    if capture {
        super::capture_output(&mut process);
    }
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: the closure only calls prctl (async-signal-safe) and touches no memory of the
    // parent; `pre_exec` itself is what is unsafe.
    unsafe {
        process.pre_exec(|| {
            // If the launcher dies without cleaning up, the kernel sends SIGTERM.
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
        });
    }
    process.spawn()
}

/// The pipes of a child spawned with `capture`.
pub(super) fn take_output(launched: &mut Launched) -> (Option<ChildStdout>, Option<ChildStderr>) {
    (launched.stdout.take(), launched.stderr.take())
}

/// Asks the process group `pid` to stop (SIGTERM).
pub(super) fn terminate(_launched: Option<&Launched>, pid: u32) {
    signal_group(pid, Signal::SIGTERM);
}

/// The group's leader exited: what it left in its group is asked to stop too.
pub(super) fn release(gone: Launched) {
    signal_group(gone.id(), Signal::SIGTERM);
}

/// Kills the whole process group (SIGKILL).
pub(super) fn kill(launched: &mut Launched) {
    signal_group(launched.id(), Signal::SIGKILL);
}

/// Sends `signal` to process group `pgid`. `false` when the group is gone.
fn signal_group(pgid: u32, signal: Signal) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    if pgid <= 1 {
        return false; // never signal "every process" or init's group
    }
    nix::sys::signal::killpg(Pid::from_raw(pgid), signal).is_ok()
}

/// How a process ended, for people: `exit code 1`, `signal 9`.
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}
