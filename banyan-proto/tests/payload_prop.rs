//! Property tests of the payload codec: round trips (typed and dynamic), agreement with an
//! independent model of Python's packer, and no panic on any input.

use banyan_proto::payload::{self, ArrayReader, MapReader, PayloadError, ValueRef, validate};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Inner {
    a: Option<u64>,
    b: (i8, bool),
}

/// A typed payload with a field of every kind; borrows its str and bytes (no alloc).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Typed<'a> {
    u8_: u8,
    u16_: u16,
    u32_: u32,
    u64_: u64,
    i8_: i8,
    i16_: i16,
    i32_: i32,
    i64_: i64,
    f32_: f32,
    f64_: f64,
    flag: bool,
    maybe: Option<i32>,
    text: &'a str,
    #[serde(with = "serde_bytes")]
    raw: &'a [u8],
    list: heapless::Vec<i64, 8>,
    inner: Inner,
}

/// Owned parts of a [`Typed`] (proptest values must be owned).
type Parts = (
    (u8, u16, u32, u64, i8, i16, i32, i64),
    (f32, f64, bool, Option<i32>),
    (String, Vec<u8>, Vec<i64>, Option<u64>, i8, bool),
);

fn arb_f64() -> impl Strategy<Value = f64> {
    use proptest::num::f64;
    // Everything but NaN (NaN != NaN; NaN bits are checked by the golden vectors).
    f64::POSITIVE | f64::NEGATIVE | f64::NORMAL | f64::SUBNORMAL | f64::ZERO | f64::INFINITE
}

fn arb_f32() -> impl Strategy<Value = f32> {
    use proptest::num::f32;
    f32::POSITIVE | f32::NEGATIVE | f32::NORMAL | f32::SUBNORMAL | f32::ZERO | f32::INFINITE
}

fn arb_parts() -> impl Strategy<Value = Parts> {
    (
        any::<(u8, u16, u32, u64, i8, i16, i32, i64)>(),
        (arb_f32(), arb_f64(), any::<bool>(), any::<Option<i32>>()),
        (
            ".{0,40}",
            vec(any::<u8>(), 0..300),
            vec(any::<i64>(), 0..=8),
            any::<Option<u64>>(),
            any::<i8>(),
            any::<bool>(),
        ),
    )
}

fn typed(p: &Parts) -> Typed<'_> {
    let ((a, b, c, d, e, f, g, h), (fl32, fl64, flag, maybe), (text, raw, list, ia, ib0, ib1)) = p;
    Typed {
        u8_: *a,
        u16_: *b,
        u32_: *c,
        u64_: *d,
        i8_: *e,
        i16_: *f,
        i32_: *g,
        i64_: *h,
        f32_: *fl32,
        f64_: *fl64,
        flag: *flag,
        maybe: *maybe,
        text,
        raw,
        list: heapless::Vec::from_slice(list).expect("at most 8"),
        inner: Inner {
            a: *ia,
            b: (*ib0, *ib1),
        },
    }
}

/// Walks everything a reader exposes; returns the number of values seen.
fn walk(v: ValueRef<'_>) -> usize {
    1 + match v {
        ValueRef::Array(a) => walk_array(a),
        ValueRef::Map(m) => walk_map(m),
        _ => 0,
    }
}

fn walk_array(a: ArrayReader<'_>) -> usize {
    let mut seen = 0;
    let mut count = 0;
    for item in a {
        seen += walk(item);
        count += 1;
    }
    assert_eq!(count, a.len());
    seen
}

fn walk_map(m: MapReader<'_>) -> usize {
    let mut seen = 0;
    let mut count = 0;
    for (k, v) in m {
        seen += walk(k) + walk(v);
        count += 1;
    }
    assert_eq!(count, m.len());
    seen
}

