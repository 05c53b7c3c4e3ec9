//! Rust Banyan on std: a Python-Banyan-compatible ZeroMQ backplane, the component API, the
//! echo demo and the serial gateway.
//!
//! ```text
//!            ┌─────────────── backplane (forwarder) ───────────────┐
//!  publish → │ SUB :43124 (subscribed to "")  ──▶  PUB :43125      │ → subscribe
//!            └──────────────────────────────────────────────────────┘
//!     ▲ [topic, msgpack map]                         │ prefix-filtered
//!  Rust/Python components                     Rust/Python components
//! ```
//!
//! # Layout
//! - [`backplane`]: the forwarder ([`Backplane`]).
//! - [`limits`]: message size limit and queue memory budget ([`Limits`]).
//! - [`budget`]: the byte budget of the backplane's subscriber queues, whatever the message sizes.
//! - [`access`]: the backplane's address allowlist and PLAIN credentials (a ZAP handler).
//! - [`component`]: [`Component`], the counterpart of Python's `BanyanBase`.
//! - [`echo`]: the seed's echo server and client, shared by examples, binaries and tests.
//! - [`gateway`]: the serial gateway bridging an MCU link onto the backplane.
//! - [`launch`]: the launcher's logic (launch file, messages, state machine) for `bls`/`blc`.
//! - [`multi`]: [`MultiComponent`], one component on several backplanes (Python's
//!   `BanyanBaseMulti`).
//! - [`net`]: ports and address detection.
//! - [`pyjson`]: JSON exactly as Python's `json` module writes/reads it (MQTT gateway).
//! - [`error`]: the [`Error`] type.
#![deny(missing_docs)]

pub mod access;
pub mod backplane;
pub mod budget;
pub mod component;
pub mod echo;
pub mod error;
pub mod gateway;
pub mod launch;
pub mod limits;
mod monitor;
pub mod multi;
pub mod net;
pub mod pyjson;
pub mod subscriptions;
mod sys;

pub use access::{AccessControl, PlainCredentials};
pub use backplane::{Backplane, BackplaneConfig};
pub use component::{Component, ComponentConfig, Message, ShutdownHandle};
pub use error::{Error, Result};
pub use limits::Limits;
pub use multi::MultiComponent;

/// Lower-case hex of `bytes`, for payloads that cannot be rendered otherwise (logs, monitor).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
