//! Payload fixtures shared by the MCU client's tests (simulated in `banyan-mcu/tests`, real
//! gateway and backplane in the root package's `tests/mcu_client.rs`) and the web gateway's.
//!
//! [`AllKinds`] has one field per msgpack format Python Banyan produces, so one round trip
//! covers every kind; [`numbered`] / [`number_of`] tag payloads to count deliveries; the
//! `GOLDEN_*` constants are bytes Python wrote; [`publish_monitor_sample`] is what the
//! `monitor` tests (native and under Wine) publish and [`MONITOR_SAMPLE_PRINTED`] what the
//! monitor prints for it.

use std::collections::BTreeMap;

use banyan_proto::payload;
use serde::{Deserialize, Serialize};

/// Python's `msgpack.packb({'message_number': 10}, use_bin_type=True)`: the echo payload.
pub const GOLDEN_ECHO_10: &[u8] = b"\x81\xaemessage_number\x0a";

/// Python's `msgpack.packb({'command': 'digital_write', 'pin': 2, 'value': 1},
/// use_bin_type=True)`: a OneGPIO-style command, as a web page or a component sends it.
pub const GOLDEN_DIGITAL_WRITE: &[u8] = b"\x83\xa7command\xaddigital_write\xa3pin\x02\xa5value\x01";

/// The nested map of [`AllKinds`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inner {
    /// A string.
    pub name: String,
    /// An array of negative, zero and positive integers.
    pub values: Vec<i32>,
}

/// One field per msgpack format Python produces (see [`AllKinds::sample`] for the values that
/// pick each format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllKinds {
    /// nil.
    pub nil: Option<u8>,
    /// true.
    pub yes: bool,
    /// false.
    pub no: bool,
    /// positive fixint.
    pub fixint: u8,
    /// uint 8.
    pub uint8: u8,
    /// uint 16.
    pub uint16: u16,
    /// uint 32.
    pub uint32: u32,
    /// uint 64.
    pub uint64: u64,
    /// negative fixint.
    pub negfix: i8,
    /// int 8.
    pub int8: i8,
    /// int 16.
    pub int16: i16,
    /// int 32.
    pub int32: i32,
    /// int 64.
    pub int64: i64,
    /// float 64.
    pub float: f64,
    /// fixstr.
    pub fixstr: String,
    /// str 8.
    pub str8: String,
    /// bin 8.
    #[serde(with = "serde_bytes")]
    pub bin: Vec<u8>,
    /// fixarray with uint 8/16/32 elements.
    pub array: Vec<u32>,
    /// fixmap.
    pub map: BTreeMap<String, i64>,
    /// a map inside the map.
    pub nested: Inner,
}

impl AllKinds {
    /// Values that make the encoder pick each format once.
    pub fn sample() -> Self {
        Self {
            nil: None,
            yes: true,
            no: false,
            fixint: 7,
            uint8: 200,
            uint16: 60_000,
            uint32: 70_000,
            uint64: 1 << 40,
            negfix: -5,
            int8: -100,
            int16: -30_000,
            int32: -70_000,
            int64: -(1 << 40),
            float: 21.5,
            fixstr: "hi".into(),
            str8: "x".repeat(40),
            bin: vec![0, 1, 2, 255],
            array: vec![1, 300, 70_000],
            map: [("a".to_string(), -1), ("b".to_string(), 2)].into(),
            nested: Inner {
                name: "inner".into(),
                values: vec![-1, 0, 1],
            },
        }
    }
}

/// The payload `{'n': n}`, to count deliveries per message.
///
/// # Panics
/// Never in practice (a one-entry map always encodes).
pub fn numbered(n: u32) -> Vec<u8> {
    payload::to_vec(&BTreeMap::from([("n", n)])).expect("a one-entry map encodes")
}

/// The `n` of a [`numbered`] payload.
///
/// # Panics
/// When `bytes` is not a [`numbered`] payload (a test failure).
pub fn number_of(bytes: &[u8]) -> u32 {
    let map: BTreeMap<String, u32> = payload::from_slice(bytes).expect("a numbered payload");
    map["n"]
}

/// What the `monitor` tests publish, through `publisher`: on `sensor`, a map with a negative
/// integer, a string and a byte string; on `broken`, bytes that are not msgpack. The monitor
/// prints [`MONITOR_SAMPLE_PRINTED`] for them.
///
/// # Errors
/// The component's error, when a publish fails.
pub fn publish_monitor_sample(publisher: &banyan_host::Component) -> banyan_host::Result<()> {
    #[derive(Serialize)]
    struct Reading<'a> {
        message_number: i32,
        name: &'a str,
        #[serde(with = "serde_bytes")]
        raw: &'a [u8],
    }
    let reading = Reading {
        message_number: -3,
        name: "x",
        raw: &[0x0a, 0xff],
    };
    publisher.publish("sensor", &reading)?;
    publisher.publish_raw(b"broken", b"\xc1")
}

/// The lines `monitor` prints for [`publish_monitor_sample`]'s two messages (Python Banyan's
/// monitor layout: the topic, two spaces, the payload as a Python literal; bytes that are not
/// msgpack shown as hex with the reason).
pub const MONITOR_SAMPLE_PRINTED: [&str; 2] = [
    r#"sensor  {"message_number": -3, "name": "x", "raw": b"0aff"}"#,
    "broken  <not a msgpack payload (invalid msgpack marker byte 0xc1): c1>",
];

/// What `monitor` printed after its banner (the lines after the second `****` rule), blank
/// lines left out and line ends trimmed (Wine's console adds `\r`).
pub fn monitor_printed(stdout: impl IntoIterator<Item = String>) -> Vec<String> {
    stdout
        .into_iter()
        .skip_while(|line| !line.starts_with("****"))
        .skip(1)
        .skip_while(|line| !line.starts_with("****"))
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.trim_end().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_and_numbers_survive() {
        let value = AllKinds::sample();
        let bytes = payload::to_vec(&value).unwrap();
        assert_eq!(payload::from_slice::<AllKinds>(&bytes), Ok(value));
        assert_eq!(number_of(&numbered(70_000)), 70_000);
        let echo: BTreeMap<String, u32> = payload::from_slice(GOLDEN_ECHO_10).unwrap();
        assert_eq!(echo["message_number"], 10);
        let command = payload::MapReader::new(GOLDEN_DIGITAL_WRITE).unwrap();
        assert_eq!(
            command.get("command").and_then(|v| v.as_str()),
            Some("digital_write")
        );
        assert_eq!(command.get("pin").and_then(|v| v.as_u64()), Some(2));
        assert_eq!(command.get("value").and_then(|v| v.as_u64()), Some(1));
    }
}
