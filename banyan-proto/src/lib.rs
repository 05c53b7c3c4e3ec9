#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod firmata;
pub mod frame;
#[cfg(feature = "std")]
pub mod gateway;
pub mod length_prefix;
pub mod payload;
pub mod telemetrix;
pub mod topic;
