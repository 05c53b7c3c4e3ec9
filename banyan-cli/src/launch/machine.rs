//! The launcher's state machine, sans-IO: it decides what to start, when to restart, what to
//! publish; the driver (`bls`/`blc` in `banyan-cli`) spawns processes, reaps them, talks to
//! the backplane and reports back.
//!
//! ```text
//!  local:   Pending ─▶ Starting ─spawned─▶ Running ─exited─┬─▶ Backoff ─(delay)─▶ Starting
//!                          │                               ├─▶ Exited        (no auto_restart)
//!                          └─spawn_failed─▶ (as exited)    └─▶ GaveUp        (restart limit)
//!  remote:  Pending ─▶ Requested ─ack─▶ Remote            (request repeated until acked)
//!  shutdown: Running ─▶ Stopping ─exited─▶ Stopped
//! ```
//!
//! Time is passed in (`now`), so the tests drive it without sleeping.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use banyan_proto::payload::Value;

use super::file::{LaunchEntry, Target};
use super::slot::describe;
pub use super::slot::{LauncherConfig, Origin, RestartPolicy, Slot, SlotKind, SlotState};
use super::wire::{LaunchAck, LaunchRequest, REPLY_PREFIX};

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start slot `slot`'s command; answer with [`Launcher::spawned`] or
    /// [`Launcher::spawn_failed`].
    Spawn {
        /// The slot.
        slot: usize,
        /// The command line.
        command: String,
        /// Run in a terminal window.
        window: bool,
    },
    /// Publish `payload` on `topic`.
    Publish {
        /// The topic.
        topic: String,
        /// The payload (a map).
        payload: Value,
    },
    /// Stop the process group `pid` (shutdown); answer with [`Launcher::exited`].
    Terminate {
        /// The slot.
        slot: usize,
        /// Its process (group) id.
        pid: u32,
    },
}

/// The launcher: slots plus the start sequence.
#[derive(Debug)]
pub struct Launcher {
    config: LauncherConfig,
    slots: Vec<Slot>,
    /// Next slot of the start sequence.
    cursor: usize,
    /// When the next slot of the sequence may start.
    next_start: Option<Instant>,
    next_launch_id: i64,
    shutting_down: bool,
    changed: bool,
}

impl Launcher {
    /// An empty launcher.
    pub fn new(config: LauncherConfig) -> Self {
        Self {
            config,
            slots: Vec::new(),
            cursor: 0,
            next_start: None,
            next_launch_id: 1,
            shutting_down: false,
            changed: false,
        }
    }

    /// A launcher for the entries of a launch file; remote entries get launch ids 1, 2, ...
    /// in file order and `append_bp_address` adds `-b backplane_address` (local entries too).
    pub fn from_entries(
        config: LauncherConfig,
        entries: &[LaunchEntry],
        backplane_address: &str,
    ) -> Self {
        let mut launcher = Self::new(config);
        launcher.add_entries(entries, backplane_address);
        launcher
    }

    /// Adds the entries of a launch file at the end of the start sequence (see
    /// [`Self::from_entries`]).
    pub fn add_entries(&mut self, entries: &[LaunchEntry], backplane_address: &str) {
        let launcher = self;
        for entry in entries {
            let command = entry.command_line(backplane_address);
            let kind = match &entry.target {
                Target::Local => SlotKind::Local {
                    command,
                    spawn: entry.spawn,
                    auto_restart: entry.auto_restart,
                    origin: None,
                },
                Target::Remote(topic) => {
                    let launch_id = launcher.next_launch_id;
                    launcher.next_launch_id += 1;
                    SlotKind::Remote(LaunchRequest {
                        command_string: command,
                        spawn: entry.spawn,
                        auto_restart: entry.auto_restart,
                        append_bp_address: entry.append_bp_address,
                        topic: topic.clone(),
                        reply_topic: format!("{REPLY_PREFIX}{topic}"),
                        launch_id,
                        wait: entry.wait_text.clone(),
                    })
                }
            };
            launcher.add(kind, entry.wait, entry.line);
        }
    }

    /// Adds a slot at the end of the start sequence; returns its index.
    pub fn add(&mut self, kind: SlotKind, wait: Duration, line: usize) -> usize {
        self.slots.push(Slot {
            line,
            kind,
            wait,
            state: SlotState::Pending,
            restarts: 0,
            streak: 0,
        });
        self.changed = true;
        self.slots.len() - 1
    }

