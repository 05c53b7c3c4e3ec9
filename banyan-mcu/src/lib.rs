#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

// Must come first: the logging macros are used by the modules below.
#[macro_use]
mod fmt;

#[cfg(feature = "async")]
mod asynch;
mod client;
mod clock;
mod error;
mod event;
mod polled;
pub mod session;

pub use client::{DEFAULT_RX_LEN, EchoClient, max_body_for};
pub use clock::Clock;
#[cfg(feature = "std")]
pub use clock::StdClock;
pub use error::ClientError;
pub use event::{Event, Observer};
pub use polled::{Polled, PolledError};
pub use session::{
    EchoConfig, EchoSession, EchoSummary, MAX_KEY_LEN, MAX_TOPIC_LEN, Phase, TX_BUF_LEN,
};
