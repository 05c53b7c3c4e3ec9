//! [`Clock`]: the millisecond time the kit's links run on (held-back frames, simulated
//! polling), without depending on the firmware crate.
//!
//! The kit deliberately has its own two-line trait rather than `banyan_mcu::Clock`: with that
//! dependency, `banyan-mcu`'s own tests could not use the kit (a dev-dependency cycle). A test
//! that hands kit time to the MCU client wraps it in `banyan_mcu::FnClock`:
//! `FnClock(move || sim_clock.now_ms())`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A monotonic millisecond clock with an arbitrary origin.
pub trait Clock {
    /// Milliseconds since the clock's origin; never goes backwards.
    fn now_ms(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

/// Real time ([`Instant`]), counting from the clock's creation.
#[derive(Debug, Clone, Copy)]
pub struct WallClock(Instant);

impl WallClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Self(Instant::now())
    }
}

impl Default for WallClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A simulated millisecond clock shared by clones; it moves only when told to.
#[derive(Debug, Clone, Default)]
pub struct SimClock(Arc<AtomicU64>);

impl SimClock {
    /// A clock at 0 ms.
    pub fn new() -> Self {
        Self::default()
    }

    /// The simulated time (also through [`Clock::now_ms`]).
    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Lets `ms` pass.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the time (it should not go backwards).
    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        SimClock::now_ms(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_is_shared_by_clones_and_moves_only_when_told() {
        let clock = SimClock::new();
        let other = clock.clone();
        assert_eq!(Clock::now_ms(&other), 0);
        clock.advance(7);
        assert_eq!(Clock::now_ms(&&other), 7);
        other.set(100);
        assert_eq!(clock.now_ms(), 100);
        assert!(WallClock::new().now_ms() < 60_000);
    }
}
