//! Codec micro-benchmarks: msgpack payloads, serial frames, topic matching.
//!
//! The cases are defined once, here, and run by two drivers: the criterion bench
//! (`cargo bench -p banyan-bench`, `benches/codec.rs`) and the simple timing loop of the main
//! binary ([`time_all`]), through the [`Visitor`] trait. Each case is a closure that does one
//! operation; inputs go through [`black_box`] so the work cannot be hoisted out of the loop.

use std::hint::black_box;
use std::time::{Duration, Instant};

use banyan_host::echo::EchoPayload;
use banyan_proto::frame::{self, FeedResult, Frame, FrameDecoder, max_encoded_len};
use banyan_proto::payload;
use banyan_proto::topic::SubscriptionSet;
use serde::{Deserialize, Serialize};

use crate::stats::Spread;

/// The seed's payload, `{'message_number': 10}` (17 bytes of msgpack).
pub const SEED: EchoPayload = EchoPayload { message_number: 10 };

/// A sensor-style payload whose msgpack encoding is exactly 1 KiB with [`Telemetry::kib`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    /// Device name (19 characters in the 1 KiB fixture).
    pub device: String,
    /// Sequence number.
    pub seq: u64,
    /// Seconds since the epoch.
    pub timestamp: f64,
    /// A flag.
    pub ok: bool,
    /// Readings (106 doubles in the 1 KiB fixture).
    pub values: Vec<f64>,
}

impl Telemetry {
    /// The 1 KiB fixture.
    pub fn kib() -> Self {
        Self {
            device: "bench-device-000001".into(),
            seq: 123_456,
            timestamp: 1_700_000_000.25,
            ok: true,
            values: (0..106).map(|i| f64::from(i) * 0.5 + 0.125).collect(),
        }
    }
}

/// A payload of any size: `{'d': <bytes>}`, the first 4 bytes of which carry a sequence
/// number (little-endian) so that echoes can be matched to requests.
#[derive(Debug, Serialize, Deserialize)]
struct Padded<'a> {
    #[serde(borrow, with = "serde_bytes")]
    d: &'a [u8],
}

/// Bytes of the `{'d': bin}` map around its data: fixmap, key `"d"`, bin 8 header.
const PADDED_OVERHEAD: usize = 1 + 2 + 2;

/// The msgpack payload `{'d': bin}` of exactly `len` bytes (`9..=260`) carrying `seq`.
pub fn sized_payload(len: usize, seq: u32) -> Vec<u8> {
    let data_len = len.clamp(PADDED_OVERHEAD + 4, PADDED_OVERHEAD + 255) - PADDED_OVERHEAD;
    let mut data = vec![0x5a; data_len];
    data[..4].copy_from_slice(&seq.to_le_bytes());
    payload::to_vec(&Padded { d: &data }).unwrap_or_default()
}

/// The sequence number of a [`sized_payload`], or `None` if `bytes` is not one.
pub fn payload_seq(bytes: &[u8]) -> Option<u32> {
    let padded: Padded<'_> = payload::from_slice(bytes).ok()?;
    Some(u32::from_le_bytes(padded.d.get(..4)?.try_into().ok()?))
}

/// Receives each case: a name and a closure doing one operation.
pub trait Visitor {
    /// Measures `op` under `name`.
    fn case<R>(&mut self, name: &str, op: impl FnMut() -> R);
}

/// Topic used by the frame cases.
const FRAME_TOPIC: &[u8] = b"echo";

type Subscriptions = SubscriptionSet<256, 32>;

fn subscriptions(n: usize) -> Subscriptions {
    let mut set = Subscriptions::new();
    for i in 0..n {
        // Capacity is 256 and topics are 22 bytes: this cannot fail for n <= 256.
        let _ = set.add(format!("sensor/{i:03}/temperature").as_bytes());
    }
    set
}

/// Runs every case through `visitor`.
pub fn visit_all(visitor: &mut impl Visitor) {
    let mut buf = vec![0u8; 4096];

    let seed = payload::to_vec(&SEED).unwrap_or_default();
    let seed_len = seed.len();
    visitor.case(
        &format!("msgpack encode seed {{'message_number': 10}} ({seed_len} B), to_slice"),
        || payload::to_slice(black_box(&SEED), &mut buf).map_err(drop),
    );
    visitor.case(
        &format!("msgpack encode seed ({seed_len} B), to_vec as Component::publish"),
        || payload::to_vec(black_box(&SEED)).map_err(drop),
    );
    visitor.case(&format!("msgpack decode seed ({seed_len} B)"), || {
        payload::from_slice::<EchoPayload>(black_box(&seed)).map_err(drop)
    });

    let kib = Telemetry::kib();
    let kib_bytes = payload::to_vec(&kib).unwrap_or_default();
    let kib_len = kib_bytes.len();
    visitor.case(
        &format!("msgpack encode 1 KiB map ({kib_len} B), to_slice"),
        || payload::to_slice(black_box(&kib), &mut buf).map_err(drop),
    );
    visitor.case(&format!("msgpack decode 1 KiB map ({kib_len} B)"), || {
        payload::from_slice::<Telemetry>(black_box(&kib_bytes)).map_err(drop)
    });

    for len in [16, 256] {
        let body = sized_payload(len, 7);
        let publish = Frame::Publish {
            topic: FRAME_TOPIC,
            payload: &body,
        };
        let wire = frame::encode_to_vec(&publish).unwrap_or_default();
        visitor.case(
            &format!(
                "frame encode Publish, {len} B payload ({} B wire)",
                wire.len()
            ),
            || frame::encode(black_box(&publish), &mut buf).map_err(drop),
        );
        let mut decoder = Box::new(FrameDecoder::<{ max_encoded_len(4096) }>::new());
        visitor.case(
            &format!("frame stream decode Publish, {len} B payload"),
            || match decoder.feed(black_box(&wire)) {
                FeedResult::Frame { frame, .. } => frame.topic().map_or(0, <[u8]>::len),
                _ => usize::MAX,
            },
        );
    }

    for n in [1, 16, 256] {
        let set = subscriptions(n);
        let hit = format!("sensor/{:03}/temperature/celsius", n - 1);
        visitor.case(
            &format!("topic match, {n} subscriptions, hit on the last"),
            || set.matches(black_box(hit.as_bytes())),
        );
        visitor.case(&format!("topic match, {n} subscriptions, miss"), || {
            set.matches(black_box(b"sensor/999/temperature".as_slice()))
        });
    }
}

