//! The thin process side of `bls` and `blc`: spawns each command in a process group of its
//! own (Unix) or a Job Object of its own (Windows), reaps exits, stops groups, and executes
//! the [`Launcher`]'s actions. All decisions (what to start, when to restart, what to
//! publish) are in [`crate::launch`]; the operating system's part is in `launcher/unix.rs`
//! and `launcher/windows.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::launch::lines::{DEFAULT_MAX_LINE, LineSplitter};
use crate::launch::slot::describe;
use crate::launch::{Action, Launcher, SlotState, split_command};
use banyan_host::Component;

#[cfg(unix)]
#[path = "launcher/unix.rs"]
mod os;
#[cfg(windows)]
#[path = "launcher/windows.rs"]
mod os;

use os::Launched;
pub use os::describe_exit;

/// Children's output as pipes (the classroom launchers prefix it): Python children write
/// their lines at once instead of when a block buffer fills.
/// Colours are switched off (`NO_COLOR`) unless the launcher's own output is a terminal.
fn capture_output(process: &mut std::process::Command) {
    use std::io::IsTerminal as _;
    process
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("PYTHONUNBUFFERED", "1");
    if !std::io::stdout().is_terminal() {
        process.env("NO_COLOR", "1");
    }
}

/// Default time between asking (SIGTERM; Ctrl-Break on Windows) and killing (SIGKILL; the
/// Job Object terminated) when stopping a process group.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3);

/// How long one turn of the driver loop waits at most (reaping exits, checking signals).
pub const TICK: Duration = Duration::from_millis(100);

/// Restart/back-off flags shared by `bls` and `blc`.
#[derive(Debug, Clone, clap::Args)]
pub struct RestartArgs {
    /// Restarts in a row (without a stable run between) before giving up on an
    /// auto_restart process
    #[arg(long, default_value_t = 10)]
    pub max_restarts: u32,
    /// Seconds before the first restart (doubled for each further restart in a row)
    #[arg(long, default_value_t = 0.5)]
    pub backoff: f64,
    /// Longest delay between restarts, in seconds
    #[arg(long, default_value_t = 30.0)]
    pub max_backoff: f64,
    /// Seconds a process must run to count as stable (resets the restart series)
    #[arg(long, default_value_t = 10.0)]
    pub stable_after: f64,
    /// Seconds between SIGTERM and SIGKILL when stopping a process group
    #[arg(long, default_value_t = 3.0)]
    pub grace: f64,
}

impl RestartArgs {
    /// The launcher configuration these flags describe.
    pub fn config(&self) -> crate::launch::LauncherConfig {
        let secs = |s: f64| Duration::from_secs_f64(s.clamp(0.0, 86_400.0));
        crate::launch::LauncherConfig {
            restart: crate::launch::RestartPolicy {
                max_restarts: self.max_restarts,
                initial_backoff: secs(self.backoff),
                max_backoff: secs(self.max_backoff),
                stable_after: secs(self.stable_after),
            },
            ..Default::default()
        }
    }

    /// The SIGTERM → SIGKILL grace period.
    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace.clamp(0.0, 3600.0))
    }
}

/// Executes a [`Launcher`]'s actions against real processes and a backplane connection.
pub struct Driver {
    /// The state machine.
    pub launcher: Launcher,
    children: HashMap<usize, Launched>,
    grace: Duration,
    /// Python-style one-line log of starts/deaths, besides the table.
    label: &'static str,
    /// Children's output through us, line by line, prefixed (see [`Driver::prefix_output`]).
    prefixed: bool,
}

impl Driver {
    /// A driver for `launcher`; `label` prefixes log lines (`bls`/`blc`).
    pub fn new(launcher: Launcher, grace: Duration, label: &'static str) -> Self {
        Self {
            launcher,
            children: HashMap::new(),
            grace,
            label,
            prefixed: false,
        }
    }

    /// Each child's stdout and stderr go through the launcher, every line prefixed with the
    /// program's name (`[wsgw] …`, cut at [`DEFAULT_MAX_LINE`] bytes); the driver's own lines
    /// become one-line events prefixed with its label (`[s3a] wsgw (PID 7) died (signal 9);
    /// restart in 0.5 s`) instead of Python's `PID =` lines and the status table.
    pub fn prefix_output(mut self) -> Self {
        self.prefixed = true;
        self
    }

    /// Runs one turn: state-machine timers, then reaps exited children.
    pub fn turn(&mut self, component: Option<&Component>) {
        let actions = self.launcher.poll(Instant::now());
        self.execute(actions, component);
        self.reap(component);
        self.print_if_changed();
    }

