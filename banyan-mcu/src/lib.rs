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
pub mod core;
pub mod echo;
mod error;
mod event;
mod polled;

pub use crate::core::{
    ClientConfig, ClientCore, ClientStats, DEFAULT_BATCH_WINDOW_MS, EVENT_QUEUE_LEN, LinkEvent,
    LinkState, PublishStep, SubState, control_buf_len,
};
pub use client::{CLIENT_ALIASES, Client, CoreOf, DEFAULT_RX_LEN, Incoming, Message, max_body_for};
#[cfg(feature = "std")]
pub use clock::StdClock;
pub use clock::{Clock, FnClock};
pub use echo::{
    ECHO_BUF_LEN, EchoClient, EchoConfig, EchoSummary, MAX_KEY_LEN, MAX_TOPIC_LEN, Phase,
};
pub use error::ClientError;
pub use event::{Event, Observer};
pub use polled::{Polled, PolledError};