    /// The slots.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The reply topics of the remote slots (what `bls` subscribes to).
    pub fn reply_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .slots
            .iter()
            .filter_map(|slot| match &slot.kind {
                SlotKind::Remote(request) => Some(request.reply_topic.clone()),
                SlotKind::Local { .. } => None,
            })
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// The slot that came from launch request `launch_id` (for `blc`).
    pub fn slot_of_request(&self, launch_id: i64) -> Option<usize> {
        self.slots.iter().position(|slot| {
            matches!(&slot.kind, SlotKind::Local { origin: Some(origin), .. } if origin.launch_id == launch_id)
        })
    }

    /// The acknowledgement slot `slot` answers its request with now (for `blc`).
    pub fn ack_for(&self, slot: usize) -> Option<Action> {
        let slot = self.slots.get(slot)?;
        let SlotKind::Local {
            command,
            origin: Some(origin),
            ..
        } = &slot.kind
        else {
            return None;
        };
        let ack = LaunchAck {
            command_string: command.clone(),
            process_id: slot.pid().map(i64::from),
            launch_id: origin.launch_id,
        };
        Some(Action::Publish {
            topic: origin.reply_topic.clone(),
            payload: ack.to_value(),
        })
    }

    /// True once after each change of any slot (print the status table then).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Whether [`Self::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Advances time: starts the next entries of the sequence, restarts after back-off,
    /// repeats unacknowledged requests.
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.shutting_down {
            return actions;
        }
        while self.cursor < self.slots.len() && self.next_start.is_none_or(|at| now >= at) {
            let index = self.cursor;
            self.cursor += 1;
            let gap = match &self.slots[index].kind {
                SlotKind::Local { .. } => self.config.spawn_gap,
                SlotKind::Remote(_) => Duration::ZERO,
            };
            self.next_start = Some(now + self.slots[index].wait.max(gap));
            actions.extend(self.start(index, now));
        }
        for index in 0..self.slots.len() {
            match self.slots[index].state {
                SlotState::Backoff { until, .. } if now >= until => {
                    actions.extend(self.start(index, now));
                }
                SlotState::Requested { last_sent }
                    if now >= last_sent + self.config.resend_interval =>
                {
                    actions.extend(self.start(index, now));
                }
                _ => {}
            }
        }
        actions
    }

    fn start(&mut self, index: usize, now: Instant) -> Option<Action> {
        let slot = &mut self.slots[index];
        self.changed |= !matches!(slot.state, SlotState::Requested { .. });
        match &slot.kind {
            SlotKind::Local { command, spawn, .. } => {
                slot.state = SlotState::Starting;
                Some(Action::Spawn {
                    slot: index,
                    command: command.clone(),
                    window: *spawn,
                })
            }
            SlotKind::Remote(request) => {
                slot.state = SlotState::Requested { last_sent: now };
                Some(Action::Publish {
                    topic: request.topic.clone(),
                    payload: request.to_value(),
                })
            }
        }
    }

    /// The driver started slot `slot` as process `pid`. Returns the acknowledgement to
    /// publish for a `blc` slot.
    pub fn spawned(&mut self, slot: usize, pid: u32, now: Instant) -> Vec<Action> {
        let Some(entry) = self.slots.get_mut(slot) else {
            return Vec::new();
        };
        entry.state = SlotState::Running { pid, since: now };
        self.changed = true;
        if self.shutting_down {
            entry.state = SlotState::Stopping { pid };
            return vec![Action::Terminate { slot, pid }];
        }
        self.ack_for(slot).into_iter().collect()
    }

    /// The driver could not start slot `slot`: handled like an immediate exit.
    pub fn spawn_failed(&mut self, slot: usize, error: &str, now: Instant) -> Vec<Action> {
        self.ended(
            slot,
            format!("could not start: {error}"),
            Duration::ZERO,
            now,
        )
    }

    /// Process `pid` of slot `slot` ended (`status` says how, e.g. `exit code 1`).
    pub fn exited(&mut self, slot: usize, status: &str, now: Instant) -> Vec<Action> {
        let ran = match self.slots.get(slot).map(|s| &s.state) {
            Some(SlotState::Running { since, .. }) => now.saturating_duration_since(*since),
            _ => Duration::ZERO,
        };
        self.ended(slot, status.to_owned(), ran, now)
    }

    fn ended(&mut self, slot: usize, status: String, ran: Duration, now: Instant) -> Vec<Action> {
        let policy = self.config.restart.clone();
        let shutting_down = self.shutting_down;
        let Some(entry) = self.slots.get_mut(slot) else {
            return Vec::new();
        };
        self.changed = true;
        if shutting_down {
            entry.state = SlotState::Stopped;
            return Vec::new();
        }
        let auto_restart = matches!(
            entry.kind,
            SlotKind::Local {
                auto_restart: true,
                ..
            }
        );
        if ran >= policy.stable_after {
            entry.streak = 0;
        }
        if !auto_restart {
            entry.state = SlotState::Exited { status };
        } else if entry.streak >= policy.max_restarts {
            entry.state = SlotState::GaveUp { status };
        } else {
            entry.streak += 1;
            entry.restarts += 1;
            entry.state = SlotState::Backoff {
                until: now + policy.backoff(entry.streak),
                last: status,
            };
        }
        // A blc tells its bls that the process is gone (process_id nil).
        self.ack_for(slot).into_iter().collect()
    }

    /// A `blc` acknowledged a request. Returns whether it matched a slot.
    pub fn acknowledged(&mut self, ack: &LaunchAck) -> bool {
        for slot in &mut self.slots {
            if let SlotKind::Remote(request) = &slot.kind
                && request.launch_id == ack.launch_id
            {
                let state = SlotState::Remote {
                    pid: ack.process_id,
                };
                if slot.state != state {
                    slot.state = state;
                    self.changed = true;
                }
                return true;
            }
        }
        false
    }

    /// Stops everything: running processes get [`Action::Terminate`], nothing new starts.
    pub fn shutdown(&mut self) -> Vec<Action> {
        self.shutting_down = true;
        self.changed = true;
        let mut actions = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            match slot.state {
                SlotState::Running { pid, .. } => {
                    slot.state = SlotState::Stopping { pid };
                    actions.push(Action::Terminate { slot: index, pid });
                }
                SlotState::Stopping { pid } => {
                    actions.push(Action::Terminate { slot: index, pid });
                }
                // A spawn in flight is terminated when it reports back (see `spawned`).
                SlotState::Starting => {}
                // How a process ended stays visible in the final table.
                SlotState::Exited { .. } | SlotState::GaveUp { .. } | SlotState::Stopped => {}
                SlotState::Pending
                | SlotState::Backoff { .. }
                | SlotState::Requested { .. }
                | SlotState::Remote { .. } => slot.state = SlotState::Stopped,
            }
        }
        actions
    }

    /// True when shutdown is complete (no process left).
    pub fn is_stopped(&self) -> bool {
        self.shutting_down
            && self.slots.iter().all(|slot| {
                !matches!(
                    slot.state,
                    SlotState::Running { .. } | SlotState::Stopping { .. } | SlotState::Starting
                )
            })
    }

    /// The earliest time [`Self::poll`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.shutting_down {
            return None;
        }
        let sequence = (self.cursor < self.slots.len())
            .then_some(self.next_start)
            .flatten();
        let slots = self.slots.iter().filter_map(|slot| match slot.state {
            SlotState::Backoff { until, .. } => Some(until),
            SlotState::Requested { last_sent } => Some(last_sent + self.config.resend_interval),
            _ => None,
        });
        sequence.into_iter().chain(slots).min()
    }

    /// The status table: one row per slot.
    pub fn status_table(&self, now: Instant) -> String {
        let mut out = String::new();
        let width = self
            .slots
            .iter()
            .map(|slot| slot.place().chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            out,
            "{:>3}  {:<width$}  {:>8}  {:<28}  {:>8}  command",
            "#", "where", "pid", "state", "restarts"
        );
        for (index, slot) in self.slots.iter().enumerate() {
            let pid = match &slot.state {
                SlotState::Running { pid, .. } | SlotState::Stopping { pid } => pid.to_string(),
                SlotState::Remote { pid: Some(pid) } => pid.to_string(),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "{:>3}  {:<width$}  {:>8}  {:<28}  {:>8}  {}",
                index + 1,
                slot.place(),
                pid,
                describe(&slot.state, now),
                slot.restarts,
                slot.command()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::file::parse;
    use super::*;

    const FILE: &str = "command_string,spawn,topic,append_bp_address,auto_restart,wait\n\
                        backplane,no,local,no,no,1\n\
                        server,no,local,yes,yes,0\n\
                        client,no,pi,yes,no,0\n\
                        other,no,pi,no,no,0\n";

    fn launcher() -> Launcher {
        let entries = parse(FILE).unwrap();
        Launcher::from_entries(LauncherConfig::default(), &entries, "10.0.0.1")
    }

    fn spawned_slots(actions: &[Action]) -> Vec<usize> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Spawn { slot, .. } => Some(*slot),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn start_sequence_respects_wait_and_gap() {
        let t0 = Instant::now();
        let mut l = launcher();
        let actions = l.poll(t0);
        assert_eq!(spawned_slots(&actions), [0]);
        assert!(l.take_changed());
        assert!(!l.take_changed());
        assert_eq!(l.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(l.poll(t0 + Duration::from_millis(999)).is_empty());
        let actions = l.poll(t0 + Duration::from_secs(1));
        assert_eq!(
            actions,
            [Action::Spawn {
                slot: 1,
                command: "server -b 10.0.0.1".into(),
                window: false
            }]
        );
        // 0.5 s spawn gap after a local start; then both remote requests at once.
        let t2 = t0 + Duration::from_millis(1500);
        let actions = l.poll(t2);
        assert_eq!(actions.len(), 2);
        let Action::Publish { topic, payload } = &actions[0] else {
            panic!("{actions:?}")
        };
        assert_eq!(topic, "pi");
        let request = LaunchRequest::from_value(payload, "pi").unwrap();
        assert_eq!(request.command_string, "client -b 10.0.0.1");
        assert_eq!(
            (request.launch_id, request.reply_topic.as_str()),
            (1, "ACKpi")
        );
        let Action::Publish { payload, .. } = &actions[1] else {
            panic!()
        };
        assert_eq!(
            LaunchRequest::from_value(payload, "pi").unwrap().launch_id,
            2
        );
        assert_eq!(l.reply_topics(), ["ACKpi"]);

        // Unacknowledged requests repeat; an ack stops that.
        assert!(l.poll(t2 + Duration::from_secs(1)).is_empty());
        assert!(l.acknowledged(&LaunchAck {
            command_string: "client -b 10.0.0.1".into(),
            process_id: Some(77),
            launch_id: 1
        }));
        let actions = l.poll(t2 + Duration::from_secs(2));
        assert_eq!(actions.len(), 1, "only launch 2 is repeated: {actions:?}");
        assert!(!l.acknowledged(&LaunchAck {
            command_string: String::new(),
            process_id: None,
            launch_id: 9
        }));
        assert_eq!(l.slots()[2].state, SlotState::Remote { pid: Some(77) });
    }

    #[test]
    fn restart_with_backoff_limit_and_stable_reset() {
        let policy = RestartPolicy {
            max_restarts: 2,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
        };
        let mut l = Launcher::new(LauncherConfig {
            restart: policy,
            ..LauncherConfig::default()
        });
        let slot = l.add(
            SlotKind::Local {
                command: "server".into(),
                spawn: false,
                auto_restart: true,
                origin: None,
            },
            Duration::ZERO,
            2,
        );
        let t = Instant::now();
        assert_eq!(spawned_slots(&l.poll(t)), [slot]);
        l.spawned(slot, 100, t);
        // Dies at once: restart after 1 s, then 2 s, then give up.
        l.exited(slot, "exit code 1", t);
        assert!(matches!(l.slots()[slot].state, SlotState::Backoff { .. }));
        assert_eq!(l.next_deadline(), Some(t + Duration::from_secs(1)));
        assert!(spawned_slots(&l.poll(t + Duration::from_millis(900))).is_empty());
        let t1 = t + Duration::from_secs(1);
        assert_eq!(spawned_slots(&l.poll(t1)), [slot]);
        l.spawned(slot, 101, t1);
        l.exited(slot, "signal 9", t1);
        assert_eq!(l.next_deadline(), Some(t1 + Duration::from_secs(2)));
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(spawned_slots(&l.poll(t2)), [slot]);
        l.spawned(slot, 102, t2);
        l.exited(slot, "exit code 1", t2);
        assert_eq!(
            l.slots()[slot].state,
            SlotState::GaveUp {
                status: "exit code 1".into()
            }
        );
        assert_eq!(l.slots()[slot].restarts, 2);
        assert!(l.status_table(t2).contains("gave up (exit code 1)"));

        // A stable run resets the series.
        let mut l2 = Launcher::new(LauncherConfig {
            restart: RestartPolicy {
                max_restarts: 1,
                ..RestartPolicy::default()
            },
            ..LauncherConfig::default()
        });
        let s = l2.add(
            SlotKind::Local {
                command: "x".into(),
                spawn: false,
                auto_restart: true,
                origin: None,
            },
            Duration::ZERO,
            0,
        );
        l2.poll(t);
        l2.spawned(s, 1, t);
        let mut now = t;
        for round in 0..3 {
            now += Duration::from_secs(60);
            l2.exited(s, "exit code 0", now);
            assert!(
                matches!(l2.slots()[s].state, SlotState::Backoff { .. }),
                "round {round}"
            );
            now += Duration::from_secs(1);
            assert_eq!(spawned_slots(&l2.poll(now)), [s]);
            l2.spawned(s, 2 + round, now);
        }
        // ... but dying at once after a restart does not: the series' one restart is used.
        l2.exited(s, "exit code 0", now);
        assert!(matches!(l2.slots()[s].state, SlotState::GaveUp { .. }));
        assert_eq!(l2.slots()[s].restarts, 3);
    }

    #[test]
    fn spawn_failure_and_no_restart() {
        let mut l = launcher();
        let t = Instant::now();
        l.poll(t);
        l.spawn_failed(0, "No such file or directory", t);
        assert_eq!(
            l.slots()[0].state,
            SlotState::Exited {
                status: "could not start: No such file or directory".into()
            }
        );
    }

    #[test]
    fn shutdown_terminates_running_and_late_spawns() {
        let mut l = launcher();
        let t = Instant::now();
        l.poll(t);
        l.spawned(0, 10, t);
        let t1 = t + Duration::from_secs(1);
        assert_eq!(spawned_slots(&l.poll(t1)), [1]);
        // Shutdown while slot 1's spawn is in flight.
        assert_eq!(l.shutdown(), [Action::Terminate { slot: 0, pid: 10 }]);
        assert!(!l.is_stopped());
        assert_eq!(
            l.spawned(1, 11, t1),
            [Action::Terminate { slot: 1, pid: 11 }]
        );
        assert!(l.poll(t1 + Duration::from_secs(9)).is_empty());
        assert_eq!(l.next_deadline(), None);
        l.exited(0, "signal 15", t1);
        assert!(!l.is_stopped());
        l.exited(1, "signal 15", t1);
        assert!(l.is_stopped());
        assert_eq!(l.slots()[1].state, SlotState::Stopped);
    }

    #[test]
    fn blc_slots_acknowledge_every_start_and_end() {
        let mut l = Launcher::new(LauncherConfig::default());
        let s = l.add(
            SlotKind::Local {
                command: "server".into(),
                spawn: false,
                auto_restart: true,
                origin: Some(Origin {
                    launch_id: 4,
                    reply_topic: "ACKpi".into(),
                }),
            },
            Duration::ZERO,
            0,
        );
        assert_eq!(l.slot_of_request(4), Some(s));
        assert_eq!(l.slot_of_request(5), None);
        let t = Instant::now();
        l.poll(t);
        let ack = |pid: Option<i64>| Action::Publish {
            topic: "ACKpi".into(),
            payload: LaunchAck {
                command_string: "server".into(),
                process_id: pid,
                launch_id: 4,
            }
            .to_value(),
        };
        assert_eq!(l.spawned(s, 33, t), [ack(Some(33))]);
        assert_eq!(l.exited(s, "exit code 1", t), [ack(None)]);
        assert_eq!(l.ack_for(s), Some(ack(None)));
    }

    #[test]
    fn backoff_doubles_and_saturates() {
        let p = RestartPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(4), Duration::from_secs(4));
        assert_eq!(p.backoff(10), Duration::from_secs(30));
        assert_eq!(p.backoff(100), Duration::from_secs(30));
    }
}
