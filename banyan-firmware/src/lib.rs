#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![doc = include_str!("../README.md")]

pub mod onegpio;
pub mod pl011;
pub mod rp2040_pwm;
pub mod sensor;
pub mod time;
