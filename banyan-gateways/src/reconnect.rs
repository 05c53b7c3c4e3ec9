//! The one reconnect machine every gateway uses, sans-IO: the caller owns the clock and the
//! link, and tells the machine what happened; the machine says when to try again and whether a
//! failure is worth a log line.
//!
//! ```text
//!            open failed: retry at now + back-off (doubling, capped)
//!          ┌───────────┐
//!          ▼           │
//!  ──▶  Down{retry_at} ─┴─ opened ──▶ Up{since} ── lost ──▶ Down{now + back-off}
//!                                                  (back-off reset first if the link
//!                                                   stayed up for `stable`)
//! ```
//!
//! Logging follows one policy ("say once, then count"): the first failure of a run of
//! failures is [`Say::First`]; later ones are [`Say::Quiet`] but counted, and the count is
//! handed back when the link opens again ([`Reconnect::opened`]), so a gateway logs one line
//! when a device goes away and one when it is back, however long it was gone.

use std::time::{Duration, Instant};

/// Doubling delays from `min` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (and the delay after a reset).
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
    /// A connection that stayed up this long resets the delay to `min` when it is lost (a
    /// device that accepts and closes at once is retried with growing delays, not in a loop).
    pub stable: Duration,
}

impl Backoff {
    /// The gateways' default: 100 ms doubling to `max` (at least 100 ms), reset after 1 s up.
    pub fn up_to(max: Duration) -> Self {
        let min = Duration::from_millis(100);
        Self {
            min,
            max: max.max(min),
            stable: Duration::from_secs(1),
        }
    }
}

impl Default for Backoff {
    /// 100 ms doubling to 2 s, reset after 1 s up.
    fn default() -> Self {
        Self::up_to(Duration::from_secs(2))
    }
}

/// Whether an event deserves a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// The first of its kind since the last change: log it.
    First,
    /// The `n`th of its kind (every hundredth is handed out): log a count.
    Count(u64),
    /// Counted, not logged.
    Quiet,
}

impl Say {
    /// The policy itself: what to do with the `n`th occurrence (counted from 1) — the first
    /// is said, then every hundredth is counted aloud. For counters shared between threads
    /// (atomics) that cannot be a [`Tally`].
    pub const fn of_count(n: u64) -> Self {
        match n {
            1 => Say::First,
            n if n.is_multiple_of(100) => Say::Count(n),
            _ => Say::Quiet,
        }
    }

    /// `true` unless [`Say::Quiet`].
    pub fn loud(self) -> bool {
        !matches!(self, Say::Quiet)
    }
}

/// "Say once, then count": a counter that tells which occurrences to log (the first, then
/// every hundredth).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    count: u64,
}

impl Tally {
    /// A tally at zero.
    pub const fn new() -> Self {
        Self { count: 0 }
    }

    /// Counts one occurrence and says whether to log it.
    pub fn note(&mut self) -> Say {
        self.count = self.count.saturating_add(1);
        Say::of_count(self.count)
    }

    /// Counts one occurrence; `Some(count so far)` when it is one to log (for lines such as
    /// "dropped a message (7 dropped so far)").
    pub fn bump(&mut self) -> Option<u64> {
        self.note().loud().then_some(self.count)
    }

    /// Occurrences so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Back to zero; returns the count it had.
    pub fn take(&mut self) -> u64 {
        core::mem::take(&mut self.count)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Down { retry_at: Instant },
    Up { since: Instant },
}

/// The reconnect machine; see the module docs.
#[derive(Debug, Clone)]
pub struct Reconnect {
    backoff: Backoff,
    delay: Duration,
    state: State,
    failures: Tally,
    opens: u64,
    losses: u64,
}

impl Reconnect {
    /// A machine whose first attempt is due at `now`.
    pub fn new(backoff: Backoff, now: Instant) -> Self {
        Self {
            backoff,
            delay: backoff.min,
            state: State::Down { retry_at: now },
            failures: Tally::new(),
            opens: 0,
            losses: 0,
        }
    }

