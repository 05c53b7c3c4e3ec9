//! Seeded fault injection on byte links, modelled on smoltcp's `phy/fault_injector.rs`.
//!
//! [`FaultInjector`] wraps a link (std `io::Read + io::Write`, or embedded-io) and damages
//! what passes, **frame by frame**: a frame is everything up to and including the
//! [`banyan_proto::frame::DELIMITER`] byte (0x00), so faults hit whole COBS frames the way a
//! real serial line loses, garbles and repeats them. Both directions are faulted, each with
//! its own [`Faults`]; the same seed gives the same damage.
//!
//! | fault | what happens to a frame |
//! |---|---|
//! | `drop` | it vanishes |
//! | `corrupt` | one random byte is replaced (never by itself) |
//! | `corrupt_byte` | each byte is independently replaced (bit-rot on a UART) |
//! | `lose_byte` | one random byte vanishes (a UART overrun) |
//! | `duplicate` | it is delivered twice |
//! | `delay` | it is held back `delay_ms` and delivered after later frames |
//! | `cut_after` | after that many bytes the link is cut: reads see end of file, writes fail |
//!
//! Rates are in parts per million ([`PERCENT`] = 1 %); [`Faults::ISSUE`] is the faulty link
//! of the MCU issue (1 % corrupted bytes, 1 % lost and 1 % duplicated frames). A
//! [`FaultHandle`] (from [`FaultInjector::handle`]) counts what was done ([`FaultStats`]) and
//! cuts the link on demand, from any thread.
//!
//! [`FaultPipe`] is the same damage for one direction without a link around it: bytes are
//! pushed in and the damaged stream comes out, for simulations that move bytes themselves
//! (a single-threaded world with a gateway core and a client).
//!
//! A wrapped link's file descriptor no longer tells the truth about readiness (frames can be
//! held inside), so for a peer that polls its link (the gateway) put the faults on a
//! [`crate::relay`] between two real sockets instead.
//!
//! Files: `fault.rs` the rates, the seeded [`Rng`], the counters and the handle;
//! `fault/direction.rs` one direction's damage and [`FaultPipe`]; `fault/injector.rs`
//! [`FaultInjector`] over std `io` and embedded-io.

use std::sync::{Arc, Mutex, MutexGuard};

mod direction;
mod injector;

pub use direction::FaultPipe;
pub use injector::FaultInjector;

/// One percent, in the parts-per-million unit of [`Faults`].
pub const PERCENT: u32 = 10_000;

/// xorshift64*: small, seeded, good enough for fault injection (not for anything secret).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator; any seed (0 included) works.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// `true` with probability `ppm / 1_000_000`.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.below(1_000_000) < u64::from(ppm)
    }

    /// `true` with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.chance_ppm(per_mille.saturating_mul(1000))
    }
}

/// Fault rates for one direction, in parts per million per frame (`corrupt_byte`: per byte).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// A frame vanishes.
    pub drop: u32,
    /// One random byte of a frame is replaced.
    pub corrupt: u32,
    /// Each byte is replaced independently.
    pub corrupt_byte: u32,
    /// One random byte of a frame vanishes.
    pub lose_byte: u32,
    /// A frame is delivered twice.
    pub duplicate: u32,
    /// A frame is held back [`Faults::delay_ms`] and delivered after later frames.
    pub delay: u32,
    /// How long a delayed frame is held, in milliseconds of the injector's clock.
    pub delay_ms: u64,
    /// The link is cut once this many bytes went through in this direction.
    pub cut_after: Option<u64>,
}

impl Faults {
    /// No faults: bytes pass unchanged.
    pub const NONE: Faults = Faults {
        drop: 0,
        corrupt: 0,
        corrupt_byte: 0,
        lose_byte: 0,
        duplicate: 0,
        delay: 0,
        delay_ms: 0,
        cut_after: None,
    };

    /// The MCU issue's faulty link: 1 % of bytes corrupted, 1 % of frames lost, 1 % of frames
    /// duplicated.
    pub const ISSUE: Faults = Faults {
        drop: PERCENT,
        corrupt_byte: PERCENT,
        duplicate: PERCENT,
        ..Faults::NONE
    };

