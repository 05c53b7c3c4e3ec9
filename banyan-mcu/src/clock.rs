//! [`Clock`]: the time source for timeouts.

/// A monotonic millisecond clock, used only to decide when a reply is overdue.
///
/// `now_ms` must never go backwards; its origin is arbitrary (boot, process start). Precision
/// of a few milliseconds is plenty: timeouts are hundreds of milliseconds. On a Cortex-M a
/// SysTick interrupt counting milliseconds is enough; with embassy,
/// `embassy_time::Instant::now().as_millis()`; on a host, `StdClock` (feature `std`).
///
/// A `u64` of milliseconds does not wrap in any realistic uptime. A clock built on a 32-bit
/// counter should extend it (count wraps) rather than wrap itself.
pub trait Clock {
    /// Milliseconds since an arbitrary, fixed origin.
    fn now_ms(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

/// Any `Fn() -> u64` as a [`Clock`]: a time source that is not a type of its own.
///
/// ```
/// use banyan_mcu::{Clock, FnClock};
/// // With embassy: `FnClock(|| embassy_time::Instant::now().as_millis())`.
/// let clock = FnClock(|| 1234);
/// assert_eq!(clock.now_ms(), 1234);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FnClock<F>(pub F);

impl<F: Fn() -> u64> Clock for FnClock<F> {
    fn now_ms(&self) -> u64 {
        (self.0)()
    }
}

/// [`Clock`] over [`std::time::Instant`], counting from its creation.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    origin: std::time::Instant,
}

#[cfg(feature = "std")]
impl StdClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }
}

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl Clock for StdClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// `now_ms + ms`, saturating: a deadline. One out-of-line copy: a u64 addition is ~16 bytes
/// of Thumb-1 code at each of the dozen places that set a timer, a call ~6.
#[inline(never)]
pub(crate) fn after(now_ms: u64, ms: u32) -> u64 {
    now_ms.saturating_add(u64::from(ms))
}
