//! Golden vectors: bytes written by Python's `msgpack.packb(payload, use_bin_type=True)`
//! (`golden/payloads.txt`, made by `golden/gen_payloads.py`), checked in both directions:
//! Rust encodes exactly these bytes, and decodes them to the expected values.
//!
//! Typed checks run without features (no alloc in the types used); the dynamic `Value`
//! checks are in `payload_golden_value.rs` (feature `std`).

use core::fmt::Debug;

use banyan_proto::payload::{self, MapReader, PayloadError, ValueRef};
use heapless::LinearMap;
use serde::{Deserialize, Serialize};
use serde_bytes::Bytes;

#[path = "payload_support/golden.rs"]
mod golden;

use golden::{bin_value, float_value, golden, golden_bytes, hexs, int_value, str_value};

/// Encodes `value` and compares with Python's bytes, then decodes Python's bytes into `T`.
fn check_typed<'de, T>(name: &str, bytes: &'de [u8], value: T)
where
    T: Serialize + Deserialize<'de> + PartialEq + Debug,
{
    let mut buf = vec![0u8; bytes.len() + 16];
    let len = payload::to_slice(&value, &mut buf).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(hexs(&buf[..len]), hexs(bytes), "{name}: encoded bytes");
    // The exact size is enough, one byte less is not.
    assert_eq!(
        payload::to_slice(&value, &mut buf[..len]),
        Ok(len),
        "{name}"
    );
    assert_eq!(
        payload::to_slice(&value, &mut buf[..len - 1]),
        Err(PayloadError::BufferFull),
        "{name}"
    );
    let decoded: T = payload::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(decoded, value, "{name}: decoded value");
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct One<T> {
    value: T,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Echo {
    message_number: u32,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Empty {}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Bools {
    t: bool,
    f: bool,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Data<'a> {
    #[serde(borrow)]
    data: &'a Bytes,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct X {
    x: u8,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Mid {
    inner: X,
    empty: Empty,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Outer {
    outer: Mid,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Report<'a> {
    report: &'a str,
    pin: u8,
    value: u8,
    timestamp: f64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct A {
    a: Empty,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct AllKinds<'a> {
    nil: Option<u8>,
    bool: bool,
    int: i16,
    uint: u32,
    float: f64,
    str: &'a str,
    #[serde(borrow)]
    bin: &'a Bytes,
    array: (u8, (u8,)),
    map: A,
}

/// Every Rust integer type that holds `v` encodes to Python's bytes and decodes from them.
fn check_int(name: &str, bytes: &[u8], v: i128) {
    let mut any = false;
    macro_rules! each {
        ($($t:ty),*) => {$(
            if let Ok(x) = <$t>::try_from(v) {
                check_typed(name, bytes, One { value: x });
                any = true;
            } else {
                // Out of the type's range: decoding must refuse, not wrap.
                assert_eq!(
                    payload::from_slice::<One<$t>>(bytes),
                    Err(PayloadError::Mismatch),
                    "{name} as {}", stringify!($t)
                );
            }
        )*};
    }
    each!(i8, i16, i32, i64, u8, u16, u32, u64, u128);
    assert!(any);
    check_typed(name, bytes, One { value: v });
    // Python ints also go into float fields.
    let f: One<f64> = payload::from_slice(bytes).unwrap();
    assert_eq!(f.value, v as f64, "{name} as f64");
}

/// The typed Rust value of every golden payload.
fn check_typed_case(name: &str, bytes: &[u8]) {
    if let Some(v) = int_value(name) {
        return check_int(name, bytes, v);
    }
    if let Some(v) = float_value(name) {
        if v.is_nan() {
            let mut buf = [0u8; 32];
            let len = payload::to_slice(&One { value: v }, &mut buf).unwrap();
            assert_eq!(&buf[..len], bytes, "{name}");
            let back: One<f64> = payload::from_slice(bytes).unwrap();
            assert_eq!(back.value.to_bits(), v.to_bits(), "{name}");
        } else {
            check_typed(name, bytes, One { value: v });
            // Sign of zero and every bit survive.
            let back: One<f64> = payload::from_slice(bytes).unwrap();
            assert_eq!(back.value.to_bits(), v.to_bits(), "{name}");
        }
        return;
    }
    if let Some(s) = str_value(name) {
        check_typed(name, bytes, One { value: s.as_str() });
        // Fixed-capacity strings for no-alloc targets.
        if s.len() <= 64 {
            let h: heapless::String<64> = s.as_str().try_into().unwrap();
            check_typed(name, bytes, One { value: h });
        }
        return;
    }
    if let Some(b) = bin_value(name) {
        check_typed(
            name,
            bytes,
            One {
                value: Bytes::new(&b),
            },
        );
        return;
    }
    match name {
        "message_number" => check_typed(name, bytes, Echo { message_number: 10 }),
        "empty_map" => check_typed(name, bytes, Empty {}),
        "nil" => check_typed(name, bytes, One::<Option<u8>> { value: None }),
        "bools" => check_typed(name, bytes, Bools { t: true, f: false }),
        "bin_small" => check_typed(
            name,
            bytes,
            Data {
                data: Bytes::new(&[0x0a, 0x0b]),
            },
        ),
        "array_empty" => {
            check_typed(name, bytes, One { value: [0u8; 0] });
            check_typed(
                name,
                bytes,
                One {
                    value: heapless::Vec::<u8, 4>::new(),
                },
            );
        }
        "array_ints" => {
            check_typed(name, bytes, One { value: [1u8, 2, 3] });
            check_typed(
                name,
                bytes,
                One {
                    value: (1u64, 2i8, 3u16),
                },
            );
            let v: heapless::Vec<u8, 4> = heapless::Vec::from_slice(&[1, 2, 3]).unwrap();
            check_typed(name, bytes, One { value: v });
        }
        "array_mixed" => check_typed(
            name,
            bytes,
            One {
                value: (1u8, -1i8, "a", None::<u8>, true, 2.5f64, Bytes::new(&[0])),
            },
        ),
        "array_15" | "array_16" => {
            let n = if name == "array_15" { 15 } else { 16 };
            let v: heapless::Vec<u8, 16> = (0..n).collect();
            check_typed(name, bytes, One { value: v });
        }
        "array_nested" => check_typed(
            name,
            bytes,
            One {
                value: ((1u8, (2u8, (3u8, [0u8; 0]))), [0u8; 0]),
            },
        ),
        "map_nested" => check_typed(
            name,
            bytes,
            Outer {
                outer: Mid {
                    inner: X { x: 1 },
                    empty: Empty {},
                },
            },
        ),
        "map_16" => {
            let keys = [
                "k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11",
                "k12", "k13", "k14", "k15",
            ];
            let mut map = LinearMap::<&str, u8, 16>::new();
            for (i, k) in keys.iter().enumerate() {
                map.insert(k, i as u8).unwrap();
            }
            check_typed(name, bytes, map);
        }
        "map_int_keys" => {
            let mut map = LinearMap::<i8, &str, 2>::new();
            map.insert(1, "one").unwrap();
            map.insert(-2, "minus two").unwrap();
            check_typed(name, bytes, map);
        }
        "banyan_report" => check_typed(
            name,
            bytes,
            Report {
                report: "digital_input",
                pin: 12,
                value: 1,
                timestamp: 1715000000.25,
            },
        ),
        "all_kinds" => check_typed(
            name,
            bytes,
            AllKinds {
                nil: None,
                bool: true,
                int: -129,
                uint: 65536,
                float: 0.5,
                str: &"x".repeat(40),
                bin: Bytes::new(&[1, 2, 3]),
                array: (1, (2,)),
                map: A { a: Empty {} },
            },
        ),
        other => panic!("golden payload {other} has no typed expectation"),
    }
}

#[test]
fn golden_file_covers_every_kind() {
    let cases = golden();
    assert!(cases.len() >= 20, "{} golden payloads", cases.len());
    let mut names: Vec<_> = cases.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "duplicate names");
    // The seed's payload, byte for byte as measured from Python.
    assert_eq!(
        hexs(&golden_bytes("message_number")),
        "81ae6d6573736167655f6e756d6265720a"
    );
    // Every msgpack format Python writes appears as the first byte of some value.
    let mut markers = std::collections::BTreeSet::new();
    for (_, bytes) in &cases {
        let map = MapReader::new(bytes).unwrap();
        collect_markers(bytes, &mut markers);
        assert!(map.len() <= 16);
    }
    for m in [
        0x00u8, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc2, 0xc3, 0xc4, 0xc5, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
        0xd0, 0xd1, 0xd2, 0xd3, 0xd9, 0xda, 0xdc, 0xde, 0xe0, 0xff,
    ] {
        assert!(markers.contains(&m), "no golden value starts with {m:02x}");
    }
}

/// The first byte of every value in a payload (a tiny independent walker).
fn collect_markers(bytes: &[u8], out: &mut std::collections::BTreeSet<u8>) {
    fn walk(v: ValueRef<'_>, raw: &mut Vec<u8>) {
        let mut buf = vec![0u8; 1 << 17];
        // Re-encode the single value wrapped in a one-entry map and take its marker.
        let mut w = payload::MapWriter::new(&mut buf, 1).unwrap();
        w.entry("", &v).unwrap();
        let len = w.finish().unwrap();
        raw.push(buf[2]);
        assert!(len > 2);
        match v {
            ValueRef::Array(a) => a.iter().for_each(|x| walk(x, raw)),
            ValueRef::Map(m) => m.iter().for_each(|(k, x)| {
                walk(k, raw);
                walk(x, raw)
            }),
            _ => {}
        }
    }
    let mut raw = vec![bytes[0]];
    for (k, v) in MapReader::new(bytes).unwrap() {
        walk(k, &mut raw);
        walk(v, &mut raw);
    }
    out.extend(raw);
}

#[test]
fn golden_typed_both_ways() {
    for (name, bytes) in golden() {
        check_typed_case(name, &bytes);
    }
}

#[test]
fn golden_borrowed_reader() {
    for (name, bytes) in golden() {
        let map = MapReader::new(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Re-encoding what the reader sees gives Python's bytes back.
        let mut buf = vec![0u8; bytes.len()];
        let len = payload::to_slice(&map, &mut buf).unwrap();
        assert_eq!(hexs(&buf[..len]), hexs(&bytes), "{name}");
        if let Some(v) = int_value(name) {
            let got = map.get("value").unwrap();
            assert_eq!(
                got.as_i64().map(i128::from),
                i64::try_from(v).ok().map(i128::from)
            );
            assert_eq!(
                got.as_u64().map(i128::from),
                u64::try_from(v).ok().map(i128::from)
            );
        }
        if let Some(s) = str_value(name) {
            assert_eq!(map.get("value").and_then(|v| v.as_str()), Some(s.as_str()));
        }
        if let Some(b) = bin_value(name) {
            assert_eq!(map.get("value").and_then(|v| v.as_bytes()), Some(&b[..]));
        }
    }
    let bytes = golden_bytes("message_number");
    let reply = MapReader::new(&bytes).unwrap();
    assert_eq!(reply.get("message_number"), Some(ValueRef::Int(10)));
    assert_eq!(reply.get("missing"), None);
}
