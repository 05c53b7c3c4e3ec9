//! The launcher's configuration and its slots: what each managed entry runs and where it
//! stands ([`SlotState`]); the state machine driving them is [`super::machine`].

use std::time::{Duration, Instant};

use super::wire::LaunchRequest;

/// When and how often a process with `auto_restart` is restarted.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    /// Restarts in a row (without a stable run between) before giving up; `0` = never restart.
    pub max_restarts: u32,
    /// Delay before the first restart; doubled for each further restart in a row.
    pub initial_backoff: Duration,
    /// Longest delay between restarts.
    pub max_backoff: Duration,
    /// A process that ran this long counts as stable: its next exit starts a new series.
    pub stable_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 10,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
        }
    }
}

impl RestartPolicy {
    /// Delay before restart number `n` of a series (1-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// Launcher-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LauncherConfig {
    /// Restart policy of `auto_restart` entries.
    pub restart: RestartPolicy,
    /// Pause after each local start before the next entry (Python sleeps 0.5 s).
    pub spawn_gap: Duration,
    /// How often an unacknowledged launch request is repeated (Python: 5 s).
    pub resend_interval: Duration,
}

impl Default for LauncherConfig {
    fn default() -> Self {
        Self {
            restart: RestartPolicy::default(),
            spawn_gap: Duration::from_millis(500),
            resend_interval: Duration::from_secs(2),
        }
    }
}

/// What a slot runs.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotKind {
    /// A process on this machine.
    Local {
        /// The command line.
        command: String,
        /// Run in a terminal window.
        spawn: bool,
        /// Restart when it exits.
        auto_restart: bool,
        /// For `blc`: the request this process answers (acknowledged on every start).
        origin: Option<Origin>,
    },
    /// A process a remote `blc` runs.
    Remote(LaunchRequest),
}

/// The launch request a `blc` slot came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The request's id.
    pub launch_id: i64,
    /// Where acknowledgements go.
    pub reply_topic: String,
}

/// Where a slot is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotState {
    /// Not started yet (waiting for its turn in the start sequence).
    Pending,
    /// A spawn was asked of the driver.
    Starting,
    /// Running.
    Running {
        /// Its process id (also its process group id).
        pid: u32,
        /// When it started.
        since: Instant,
    },
    /// Exited; restarts at `until`.
    Backoff {
        /// When to restart.
        until: Instant,
        /// How it ended.
        last: String,
    },
    /// Ended and not restarted (no `auto_restart`).
    Exited {
        /// How it ended.
        status: String,
    },
    /// Restart limit reached.
    GaveUp {
        /// How it last ended.
        status: String,
    },
    /// Remote: request sent, no acknowledgement yet.
    Requested {
        /// When the request was last published.
        last_sent: Instant,
    },
    /// Remote: acknowledged by the `blc`.
    Remote {
        /// The remote process id, if it started one.
        pid: Option<i64>,
    },
    /// Shutdown asked it to stop.
    Stopping {
        /// Its process id.
        pid: u32,
    },
    /// Stopped by shutdown (or never started before it).
    Stopped,
}

/// One managed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// Line in the launch file (0 for entries that did not come from one).
    pub line: usize,
    /// What it runs.
    pub kind: SlotKind,
    /// Pause after starting it.
    pub wait: Duration,
    /// Its state.
    pub state: SlotState,
    /// Restarts so far (all series).
    pub restarts: u32,
    /// Restarts in the current series.
    pub(super) streak: u32,
}

impl Slot {
    /// The command line it runs.
    pub fn command(&self) -> &str {
        match &self.kind {
            SlotKind::Local { command, .. } => command,
            SlotKind::Remote(request) => &request.command_string,
        }
    }

    /// `local` or the remote topic.
    pub fn place(&self) -> &str {
        match &self.kind {
            SlotKind::Local { .. } => "local",
            SlotKind::Remote(request) => &request.topic,
        }
    }

    /// The process id, if running here.
    pub fn pid(&self) -> Option<u32> {
        match self.state {
            SlotState::Running { pid, .. } | SlotState::Stopping { pid } => Some(pid),
            _ => None,
        }
    }
}

/// A slot's state for people (the status table, the classroom launchers' lines).
pub fn describe(state: &SlotState, now: Instant) -> String {
    match state {
        SlotState::Pending => "pending".into(),
        SlotState::Starting => "starting".into(),
        SlotState::Running { .. } => "running".into(),
        SlotState::Backoff { until, last } => format!(
            "restart in {:.1} s ({last})",
            until.saturating_duration_since(now).as_secs_f64()
        ),
        SlotState::Exited { status } => format!("exited ({status})"),
        SlotState::GaveUp { status } => format!("gave up ({status})"),
        SlotState::Requested { .. } => "requested, no ack yet".into(),
        SlotState::Remote { pid: Some(_) } => "running remotely".into(),
        SlotState::Remote { pid: None } => "acked, not running".into(),
        SlotState::Stopping { .. } => "stopping".into(),
        SlotState::Stopped => "stopped".into(),
    }
}
