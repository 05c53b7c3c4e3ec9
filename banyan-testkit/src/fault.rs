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

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use banyan_proto::frame::DELIMITER;
use embedded_io::ErrorKind;

use crate::clock::SimClock;

/// One percent, in the parts-per-million unit of [`Faults`].
pub const PERCENT: u32 = 10_000;

/// Most bytes gathered while waiting for a delimiter; a longer run is faulted as one frame.
const MAX_PENDING: usize = 64 * 1024;

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

/// One direction's state: faults, frame under assembly, frames ready and held back.
#[derive(Debug)]
struct Direction {
    faults: Faults,
    rng: Rng,
    passed: u64,
    pending: Vec<u8>,
    ready: VecDeque<u8>,
    held: Vec<(u64, Vec<u8>)>,
}

impl Direction {
    fn new(faults: Faults, seed: u64) -> Self {
        Self {
            faults,
            rng: Rng::new(seed),
            passed: 0,
            pending: Vec::new(),
            ready: VecDeque::new(),
            held: Vec::new(),
        }
    }

    /// Feeds bytes; complete frames are faulted into `ready` or `held`.
    fn feed(&mut self, bytes: &[u8], now_ms: u64, stats: &FaultHandle) {
        for &byte in bytes {
            self.pending.push(byte);
            if byte == DELIMITER || self.pending.len() >= MAX_PENDING {
                let frame = std::mem::take(&mut self.pending);
                self.fault(frame, now_ms, stats);
            }
        }
    }

    /// Faults a frame-less tail as it is (used when a stream ends or is flushed).
    fn flush_pending(&mut self, now_ms: u64, stats: &FaultHandle) {
        if !self.pending.is_empty() {
            let frame = std::mem::take(&mut self.pending);
            self.fault(frame, now_ms, stats);
        }
    }

    fn fault(&mut self, mut frame: Vec<u8>, now_ms: u64, handle: &FaultHandle) {
        let mut stats = handle.lock();
        stats.frames += 1;
        stats.bytes += frame.len() as u64;
        self.passed += frame.len() as u64;
        if self
            .faults
            .cut_after
            .is_some_and(|limit| self.passed > limit)
        {
            stats.cut = true;
            return;
        }
        let f = self.faults;
        if self.rng.chance_ppm(f.drop) {
            stats.dropped += 1;
            return;
        }
        if !frame.is_empty() && self.rng.chance_ppm(f.corrupt) {
            let at = self.rng.below(frame.len() as u64) as usize;
            frame[at] ^= 1 + self.rng.below(255) as u8;
            stats.corrupted += 1;
        }
        if f.corrupt_byte > 0 {
            for byte in frame.iter_mut() {
                if self.rng.chance_ppm(f.corrupt_byte) {
                    *byte ^= 1 + self.rng.below(255) as u8;
                    stats.corrupted_bytes += 1;
                }
            }
        }
        if !frame.is_empty() && self.rng.chance_ppm(f.lose_byte) {
            let at = self.rng.below(frame.len() as u64) as usize;
            frame.remove(at);
            stats.lost_bytes += 1;
        }
        let copies = if self.rng.chance_ppm(f.duplicate) {
            stats.duplicated += 1;
            2
        } else {
            1
        };
        if self.rng.chance_ppm(f.delay) {
            stats.delayed += 1;
            for _ in 0..copies {
                self.held.push((now_ms + f.delay_ms, frame.clone()));
            }
            return;
        }
        for _ in 0..copies {
            self.ready.extend(&frame);
        }
    }

    /// Moves held frames whose time has come to `ready`.
    fn release(&mut self, now_ms: u64) {
        if self.held.iter().any(|(due, _)| *due <= now_ms) {
            let (due, later): (Vec<_>, Vec<_>) =
                self.held.drain(..).partition(|(due, _)| *due <= now_ms);
            self.held = later;
            for (_, frame) in due {
                self.ready.extend(frame);
            }
        }
    }
}

/// One direction of seeded frame damage without a link around it (see the module docs):
/// bytes go in with [`FaultPipe::push`], what a receiver would get comes out.
#[derive(Debug)]
pub struct FaultPipe {
    direction: Direction,
    handle: FaultHandle,
}

