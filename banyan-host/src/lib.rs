//! Rust Banyan on std (work in progress).
#![deny(missing_docs)]
