#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod link;
pub mod reconnect;
pub mod serial;

pub use link::{Connector, Device, Link, SerialConnector, TcpConnector};
pub use reconnect::{Backoff, Reconnect, Say, Tally};
