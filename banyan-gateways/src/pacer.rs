//! [`Pacer`]: the bounded queue of messages to a board (Firmata for `ardgw`, Telemetrix for
//! `rpgw`/`esp32gw`), drained no faster than the
//! firmware keeps up with.
//!
//! A stock Arduino has no flow control: the ATmega328P's serial receive buffer holds 64
//! bytes, and StandardFirmata empties it only between its other work (analog sampling every
//! 19 ms, writing reports, which blocks when its own 64-byte transmit buffer is full). A burst
//! written at line rate overruns that buffer and bytes are lost mid-message, so later
//! messages are misread (Telemetrix4Arduino #17 is the same failure). The pacer sends whole
//! messages only, at most [`Pace::burst_bytes`] back to back, and on average at
//! [`Pace::bytes_per_sec`] — by default half the line rate (`baud / 10 / 2`), which leaves
//! the firmware half of every character time for its own work. The rate is a generic cell
//! rate algorithm: a message of `n` bytes costs `n` byte times of a virtual clock that may
//! run at most `burst` byte times ahead of real time.
//!
//! The queue is bounded ([`Pace::capacity`] messages). A message that does not fit is
//! refused ([`QueueFull`]) and counted; nothing already queued is dropped. Clearing the queue
//! (the board went away) counts what was discarded.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How fast and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Average bytes per second to the board.
    pub bytes_per_sec: u32,
    /// Most bytes sent back to back (half the firmware's 64-byte receive buffer by default).
    pub burst_bytes: u32,
    /// Most messages waiting.
    pub capacity: usize,
}

impl Pace {
    /// Default queue bound: room for a burst of 1000 OneGPIO commands (a command becomes one
    /// to three messages).
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// The pace for a serial line at `baud` (8N1: 10 bits a byte): half the line rate, bursts
    /// of 32 bytes, [`Pace::DEFAULT_CAPACITY`] messages.
    pub fn for_baud(baud: u32) -> Self {
        Self {
            bytes_per_sec: (baud / 20).max(1),
            burst_bytes: 32,
            capacity: Self::DEFAULT_CAPACITY,
        }
    }

    fn byte_time(&self) -> Duration {
        Duration::from_nanos(1_000_000_000 / u64::from(self.bytes_per_sec.max(1)))
    }
}

/// The queue was full; the message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// Counters of a [`Pacer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Messages handed to the link.
    pub sent: u64,
    /// Bytes handed to the link.
    pub bytes: u64,
    /// Messages refused because the queue was full.
    pub refused: u64,
    /// Messages discarded by [`Pacer::clear`] (the board went away before they were sent).
    pub discarded: u64,
    /// Most messages ever waiting at once.
    pub high_water: usize,
}

/// The paced, bounded queue (see the module docs).
#[derive(Debug)]
pub struct Pacer {
    pace: Pace,
    queue: VecDeque<Vec<u8>>,
    /// The virtual clock: when the line will be free of everything sent so far.
    free_at: Option<Instant>,
    stats: PacerStats,
}

impl Pacer {
    /// An empty queue with this pace.
    pub fn new(pace: Pace) -> Self {
        Self {
            pace,
            queue: VecDeque::new(),
            free_at: None,
            stats: PacerStats::default(),
        }
    }

    /// The pace in use.
    pub fn pace(&self) -> Pace {
        self.pace
    }

    /// Queues one whole message.
    pub fn push(&mut self, message: Vec<u8>) -> Result<(), QueueFull> {
        if self.queue.len() >= self.pace.capacity {
            self.stats.refused += 1;
            return Err(QueueFull);
        }
        self.queue.push_back(message);
        self.stats.high_water = self.stats.high_water.max(self.queue.len());
        Ok(())
    }

