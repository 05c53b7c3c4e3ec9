//! Per-topic traffic statistics, sans-IO: the aggregation behind the web monitor and
//! `monitor --stats`.
//!
//! [`Stats::record`] is called for every message (a hash lookup and a few additions, so a
//! receive loop can keep up with 100 k msg/s); [`Stats::snapshot`] is called at a bounded
//! rate (the web monitor: 4 Hz; the terminal: once a second) and does the expensive part
//! (payload → JSON text) only for topics whose last payload changed. Time is passed in by
//! the caller (a [`Duration`] since any fixed start), so the aggregation is deterministic
//! under test.
//!
//! # Bounds
//! - At most [`StatsConfig::max_topics`] topics are tracked. Messages on further topics are
//!   counted in [`Snapshot::others`] (count, bytes, rates), never dropped from the totals.
//!   [`Stats::sweep`] forgets topics silent for longer than the history, making room again.
//! - Each topic keeps one-second buckets for [`StatsConfig::history_seconds`] (the rate
//!   chart) and its last payload if it is at most [`StatsConfig::max_payload_kept`] bytes.
//!   Memory is therefore bounded by `max_topics × (history × 16 B + max_payload_kept)`.
//!
//! # Rates
//! `rate` and `byte_rate` are per second over a sliding two-second window (the current,
//! partial second, the previous one, and the part of the one before that the window still
//! covers), so a steady flow reads steady and a stopped topic falls to zero within two
//! seconds.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use banyan_host::component::PROBE_TOPIC_PREFIX;
use serde::Serialize;

use crate::json;

/// Limits of a [`Stats`].
#[derive(Debug, Clone)]
pub struct StatsConfig {
    /// Most topics tracked individually; the rest are summed in `others`.
    pub max_topics: usize,
    /// Seconds of per-second history kept per topic (the rate chart).
    pub history_seconds: usize,
    /// Largest last payload kept per topic, in bytes; a larger one is shown by size only.
    pub max_payload_kept: usize,
    /// Longest last-payload JSON text put in a snapshot, in characters (longer is cut).
    pub max_last_chars: usize,
    /// Track other components' connection probes (`_banyan_probe/...`) too.
    pub include_probes: bool,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            max_topics: 500,
            history_seconds: 300,
            max_payload_kept: 64 * 1024,
            max_last_chars: 2000,
            include_probes: false,
        }
    }
}

/// Messages and bytes of one second.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    messages: u32,
    bytes: u64,
}

/// One-second buckets for the last `len` seconds, indexed by absolute second.
#[derive(Debug, Clone)]
struct Ring {
    buckets: Box<[Bucket]>,
    /// Absolute second of the newest bucket.
    newest: u64,
}

impl Ring {
    fn new(len: usize) -> Self {
        Self {
            buckets: vec![Bucket::default(); len.max(3)].into_boxed_slice(),
            newest: 0,
        }
    }

    fn slot(&self, second: u64) -> usize {
        (second % self.buckets.len() as u64) as usize
    }

    fn advance(&mut self, second: u64) {
        if second <= self.newest {
            return;
        }
        let gap = second - self.newest;
        if gap >= self.buckets.len() as u64 {
            self.buckets.fill(Bucket::default());
        } else {
            for s in self.newest + 1..=second {
                let slot = self.slot(s);
                self.buckets[slot] = Bucket::default();
            }
        }
        self.newest = second;
    }

    fn add(&mut self, second: u64, bytes: usize) {
        self.advance(second);
        if let Some(bucket) = self.get_mut(second) {
            bucket.messages = bucket.messages.saturating_add(1);
            bucket.bytes = bucket.bytes.saturating_add(bytes as u64);
        }
    }

    fn get_mut(&mut self, second: u64) -> Option<&mut Bucket> {
        if second > self.newest || self.newest - second >= self.buckets.len() as u64 {
            return None;
        }
        let slot = self.slot(second);
        self.buckets.get_mut(slot)
    }