/// What a fuzz target does: every decoder on the same input, never a panic, and all of them
/// agree on whether the input is a valid payload.
fn exercise(bytes: &[u8]) {
    let reader = MapReader::new(bytes);
    let any_value = ValueRef::from_slice(bytes);
    assert_eq!(validate(bytes).is_ok(), any_value.is_ok());
    let ignored = payload::from_slice::<IgnoredAny>(bytes);
    assert_eq!(ignored.is_ok(), reader.is_ok(), "{ignored:?} vs {reader:?}");
    let _ = payload::from_slice::<Typed<'_>>(bytes);
    if let Ok(map) = reader {
        assert!(walk_map(map) >= 1 || map.is_empty());
        let _ = map.to_string();
        // Re-encoding what was read is canonical: doing it twice changes nothing.
        let mut once = vec![0u8; bytes.len() * 2 + 16];
        let n = payload::to_slice(&map, &mut once).expect("re-encode");
        let again = MapReader::new(&once[..n]).expect("re-read");
        let mut twice = vec![0u8; n];
        assert_eq!(payload::to_slice(&again, &mut twice), Ok(n));
        assert_eq!(&once[..n], &twice[..]);
    } else if let Err(e) = reader {
        // The same error from every entry point.
        assert_eq!(ignored.unwrap_err(), e);
    }
    #[cfg(feature = "std")]
    dynamic::exercise_value(bytes);
}

fn mutate(mut bytes: Vec<u8>, edits: &[(Index, u8)], cut: Option<Index>) -> Vec<u8> {
    if !bytes.is_empty() {
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut.index(bytes.len() + 1));
    }
    bytes
}

