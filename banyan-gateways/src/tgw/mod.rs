//! `tgw`: the TCP gateway between the backplane and a networked microcontroller (a Raspberry
//! Pi Pico W running Python Banyan's MicroPython scripts), flag- and byte-compatible with
//! python-banyan 3.17's `tgw`.
//!
//! ```text
//!  backplane ─ -g topics ─▶ [main: Component::receive_loop] ─ check, frame ─▶ bounded queue
//!                                                                             │
//!  device (TCP server, -a:-n) ◀══ len + msgpack ══ [writer thread] ◀──────────┘
//!  device ══ len + msgpack ══▶ [device thread: connect, read, LengthPrefixDecoder]
//!                                 ─ check ─▶ Component::publish_raw(-e topic) ─▶ backplane
//! ```
//!
//! # The contract (Python's source)
//! * The gateway is the **TCP client**: it connects to the device's server at `-a`:`-n`
//!   (port 31335), as `TcpSocket.start` does; the Pico scripts `bind(("", 31335))`, `listen()`
//!   and `accept()` once.
//! * Framing both ways: one length byte, then the msgpack payload
//!   ([`banyan_proto::length_prefix`]). Towards the device the Banyan topic is dropped; every
//!   frame from the device is published on the one topic `-e` (`from_pico`).
//! * Every `-g` topic (`figura`; `-g a b c` for several) is a ZeroMQ prefix subscription whose
//!   messages all go to the device.
//! * `-b -p -s` are the backplane's address and ports; `-z` is the process name in the
//!   banner (`TcpGateway`).
//!
//! # What Python gets wrong, and what this gateway does instead
//! * Python reads `read(1)` then `read(length)`, which may return fewer bytes: the stream
//!   misframes. Here the sans-IO decoder reassembles frames from any chunking.
//! * At EOF Python's `read` returns `b''` forever and it publishes empty payloads in a tight
//!   loop; a reset kills its task. Here EOF, reset and refusal are connection loss: the
//!   gateway reconnects on the crate's [`Reconnect`](crate::Reconnect) machine (0.1 s
//!   doubling to `--max-backoff`, reset after a connection that lasted a second), logs each
//!   change once, and the device may reboot any number of times.
//! * Python's `len(msg).to_bytes(1, 'big')` raises on a payload over 255 bytes and its
//!   receive task dies silently. Here such a message is dropped, logged and counted.
//! * Frames from the device that are not one msgpack map (Banyan payloads are maps; empty
//!   frames included) are dropped and counted instead of being published to every subscriber.
//!   Backplane messages that are not one msgpack map are not sent to the device (its
//!   `umsgpack.loads` would raise and stop the script).
//! * While the device is not connected Python's receive task crashes on the missing writer;
//!   here backplane messages are dropped and counted (`dropped_offline`). Stale commands are
//!   not replayed to a rebooted device.
//!
//! # Layout
//! * this file: the defaults of the flags, the checks on each direction, counters (the
//!   binary, `banyan-cli/src/bin/tgw.rs`, maps the flags);
//! * [`link`]: the device connection (connect loop, reader, writer thread).

pub mod link;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use banyan_host::component::PROBE_TOPIC_PREFIX;
use banyan_proto::length_prefix;
use banyan_proto::payload::{MapReader, PayloadError};

use crate::reconnect::Say;

/// Python's default device port (`-n`).
pub const DEFAULT_DEVICE_PORT: u16 = 31335;
/// Python's default publish topic (`-e`).
pub const DEFAULT_PUB_TOPIC: &str = "from_pico";
/// Python's default subscription (`-g`).
pub const DEFAULT_SUB_TOPIC: &str = "figura";
/// Python's default process name (`-z`).
pub const DEFAULT_NAME: &str = "TcpGateway";

/// Why a payload was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Empty frame from the device (Python would publish an empty, undecodable payload).
    Empty,
    /// Not exactly one well-formed msgpack map.
    Malformed(PayloadError),
    /// Longer than the framing's 255 bytes.
    TooLong(usize),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty frame (not a msgpack payload)"),
            Self::Malformed(error) => write!(f, "not a msgpack map: {error}"),
            Self::TooLong(len) => write!(
                f,
                "payload is {len} bytes; the framing allows at most {}",
                length_prefix::MAX_PAYLOAD
            ),
        }
    }
}

/// Checks a frame's payload from the device: it is published only if it is one msgpack map.
pub fn check_from_device(payload: &[u8]) -> Result<(), Refusal> {
    if payload.is_empty() {
        return Err(Refusal::Empty);
    }
    MapReader::new(payload)
        .map(|_| ())
        .map_err(Refusal::Malformed)
}

/// What happens to a backplane message for the device.
#[derive(Debug, PartialEq, Eq)]
pub enum ToDevice {
    /// Send this frame (length byte + payload).
    Frame(Vec<u8>),
    /// Another component's connection probe (subscribed with a prefix of `_banyan_probe/`,
    /// e.g. `-g ""`): infrastructure traffic, not for the device.
    Probe,
    /// Refused (counted and logged by the caller).
    Refused(Refusal),
}

