#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// The kit in rooms (folders with a module map each); every module keeps its flat path
// (`banyan_testkit::process`, `banyan_testkit::interop`, ...) through the re-exports below.
mod fixture;
mod lab;
mod rig;

pub mod error;

pub use fixture::{fixtures, host};
pub use lab::{
    clock, fault, firmata_board, linerate, link, mcu, mem, relay, tcp_device, telemetrix, wire,
    zmtp,
};
pub use rig::{board_gateway, interop, ports, process, python, scenario, thread, wait, wine};

pub use clock::SimClock;
pub use error::{Error, Result};
pub use fault::{FaultHandle, FaultInjector, FaultPipe, FaultStats, Faults, PERCENT, Rng};
pub use firmata_board::FirmataBoard;
pub use fixtures::{
    AllKinds, GOLDEN_DIGITAL_WRITE, GOLDEN_ECHO_10, MONITOR_SAMPLE_PRINTED, monitor_printed,
    number_of, numbered, publish_monitor_sample,
};
pub use host::{
    EchoServer, GatewayThread, backplane, config, frozen_subscriber, limited_backplane,
    proven_publisher, replies_until, restart_backplane, spawn_echo_client,
};
pub use linerate::{
    LineCounters, LineGuard, LineRate, LineRateProxy, McuLineEnd, PacedWriter, Pacer, serial_line,
};
pub use link::{EmbeddedIo, LinkOffers, OfferedConnector, Uart, offered_links};
pub use mcu::{FrameReader, Got, RawMcu, Received};
pub use mem::{MemEnd, mem_pair};
pub use ports::{LOOPBACK, free_port, free_port_pair, wait_closed, wait_listening};
pub use process::{ChildGuard, backplane_ports, cargo_bin, served_numbers};
pub use python::{
    banyan_python, find_banyan_python, find_tool, in_ci, python_module, python_script,
    python_websockets, repo_root, require_tool,
};
pub use relay::{FaultProxy, FaultRelay};
pub use scenario::{Scenario, Step, ensure, run_python_scenario, run_scenario};
pub use tcp_device::TcpDevice;
pub use telemetrix::TelemetrixDevice;
pub use thread::ThreadGuard;
pub use wait::{WAIT, poll_until, try_wait_for, wait_for, wait_for_async, wait_until};
pub use wine::{WINDOWS_BIN_ENV, WindowsBins, windows_bins};
pub use wire::SerialWire;
