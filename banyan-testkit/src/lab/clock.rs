//! [`SimClock`]: simulated milliseconds for the kit's links (held-back frames, polling that
//! lets time pass) and for the code under test.
//!
//! The kit does not depend on `banyan-mcu` (its own tests use the kit; the other way round
//! would be a dev-dependency cycle), so `SimClock` is not a `banyan_mcu::Clock` itself: a test
//! hands it to the MCU client as `banyan_mcu::FnClock(move || sim_clock.now_ms())`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A simulated millisecond clock shared by clones; it moves only when told to.
#[derive(Debug, Clone, Default)]
pub struct SimClock(Arc<AtomicU64>);

impl SimClock {
    /// A clock at 0 ms.
    pub fn new() -> Self {
        Self::default()
    }

    /// The simulated time.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_is_shared_by_clones_and_moves_only_when_told() {
        let clock = SimClock::new();
        let other = clock.clone();
        assert_eq!(other.now_ms(), 0);
        clock.advance(7);
        assert_eq!(other.now_ms(), 7);
        other.set(100);
        assert_eq!(clock.now_ms(), 100);
    }
}