    fn get(&self, second: u64) -> Bucket {
        if second > self.newest || self.newest - second >= self.buckets.len() as u64 {
            return Bucket::default();
        }
        self.buckets
            .get(self.slot(second))
            .copied()
            .unwrap_or_default()
    }

    /// Messages and bytes per second over the sliding two-second window ending at `now`.
    fn rates(&self, now: Duration) -> (f64, f64) {
        let second = now.as_secs();
        let frac = f64::from(now.subsec_millis()) / 1000.0;
        let current = self.get(second);
        let previous = self.get(second.wrapping_sub(1));
        let older = if second >= 2 {
            self.get(second - 2)
        } else {
            Bucket::default()
        };
        let weight = 1.0 - frac;
        let messages = f64::from(current.messages)
            + f64::from(previous.messages)
            + f64::from(older.messages) * weight;
        let bytes = current.bytes as f64 + previous.bytes as f64 + older.bytes as f64 * weight;
        (messages / 2.0, bytes / 2.0)
    }
}

/// Running totals with history.
#[derive(Debug, Clone)]
struct Counter {
    count: u64,
    bytes: u64,
    ring: Ring,
}

impl Counter {
    fn new(history: usize) -> Self {
        Self {
            count: 0,
            bytes: 0,
            ring: Ring::new(history + 2),
        }
    }

    fn add(&mut self, len: usize, now: Duration) {
        self.count += 1;
        self.bytes += len as u64;
        self.ring.add(now.as_secs(), len);
    }

    fn totals(&self, now: Duration) -> Totals {
        let (rate, byte_rate) = self.ring.rates(now);
        Totals {
            count: self.count,
            bytes: self.bytes,
            rate,
            byte_rate,
        }
    }
}

#[derive(Debug)]
struct Topic {
    counter: Counter,
    last_seen: Duration,
    last_len: usize,
    /// The last payload, if it was small enough to keep.
    last: Option<Vec<u8>>,
    /// JSON text of `last`, made on demand.
    last_text: Option<(String, bool)>,
}

/// Per-topic traffic statistics (see the module docs).
#[derive(Debug)]
pub struct Stats {
    config: StatsConfig,
    topics: HashMap<String, Topic>,
    others: Counter,
    total: Counter,
    probes: u64,
}

/// Count, bytes and rates of a set of messages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Totals {
    /// Messages seen.
    pub count: u64,
    /// Payload bytes seen.
    pub bytes: u64,
    /// Messages per second (two-second sliding window).
    pub rate: f64,
    /// Payload bytes per second (two-second sliding window).
    pub byte_rate: f64,
}

/// One topic in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSnapshot {
    /// The topic.
    pub topic: String,
    /// Messages seen.
    pub count: u64,
    /// Payload bytes seen.
    pub bytes: u64,
    /// Messages per second.
    pub rate: f64,
    /// Payload bytes per second.
    pub byte_rate: f64,
    /// Messages in the last complete second (a point of the rate chart).
    pub last_second: u32,
    /// When the last message arrived, in milliseconds since the Unix epoch.
    pub last_seen_ms: u64,
    /// How long ago the last message arrived, in milliseconds.
    pub age_ms: u64,
    /// Size of the last payload in bytes.
    pub last_size: usize,
    /// The last payload as JSON text (bytes as hex), or a note saying why it is not shown.
    pub last: String,
    /// `false` when `last` is a note (payload too large to keep, or not a msgpack map).
    pub last_ok: bool,
    /// `true` when `last` was cut to the configured length.
    pub last_cut: bool,
}

/// The state of the bus at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Seconds since the statistics started (the chart's clock).
    pub second: u64,
    /// Wall-clock time of the snapshot, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Tracked topics, sorted by name.
    pub topics: Vec<TopicSnapshot>,
    /// Messages on topics beyond the tracking limit.
    pub others: Totals,
    /// Every message counted (probes excluded unless included).
    pub total: Totals,
    /// The tracking limit in force.
    pub max_topics: usize,
    /// Connection probes of other components that were skipped.
    pub probes_skipped: u64,
}