impl FaultPipe {
    /// A pipe damaging with `faults`, seeded.
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            direction: Direction::new(faults, seed),
            handle: FaultHandle::default(),
        }
    }

    /// Changes the rates from now on (a link that gets better or worse mid-run).
    pub fn set_faults(&mut self, faults: Faults) {
        self.direction.faults = faults;
    }

    /// Takes bytes sent at `now_ms` and appends what reaches the other end by then to `out`:
    /// complete frames, damaged, plus held-back frames whose time has come. An unfinished
    /// frame waits for its delimiter.
    pub fn push(&mut self, bytes: &[u8], now_ms: u64, out: &mut Vec<u8>) {
        self.direction.feed(bytes, now_ms, &self.handle);
        self.release(now_ms, out);
    }

    /// Appends held-back frames due by `now_ms` (and anything else ready) to `out`.
    pub fn release(&mut self, now_ms: u64, out: &mut Vec<u8>) {
        if self.handle.is_cut() {
            self.direction.ready.clear();
            return;
        }
        self.direction.release(now_ms);
        out.extend(self.direction.ready.drain(..));
    }

    /// What was done so far.
    pub fn stats(&self) -> FaultStats {
        self.handle.stats()
    }

    /// The statistics and cut switch, shareable with other threads.
    pub fn handle(&self) -> FaultHandle {
        self.handle.clone()
    }
}

/// The milliseconds `delay` is measured in.
#[derive(Debug)]
enum Time {
    /// Real time since the injector was made.
    Wall(Instant),
    /// A test's simulated time.
    Sim(SimClock),
}

/// A link wrapper that damages frames in both directions (see the module docs).
#[derive(Debug)]
pub struct FaultInjector<T> {
    inner: T,
    clock: Time,
    tx: Direction,
    rx: Direction,
    handle: FaultHandle,
}

impl<T> FaultInjector<T> {
    /// Wraps `inner`; `tx` applies to what is written through it, `rx` to what is read.
    pub fn new(inner: T, seed: u64, tx: Faults, rx: Faults) -> Self {
        Self::timed(inner, seed, tx, rx, Time::Wall(Instant::now()))
    }

    /// [`FaultInjector::new`] whose `delay` runs on simulated time.
    pub fn with_clock(inner: T, seed: u64, tx: Faults, rx: Faults, clock: SimClock) -> Self {
        Self::timed(inner, seed, tx, rx, Time::Sim(clock))
    }

    fn timed(inner: T, seed: u64, tx: Faults, rx: Faults, clock: Time) -> Self {
        Self {
            inner,
            clock,
            tx: Direction::new(tx, seed),
            rx: Direction::new(rx, seed ^ 0x5DEE_CE66_D1CE_4E5B),
            handle: FaultHandle::default(),
        }
    }

    /// The statistics and cut switch, shareable with other threads.
    pub fn handle(&self) -> FaultHandle {
        self.handle.clone()
    }

    /// The wrapped link.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped link, mutably (bytes written to it directly bypass the faults).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the link; frames still held back are lost.
    pub fn into_inner(self) -> T {
        self.inner
    }

    fn now(&self) -> u64 {
        match &self.clock {
            Time::Wall(origin) => u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX),
            Time::Sim(clock) => clock.now_ms(),
        }
    }

    /// Takes up to `buf.len()` ready received bytes.
    fn take_ready(&mut self, buf: &mut [u8]) -> usize {
        let n = self.rx.ready.len().min(buf.len());
        for (slot, byte) in buf.iter_mut().zip(self.rx.ready.drain(..n)) {
            *slot = byte;
        }
        n
    }
}

/// How a link's own read and write look to the injector's shared logic, for std `io` and
/// embedded-io alike (`E` is the side's error type).
struct Side<R, W, E> {
    read: R,
    write: W,
    /// The error for a link that accepts no bytes.
    write_zero: fn() -> E,
    /// The error for a cut link.
    broken: fn() -> E,
}

