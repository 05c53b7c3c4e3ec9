//! The Banyan launcher's logic (`bls`, `blc`, `blk` in `banyan-cli`), sans-IO.
//!
//! - [`file`](mod@file): Python Banyan's launch file (CSV), with line/column errors.
//! - [`wire`]: the launcher's messages, as python-banyan 3.17 sends them.
//! - [`slot`]: the launcher's configuration and slots (what each entry runs, its state).
//! - [`machine`]: the state machine: start sequence, restart with back-off and a limit,
//!   remote requests until acknowledged, shutdown, the status table.
//! - [`split`]: a command line split into words (`shlex`; Windows' rules on Windows).
//! - [`lines`]: a child's output cut into lines, for the classroom launchers' prefixes.
//!
//! The binaries only spawn and reap processes (process groups), move messages and print.

pub mod file;
pub mod lines;
pub mod machine;
pub mod slot;
pub mod split;
pub mod wire;

pub use file::{LaunchEntry, LaunchFileError, Target, parse};
pub use machine::{Action, Launcher, LauncherConfig, RestartPolicy, Slot, SlotKind, SlotState};
pub use split::{SplitError, split_command};
pub use wire::{KILLALL_TOPIC, LaunchAck, LaunchRequest, killall_payload};
