//! The process rig: starting, waiting for and ending processes and threads, and the waits
//! and deadlines every test goes through.
//!
//! - `process`: `ChildGuard` (a child captured, waited for, ended by PID), banner ports.
//! - `scenario`: `run_scenario` (one deadline for every process of a test, output on failure).
//! - `thread`: `ThreadGuard` (a thread stopped and joined on drop).
//! - `wait`: `wait_until` and its kin (a deadline whose failure names what was awaited).
//! - `ports`: ephemeral loopback ports, listening and closed.
//! - `python`: the Python lookup (`CI=true`: missing is a failure) and commands.
//! - `interop`: the Python interop rig of banyan-cli's suites.
//! - `board_gateway`: the board gateways' rig (start, OneGPIO commands, reports, exit line).
//! - `wine`: the Windows programs under Wine.

pub mod board_gateway;
pub mod interop;
pub mod ports;
pub mod process;
pub mod python;
pub mod scenario;
pub mod thread;
pub mod wait;
pub mod wine;