    /// How long the caller may block before the next [`Self::turn`].
    pub fn wait_budget(&self) -> Duration {
        let until_deadline = self
            .launcher
            .next_deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
            .unwrap_or(TICK);
        until_deadline.min(TICK)
    }

    /// Executes actions; publishes are dropped (and logged) while there is no connection.
    pub fn execute(&mut self, mut actions: Vec<Action>, component: Option<&Component>) {
        while !actions.is_empty() {
            let mut more = Vec::new();
            for action in actions {
                match action {
                    Action::Spawn {
                        slot,
                        command,
                        window,
                    } => {
                        let now = Instant::now();
                        let spawned = split_command(&command)
                            .map_err(|error| {
                                std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
                            })
                            .and_then(|argv| {
                                let child = os::spawn(&command, &argv, window, self.prefixed)?;
                                Ok((child, program_name(&argv[0])))
                            });
                        match spawned {
                            Ok((mut child, name)) => {
                                let pid = child.id();
                                if self.prefixed {
                                    let (stdout, stderr) = os::take_output(&mut child);
                                    forward_lines(&name, stdout, std::io::stdout);
                                    forward_lines(&name, stderr, std::io::stderr);
                                    println!(
                                        "[{}] started {name} (PID {pid}): {command}",
                                        self.label
                                    );
                                } else {
                                    println!("{:35} PID = {pid}", command);
                                }
                                self.children.insert(slot, child);
                                more.extend(self.launcher.spawned(slot, pid, now));
                            }
                            Err(error) => {
                                eprintln!("{}: cannot start {command:?}: {error}", self.label);
                                more.extend(self.launcher.spawn_failed(
                                    slot,
                                    &error.to_string(),
                                    now,
                                ));
                            }
                        }
                    }
                    Action::Publish { topic, payload } => match component {
                        Some(component) => {
                            if let Err(error) = component.publish(&topic, &payload) {
                                tracing::warn!(%topic, %error, "publish failed");
                            }
                        }
                        None => tracing::debug!(%topic, "not connected yet; publish deferred"),
                    },
                    Action::Terminate { slot, pid } => {
                        os::terminate(self.children.get(&slot), pid);
                    }
                }
            }
            actions = more;
        }
    }

    /// Reaps children that exited and reports them to the launcher.
    pub fn reap(&mut self, component: Option<&Component>) {
        let mut ended = Vec::new();
        for (&slot, child) in &mut self.children {
            match child.try_wait() {
                Ok(Some(status)) => ended.push((slot, child.id(), describe_exit(status))),
                Ok(None) => {}
                Err(error) => ended.push((slot, child.id(), format!("wait failed: {error}"))),
            }
        }
        for (slot, pid, status) in ended {
            if let Some(gone) = self.children.remove(&slot) {
                // Whatever the process left in its group goes with it.
                os::release(gone);
            }
            let command = self
                .launcher
                .slots()
                .get(slot)
                .map(|s| s.command().to_owned())
                .unwrap_or_default();
            let stopping = self.launcher.is_shutting_down();
            if !self.prefixed {
                if stopping {
                    println!("{command:35} PID = {pid} STOPPED ({status})");
                } else {
                    println!("{command:35} PID = {pid} DIED ({status})");
                }
            }
            let actions = self.launcher.exited(slot, &status, Instant::now());
            if self.prefixed {
                let name = command_program_name(&command);
                if stopping {
                    println!("[{}] {name} (PID {pid}) stopped ({status})", self.label);
                } else {
                    let next = match self.launcher.slots().get(slot).map(|s| &s.state) {
                        Some(SlotState::Backoff { until, .. }) => format!(
                            "restarting in {:.1} s",
                            until
                                .saturating_duration_since(Instant::now())
                                .as_secs_f64()
                        ),
                        Some(SlotState::GaveUp { .. }) => {
                            "gave up: too many restarts in a row (see --max-restarts)".to_owned()
                        }
                        Some(state) => describe(state, Instant::now()),
                        None => String::new(),
                    };
                    println!(
                        "[{}] {name} (PID {pid}) died ({status}); {next}",
                        self.label
                    );
                }
            }
            self.execute(actions, component);
        }
    }

    /// Prints the status table when something changed.
    pub fn print_if_changed(&mut self) {
        if self.launcher.take_changed() && !self.prefixed {
            println!("{}", self.launcher.status_table(Instant::now()));
        }
    }