    /// Room for `n` more messages?
    pub fn has_room(&self, n: usize) -> bool {
        self.queue.len() + n <= self.pace.capacity
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// `true` when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Discards everything waiting (counted) and forgets the line's history.
    pub fn clear(&mut self) {
        self.stats.discarded += self.queue.len() as u64;
        self.queue.clear();
        self.free_at = None;
    }

    /// Appends to `out` every message the pace allows at `now`; returns how many.
    pub fn drain(&mut self, now: Instant, out: &mut Vec<u8>) -> usize {
        let byte_time = self.pace.byte_time();
        let allowance = byte_time * self.pace.burst_bytes;
        let mut sent = 0;
        while let Some(message) = self.queue.front() {
            let free_at = self.free_at.map_or(now, |t| t.max(now));
            // A message longer than the burst still goes alone once the line is idle.
            let cost = byte_time * u32::try_from(message.len()).unwrap_or(u32::MAX);
            let idle = free_at <= now;
            if !idle && free_at + cost > now + allowance {
                break;
            }
            out.extend_from_slice(message);
            self.stats.sent += 1;
            self.stats.bytes += message.len() as u64;
            self.free_at = Some(free_at + cost);
            self.queue.pop_front();
            sent += 1;
        }
        sent
    }

    /// When [`drain`](Self::drain) can send the next message (`None`: nothing waits).
    pub fn next_send(&self, now: Instant) -> Option<Instant> {
        let message = self.queue.front()?;
        let Some(free_at) = self.free_at.filter(|&t| t > now) else {
            return Some(now);
        };
        let byte_time = self.pace.byte_time();
        let allowance = byte_time * self.pace.burst_bytes;
        let cost = byte_time * u32::try_from(message.len()).unwrap_or(u32::MAX);
        // Sendable once free_at + cost <= t + allowance, or once the line is idle.
        let by_allowance = (free_at + cost).checked_sub(allowance).unwrap_or(now);
        Some(by_allowance.min(free_at).max(now))
    }

    /// The counters.
    pub fn stats(&self) -> PacerStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace() -> Pace {
        // 1000 bytes/s: one byte per ms, bursts of 8 bytes.
        Pace {
            bytes_per_sec: 1000,
            burst_bytes: 8,
            capacity: 4,
        }
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rate_holds() {
        let mut pacer = Pacer::new(pace());
        let t0 = Instant::now();
        for i in 0..4 {
            pacer.push(vec![i; 3]).unwrap();
        }
        let mut out = Vec::new();
        // 3 + 3 bytes fit the 8-byte burst; the third message would be 9 ahead.
        assert_eq!(pacer.drain(t0, &mut out), 2);
        assert_eq!(out, [0, 0, 0, 1, 1, 1]);
        let next = pacer.next_send(t0).unwrap();
        assert_eq!(next, t0 + Duration::from_millis(1));
        assert_eq!(pacer.drain(next, &mut out), 1);
        // The line is now 8 ms ahead of t0+1ms; the last message waits 3 ms more.
        let next = pacer.next_send(next).unwrap();
        assert_eq!(next, t0 + Duration::from_millis(4));
        assert_eq!(pacer.drain(next, &mut out), 1);
        assert_eq!(out.len(), 12);
        assert_eq!(pacer.next_send(next), None);
    }

    #[test]
    fn the_queue_is_bounded_and_says_what_it_refused() {
        let mut pacer = Pacer::new(pace());
        for _ in 0..4 {
            pacer.push(vec![1]).unwrap();
        }
        assert_eq!(pacer.push(vec![2]), Err(QueueFull));
        pacer.clear();
        let stats = pacer.stats();
        assert_eq!(
            (stats.refused, stats.discarded, stats.high_water),
            (1, 4, 4)
        );
    }

    #[test]
    fn a_long_message_goes_alone_on_an_idle_line() {
        let mut pacer = Pacer::new(pace());
        let t0 = Instant::now();
        pacer.push(vec![7; 20]).unwrap();
        let mut out = Vec::new();
        assert_eq!(pacer.drain(t0, &mut out), 1);
        assert_eq!(out.len(), 20);
    }

    #[test]
    fn the_default_is_half_the_line_rate() {
        let pace = Pace::for_baud(57_600);
        assert_eq!(pace.bytes_per_sec, 2880);
        assert_eq!(pace.burst_bytes, 32);
    }
}