proptest! {
    #[test]
    fn typed_round_trip(parts in arb_parts()) {
        let value = typed(&parts);
        let mut buf = [0u8; 1024];
        let len = payload::to_slice(&value, &mut buf).unwrap();
        let bytes = &buf[..len];
        prop_assert_eq!(payload::from_slice::<Typed<'_>>(bytes).unwrap(), value.clone());
        // The borrowed reader sees the same fields.
        let map = MapReader::new(bytes).unwrap();
        prop_assert_eq!(map.len(), 16);
        prop_assert_eq!(map.get("u64_").and_then(|v| v.as_u64()), Some(value.u64_));
        prop_assert_eq!(map.get("i64_").and_then(|v| v.as_i64()), Some(value.i64_));
        prop_assert_eq!(map.get("text").and_then(|v| v.as_str()), Some(value.text));
        prop_assert_eq!(map.get("raw").and_then(|v| v.as_bytes()), Some(value.raw));
        prop_assert_eq!(map.get("f64_"), Some(ValueRef::F64(value.f64_)));
        prop_assert_eq!(map.get("f32_"), Some(ValueRef::F32(value.f32_)));
        // Every smaller buffer is BufferFull.
        prop_assert_eq!(
            payload::to_slice(&value, &mut buf[..len - 1]),
            Err(PayloadError::BufferFull)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        exercise(&bytes);
    }

    #[test]
    fn map_prefixed_bytes_never_panic(
        header in prop_oneof![0x80u8..=0x8f, Just(0xde), Just(0xdf)],
        rest in vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = vec![header];
        bytes.extend(rest);
        exercise(&bytes);
    }

    #[test]
    fn mutated_payloads_never_panic(
        parts in arb_parts(),
        edits in vec((any::<Index>(), any::<u8>()), 0..4),
        cut in any::<Option<Index>>(),
    ) {
        let mut buf = [0u8; 1024];
        let len = payload::to_slice(&typed(&parts), &mut buf).unwrap();
        exercise(&mutate(buf[..len].to_vec(), &edits, cut));
    }
}

#[cfg(feature = "std")]
mod dynamic {
    use super::*;
    use banyan_proto::payload::Value;

    /// An independent model of Python's `msgpack.packb(v, use_bin_type=True)` (its
    /// `_packer.pyx`/`fallback.py` rules), the oracle for the encoder.
    fn py_pack(v: &Value, out: &mut Vec<u8>) {
        fn header(out: &mut Vec<u8>, n: usize, fix: Option<(u8, usize)>, wide: [u8; 3]) {
            match fix {
                Some((base, limit)) if n < limit => out.push(base | n as u8),
                _ if wide[0] != 0 && n < 256 => out.extend([wide[0], n as u8]),
                _ if n < 65536 => {
                    out.push(wide[1]);
                    out.extend((n as u16).to_be_bytes());
                }
                _ => {
                    out.push(wide[2]);
                    out.extend((n as u32).to_be_bytes());
                }
            }
        }
        fn int(x: i128, out: &mut Vec<u8>) {
            if x >= 0 {
                if x < 128 {
                    out.push(x as u8);
                } else if x < 1 << 8 {
                    out.extend([0xcc, x as u8]);
                } else if x < 1 << 16 {
                    out.push(0xcd);
                    out.extend((x as u16).to_be_bytes());
                } else if x < 1 << 32 {
                    out.push(0xce);
                    out.extend((x as u32).to_be_bytes());
                } else {
                    out.push(0xcf);
                    out.extend((x as u64).to_be_bytes());
                }
            } else if x >= -32 {
                out.push(x as i8 as u8);
            } else if x >= -128 {
                out.extend([0xd0, x as i8 as u8]);
            } else if x >= -32768 {
                out.push(0xd1);
                out.extend((x as i16).to_be_bytes());
            } else if x >= -(1 << 31) {
                out.push(0xd2);
                out.extend((x as i32).to_be_bytes());
            } else {
                out.push(0xd3);
                out.extend((x as i64).to_be_bytes());
            }
        }
        match v {
            Value::Nil => out.push(0xc0),
            Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Int(x) => int((*x).into(), out),
            Value::UInt(x) => int((*x).into(), out),
            Value::F32(x) => {
                out.push(0xca);
                out.extend(x.to_be_bytes());
            }
            Value::F64(x) => {
                out.push(0xcb);
                out.extend(x.to_be_bytes());
            }
            Value::Str(s) => {
                header(out, s.len(), Some((0xa0, 32)), [0xd9, 0xda, 0xdb]);
                out.extend(s.as_bytes());
            }
            Value::Bin(b) => {
                header(out, b.len(), None, [0xc4, 0xc5, 0xc6]);
                out.extend(b);
            }
            Value::Array(items) => {
                header(out, items.len(), Some((0x90, 16)), [0, 0xdc, 0xdd]);
                items.iter().for_each(|i| py_pack(i, out));
            }
            Value::Map(entries) => {
                header(out, entries.len(), Some((0x80, 16)), [0, 0xde, 0xdf]);
                for (k, v) in entries {
                    py_pack(k, out);
                    py_pack(v, out);
                }
            }
        }
    }

    fn packed(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        py_pack(v, &mut out);
        out
    }

    /// Equality that compares floats by bits (NaN included).
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

    /// Strings whose UTF-8 length sits on every header boundary.
    fn arb_str() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => ".{0,40}",
            2 => prop_oneof![28usize..36, 250usize..260].prop_map(|n| "s".repeat(n)),
            1 => (65530usize..65540).prop_map(|n| "L".repeat(n)),
        ]
    }

    fn arb_bin() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => vec(any::<u8>(), 0..40),
            2 => (250usize..260).prop_map(|n| vec![7; n]),
            1 => (65530usize..65540).prop_map(|n| vec![9; n]),
        ]
    }

    fn arb_key() -> impl Strategy<Value = Value> {
        prop_oneof![
            9 => "[a-z_]{0,12}".prop_map(Value::Str),
            1 => any::<i64>().prop_map(Value::Int),
        ]
    }

    fn arb_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            // Dense around the small-integer boundaries.
            (-70_000i64..70_000).prop_map(Value::Int),
            prop_oneof![
                Just(i64::MIN),
                Just(-(1 << 31) - 1),
                Just(-(1 << 31)),
                Just(1 << 32)
            ]
            .prop_map(Value::Int),
            ((1u64 << 63)..=u64::MAX).prop_map(Value::UInt),
            any::<f64>().prop_map(Value::F64),
            any::<f32>().prop_map(Value::F32),
            arb_str().prop_map(Value::Str),
            arb_bin().prop_map(Value::Bin),
        ]
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        arb_leaf().prop_recursive(4, 64, 20, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..20).prop_map(Value::Array),
                vec((arb_key(), inner), 0..20).prop_map(Value::Map),
            ]
        })
    }

    fn arb_payload() -> impl Strategy<Value = Value> {
        vec((arb_key(), arb_value()), 0..20).prop_map(Value::Map)
    }

    /// The `Value` side of [`super::exercise`].
    pub(super) fn exercise_value(bytes: &[u8]) {
        let value = payload::from_slice::<Value>(bytes);
        let reader = MapReader::new(bytes);
        assert_eq!(value.as_ref().err(), reader.as_ref().err());
        if let (Ok(value), Ok(reader)) = (value, reader) {
            let from_reader = Value::from(ValueRef::Map(reader));
            assert!(same(&value, &from_reader));
            assert_eq!(value.to_string(), reader.to_string());
            assert_eq!(payload::to_vec(&value).unwrap(), packed(&value));
        }
    }

    proptest! {
        #[test]
        fn dynamic_round_trip_matches_python(v in arb_payload()) {
            let bytes = payload::to_vec(&v).unwrap();
            prop_assert_eq!(&bytes, &packed(&v));
            let mut buf = vec![0u8; bytes.len()];
            prop_assert_eq!(payload::to_slice(&v, &mut buf), Ok(bytes.len()));
            prop_assert_eq!(&buf, &bytes);
            let back: Value = payload::from_slice(&bytes).unwrap();
            prop_assert!(same(&back, &v));
            prop_assert!(same(&Value::from(ValueRef::from_slice(&bytes).unwrap()), &v));
            prop_assert_eq!(back.to_string(), MapReader::new(&bytes).unwrap().to_string());
        }

        #[test]
        fn typed_encoding_matches_python(parts in arb_parts()) {
            let t = typed(&parts);
            let model = Value::map([
                ("u8_", t.u8_.into()),
                ("u16_", t.u16_.into()),
                ("u32_", t.u32_.into()),
                ("u64_", t.u64_.into()),
                ("i8_", t.i8_.into()),
                ("i16_", t.i16_.into()),
                ("i32_", t.i32_.into()),
                ("i64_", t.i64_.into()),
                ("f32_", t.f32_.into()),
                ("f64_", t.f64_.into()),
                ("flag", t.flag.into()),
                ("maybe", t.maybe.map_or(Value::Nil, Value::from)),
                ("text", t.text.into()),
                ("raw", Value::Bin(t.raw.to_vec())),
                ("list", Value::Array(t.list.iter().map(|&x| x.into()).collect())),
                ("inner", Value::map([
                    ("a", t.inner.a.map_or(Value::Nil, Value::from)),
                    ("b", Value::Array(vec![t.inner.b.0.into(), t.inner.b.1.into()])),
                ])),
            ]);
            prop_assert_eq!(payload::to_vec(&t).unwrap(), packed(&model));
        }

        #[test]
        fn mutated_dynamic_payloads_never_panic(
            v in arb_payload(),
            edits in vec((any::<Index>(), any::<u8>()), 0..4),
            cut in any::<Option<Index>>(),
        ) {
            exercise(&mutate(packed(&v), &edits, cut));
        }
    }

    #[test]
    fn thirty_two_bit_headers() {
        let n = 65536;
        let v = Value::map([
            ("a", Value::Array(vec![Value::Nil; n])),
            ("s", Value::Str("x".repeat(n))),
            ("b", Value::Bin(vec![1; n])),
            ("m", Value::Map(vec![(Value::Nil, Value::Nil); n])),
        ]);
        let bytes = payload::to_vec(&v).unwrap();
        assert_eq!(bytes, packed(&v));
        assert_eq!(&bytes[3..8], b"\xdd\x00\x01\x00\x00");
        let back: Value = payload::from_slice(&bytes).unwrap();
        assert_eq!(back, v);
        let map = MapReader::new(&bytes).unwrap();
        assert_eq!(
            map.get("m").and_then(|m| m.as_map()).map(|m| m.len()),
            Some(n)
        );
        assert_eq!(map.get("s").and_then(|s| s.as_str()).map(str::len), Some(n));
    }
}
