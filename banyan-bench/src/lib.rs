//! The Rust Banyan benchmark suite. Run it with
//! `cargo run --release -p banyan-bench -- all` (or `-- all --quick`); the codec
//! micro-benchmarks also run under criterion with `cargo bench -p banyan-bench`.
//! `BENCHMARKS.md` at the repository root has results, what each number means and where the
//! project stands against its targets.
//!
//! ```text
//!  pubsub   Component::publish ─▶ Backplane ─▶ Component::recv   vs  raw PUB ─▶ same ─▶ raw SUB
//!  echo     echo::run_client ⇄ Backplane ⇄ echo::serve             vs  raw sockets, same forwarder
//!  python   python-banyan publisher/subscriber, echo client/server through python's backplane
//!  codec    msgpack, serial frames, topic matching (ns/op)
//!  gateway  simulated MCU ═ UnixStream pair ═ Gateway ─ Backplane ─ echo server
//!  serial   banyan_mcu::Client ═ paced UART line (115 200 / 921 600 baud) ═ Gateway ─ subscriber
//!  startup  spawn → Component::connect returned (the binary re-runs itself as a probe)
//!  resources  backplane process RSS/CPU during a throughput run; idle component CPU
//! ```
//!
//! # Layout
//! - [`suite`]: the sections, their sizes ([`suite::Plan`]) and the rows they report.
//! - [`pubsub`], [`echo`], [`gateway`], [`serial`], [`python`], [`codec`], [`startup`], [`resources`]: the
//!   measurements.
//! - [`stats`]: medians, spreads, percentiles. [`report`]: the table and `SUMMARY` line.
//! - [`procs`]: `/proc` readers (`procfs`) and the sibling binaries (processes are the test
//!   kit's `ChildGuard`s).
//!
//! Timings are printed, never asserted: the suite fails only when something breaks.
#![deny(missing_docs)]

pub mod codec;
pub mod echo;
pub mod gateway;
pub mod procs;
pub mod pubsub;
pub mod python;
pub mod report;
pub mod resources;
pub mod serial;
pub mod startup;
pub mod stats;
pub mod suite;
