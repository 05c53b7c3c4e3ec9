#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod allow;
pub mod assets;
pub mod bus;
pub mod error;
pub mod json;
pub mod monitor;
pub mod queue;
pub mod server;
pub mod session;
pub mod stats;
pub mod table;

pub use bus::{Bus, BusConfig};
pub use error::{Error, JsonError, Result};
pub use server::{WebConfig, serve};
pub use stats::{Snapshot, Stats, StatsConfig};
