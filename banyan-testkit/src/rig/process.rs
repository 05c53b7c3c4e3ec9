//! [`ChildGuard`]: a child process with captured output that is killed (SIGKILL, by its PID
//! handle) and reaped when dropped — also while a failing test unwinds.
//!
//! Output is read line by line on two threads into a bounded log ([`MAX_LINES`] per stream;
//! older lines are dropped and counted). Waits take a deadline and fail with the process's
//! stderr tail rather than hang; a process that closes its output fails a wait at once.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
#[cfg(target_os = "linux")]
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Lines kept per stream; older ones are dropped (and counted) so a chatty process cannot
/// grow the test without bound.
pub const MAX_LINES: usize = 10_000;

/// Lines of stderr quoted in errors.
const STDERR_TAIL: usize = 20;

/// The deadline of a guard that was not given one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Stream {
    lines: VecDeque<String>,
    /// Lines dropped from the front (so `dropped + index` is a line's number).
    dropped: usize,
}

impl Stream {
    fn push(&mut self, line: String) {
        if self.lines.len() == MAX_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
}

#[derive(Default)]
struct LogState {
    stdout: Stream,
    stderr: Stream,
    open_streams: usize,
}

/// The captured output of one process, shared with its reader threads.
#[derive(Default)]
pub(crate) struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

impl Log {
    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_changed<'a>(
        &self,
        guard: MutexGuard<'a, LogState>,
        until: Instant,
    ) -> MutexGuard<'a, LogState> {
        let left = until.saturating_duration_since(Instant::now());
        self.changed
            .wait_timeout(guard, left)
            .unwrap_or_else(|p| p.into_inner())
            .0
    }

    /// Appends the whole captured output, under a header per stream, to `out`.
    pub(crate) fn dump(&self, name: &str, out: &mut String) {
        let state = self.lock();
        for (label, stream) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
            out.push_str(&format!("----- {name}: {label} -----\n"));
            if stream.dropped > 0 {
                out.push_str(&format!("[{} earlier lines dropped]\n", stream.dropped));
            }
            for line in &stream.lines {
                out.push_str(line);
                out.push('\n');
            }
        }
    }

    fn stderr_tail(&self) -> String {
        let state = self.lock();
        let lines = &state.stderr.lines;
        let skip = lines.len().saturating_sub(STDERR_TAIL);
        lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn capture(stream: impl Read + Send + 'static, log: Arc<Log>, is_stderr: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    let mut state = log.lock();
                    if is_stderr {
                        state.stderr.push(text);
                    } else {
                        state.stdout.push(text);
                    }
                    log.changed.notify_all();
                }
            }
        }
        log.lock().open_streams -= 1;
        log.changed.notify_all();
    });
}

/// The child handle and, once reaped, its exit status; shared with the reaper thread.
struct Reaper {
    state: Mutex<Reaped>,
    changed: Condvar,
}

struct Reaped {
    child: Child,
    status: Option<ExitStatus>,
}

impl Reaper {
    fn lock(&self) -> MutexGuard<'_, Reaped> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reaps the child if it has exited (it is then no zombie any more).
    fn reap(&self) -> Option<ExitStatus> {
        let mut state = self.lock();
        if state.status.is_none() {
            state.status = state.child.try_wait().ok().flatten();
            if state.status.is_some() {
                self.changed.notify_all();
            }
        }
        state.status
    }

    /// Starts the thread that reaps the child the moment it exits. A zombie would otherwise
    /// last until the test next looks at this guard, and python-banyan's start-up scan of
    /// every process crashes on zombies (psutil's `ZombieProcess`), also on those of
    /// unrelated tests running in parallel. `waitid(WNOWAIT)` waits without reaping, so the
    /// PID stays ours until `reap` takes the lock: signals sent under the lock never reach
    /// a reused PID.
    #[cfg(target_os = "linux")]
    fn watch(self: &Arc<Self>, pid: u32) {
        let reaper = self.clone();
        // Without the thread (it could not start), waits poll with try_wait as before.
        let _ = std::thread::Builder::new()
            .name(format!("reaper-{pid}"))
            .spawn(move || {
                let pid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
                while let Err(nix::errno::Errno::EINTR) =
                    waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
                {
                }
                reaper.reap();
            });
    }