    /// `true` while the link is up.
    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Up { .. })
    }

    /// When the next attempt is due (`None` while the link is up).
    pub fn retry_at(&self) -> Option<Instant> {
        match self.state {
            State::Down { retry_at } => Some(retry_at),
            State::Up { .. } => None,
        }
    }

    /// `true` when the link is down and an attempt is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.retry_at().is_some_and(|at| now >= at)
    }

    /// How long to wait from `now` until the next attempt (`None` while up; zero when due).
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.retry_at().map(|at| at.saturating_duration_since(now))
    }

    /// An attempt to open failed at `now`: the next one is scheduled one back-off later (the
    /// back-off doubles). Says whether to log it (the first of a run of failures).
    pub fn open_failed(&mut self, now: Instant) -> Say {
        self.schedule(now);
        self.failures.note()
    }

    /// The link opened at `now`. Returns how many attempts had failed since the link was
    /// last up (0: it opened at the first try), for one "back after N attempts" line.
    pub fn opened(&mut self, now: Instant) -> u64 {
        self.state = State::Up { since: now };
        self.opens += 1;
        self.failures.take()
    }

    /// The open link was lost at `now` (EOF, an I/O error, a protocol failure that needs a
    /// fresh link). The back-off is reset first if the link had been up for
    /// [`Backoff::stable`]; the next attempt is one back-off later. Returns when that is.
    pub fn lost(&mut self, now: Instant) -> Instant {
        if let State::Up { since } = self.state
            && now.saturating_duration_since(since) >= self.backoff.stable
        {
            self.delay = self.backoff.min;
        }
        self.losses += 1;
        self.schedule(now)
    }

    /// The next attempt is due at `now`, with the back-off reset (the link's address
    /// changed: the old failures say nothing about the new one).
    pub fn retry_now(&mut self, now: Instant) {
        self.delay = self.backoff.min;
        self.state = State::Down { retry_at: now };
    }

    /// Times the link was opened.
    pub fn opens(&self) -> u64 {
        self.opens
    }

    /// Times an open link was lost.
    pub fn losses(&self) -> u64 {
        self.losses
    }

    /// Failed attempts since the link was last up.
    pub fn failures(&self) -> u64 {
        self.failures.count()
    }

    /// The back-off settings.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    fn schedule(&mut self, now: Instant) -> Instant {
        let retry_at = now + self.delay;
        self.delay = (self.delay * 2).min(self.backoff.max);
        self.state = State::Down { retry_at };
        retry_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn failures_double_up_to_the_cap() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::up_to(ms(500)), t0);
        assert!(r.due(t0));
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..5 {
            r.open_failed(now);
            let at = r.retry_at().unwrap();
            delays.push((at - now).as_millis());
            assert!(!r.due(at - ms(1)));
            assert!(r.due(at));
            now = at;
        }
        assert_eq!(delays, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn a_run_of_failures_is_said_once_and_counted_on_open() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::default(), t0);
        assert_eq!(r.open_failed(t0), Say::First);
        for _ in 0..98 {
            assert_eq!(r.open_failed(t0), Say::Quiet);
        }
        assert_eq!(r.open_failed(t0), Say::Count(100));
        assert_eq!(r.failures(), 100);
        assert_eq!(r.opened(t0), 100);
        assert!(r.is_up());
        assert_eq!(r.retry_at(), None);
        assert_eq!(r.wait(t0), None);
        // The next run of failures is said again.
        r.lost(t0);
        assert_eq!(r.open_failed(t0), Say::First);
    }

    #[test]
    fn a_stable_connection_resets_the_backoff_a_flapping_one_does_not() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::up_to(ms(1600)), t0);
        for _ in 0..3 {
            r.open_failed(t0);
        }
        // Flapping: up for 10 ms, the delay keeps growing (800 ms next).
        r.opened(t0);
        let at = r.lost(t0 + ms(10));
        assert_eq!(at - (t0 + ms(10)), ms(800));
        // Stable: up for the `stable` time, back to the minimum.
        r.opened(at);
        let lost_at = at + Duration::from_secs(1);
        let again = r.lost(lost_at);
        assert_eq!(again - lost_at, ms(100));
        assert_eq!(r.opens(), 2);
        assert_eq!(r.losses(), 2);
    }

    #[test]
    fn the_cap_is_never_below_the_minimum() {
        assert_eq!(Backoff::up_to(Duration::ZERO).max, ms(100));
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::up_to(Duration::ZERO), t0);
        r.open_failed(t0);
        r.open_failed(t0);
        assert_eq!(r.wait(t0), Some(ms(100)));
    }

    #[test]
    fn tally_says_the_first_and_every_hundredth() {
        let mut t = Tally::new();
        let said: Vec<u64> = (1..=300u64).filter(|_| t.note().loud()).collect();
        assert_eq!(said.len(), 4);
        assert_eq!(t.count(), 300);
        assert_eq!(t.take(), 300);
        assert_eq!(t.note(), Say::First);
        assert_eq!(t.bump(), None);
        assert_eq!(Say::of_count(1), Say::First);
        assert_eq!(Say::of_count(2), Say::Quiet);
        assert_eq!(Say::of_count(200), Say::Count(200));
        let mut u = Tally::new();
        let logged: Vec<u64> = (0..200).filter_map(|_| u.bump()).collect();
        assert_eq!(logged, [1, 100, 200]);
    }
}