/// How long the in-binary timing loop measures each case.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Length of one sample.
    pub sample: Duration,
    /// Number of samples (the spread is over these).
    pub samples: usize,
}

/// Measures `op` in nanoseconds per call: a warm-up that also sizes the batch, then
/// `timing.samples` batches of about `timing.sample` each.
pub fn time_ns_per_op<R>(mut op: impl FnMut() -> R, timing: Timing) -> Option<Spread> {
    let warm_until = Instant::now() + timing.sample / 2;
    let mut warm_iters: u64 = 0;
    let warm_start = Instant::now();
    while Instant::now() < warm_until {
        for _ in 0..64 {
            black_box(op());
        }
        warm_iters += 64;
    }
    let per_op = warm_start.elapsed().as_secs_f64() / warm_iters.max(1) as f64;
    let batch = ((timing.sample.as_secs_f64() / per_op.max(1e-10)) as u64).max(1);
    let mut samples = Vec::with_capacity(timing.samples);
    for _ in 0..timing.samples {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(op());
        }
        samples.push(start.elapsed().as_secs_f64() * 1e9 / batch as f64);
    }
    Spread::of(&samples)
}

/// The main binary's driver: times every case with [`time_ns_per_op`].
#[derive(Debug)]
pub struct TimingVisitor {
    timing: Timing,
    /// `(case name, ns/op)` in visiting order.
    pub results: Vec<(String, Spread)>,
}

impl TimingVisitor {
    /// A driver measuring each case as `timing` says.
    pub fn new(timing: Timing) -> Self {
        Self {
            timing,
            results: Vec::new(),
        }
    }
}

impl Visitor for TimingVisitor {
    fn case<R>(&mut self, name: &str, op: impl FnMut() -> R) {
        if let Some(spread) = time_ns_per_op(op, self.timing) {
            self.results.push((name.to_owned(), spread));
        }
    }
}

/// Times every case; `(name, ns/op)`.
pub fn time_all(timing: Timing) -> Vec<(String, Spread)> {
    let mut visitor = TimingVisitor::new(timing);
    visit_all(&mut visitor);
    visitor.results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_have_their_sizes() {
        assert_eq!(
            payload::to_vec(&SEED).unwrap(),
            b"\x81\xaemessage_number\x0a"
        );
        assert_eq!(payload::to_vec(&Telemetry::kib()).unwrap().len(), 1024);
        for len in [16, 256] {
            let bytes = sized_payload(len, 0xdead_beef);
            assert_eq!(bytes.len(), len);
            payload::validate(&bytes).unwrap();
            assert_eq!(payload_seq(&bytes), Some(0xdead_beef));
        }
        assert_eq!(payload_seq(b"\x80"), None);
    }

    #[test]
    fn every_case_does_its_work() {
        struct Check(Vec<String>);
        impl Visitor for Check {
            fn case<R>(&mut self, name: &str, mut op: impl FnMut() -> R) {
                op();
                op();
                self.0.push(name.to_owned());
            }
        }
        let mut check = Check(Vec::new());
        visit_all(&mut check);
        assert_eq!(check.0.len(), 5 + 4 + 6);
        // The decoder case must yield a frame each time it is fed the same wire bytes.
        let body = sized_payload(16, 1);
        let wire = frame::encode_to_vec(&Frame::Publish {
            topic: FRAME_TOPIC,
            payload: &body,
        })
        .unwrap();
        let mut decoder = FrameDecoder::<{ max_encoded_len(4096) }>::new();
        for _ in 0..3 {
            assert!(matches!(decoder.feed(&wire), FeedResult::Frame { .. }));
        }
        let set = subscriptions(16);
        assert!(set.matches(b"sensor/015/temperature/celsius"));
        assert!(!set.matches(b"sensor/999/temperature"));
    }

    #[test]
    fn timing_loop_measures() {
        let spread = time_ns_per_op(
            || black_box(3u64).pow(2),
            Timing {
                sample: Duration::from_millis(2),
                samples: 3,
            },
        )
        .unwrap();
        assert_eq!(spread.runs, 3);
        assert!(spread.min > 0.0 && spread.min <= spread.max);
    }
}
