#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod firmata;
pub mod reconnect;

pub use reconnect::{Backoff, Reconnect, Say, Tally};
