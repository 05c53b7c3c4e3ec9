#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod driver;
pub mod firmata;
pub mod link;
pub mod mqtt;
pub mod pacer;
pub mod reconnect;
pub mod serial;
pub mod telemetrix;
pub mod tgw;

pub use link::{Connector, Device, Link, SerialConnector, TcpConnector};
pub use reconnect::{Backoff, Reconnect, Say, Tally};
