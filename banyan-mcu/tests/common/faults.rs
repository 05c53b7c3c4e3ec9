//! Seeded fault injection for serial links: drop, corrupt, shorten and duplicate frames.
//!
//! Self-contained (std only) so that it can move to the shared test kit as it is; the root
//! package's tests include it with `#[path]`.

#![allow(dead_code)] // Each test binary uses a different part.

/// xorshift64*: small, seeded, good enough for fault injection.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

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

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }
}

/// Fault rates of one direction of a link, in ‰.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Per frame: the whole frame vanishes.
    pub drop: u32,
    /// Per byte: the byte is replaced by a random value.
    pub corrupt_byte: u32,
    /// Per frame: one random byte of the frame is lost.
    pub lose_byte: u32,
    /// Per frame: the frame is delivered twice.
    pub duplicate: u32,
}

impl Faults {
    pub const NONE: Faults = Faults {
        drop: 0,
        corrupt_byte: 0,
        lose_byte: 0,
        duplicate: 0,
    };

    /// The issue's faulty link: 1 % of bytes corrupted, 1 % of frames lost, 1 % duplicated.
    pub const ISSUE: Faults = Faults {
        drop: 10,
        corrupt_byte: 10,
        lose_byte: 0,
        duplicate: 10,
    };
}

/// What an injector did, for asserting that faults really happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub frames: u64,
    pub dropped: u64,
    pub corrupted_bytes: u64,
    pub lost_bytes: u64,
    pub duplicated: u64,
}

/// Applies [`Faults`] to a byte stream frame by frame: bytes are collected up to each 0x00
/// delimiter, and each complete frame is dropped, damaged or duplicated at the seeded rates.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    rng: Rng,
    faults: Faults,
    partial: Vec<u8>,
    pub stats: FaultStats,
}

impl FaultInjector {
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            rng: Rng::new(seed),
            faults,
            partial: Vec::new(),
            stats: FaultStats::default(),
        }
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Takes bytes written into the link; appends what comes out at the other end to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            self.partial.push(b);
            if b == 0 {
                let frame = std::mem::take(&mut self.partial);
                self.frame(frame, out);
            }
        }
    }

    fn frame(&mut self, mut frame: Vec<u8>, out: &mut Vec<u8>) {
        self.stats.frames += 1;
        if self.rng.chance(self.faults.drop) {
            self.stats.dropped += 1;
            return;
        }
        if self.faults.corrupt_byte > 0 {
            for byte in frame.iter_mut() {
                if self.rng.chance(self.faults.corrupt_byte) {
                    *byte = self.rng.below(256) as u8;
                    self.stats.corrupted_bytes += 1;
                }
            }
        }
        if !frame.is_empty() && self.rng.chance(self.faults.lose_byte) {
            let i = self.rng.below(frame.len() as u64) as usize;
            frame.remove(i);
            self.stats.lost_bytes += 1;
        }
        if self.rng.chance(self.faults.duplicate) {
            self.stats.duplicated += 1;
            out.extend_from_slice(&frame);
        }
        out.extend_from_slice(&frame);
    }
}