/// Per-second counts of one topic, oldest first, ending with the last complete second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// The topic.
    pub topic: String,
    /// The second (as [`Snapshot::second`]) of the last entry.
    pub end_second: u64,
    /// Messages per second.
    pub rates: Vec<u32>,
    /// Payload bytes per second.
    pub byte_rates: Vec<u64>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Stats {
    /// Empty statistics with these limits.
    pub fn new(config: StatsConfig) -> Self {
        let history = config.history_seconds;
        Self {
            config,
            topics: HashMap::new(),
            others: Counter::new(history),
            total: Counter::new(history),
            probes: 0,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &StatsConfig {
        &self.config
    }

    /// Number of topics tracked individually.
    pub fn tracked(&self) -> usize {
        self.topics.len()
    }

    /// Counts one message on `topic` arriving at `now`; keeps `payload` as the topic's last
    /// one when it is small enough (no copy: the buffer is moved in).
    pub fn record(&mut self, topic: &str, payload: Vec<u8>, now: Duration) {
        if !self.config.include_probes && topic.starts_with(PROBE_TOPIC_PREFIX) {
            self.probes += 1;
            return;
        }
        let len = payload.len();
        self.total.add(len, now);
        if !self.topics.contains_key(topic) {
            if self.topics.len() >= self.config.max_topics {
                self.others.add(len, now);
                return;
            }
            self.topics.insert(
                topic.to_owned(),
                Topic {
                    counter: Counter::new(self.config.history_seconds),
                    last_seen: now,
                    last_len: 0,
                    last: None,
                    last_text: None,
                },
            );
        }
        let Some(entry) = self.topics.get_mut(topic) else {
            return;
        };
        entry.counter.add(len, now);
        entry.last_seen = now;
        entry.last_len = len;
        entry.last = (len <= self.config.max_payload_kept).then_some(payload);
        entry.last_text = None;
    }

    /// Forgets topics silent for longer than the history, so new topics can be tracked.
    pub fn sweep(&mut self, now: Duration) {
        let keep = Duration::from_secs(self.config.history_seconds as u64);
        self.topics
            .retain(|_, topic| now.saturating_sub(topic.last_seen) <= keep);
    }

    /// The state at `now` (`wall` is the same moment on the wall clock).
    pub fn snapshot(&mut self, now: Duration, wall: SystemTime) -> Snapshot {
        let wall_ms = millis(wall.duration_since(UNIX_EPOCH).unwrap_or_default());
        let max_chars = self.config.max_last_chars;
        let mut topics: Vec<TopicSnapshot> = self
            .topics
            .iter_mut()
            .map(|(name, topic)| {
                let totals = topic.counter.totals(now);
                let age_ms = millis(now.saturating_sub(topic.last_seen));
                let (text, ok) = topic
                    .last_text
                    .get_or_insert_with(|| last_text(topic.last.as_deref(), topic.last_len))
                    .clone();
                let (last, last_cut) = cut(text, max_chars);
                TopicSnapshot {
                    topic: name.clone(),
                    count: totals.count,
                    bytes: totals.bytes,
                    rate: totals.rate,
                    byte_rate: totals.byte_rate,
                    last_second: topic
                        .counter
                        .ring
                        .get(now.as_secs().wrapping_sub(1))
                        .messages,
                    last_seen_ms: wall_ms.saturating_sub(age_ms),
                    age_ms,
                    last_size: topic.last_len,
                    last,
                    last_ok: ok,
                    last_cut,
                }
            })
            .collect();
        topics.sort_unstable_by(|a, b| a.topic.cmp(&b.topic));
        Snapshot {
            second: now.as_secs(),
            time_ms: wall_ms,
            topics,
            others: self.others.totals(now),
            total: self.total.totals(now),
            max_topics: self.config.max_topics,
            probes_skipped: self.probes,
        }
    }

    /// The per-second history of `topic` up to the last complete second before `now`;
    /// `None` for a topic not tracked.
    pub fn history(&self, topic: &str, now: Duration) -> Option<History> {
        let entry = self.topics.get(topic)?;
        let end = now.as_secs().saturating_sub(1);
        let len = (self.config.history_seconds as u64).min(end + 1);
        let first = end + 1 - len;
        let buckets: Vec<Bucket> = (first..=end).map(|s| entry.counter.ring.get(s)).collect();
        Some(History {
            topic: topic.to_owned(),
            end_second: end,
            rates: buckets.iter().map(|b| b.messages).collect(),
            byte_rates: buckets.iter().map(|b| b.bytes).collect(),
        })
    }
}

/// The JSON text of a kept payload, or a note.
fn last_text(payload: Option<&[u8]>, len: usize) -> (String, bool) {
    match payload {
        None => (format!("({len} bytes: too large to keep)"), false),
        Some(bytes) => match json::payload_to_text(bytes) {
            Ok(text) => (text, true),
            Err(error) => {
                let shown = &bytes[..bytes.len().min(64)];
                let more = if bytes.len() > shown.len() { "…" } else { "" };
                (
                    format!(
                        "(not a Banyan payload: {error}) {}{more}",
                        banyan_host::json::hex(shown)
                    ),
                    false,
                )
            }
        },
    }
}

/// `text` cut to at most `max` characters, and whether it was cut.
fn cut(mut text: String, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((index, _)) => {
            text.truncate(index);
            text.push('…');
            (text, true)
        }
        None => (text, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(json: serde_json::Value) -> Vec<u8> {
        banyan_proto::payload::to_vec(&json).expect("encodes")
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn steady_flow_reads_steady_and_stops_to_zero() {
        let mut stats = Stats::new(StatsConfig::default());
        // 10 messages a second of 8 bytes for 10 s, looked at while it flows.
        for i in 0..100 {
            stats.record("a", vec![0x80; 8], at(i * 100));
            if i % 10 == 5 && i > 20 {
                let rate = stats.snapshot(at(i * 100 + 50), SystemTime::now()).topics[0].rate;
                assert!((rate - 10.0).abs() <= 0.5, "at {} ms: {rate}", i * 100 + 50);
            }
        }
        let snap = stats.snapshot(at(10_000), SystemTime::now());
        let a = &snap.topics[0];
        assert_eq!(a.count, 100);
        assert_eq!(a.bytes, 800);
        assert!((a.rate - 10.0).abs() < 0.01, "rate {}", a.rate);
        assert!(
            (a.byte_rate - 80.0).abs() < 0.1,
            "byte rate {}",
            a.byte_rate
        );
        assert_eq!(a.last_second, 10);
        assert_eq!(a.age_ms, 100);
        assert!(!a.last_ok, "eight 0x80 bytes are not one map: {}", a.last);
        // The flow stopped at 10 s: half the window is empty at 11 s, all of it at 12 s.
        let rate = stats.snapshot(at(11_000), SystemTime::now()).topics[0].rate;
        assert_eq!(rate, 5.0);
        let rate = stats.snapshot(at(12_000), SystemTime::now()).topics[0].rate;
        assert_eq!(rate, 0.0);
        assert_eq!(
            stats.snapshot(at(12_000), SystemTime::now()).total.count,
            100
        );
    }

    #[test]
    fn last_payload_as_json_with_bytes_as_hex() {
        let mut stats = Stats::new(StatsConfig::default());
        let value = banyan_proto::payload::Value::map([
            ("pin", banyan_proto::payload::Value::Int(2)),
            ("raw", banyan_proto::payload::Value::Bin(vec![0xde, 0xad])),
        ]);
        stats.record(
            "t",
            banyan_proto::payload::to_vec(&value).expect("encodes"),
            at(1),
        );
        let snap = stats.snapshot(at(2), SystemTime::UNIX_EPOCH + Duration::from_secs(100));
        assert_eq!(snap.topics[0].last, r#"{"pin":2,"raw":"dead"}"#);
        assert!(snap.topics[0].last_ok);
        assert_eq!(snap.topics[0].last_seen_ms, 100_000 - 1);
        stats.record("t", vec![0xc1, 0x00], at(3));
        let snap = stats.snapshot(at(3), SystemTime::now());
        assert!(!snap.topics[0].last_ok);
        assert!(
            snap.topics[0].last.ends_with("c100"),
            "{}",
            snap.topics[0].last
        );
    }

    #[test]
    fn big_payloads_are_not_kept_and_long_text_is_cut() {
        let config = StatsConfig {
            max_payload_kept: 100,
            max_last_chars: 10,
            ..StatsConfig::default()
        };
        let mut stats = Stats::new(config);
        stats.record(
            "big",
            payload(serde_json::json!({"x": "y".repeat(200)})),
            at(0),
        );
        stats.record(
            "long",
            payload(serde_json::json!({"x": "é".repeat(30)})),
            at(0),
        );
        let snap = stats.snapshot(at(1), SystemTime::now());
        assert_eq!(snap.topics[0].topic, "big");
        assert!(!snap.topics[0].last_ok);
        assert!(
            snap.topics[0].last.starts_with("(2"),
            "{}",
            snap.topics[0].last
        );
        assert!(snap.topics[0].last_size > 200);
        assert_eq!(snap.topics[1].last, "{\"x\":\"éééé…");
        assert!(snap.topics[1].last_cut);
    }

    #[test]
    fn topics_beyond_the_limit_go_to_others_until_swept() {
        let config = StatsConfig {
            max_topics: 2,
            history_seconds: 10,
            ..StatsConfig::default()
        };
        let mut stats = Stats::new(config);
        stats.record("a", payload(serde_json::json!({})), at(0));
        stats.record("b", payload(serde_json::json!({})), at(5_000));
        stats.record("c", payload(serde_json::json!({})), at(5_000));
        stats.record("c", payload(serde_json::json!({})), at(5_500));
        let snap = stats.snapshot(at(6_000), SystemTime::now());
        assert_eq!(snap.topics.len(), 2);
        assert_eq!(snap.others.count, 2);
        assert_eq!(snap.total.count, 4);
        stats.sweep(at(11_000)); // "a" silent for 11 s > 10 s of history
        assert_eq!(stats.tracked(), 1);
        stats.record("c", payload(serde_json::json!({})), at(11_000));
        let names: Vec<_> = stats
            .snapshot(at(11_000), SystemTime::now())
            .topics
            .into_iter()
            .map(|t| t.topic)
            .collect();
        assert_eq!(names, ["b", "c"]);
    }

    #[test]
    fn probes_are_skipped_unless_asked_for() {
        let mut stats = Stats::new(StatsConfig::default());
        stats.record("_banyan_probe/x/1/1", vec![0x80], at(0));
        let snap = stats.snapshot(at(0), SystemTime::now());
        assert!(snap.topics.is_empty());
        assert_eq!(snap.probes_skipped, 1);
        let mut all = Stats::new(StatsConfig {
            include_probes: true,
            ..StatsConfig::default()
        });
        all.record("_banyan_probe/x/1/1", vec![0x80], at(0));
        assert_eq!(all.snapshot(at(0), SystemTime::now()).topics.len(), 1);
    }

    #[test]
    fn history_has_one_point_per_second_and_forgets_the_old() {
        let config = StatsConfig {
            history_seconds: 5,
            ..StatsConfig::default()
        };
        let mut stats = Stats::new(config);
        for second in 0..8u64 {
            for _ in 0..second {
                stats.record("h", vec![0x80, 0x00], at(second * 1000 + 10));
            }
        }
        let history = stats.history("h", at(8_100)).expect("tracked");
        assert_eq!(history.end_second, 7);
        assert_eq!(history.rates, [3, 4, 5, 6, 7]);
        assert_eq!(history.byte_rates, [6, 8, 10, 12, 14]);
        let early = stats.history("h", at(1_500)).expect("tracked");
        assert_eq!(early.rates.len(), 1);
        assert_eq!(stats.history("nope", at(0)), None);
        // A long silence clears the ring.
        stats.record("h", vec![0x80], at(100_000));
        let later = stats.history("h", at(101_000)).expect("tracked");
        assert_eq!(later.rates, [0, 0, 0, 0, 1]);
    }
}