    /// `true` when nothing would ever be damaged.
    pub fn is_clean(&self) -> bool {
        *self == Self::NONE
    }
}

/// What an injector did so far (both directions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Frames (delimited units) seen.
    pub frames: u64,
    /// Bytes seen.
    pub bytes: u64,
    /// Frames dropped.
    pub dropped: u64,
    /// Frames with one byte replaced.
    pub corrupted: u64,
    /// Bytes replaced by `corrupt_byte`.
    pub corrupted_bytes: u64,
    /// Bytes removed by `lose_byte`.
    pub lost_bytes: u64,
    /// Frames sent twice.
    pub duplicated: u64,
    /// Frames held back.
    pub delayed: u64,
    /// Whether the link has been cut.
    pub cut: bool,
}

impl FaultStats {
    /// Faults injected, all kinds together.
    pub fn injected(&self) -> u64 {
        self.dropped
            + self.corrupted
            + self.corrupted_bytes
            + self.lost_bytes
            + self.duplicated
            + self.delayed
    }

    /// The counts added since `earlier` (`cut` as now).
    pub(crate) fn minus(&self, earlier: &FaultStats) -> FaultStats {
        FaultStats {
            frames: self.frames - earlier.frames,
            bytes: self.bytes - earlier.bytes,
            dropped: self.dropped - earlier.dropped,
            corrupted: self.corrupted - earlier.corrupted,
            corrupted_bytes: self.corrupted_bytes - earlier.corrupted_bytes,
            lost_bytes: self.lost_bytes - earlier.lost_bytes,
            duplicated: self.duplicated - earlier.duplicated,
            delayed: self.delayed - earlier.delayed,
            cut: self.cut,
        }
    }
}

/// Shared view of an injector: its statistics and its cut switch.
#[derive(Debug, Clone, Default)]
pub struct FaultHandle(Arc<Mutex<FaultStats>>);

impl FaultHandle {
    fn lock(&self) -> MutexGuard<'_, FaultStats> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What was done so far.
    pub fn stats(&self) -> FaultStats {
        *self.lock()
    }

    /// Cuts the link: from now on reads see end of file and writes fail with `BrokenPipe`.
    pub fn cut(&self) {
        self.lock().cut = true;
    }

    /// `true` once cut.
    pub fn is_cut(&self) -> bool {
        self.lock().cut
    }

    /// Adds `delta`'s counts (for totals over several links).
    pub(crate) fn add(&self, delta: FaultStats) {
        let mut stats = self.lock();
        stats.frames += delta.frames;
        stats.bytes += delta.bytes;
        stats.dropped += delta.dropped;
        stats.corrupted += delta.corrupted;
        stats.corrupted_bytes += delta.corrupted_bytes;
        stats.lost_bytes += delta.lost_bytes;
        stats.duplicated += delta.duplicated;
        stats.delayed += delta.delayed;
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use banyan_proto::frame::DELIMITER;

    use super::*;
    use crate::clock::SimClock;
    use crate::mem::mem_pair;

    fn frames(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| [1 + (i % 200) as u8, 7, DELIMITER])
            .collect()
    }

    #[test]
    fn clean_faults_pass_bytes_unchanged() {
        let (a, mut b) = mem_pair();
        let mut link = FaultInjector::new(a, 1, Faults::NONE, Faults::NONE);
        let sent = frames(100);
        io::Write::write_all(&mut link, &sent).unwrap();
        let mut got = vec![0u8; sent.len()];
        io::Read::read_exact(&mut b, &mut got).unwrap();
        assert_eq!(got, sent);
        assert_eq!(link.handle().stats().injected(), 0);
        assert_eq!(link.handle().stats().frames, 100);
    }