/// Frames backplane message `(topic, payload)` for the device: the topic is dropped.
pub fn frame_for_device(topic: &[u8], payload: &[u8]) -> ToDevice {
    if topic.starts_with(PROBE_TOPIC_PREFIX.as_bytes()) {
        return ToDevice::Probe;
    }
    if payload.len() > length_prefix::MAX_PAYLOAD {
        return ToDevice::Refused(Refusal::TooLong(payload.len()));
    }
    if let Err(error) = MapReader::new(payload) {
        return ToDevice::Refused(Refusal::Malformed(error));
    }
    // The length was checked above; `encode_to_vec` fails only on a longer payload.
    length_prefix::encode_to_vec(payload).map_or_else(
        |_| ToDevice::Refused(Refusal::TooLong(payload.len())),
        ToDevice::Frame,
    )
}

/// The gateway's counters, shared by its threads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections made to the device.
    pub connects: AtomicU64,
    /// Connections lost (EOF, reset, failed write, keepalive timeout).
    pub lost: AtomicU64,
    /// Frames received from the device.
    pub from_device: AtomicU64,
    /// Device frames published on the backplane.
    pub published: AtomicU64,
    /// Device frames dropped: empty or not one msgpack map.
    pub malformed: AtomicU64,
    /// Device frames the backplane refused (publish error).
    pub publish_failed: AtomicU64,
    /// Bytes of a partial frame lost when a connection ended.
    pub truncated: AtomicU64,
    /// Frames written to the device.
    pub to_device: AtomicU64,
    /// Backplane messages dropped: payload over 255 bytes.
    pub too_long: AtomicU64,
    /// Backplane messages dropped: payload not one msgpack map.
    pub bus_malformed: AtomicU64,
    /// Backplane messages dropped while the device was not connected.
    pub dropped_offline: AtomicU64,
    /// Backplane messages dropped because the queue to the device was full.
    pub dropped_queue_full: AtomicU64,
    /// Frames lost because writing to the device failed (the connection is then reopened).
    pub write_failed: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`; returns the new count when a recurring problem should be
    /// logged (the log policy [`Say::of_count`]: the first, then every hundredth).
    pub fn bump(counter: &AtomicU64) -> Option<u64> {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        Say::of_count(n).loud().then_some(n)
    }
}

impl fmt::Display for Counters {
    /// `key=value` pairs, the gateway's exit line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: [(&str, &AtomicU64); 13] = [
            ("connects", &self.connects),
            ("lost", &self.lost),
            ("from_device", &self.from_device),
            ("published", &self.published),
            ("malformed", &self.malformed),
            ("publish_failed", &self.publish_failed),
            ("truncated_bytes", &self.truncated),
            ("to_device", &self.to_device),
            ("too_long", &self.too_long),
            ("bus_malformed", &self.bus_malformed),
            ("dropped_offline", &self.dropped_offline),
            ("dropped_queue_full", &self.dropped_queue_full),
            ("write_failed", &self.write_failed),
        ];
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={}", value.load(Ordering::Relaxed))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LED: &[u8] = b"\x81\xa5Led_0\x01";

    #[test]
    fn device_frames_must_be_one_map() {
        assert_eq!(check_from_device(LED), Ok(()));
        assert_eq!(check_from_device(b""), Err(Refusal::Empty));
        assert_eq!(
            check_from_device(b"\x81\xa5Led_0"),
            Err(Refusal::Malformed(PayloadError::UnexpectedEof))
        );
        assert_eq!(
            check_from_device(b"\x92\x01\x02"),
            Err(Refusal::Malformed(PayloadError::NotAMap))
        );
        assert_eq!(
            check_from_device(b"\x80\x00"),
            Err(Refusal::Malformed(PayloadError::TrailingBytes))
        );
        assert_eq!(
            check_from_device(b"\xc1"),
            Err(Refusal::Malformed(PayloadError::InvalidMarker))
        );
    }

    #[test]
    fn topic_dropped_towards_the_device() {
        assert_eq!(
            frame_for_device(b"figura", LED),
            ToDevice::Frame(b"\x08\x81\xa5Led_0\x01".to_vec())
        );
        assert_eq!(
            frame_for_device(b"_banyan_probe/x/1/2", LED),
            ToDevice::Probe
        );
        assert_eq!(
            frame_for_device(b"figura", b"\x01"),
            ToDevice::Refused(Refusal::Malformed(PayloadError::NotAMap))
        );
    }

    #[test]
    fn payload_limit_is_255_bytes() {
        // A map with one str of n bytes: 1 (map) + 2 (key "k") + header + n.
        let map = |n: usize| {
            let mut p = vec![0x81, 0xa1, b'k', 0xd9, n as u8];
            p.extend(std::iter::repeat_n(b'x', n));
            p
        };
        let fits = map(250);
        assert_eq!(fits.len(), 255);
        assert!(matches!(frame_for_device(b"t", &fits), ToDevice::Frame(f) if f[0] == 255));
        let over = map(251);
        assert_eq!(
            frame_for_device(b"t", &over),
            ToDevice::Refused(Refusal::TooLong(256))
        );
        assert_eq!(
            Refusal::TooLong(256).to_string(),
            "payload is 256 bytes; the framing allows at most 255"
        );
    }

    #[test]
    fn counters_line_and_rate_limited_logging() {
        let counters = Counters::default();
        assert_eq!(Counters::bump(&counters.too_long), Some(1));
        for _ in 2..100 {
            assert_eq!(Counters::bump(&counters.too_long), None);
        }
        assert_eq!(Counters::bump(&counters.too_long), Some(100));
        let line = counters.to_string();
        assert!(
            line.starts_with("connects=0 lost=0 from_device=0"),
            "{line}"
        );
        assert!(line.contains(" too_long=100 "), "{line}");
        assert!(line.ends_with("write_failed=0"), "{line}");
    }
}