    /// Elsewhere (macOS: no `waitid` in nix there) no reaper thread: waits poll with
    /// `try_wait`, and a zombie lasts until the test next looks at its guard.
    #[cfg(not(target_os = "linux"))]
    fn watch(self: &Arc<Self>, _pid: u32) {}
}

/// A spawned child process: stdin closed, stdout and stderr captured line by line, reaped as
/// soon as it exits (no zombie). Killed with SIGKILL and reaped on drop, by its own handle
/// (never by name).
pub struct ChildGuard {
    name: String,
    pid: u32,
    reaper: Arc<Reaper>,
    log: Arc<Log>,
    deadline: Instant,
    /// Line number (counting dropped lines) from which [`ChildGuard::wait_line`] reads.
    cursor: usize,
    /// Leads its own process group, killed as a whole (see [`ChildGuard::spawn_group`]).
    group: bool,
}

impl fmt::Debug for ChildGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildGuard")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .finish()
    }
}

impl ChildGuard {
    /// Spawns `command` as `name` with stdin closed and output captured. Waits default to a
    /// deadline [`DEFAULT_TIMEOUT`] from now (see [`ChildGuard::set_deadline`]).
    pub fn spawn(name: impl Into<String>, mut command: Command) -> Result<Self> {
        let name = name.into();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                name: format!("{name} ({command:?})"),
                source,
            })?;
        let log = Arc::new(Log::default());
        log.lock().open_streams = 2;
        if let Some(stdout) = child.stdout.take() {
            capture(stdout, log.clone(), false);
        }
        if let Some(stderr) = child.stderr.take() {
            capture(stderr, log.clone(), true);
        }
        let pid = child.id();
        let reaper = Arc::new(Reaper {
            state: Mutex::new(Reaped {
                child,
                status: None,
            }),
            changed: Condvar::new(),
        });
        reaper.watch(pid);
        Ok(Self {
            name,
            pid,
            reaper,
            log,
            deadline: Instant::now() + DEFAULT_TIMEOUT,
            cursor: 0,
            group: false,
        })
    }

    /// [`ChildGuard::spawn`] as the leader of a new process group: the process and whatever
    /// it starts (a browser's renderer and helper processes) are killed together, through the
    /// group id (the leader's PID), on drop and by [`ChildGuard::kill`].
    pub fn spawn_group(name: impl Into<String>, mut command: Command) -> Result<Self> {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut guard = Self::spawn(name, command)?;
        guard.group = true;
        Ok(guard)
    }

    pub(crate) fn log(&self) -> Arc<Log> {
        self.log.clone()
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sets the instant by which every later wait must be satisfied.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// The current deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The first stdout line (of all printed so far or later) containing `needle`, waiting
    /// until the deadline. Fails early when the process closed its output without it.
    pub fn wait_stdout(&self, needle: &str) -> Result<String> {
        self.wait_for(needle, |line| {
            line.contains(needle).then(|| line.to_owned())
        })
    }

    /// The first stderr line containing `needle` (logs go to stderr), waiting until the
    /// deadline.
    pub fn wait_stderr(&self, needle: &str) -> Result<String> {
        let mut state = self.log.lock();
        loop {
            if let Some(line) = state.stderr.lines.iter().find(|l| l.contains(needle)) {
                return Ok(line.clone());
            }
            if state.open_streams == 0 || Instant::now() >= self.deadline {
                drop(state);
                return Err(self.missing(needle));
            }
            state = self.log.wait_changed(state, self.deadline);
        }
    }

    fn wait_for(&self, wanted: &str, find: impl Fn(&str) -> Option<String>) -> Result<String> {
        let mut state = self.log.lock();
        loop {
            if let Some(found) = state.stdout.lines.iter().find_map(|l| find(l)) {
                return Ok(found);
            }
            if state.open_streams == 0 || Instant::now() >= self.deadline {
                drop(state);
                return Err(self.missing(wanted));
            }
            state = self.log.wait_changed(state, self.deadline);
        }
    }

    fn missing(&self, wanted: &str) -> Error {
        let closed = self.log.lock().open_streams == 0;
        if closed {
            let status = "output closed, process ended".to_owned();
            Error::LineMissing {
                name: self.name.clone(),
                wanted: wanted.to_owned(),
                status,
                stderr: self.log.stderr_tail(),
            }
        } else {
            Error::LineTimeout {
                name: self.name.clone(),
                wanted: wanted.to_owned(),
                stderr: self.log.stderr_tail(),
            }
        }
    }

    /// The next stdout line (after those already returned by this method) that starts with
    /// `prefix`, with the prefix removed and trimmed; lines in between are skipped. Waits
    /// until the deadline.
    pub fn wait_line(&mut self, prefix: &str) -> Result<String> {
        let mut state = self.log.lock();
        loop {
            let stream = &state.stdout;
            let start = self.cursor.saturating_sub(stream.dropped);
            for (index, line) in stream.lines.iter().enumerate().skip(start) {
                if let Some(rest) = line.strip_prefix(prefix) {
                    self.cursor = stream.dropped + index + 1;
                    return Ok(rest.trim().to_owned());
                }
            }
            self.cursor = stream.dropped + stream.lines.len();
            if state.open_streams == 0 || Instant::now() >= self.deadline {
                drop(state);
                return Err(self.missing(prefix));
            }
            state = self.log.wait_changed(state, self.deadline);
        }
    }

    /// [`ChildGuard::wait_line`] with its own deadline.
    pub fn wait_line_until(&mut self, prefix: &str, deadline: Instant) -> Result<String> {
        let saved = std::mem::replace(&mut self.deadline, deadline);
        let line = self.wait_line(prefix);
        self.deadline = saved;
        line
    }

    /// The number after `label` on the first stdout line containing it (banner lines such as
    /// `Publisher  Port = 40213`).
    pub fn number_after<T: std::str::FromStr>(&self, label: &str) -> Result<T> {
        let line = self.wait_stdout(label)?;
        line.rsplit(label)
            .next()
            .and_then(|rest| rest.trim().parse().ok())
            .ok_or_else(|| Error::Unparsable {
                name: self.name.clone(),
                what: format!("number after {label:?}"),
                line: line.clone(),
            })
    }

    /// Every stdout line kept so far.
    pub fn stdout(&self) -> Vec<String> {
        self.log.lock().stdout.lines.iter().cloned().collect()
    }

    /// Every stderr line kept so far.
    pub fn stderr(&self) -> Vec<String> {
        self.log.lock().stderr.lines.iter().cloned().collect()
    }

    /// The last stderr lines, for messages.
    pub fn stderr_tail(&self) -> String {
        self.log.stderr_tail()
    }

    /// Stdout and stderr so far, under headers, for a failure report.
    pub fn output_report(&self) -> String {
        let mut out = String::new();
        self.log.dump(&self.name, &mut out);
        out
    }

    /// `true` while the process runs (not yet exited).
    pub fn is_running(&mut self) -> bool {
        self.reaper.reap().is_none()
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.reaper.reap()
    }

    /// Waits until the process exits (until the deadline; then it is killed and this fails)
    /// and its output is read.
    pub fn wait_exit(&mut self) -> Result<ExitStatus> {
        loop {
            if let Some(status) = self.reaper.reap() {
                self.wait_output_closed();
                return Ok(status);
            }
            if Instant::now() >= self.deadline {
                self.kill();
                return Err(Error::ExitTimeout {
                    name: self.name.clone(),
                    stderr: self.log.stderr_tail(),
                });
            }
            // Woken by the reaper thread at the exit; the timeout keeps polling if it is gone.
            let state = self.reaper.lock();
            if state.status.is_none() {
                let _ = self
                    .reaper
                    .changed
                    .wait_timeout(state, Duration::from_millis(10));
            }
        }
    }

    /// [`ChildGuard::wait_exit`] with its own deadline.
    pub fn wait_exit_until(&mut self, deadline: Instant) -> Result<ExitStatus> {
        let saved = std::mem::replace(&mut self.deadline, deadline);
        let status = self.wait_exit();
        self.deadline = saved;
        status
    }

    /// Waits for a successful exit.
    pub fn wait_success(&mut self) -> Result<()> {
        let status = self.wait_exit()?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Failed {
                name: self.name.clone(),
                status,
                stderr: self.log.stderr_tail(),
            })
        }
    }

    /// Sends `signal` to the process (by its PID; nothing happens to other processes). A
    /// process that already exited but is not reaped yet is not an error.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        // Under the lock the child cannot be reaped, so its PID cannot be reused meanwhile.
        let state = self.reaper.lock();
        if state.status.is_some() {
            return Ok(());
        }
        let pid = self.pid;
        let raw = i32::try_from(pid).unwrap_or(i32::MAX);
        let sent = kill(Pid::from_raw(raw), signal);
        drop(state);
        sent.map_err(|source| Error::Signal {
            name: self.name.clone(),
            pid,
            source,
        })
    }

    /// SIGTERM, then waits (until the deadline) for the exit.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        self.signal(Signal::SIGTERM)?;
        self.wait_exit()
    }

    /// Freezes the process (SIGSTOP): it stops reading, as a component suspended with Ctrl-Z.
    pub fn suspend(&mut self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// Lets a [`suspend`](ChildGuard::suspend)ed process run on (SIGCONT).
    pub fn resume(&mut self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    /// Kills (SIGKILL) and reaps the process now — with its whole group if it was started
    /// by [`ChildGuard::spawn_group`]; idempotent.
    pub fn kill(&mut self) {
        if std::mem::take(&mut self.group) {
            let leader = i32::try_from(self.pid()).unwrap_or(i32::MAX);
            // Members may outlive the leader; the group id stays theirs until the last ends.
            let _ = killpg(Pid::from_raw(leader), Signal::SIGKILL);
        }
        let mut state = self.reaper.lock();
        if state.status.is_none() {
            let _ = state.child.kill();
            if let Ok(status) = state.child.wait() {
                state.status = Some(status);
            }
        }
    }

    fn wait_output_closed(&self) {
        // Bounded: a grandchild could keep a pipe open.
        let until = Instant::now() + Duration::from_secs(2);
        let mut state = self.log.lock();
        while state.open_streams > 0 && Instant::now() < until {
            state = self.log.wait_changed(state, until);
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        self.wait_output_closed();
    }
}

/// The `(publisher, subscriber)` ports a Rust Banyan backplane process printed in its banner
/// (`Publisher  Port = N`, `Subscriber Port = M`; started with `-p 0 -s 0` these are the ports
/// the OS chose). Waits until the guard's deadline.
pub fn backplane_ports(backplane: &ChildGuard) -> Result<(u16, u16)> {
    Ok((
        backplane.number_after("Publisher  Port =")?,
        backplane.number_after("Subscriber Port =")?,
    ))
}

/// The message numbers an echo server process (`simple-echo-server`, Rust or Python) printed
/// so far (`Message number: N` lines), in order.
pub fn served_numbers(server: &ChildGuard) -> Vec<i64> {
    server
        .stdout()
        .iter()
        .filter_map(|line| line.strip_prefix("Message number:"))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// A binary built by cargo next to the running executable: the running test or benchmark's
/// own directory (`target/<profile>/`), or its parent when it runs from `deps/`. `None` when
/// it is not built. Tests of `banyan-cli` prefer `env!("CARGO_BIN_EXE_<name>")`.
pub fn cargo_bin(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
