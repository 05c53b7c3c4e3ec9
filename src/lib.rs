//! Rust Banyan facade: re-exports the workspace crates for the examples and end-to-end tests.
#![deny(missing_docs)]
pub use banyan_host as host;
pub use banyan_proto as proto;