impl<T> FaultInjector<T> {
    /// Sends the frames that are ready (or due) to the link.
    fn push_tx<R, W, E>(&mut self, side: &mut Side<R, W, E>) -> Result<(), E>
    where
        W: FnMut(&mut T, &[u8]) -> Result<usize, E>,
    {
        let now = self.now();
        self.tx.release(now);
        let ready: Vec<u8> = self.tx.ready.drain(..).collect();
        let mut rest = &ready[..];
        while !rest.is_empty() {
            match (side.write)(&mut self.inner, rest)? {
                0 => return Err((side.write_zero)()),
                n => rest = &rest[n..],
            }
        }
        Ok(())
    }

    fn read_with<R, W, E>(&mut self, buf: &mut [u8], mut side: Side<R, W, E>) -> Result<usize, E>
    where
        R: FnMut(&mut T, &mut [u8]) -> Result<usize, E>,
        W: FnMut(&mut T, &[u8]) -> Result<usize, E>,
    {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut chunk = [0u8; 1024];
        loop {
            if self.handle.is_cut() {
                return Ok(0);
            }
            // Held frames go out on the link even when nobody writes.
            self.push_tx(&mut side)?;
            let now = self.now();
            self.rx.release(now);
            if !self.rx.ready.is_empty() {
                return Ok(self.take_ready(buf));
            }
            match (side.read)(&mut self.inner, &mut chunk)? {
                0 => {
                    self.rx.flush_pending(now, &self.handle);
                    if self.rx.ready.is_empty() {
                        return Ok(0);
                    }
                }
                n => self.rx.feed(&chunk[..n], now, &self.handle),
            }
        }
    }

    fn write_with<R, W, E>(&mut self, buf: &[u8], mut side: Side<R, W, E>) -> Result<usize, E>
    where
        W: FnMut(&mut T, &[u8]) -> Result<usize, E>,
    {
        if self.handle.is_cut() {
            return Err((side.broken)());
        }
        let now = self.now();
        self.tx.feed(buf, now, &self.handle);
        if self.handle.is_cut() {
            return Err((side.broken)());
        }
        self.push_tx(&mut side)?;
        Ok(buf.len())
    }
}

type StdSide<T> = Side<
    fn(&mut T, &mut [u8]) -> io::Result<usize>,
    fn(&mut T, &[u8]) -> io::Result<usize>,
    io::Error,
>;

fn std_side<T: io::Read + io::Write>() -> StdSide<T> {
    Side {
        read: |t, b| t.read(b),
        write: |t, b| t.write(b),
        write_zero: || io::ErrorKind::WriteZero.into(),
        broken: || io::ErrorKind::BrokenPipe.into(),
    }
}

impl<T: io::Read + io::Write> io::Read for FaultInjector<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, std_side())
    }
}

impl<T: io::Read + io::Write> io::Write for FaultInjector<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(buf, std_side())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_tx(&mut std_side())?;
        self.inner.flush()
    }
}

impl<T: io::Read + io::Write + std::os::fd::AsRawFd> std::os::fd::AsRawFd for FaultInjector<T> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T: embedded_io::ErrorType> embedded_io::ErrorType for FaultInjector<T> {
    type Error = ErrorKind;
}

type EioSide<T> = Side<
    fn(&mut T, &mut [u8]) -> Result<usize, ErrorKind>,
    fn(&mut T, &[u8]) -> Result<usize, ErrorKind>,
    ErrorKind,
>;

fn eio_side<T: embedded_io::Read + embedded_io::Write>() -> EioSide<T> {
    use embedded_io::Error as _;
    Side {
        read: |t, b| t.read(b).map_err(|e| e.kind()),
        write: |t, b| t.write(b).map_err(|e| e.kind()),
        write_zero: || ErrorKind::WriteZero,
        broken: || ErrorKind::BrokenPipe,
    }
}

impl<T: embedded_io::Read + embedded_io::Write> embedded_io::Read for FaultInjector<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.read_with(buf, eio_side())
    }
}

impl<T: embedded_io::Read + embedded_io::Write> embedded_io::Write for FaultInjector<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.write_with(buf, eio_side())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        use embedded_io::Error as _;
        self.push_tx(&mut eio_side())?;
        self.inner.flush().map_err(|e| e.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