    /// Stops every process group: SIGTERM (Ctrl-Break), then SIGKILL (the Job Object
    /// terminated) after the grace period; reaps all.
    ///
    /// With [`Self::prefix_output`] the processes stop one by one in reverse start order
    /// (board gateway, `wsgw`, backplane last), each given the grace period, so that none
    /// sees the backplane vanish under it.
    pub fn shutdown(&mut self, component: Option<&Component>) {
        let mut actions = self.launcher.shutdown();
        if self.prefixed {
            actions.reverse();
            for action in actions {
                let slot = match action {
                    Action::Terminate { slot, .. } => Some(slot),
                    _ => None,
                };
                self.execute(vec![action], component);
                let until = Instant::now() + self.grace;
                while slot.is_some_and(|slot| self.children.contains_key(&slot))
                    && Instant::now() < until
                {
                    self.reap(component);
                    std::thread::sleep(Duration::from_millis(20));
                }
                // Still there after its grace period: killed now, before the next one is
                // asked, so that the order holds (the backplane last) either way.
                if let Some(slot) = slot {
                    self.kill(slot);
                }
            }
        } else {
            self.execute(actions, component);
        }
        let give_up = Instant::now() + self.grace;
        while !self.children.is_empty() && Instant::now() < give_up {
            self.reap(component);
            std::thread::sleep(Duration::from_millis(20));
        }
        let left: Vec<usize> = self.children.keys().copied().collect();
        for slot in left {
            self.kill(slot);
        }
        self.print_if_changed();
    }

    /// Kills `slot`'s process group (SIGKILL; the Job Object terminated), reaps it and says
    /// so; nothing when it has no process.
    fn kill(&mut self, slot: usize) {
        let Some(mut child) = self.children.remove(&slot) else {
            return;
        };
        let pid = child.id();
        os::kill(&mut child);
        let status = child
            .wait()
            .map(describe_exit)
            .unwrap_or_else(|e| e.to_string());
        let command = self.launcher.slots()[slot].command();
        if self.prefixed {
            // Named as in the `stopped` line: the program, not its whole command line.
            let name = command_program_name(command);
            println!(
                "[{}] {name} (PID {pid}) killed (still running after the {:.1} s grace period)",
                self.label,
                self.grace.as_secs_f64()
            );
        } else {
            println!("{command:35} PID = {pid} KILLED");
        }
        self.launcher.exited(slot, &status, Instant::now());
    }
}

/// Whether something accepts TCP connections on `address:port` (a backplane already runs).
pub fn listening(address: &str, port: u16) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    let Ok(mut addrs) = (address, port).to_socket_addrs() else {
        return false;
    };
    addrs.any(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok())
}

/// A program's name for prefixes: its file name without directory (and without `.exe`).
pub fn program_name(program: &str) -> String {
    let path = std::path::Path::new(program);
    let name = if cfg!(windows) {
        path.file_stem()
    } else {
        path.file_name()
    };
    name.map_or_else(|| program.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The [`program_name`] of a command line's program (empty when the line does not split).
fn command_program_name(command: &str) -> String {
    split_command(command)
        .ok()
        .and_then(|argv| argv.first().map(|program| program_name(program)))
        .unwrap_or_default()
}

/// Copies `pipe` line by line to `out`, each line prefixed `[name] `, on a thread of its own
/// that ends when the pipe closes (the child and whatever it left holding the pipe exited).
fn forward_lines<R, W>(name: &str, pipe: Option<R>, out: fn() -> W)
where
    R: std::io::Read + Send + 'static,
    W: std::io::Write + 'static,
{
    let Some(mut pipe) = pipe else {
        return;
    };
    let prefix = format!("[{name}] ");
    let spawned = std::thread::Builder::new()
        .name(format!("output of {name}"))
        .spawn(move || {
            let mut splitter = LineSplitter::new(DEFAULT_MAX_LINE);
            let mut buffer = [0u8; 4096];
            let print = |line: &str| {
                // One write per line, so that lines of different children never mix; a
                // closed terminal is not the launcher's failure.
                let _ = out().write_all(format!("{prefix}{line}\n").as_bytes());
            };
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => splitter.feed(&buffer[..n], print),
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            splitter.finish(print);
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the output thread of {name}");
    }
}

/// A flag set by Ctrl-C or SIGTERM.
pub fn termination_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    crate::on_termination(move || {
        println!("Exiting Through Signal Handler");
        set.store(true, Ordering::SeqCst);
    })?;
    Ok(flag)
}
