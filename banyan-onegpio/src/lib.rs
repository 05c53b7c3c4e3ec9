#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

mod board;
pub mod command;
mod engine;
pub mod loopback;
mod reason;
pub mod report;
mod topic;

pub use board::{Adc, Board, Capabilities, HardwareError, NoAdc, NoPwm, PinMode};
pub use engine::{
    Config, Engine, MAX_TAG_LEN, MAX_TAGS, Outcome, SERVO_MAX_DEGREES, SERVO_PERIOD_US, Sink,
    SinkFull, Stats,
};
pub use reason::{Field, Reason};
pub use topic::{DEFAULT_DEVICE, DeviceError, MAX_DEVICE_LEN, Topics};
