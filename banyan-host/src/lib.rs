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
//! - [`component`]: [`Component`], the counterpart of Python's `BanyanBase`.
//! - [`echo`]: the seed's echo server and client, shared by examples, binaries and tests.
//! - [`gateway`]: the serial gateway bridging an MCU link onto the backplane.
//! - [`net`]: ports and address detection.
//! - [`cli`]: flags and helpers shared by the binaries.
//! - [`error`]: the [`Error`] type.
#![deny(missing_docs)]

pub mod backplane;
pub mod cli;
pub mod component;
pub mod echo;
pub mod error;
pub mod gateway;
pub mod net;

pub use backplane::{Backplane, BackplaneConfig};
pub use component::{Component, ComponentConfig, Message, ShutdownHandle};
pub use error::{Error, Result};