    #[test]
    fn drop_duplicate_corrupt_are_counted_and_seeded() {
        let run = |seed| {
            let (a, mut b) = mem_pair();
            let faults = Faults {
                drop: 10 * PERCENT,
                duplicate: 10 * PERCENT,
                corrupt: 10 * PERCENT,
                ..Faults::NONE
            };
            let mut link = FaultInjector::new(a, seed, faults, Faults::NONE);
            io::Write::write_all(&mut link, &frames(1000)).unwrap();
            let mut got = Vec::new();
            b.read_available(&mut got);
            (got, link.handle().stats())
        };
        let (first, stats) = run(3);
        assert_eq!(run(3).0, first, "same seed, same damage");
        assert_ne!(run(4).0, first);
        assert!(stats.dropped > 50 && stats.duplicated > 50 && stats.corrupted > 50);
        let delivered = first.iter().filter(|&&b| b == DELIMITER).count() as u64;
        // Corruption can turn a byte into a delimiter; count only undamaged arithmetic.
        assert!(delivered >= 1000 - stats.dropped + stats.duplicated - stats.corrupted);
    }

    #[test]
    fn delay_holds_frames_until_their_time() {
        let clock = SimClock::new();
        let (a, mut b) = mem_pair();
        let faults = Faults {
            delay: 100 * PERCENT,
            delay_ms: 50,
            ..Faults::NONE
        };
        let mut link = FaultInjector::with_clock(a, 9, faults, Faults::NONE, clock.clone());
        io::Write::write_all(&mut link, b"ab\0").unwrap();
        let mut got = Vec::new();
        b.read_available(&mut got);
        assert!(got.is_empty());
        clock.advance(50);
        io::Write::flush(&mut link).unwrap();
        b.read_available(&mut got);
        assert_eq!(got, b"ab\0");
    }

    #[test]
    fn pipe_damages_pushed_frames_like_the_injector() {
        let faults = Faults {
            lose_byte: 20 * PERCENT,
            ..Faults::ISSUE
        };
        let run = |seed| {
            let mut pipe = FaultPipe::new(seed, faults);
            let mut out = Vec::new();
            for chunk in frames(1000).chunks(7) {
                pipe.push(chunk, 0, &mut out);
            }
            (out, pipe.stats())
        };
        let (first, stats) = run(5);
        assert_eq!(run(5).0, first, "same seed, same damage");
        assert_eq!(stats.frames, 1000);
        assert!(stats.lost_bytes > 100 && stats.dropped > 0 && stats.duplicated > 0);
        assert!(stats.corrupted_bytes > 0);
        // Lost bytes shorten the stream; duplicates lengthen it.
        let expected = 3000 - 3 * stats.dropped + 3 * stats.duplicated;
        assert!(first.len() as u64 <= expected);

        let mut pipe = FaultPipe::new(1, Faults::NONE);
        let mut out = Vec::new();
        pipe.push(b"ab", 0, &mut out);
        assert!(
            out.is_empty(),
            "an unfinished frame waits for its delimiter"
        );
        pipe.push(b"\0cd\0", 0, &mut out);
        assert_eq!(out, b"ab\0cd\0");
    }

    #[test]
    fn cut_ends_both_directions() {
        let (a, mut b) = mem_pair();
        let faults = Faults {
            cut_after: Some(6),
            ..Faults::NONE
        };
        let mut link = FaultInjector::new(a, 1, faults, Faults::NONE);
        io::Write::write_all(&mut link, b"ab\0cd\0").unwrap();
        assert!(io::Write::write_all(&mut link, b"ef\0").is_err());
        io::Write::write_all(&mut b, b"xy\0").unwrap();
        assert_eq!(io::Read::read(&mut link, &mut [0; 8]).unwrap(), 0);
        assert!(link.handle().stats().cut);
    }

    #[test]
    fn embedded_io_side_faults_reads() {
        let (a, mut b) = mem_pair();
        let faults = Faults {
            drop: 100 * PERCENT,
            ..Faults::NONE
        };
        let mut link = FaultInjector::new(a, 1, Faults::NONE, faults);
        io::Write::write_all(&mut b, b"xy\0").unwrap();
        b.close();
        let mut buf = [0u8; 8];
        assert_eq!(embedded_io::Read::read(&mut link, &mut buf), Ok(0));
        assert_eq!(link.handle().stats().dropped, 1);
    }
}
