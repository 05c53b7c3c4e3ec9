//! One direction's damage: frames gathered up to their delimiter, faulted, held back or
//! released; and [`FaultPipe`], that damage with no link around it.

use std::collections::VecDeque;

use banyan_proto::frame::DELIMITER;

use super::{FaultHandle, FaultStats, Faults, Rng};

/// Most bytes gathered while waiting for a delimiter; a longer run is faulted as one frame.
const MAX_PENDING: usize = 64 * 1024;

/// One direction's state: faults, frame under assembly, frames ready and held back.
#[derive(Debug)]
pub(super) struct Direction {
    pub(super) faults: Faults,
    rng: Rng,
    passed: u64,
    pending: Vec<u8>,
    pub(super) ready: VecDeque<u8>,
    held: Vec<(u64, Vec<u8>)>,
}

impl Direction {
    pub(super) fn new(faults: Faults, seed: u64) -> Self {
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
    pub(super) fn feed(&mut self, bytes: &[u8], now_ms: u64, stats: &FaultHandle) {
        for &byte in bytes {
            self.pending.push(byte);
            if byte == DELIMITER || self.pending.len() >= MAX_PENDING {
                let frame = std::mem::take(&mut self.pending);
                self.fault(frame, now_ms, stats);
            }
        }
    }

    /// Faults a frame-less tail as it is (used when a stream ends or is flushed).
    pub(super) fn flush_pending(&mut self, now_ms: u64, stats: &FaultHandle) {
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
    pub(super) fn release(&mut self, now_ms: u64) {
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
