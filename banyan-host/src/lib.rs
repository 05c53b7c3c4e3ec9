//! Rust Banyan on std: a Python-Banyan-compatible ZeroMQ backplane, the component API and the
//! echo demo (the gateways, built on the component, are in `banyan-gateways`).
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
//! Where a probe lives, who reads monitor events, where the forwarding rule is and where each
//! queue is bounded: `banyan-host/README.md`.
//! - [`backplane`]: the forwarder ([`Backplane`]): its sans-IO per-message policy
//!   (`backplane/policy.rs`), the forwarder loop that applies the verdicts
//!   (`backplane/forward.rs`), [`BackplaneConfig`] (`backplane/config.rs`), the byte budget
//!   of its subscriber queues ([`backplane::budget`]) and the per-connection subscription
//!   bounds ([`backplane::subscriptions`]).
//! - `shape`: the `[topic, payload]` rule, once, for the forwarder and a component's inbox.
//! - [`limits`]: message size limit and queue memory budget ([`Limits`]).
//! - [`access`]: the backplane's address allowlist and PLAIN credentials (a ZAP handler).
//! - [`component`]: [`Component`], the counterpart of Python's `BanyanBase`, built from small
//!   sans-IO parts: the path proof (`component/proof.rs`), [`component::health`], the monitor
//!   reader (`component/events.rs`), [`component::send_budget`], the poll loop
//!   (`component/wait.rs`: a non-blocking turn, then one `poll(2)` of the sockets'
//!   `ZMQ_FD`s, `component/readiness.rs`), the stop socket of a blocking wait
//!   (`component/stop.rs`, also the [`MultiComponent`]'s and the ZAP handler's),
//!   [`component::nonce`] and [`Publisher`] handles for other threads.
//! - `aio` (feature `tokio`): `aio::Component`, the counterpart of Python's `BanyanBaseAIO`:
//!   the same component, its waits driven by the tokio reactor (`aio/ready.rs`: the sockets'
//!   `ZMQ_FD`s per platform), and `aio::echo`.
//! - `monitor`: libzmq socket monitor events, read the same way by every consumer.
//! - [`echo`]: the seed's echo server and client, shared by examples, binaries and tests (its
//!   countdown sans-IO, also driven by `aio::echo`).
//! - [`multi`]: [`MultiComponent`], one component on several backplanes (Python's
//!   `BanyanBaseMulti`).
//! - [`net`]: ports and address detection.
//! - [`json`]: payloads ⇄ JSON, exactly as Python's `json` module writes/reads it (MQTT
//!   gateway), with the web gateway's documented differences as explicit options.
//! - `sys`: the system probes of the byte budgets (heap, TCP statistics).
//! - [`error`]: the [`Error`] type.
#![deny(missing_docs)]

pub mod access;
#[cfg(feature = "tokio")]
pub mod aio;
pub mod backplane;
pub mod component;
pub mod echo;
pub mod error;
pub mod json;
pub mod limits;
mod monitor;
pub mod multi;
pub mod net;
/// The former name of [`json`], kept for existing users.
pub use json as pyjson;
mod shape;
mod sys;

pub use access::{AccessControl, PlainCredentials};
pub use backplane::{Backplane, BackplaneConfig};
pub use component::{Component, ComponentConfig, Message, Publisher, ShutdownHandle};
pub use error::{Error, Result};
pub use limits::Limits;
pub use multi::MultiComponent;
