#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod firmata;
pub mod link;
pub mod reconnect;

pub use link::{Connector, Device, Link, SerialConnector, TcpConnector};
pub use reconnect::{Backoff, Reconnect, Say, Tally};
