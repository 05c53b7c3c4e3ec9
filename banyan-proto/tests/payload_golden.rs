//! Golden vectors: bytes written by Python's `msgpack.packb(payload, use_bin_type=True)`
//! (`golden/payloads.txt`, made by `golden/gen_payloads.py`), checked in both directions:
//! Rust encodes exactly these bytes, and decodes them to the expected values.
//!
//! Typed checks run without features (no alloc in the types used); the dynamic `Value`
//! checks need `--features std`.

use core::fmt::Debug;

use banyan_proto::payload::{self, MapReader, PayloadError, ValueRef};
use heapless::LinearMap;
use serde::{Deserialize, Serialize};
use serde_bytes::Bytes;

const GOLDEN: &str = include_str!("../golden/payloads.txt");

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// `(name, bytes)` in file order.
fn golden() -> Vec<(&'static str, Vec<u8>)> {
    GOLDEN
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, h) = l.split_once(' ').expect("`name hex` line");
            (name, hex(h.trim()))
        })
        .collect()
}

fn golden_bytes(name: &str) -> Vec<u8> {
    golden()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no golden payload {name}"))
        .1
}

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

fn hexs(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
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

fn int_value(name: &str) -> Option<i128> {
    Some(match name.strip_prefix("int_")? {
        "0" => 0,
        "127" => 127,
        "128" => 128,
        "255" => 255,
        "256" => 256,
        "65535" => 65535,
        "65536" => 65536,
        "u32_max" => u32::MAX.into(),
        "2p32" => 1 << 32,
        "i64_max" => i64::MAX.into(),
        "2p63" => 1 << 63,
        "u64_max" => u64::MAX.into(),
        "neg1" => -1,
        "neg32" => -32,
        "neg33" => -33,
        "neg128" => -128,
        "neg129" => -129,
        "neg32768" => -32768,
        "neg32769" => -32769,
        "neg2p31" => -(1 << 31),
        "neg2p31_minus1" => -(1 << 31) - 1,
        "i64_min" => i64::MIN.into(),
        other => panic!("unknown int case {other}"),
    })
}

fn float_value(name: &str) -> Option<f64> {
    Some(match name.strip_prefix("float_")? {
        "zero" => 0.0,
        "neg_zero" => -0.0,
        "one" => 1.0,
        "pi" => core::f64::consts::PI,
        "neg" => -2.5,
        "tenth" => 0.1,
        "min_subnormal" => 5e-324,
        "big" => 1e300,
        "inf" => f64::INFINITY,
        "neg_inf" => f64::NEG_INFINITY,
        "nan" => f64::NAN,
        other => panic!("unknown float case {other}"),
    })
}

fn str_value(name: &str) -> Option<String> {
    Some(match name.strip_prefix("str_")? {
        "empty" => String::new(),
        "31" => "a".repeat(31),
        "32" => "b".repeat(32),
        "255" => "c".repeat(255),
        "256" => "d".repeat(256),
        "utf8" => "h\u{e9}llo w\u{f6}rld \u{2713} \u{65e5}\u{672c} \u{1f980}".into(),
        other => panic!("unknown str case {other}"),
    })
}

fn bin_value(name: &str) -> Option<Vec<u8>> {
    Some(match name.strip_prefix("bin_")? {
        "empty" => vec![],
        "small" => return None,
        "255" => (0..=254).collect(),
        "256" => (0..=255).collect(),
        other => panic!("unknown bin case {other}"),
    })
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

#[cfg(feature = "std")]
mod dynamic {
    use super::*;
    use banyan_proto::payload::Value;

    fn one(v: impl Into<Value>) -> Value {
        Value::map([("value", v.into())])
    }

    fn arr(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    /// The dynamic value of every golden payload, in file order.
    fn expected() -> Vec<(&'static str, Value)> {
        let mut out = vec![
            (
                "message_number",
                Value::map([("message_number", 10.into())]),
            ),
            ("empty_map", Value::Map(vec![])),
            ("nil", one(Value::Nil)),
            (
                "bools",
                Value::map([("t", true.into()), ("f", false.into())]),
            ),
        ];
        for (name, _) in golden() {
            if let Some(v) = int_value(name) {
                let v = match i64::try_from(v) {
                    Ok(v) => Value::Int(v),
                    Err(_) => Value::UInt(u64::try_from(v).unwrap()),
                };
                out.push((name, one(v)));
            } else if let Some(v) = float_value(name) {
                out.push((name, one(v)));
            } else if let Some(v) = str_value(name) {
                out.push((name, one(v)));
            } else if let Some(v) = bin_value(name) {
                out.push((name, one(Value::Bin(v))));
            } else if name == "bin_small" {
                out.push((name, Value::map([("data", Value::Bin(vec![0x0a, 0x0b]))])));
            }
        }
        let ints = |r: core::ops::Range<i64>| Value::Array(r.map(Value::Int).collect());
        out.extend([
            ("array_empty", one(Value::Array(vec![]))),
            ("array_ints", one(ints(1..4))),
            (
                "array_mixed",
                one(arr(vec![
                    1.into(),
                    (-1).into(),
                    "a".into(),
                    Value::Nil,
                    true.into(),
                    2.5.into(),
                    Value::Bin(vec![0]),
                ])),
            ),
            ("array_15", one(ints(0..15))),
            ("array_16", one(ints(0..16))),
            (
                "array_nested",
                one(arr(vec![
                    arr(vec![
                        1.into(),
                        arr(vec![2.into(), arr(vec![3.into(), arr(vec![])])]),
                    ]),
                    arr(vec![]),
                ])),
            ),
            (
                "map_nested",
                Value::map([(
                    "outer",
                    Value::map([
                        ("inner", Value::map([("x", 1.into())])),
                        ("empty", Value::Map(vec![])),
                    ]),
                )]),
            ),
            (
                "map_16",
                Value::map((0..16).map(|i| (format!("k{i:02}"), Value::Int(i)))),
            ),
            (
                "map_int_keys",
                Value::Map(vec![
                    (1.into(), "one".into()),
                    ((-2).into(), "minus two".into()),
                ]),
            ),
            (
                "banyan_report",
                Value::map([
                    ("report", "digital_input".into()),
                    ("pin", 12.into()),
                    ("value", 1.into()),
                    ("timestamp", 1715000000.25.into()),
                ]),
            ),
            (
                "all_kinds",
                Value::map([
                    ("nil", Value::Nil),
                    ("bool", true.into()),
                    ("int", (-129).into()),
                    ("uint", 65536.into()),
                    ("float", 0.5.into()),
                    ("str", "x".repeat(40).into()),
                    ("bin", Value::Bin(vec![1, 2, 3])),
                    ("array", arr(vec![1.into(), arr(vec![2.into()])])),
                    ("map", Value::map([("a", Value::Map(vec![]))])),
                ]),
            ),
        ]);
        out
    }

    /// Equality that treats a NaN as equal to the same NaN bits.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
            (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Map(x), Value::Map(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
            }
            _ => a == b,
        }
    }

    #[test]
    fn golden_dynamic_both_ways() {
        let golden = golden();
        let mut expected = expected();
        // Same names as the file, whatever the order.
        let mut file_names: Vec<_> = golden.iter().map(|(n, _)| *n).collect();
        let mut names: Vec<_> = expected.iter().map(|(n, _)| *n).collect();
        file_names.sort_unstable();
        names.sort_unstable();
        assert_eq!(names, file_names);
        expected.sort_by_key(|(n, _)| *n);

        for (name, bytes) in golden {
            let want = &expected[expected.binary_search_by_key(&name, |(n, _)| n).unwrap()].1;
            // Encode: the dynamic value gives Python's bytes, through to_vec and to_slice.
            assert_eq!(
                hexs(&payload::to_vec(want).unwrap()),
                hexs(&bytes),
                "{name}"
            );
            let mut buf = vec![0u8; bytes.len()];
            assert_eq!(payload::to_slice(want, &mut buf), Ok(bytes.len()), "{name}");
            assert_eq!(buf, bytes, "{name}");
            // Decode through serde and through the borrowed reader.
            let got: Value = payload::from_slice(&bytes).unwrap();
            assert!(same(&got, want), "{name}: {got:?} != {want:?}");
            let got = Value::from(ValueRef::from_slice(&bytes).unwrap());
            assert!(same(&got, want), "{name}: {got:?} != {want:?}");
            // Round trip of what was read.
            assert_eq!(payload::to_vec(&got).unwrap(), bytes, "{name}");
            // Both Display impls agree.
            assert_eq!(
                got.to_string(),
                ValueRef::from_slice(&bytes).unwrap().to_string(),
                "{name}"
            );
        }
    }

    #[test]
    fn display_is_json_like_with_hex_bytes() {
        let show = |name: &str| {
            payload::from_slice::<Value>(&golden_bytes(name))
                .unwrap()
                .to_string()
        };
        assert_eq!(show("message_number"), r#"{"message_number": 10}"#);
        assert_eq!(show("bin_small"), r#"{"data": b"0a0b"}"#);
        assert_eq!(show("empty_map"), "{}");
        assert_eq!(show("float_one"), r#"{"value": 1.0}"#);
        assert_eq!(show("map_int_keys"), r#"{1: "one", -2: "minus two"}"#);
        assert_eq!(
            show("banyan_report"),
            r#"{"report": "digital_input", "pin": 12, "value": 1, "timestamp": 1715000000.25}"#
        );
        assert_eq!(
            show("all_kinds"),
            format!(
                r#"{{"nil": null, "bool": true, "int": -129, "uint": 65536, "float": 0.5, "str": "{}", "bin": b"010203", "array": [1, [2]], "map": {{"a": {{}}}}}}"#,
                "x".repeat(40)
            )
        );
        assert_eq!(show("int_u64_max"), r#"{"value": 18446744073709551615}"#);
        let tricky = Value::map([("q\"\\\n\u{1}", "tab\there".into())]);
        assert_eq!(tricky.to_string(), r#"{"q\"\\\n\u0001": "tab\there"}"#);
    }

    #[test]
    fn value_get() {
        let v: Value = payload::from_slice(&golden_bytes("banyan_report")).unwrap();
        assert_eq!(v.get("pin").and_then(Value::as_i64), Some(12));
        assert_eq!(
            v.get("report").and_then(Value::as_str),
            Some("digital_input")
        );
        assert_eq!(
            v.get("timestamp").and_then(Value::as_f64),
            Some(1715000000.25)
        );
        assert_eq!(v.get("nope"), None);
        assert_eq!(Value::Int(3).get("pin"), None);
    }
}
