//! Decoding beyond the golden vectors: errors, limits, the borrowed reader, what typed
//! decoding accepts and refuses. Encoding is in `payload_encode.rs`.

use banyan_proto::payload::{
    self, ArrayReader, MAX_DEPTH, MapReader, PayloadError, ValueRef, validate, validate_prefix,
};
use serde::{Deserialize, Serialize};

/// `{'message_number': 10}` from Python.
const ECHO: &[u8] = b"\x81\xaemessage_number\x0a";

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Echo {
    message_number: u32,
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PayloadError> {
    let mut buf = vec![0u8; 1 << 16];
    let len = payload::to_slice(value, &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

#[test]
fn error_type_is_small_copy_and_an_error() {
    fn is_error<E: core::error::Error + Copy + Send + Sync + 'static>(_: E) {}
    is_error(PayloadError::Mismatch);
    assert_eq!(
        PayloadError::NotAMap.to_string(),
        "payload is not a msgpack map"
    );
    assert!(core::mem::size_of::<PayloadError>() <= 1);
}

#[test]
fn top_level_must_be_exactly_one_map() {
    assert_eq!(
        payload::from_slice::<Echo>(ECHO),
        Ok(Echo { message_number: 10 })
    );
    assert_eq!(
        payload::from_slice::<Echo>(&[]),
        Err(PayloadError::UnexpectedEof)
    );
    assert_eq!(
        payload::from_slice::<u8>(&[0x0a]),
        Err(PayloadError::NotAMap)
    );
    assert_eq!(
        payload::from_slice::<(u32,)>(&[0x91, 0x0a]),
        Err(PayloadError::NotAMap)
    );
    let mut trailing = ECHO.to_vec();
    trailing.push(0xc0);
    assert_eq!(
        payload::from_slice::<Echo>(&trailing),
        Err(PayloadError::TrailingBytes)
    );
    assert_eq!(MapReader::new(&trailing), Err(PayloadError::TrailingBytes));
    assert_eq!(validate_prefix(&trailing), Ok(ECHO.len()));
    assert_eq!(validate(&trailing), Err(PayloadError::TrailingBytes));
    // Two payloads back to back are not one payload.
    assert_eq!(
        payload::from_slice::<Echo>(&[ECHO, ECHO].concat()),
        Err(PayloadError::TrailingBytes)
    );
    // Encoding refuses non-maps too.
    let mut buf = [0u8; 16];
    assert_eq!(
        payload::to_slice(&5u8, &mut buf),
        Err(PayloadError::NotAMap)
    );
    assert_eq!(
        payload::to_slice(&[1u8, 2], &mut buf),
        Err(PayloadError::NotAMap)
    );
    // ValueRef reads any single value.
    assert_eq!(ValueRef::from_slice(&[0x0a]), Ok(ValueRef::Int(10)));
    assert_eq!(MapReader::new(&[0x0a]), Err(PayloadError::NotAMap));
}

#[test]
fn every_truncation_is_an_error() {
    let nested = encode(&Nested::sample()).unwrap();
    for input in [ECHO, &nested[..]] {
        for cut in 0..input.len() {
            let part = &input[..cut];
            assert_eq!(
                payload::from_slice::<Echo>(part),
                Err(PayloadError::UnexpectedEof)
            );
            assert_eq!(MapReader::new(part), Err(PayloadError::UnexpectedEof));
            assert_eq!(ValueRef::from_slice(part), Err(PayloadError::UnexpectedEof));
        }
    }
}

#[test]
fn malformed_input_is_rejected_with_the_right_error() {
    let cases: &[(&[u8], PayloadError)] = &[
        (&[0xc1], PayloadError::InvalidMarker),
        (&[0x81, 0xa1, b'a', 0xc1], PayloadError::InvalidMarker),
        // fixext 1, ext 8: Banyan has no extension types.
        (
            &[0x81, 0xa1, b'a', 0xd4, 0x01, 0x00],
            PayloadError::Unsupported,
        ),
        (
            &[0x81, 0xa1, b'a', 0xc7, 0x01, 0x05, 0x00],
            PayloadError::Unsupported,
        ),
        // Invalid UTF-8 in a key and in a value.
        (&[0x81, 0xa1, 0xff, 0x00], PayloadError::InvalidUtf8),
        (
            &[0x81, 0xa1, b'a', 0xa2, 0xc3, 0x28],
            PayloadError::InvalidUtf8,
        ),
        // Lengths far beyond the input: refused at once, nothing allocated.
        (&[0xdf, 0xff, 0xff, 0xff, 0xff], PayloadError::UnexpectedEof),
        (
            &[0x81, 0xa1, b'a', 0xdd, 0xff, 0xff, 0xff, 0xff],
            PayloadError::UnexpectedEof,
        ),
        (
            &[0x81, 0xa1, b'a', 0xdb, 0xff, 0xff, 0xff, 0xff],
            PayloadError::UnexpectedEof,
        ),
        (
            &[0x81, 0xa1, b'a', 0xc6, 0xff, 0xff, 0xff, 0xff],
            PayloadError::UnexpectedEof,
        ),
        (&[0x82, 0xa1, b'a', 0x00], PayloadError::UnexpectedEof),
    ];
    for (input, err) in cases {
        assert_eq!(validate(input), Err(*err), "{input:02x?}");
        assert_eq!(MapReader::new(input), Err(*err), "{input:02x?}");
        assert_eq!(
            payload::from_slice::<Echo>(input),
            Err(*err),
            "{input:02x?}"
        );
    }
}

/// `{"a": [[[ … ]]]}` with `depth` containers in all.
fn nested(depth: usize) -> Vec<u8> {
    let mut v = vec![0x81, 0xa1, b'a'];
    v.extend(std::iter::repeat_n(0x91, depth - 2));
    v.push(0x90);
    v
}

#[test]
fn nesting_is_limited_without_recursion() {
    assert_eq!(MAX_DEPTH, 32);
    let ok = nested(MAX_DEPTH);
    assert!(MapReader::new(&ok).is_ok());
    let too_deep = nested(MAX_DEPTH + 1);
    assert_eq!(MapReader::new(&too_deep), Err(PayloadError::DepthLimit));
    assert_eq!(
        payload::from_slice::<serde::de::IgnoredAny>(&too_deep),
        Err(PayloadError::DepthLimit)
    );
    // A megabyte of `[[[[…` must not overflow the stack anywhere.
    let huge = nested(1 << 20);
    assert_eq!(validate(&huge), Err(PayloadError::DepthLimit));
    assert_eq!(ValueRef::from_slice(&huge), Err(PayloadError::DepthLimit));
    assert_eq!(
        payload::from_slice::<serde::de::IgnoredAny>(&huge),
        Err(PayloadError::DepthLimit)
    );
    // Walk the deepest accepted value all the way down.
    let mut v = MapReader::new(&ok).unwrap().get("a").unwrap();
    let mut depth = 2;
    while let Some(a) = v.as_array().and_then(|a| a.get(0)) {
        v = a;
        depth += 1;
    }
    assert_eq!(depth, MAX_DEPTH);
    assert_eq!(v.as_array().map(|a| a.len()), Some(0));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Inner<'a> {
    name: &'a str,
    #[serde(with = "serde_bytes")]
    raw: &'a [u8],
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Nested<'a> {
    id: u64,
    #[serde(borrow)]
    inner: Inner<'a>,
    list: [i16; 3],
    maybe: Option<f32>,
}

impl Nested<'static> {
    fn sample() -> Self {
        Nested {
            id: 1 << 40,
            inner: Inner {
                name: "sensor",
                raw: &[0xde, 0xad],
            },
            list: [-1, 300, -300],
            maybe: Some(1.5),
        }
    }
}

#[test]
fn typed_decoding_borrows_from_the_input() {
    let bytes = encode(&Nested::sample()).unwrap();
    let back: Nested<'_> = payload::from_slice(&bytes).unwrap();
    assert_eq!(back, Nested::sample());
    let range = bytes.as_ptr_range();
    assert!(range.contains(&back.inner.name.as_ptr()));
    assert!(range.contains(&back.inner.raw.as_ptr()));
    // The reader sees the same thing, also borrowed.
    let map = MapReader::new(&bytes).unwrap();
    let inner = map.get("inner").and_then(|v| v.as_map()).unwrap();
    let name = inner.get("name").and_then(|v| v.as_str()).unwrap();
    assert_eq!(name, "sensor");
    assert!(range.contains(&name.as_ptr()));
    assert_eq!(inner.get("raw"), Some(ValueRef::Bin(&[0xde, 0xad])));
    assert_eq!(map.get("maybe"), Some(ValueRef::F32(1.5)));
    assert_eq!(map.get("id").and_then(|v| v.as_u64()), Some(1 << 40));
}

#[test]
fn typed_decoding_accepts_what_python_may_send() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Reading {
        value: f64,
        count: u32,
        label: Option<heapless::String<8>>,
    }
    // Python sends `1` for a float field, a non-minimal uint 16 for a u32, and no label.
    let bytes = b"\x82\xa5value\x01\xa5count\xcd\x00\x0a";
    assert_eq!(
        payload::from_slice::<Reading>(bytes),
        Ok(Reading {
            value: 1.0,
            count: 10,
            label: None
        })
    );
    // Unknown keys are skipped; an explicit nil is None.
    let bytes =
        b"\x84\xa5extra\x92\x01\xa0\xa5value\xcb\x3f\xe0\0\0\0\0\0\0\xa5count\x07\xa5label\xc0";
    assert_eq!(
        payload::from_slice::<Reading>(bytes),
        Ok(Reading {
            value: 0.5,
            count: 7,
            label: None
        })
    );
}

#[test]
fn typed_decoding_refuses_what_does_not_fit() {
    let cases: &[&[u8]] = &[
        // missing field
        b"\x80",
        // str into u32
        b"\x81\xaemessage_number\xa1x",
        // negative into u32
        b"\x81\xaemessage_number\xff",
        // too large for u32
        b"\x81\xaemessage_number\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
        // float into u32
        b"\x81\xaemessage_number\xcb\x3f\xf0\0\0\0\0\0\0",
        // nil into u32
        b"\x81\xaemessage_number\xc0",
    ];
    for input in cases {
        assert_eq!(
            payload::from_slice::<Echo>(input),
            Err(PayloadError::Mismatch),
            "{input:02x?}"
        );
    }
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        a: u8,
    }
    assert_eq!(
        payload::from_slice::<Strict>(b"\x82\xa1a\x01\xa1b\x02").unwrap_err(),
        PayloadError::Mismatch
    );
}

#[test]
fn tuples_must_match_array_lengths() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Pair {
        a: (u8, u8),
        b: Option<u8>,
    }
    assert_eq!(
        payload::from_slice::<Pair>(b"\x82\xa1a\x92\x01\x02\xa1b\x04"),
        Ok(Pair {
            a: (1, 2),
            b: Some(4)
        })
    );
    for input in [
        // [1, 2, 3] into a pair: the backend would read (1, 2) and shift the rest.
        &b"\x82\xa1a\x93\x01\x02\x03\xa1b\x04"[..],
        b"\x81\xa1a\x93\x01\x02\x03",
        // [1] into a pair.
        b"\x81\xa1a\x91\x01",
    ] {
        assert_eq!(
            payload::from_slice::<Pair>(input),
            Err(PayloadError::Mismatch),
            "{input:02x?}"
        );
    }
}

#[test]
fn reader_iterates_in_wire_order() {
    let bytes = b"\x84\xa1z\x01\xa1a\x92\xc3\xa1s\x07\xc0\xa1z\x02";
    let map = MapReader::new(bytes).unwrap();
    assert_eq!(map.len(), 4);
    assert!(!map.is_empty());
    let keys: Vec<_> = map.iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            ValueRef::Str("z"),
            ValueRef::Str("a"),
            ValueRef::Int(7),
            ValueRef::Str("z")
        ]
    );
    // `get` finds the first of duplicate keys, and only str keys.
    assert_eq!(map.get("z"), Some(ValueRef::Int(1)));
    assert_eq!(map.get("7"), None);
    let arr: ArrayReader<'_> = map.get("a").and_then(|v| v.as_array()).unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(
        arr.iter().collect::<Vec<_>>(),
        [ValueRef::Bool(true), ValueRef::Str("s")]
    );
    assert_eq!(arr.get(1), Some(ValueRef::Str("s")));
    assert_eq!(arr.get(2), None);
    assert_eq!(map.into_iter().count(), 4);
    assert_eq!(
        map.to_string(),
        r#"{"z": 1, "a": [true, "s"], 7: null, "z": 2}"#
    );
    let empty = MapReader::new(b"\x80").unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.iter().next(), None);
}

#[test]
fn value_ref_conversions() {
    let big = ValueRef::from_slice(b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff").unwrap();
    assert_eq!(big, ValueRef::UInt(u64::MAX));
    assert_eq!(big.as_i64(), None);
    assert_eq!(big.as_u64(), Some(u64::MAX));
    // Any integer encoding whose value fits i64 is Int.
    for bytes in [
        &b"\x05"[..],
        b"\xcc\x05",
        b"\xcd\x00\x05",
        b"\xce\0\0\0\x05",
        b"\xcf\0\0\0\0\0\0\0\x05",
        b"\xd0\x05",
        b"\xd3\0\0\0\0\0\0\0\x05",
    ] {
        assert_eq!(
            ValueRef::from_slice(bytes),
            Ok(ValueRef::Int(5)),
            "{bytes:02x?}"
        );
    }
    let neg = ValueRef::Int(-1);
    assert_eq!(neg.as_u64(), None);
    assert_eq!(neg.as_f64(), Some(-1.0));
    assert_eq!(ValueRef::F32(0.5).as_f64(), Some(0.5));
    assert_eq!(ValueRef::Str("x").as_f64(), None);
    assert_eq!(ValueRef::Bool(true).as_bool(), Some(true));
    assert_eq!(ValueRef::Nil.as_bool(), None);
    assert!(ValueRef::Nil.is_nil());
    assert_eq!(ValueRef::Bin(b"ab").as_bytes(), Some(&b"ab"[..]));
    assert_eq!(ValueRef::Bin(b"ab").as_str(), None);
    assert_eq!(ValueRef::Int(1).as_map(), None);
    assert_eq!(ValueRef::Int(1).as_array(), None);
    assert_eq!(ValueRef::Bin(&[0, 255]).to_string(), r#"b"00ff""#);
    assert_eq!(ValueRef::F64(f64::NAN).to_string(), "NaN");
}

#[cfg(feature = "std")]
mod with_std {
    use super::*;
    use banyan_proto::payload::Value;

    #[test]
    fn to_vec_matches_to_slice_and_refuses_non_maps() {
        let v = payload::to_vec(&Nested::sample()).unwrap();
        assert_eq!(v, encode(&Nested::sample()).unwrap());
        assert_eq!(payload::to_vec(&1u8), Err(PayloadError::NotAMap));
        assert_eq!(payload::to_vec(&Echo { message_number: 10 }).unwrap(), ECHO);
    }

    #[test]
    fn value_normalises_non_canonical_input() {
        // {'n': uint16 5, 'm': int64 -1}: re-encoded minimally, as Python would.
        let bytes = b"\x82\xa1n\xcd\x00\x05\xa1m\xd3\xff\xff\xff\xff\xff\xff\xff\xff";
        let v: Value = payload::from_slice(bytes).unwrap();
        assert_eq!(v, Value::map([("n", 5.into()), ("m", (-1).into())]));
        assert_eq!(payload::to_vec(&v).unwrap(), b"\x82\xa1n\x05\xa1m\xff");
        assert_eq!(Value::from(u64::MAX), Value::UInt(u64::MAX));
        assert_eq!(Value::from(5u64), Value::Int(5));
        // A hand-made UInt still encodes minimally.
        let m = Value::map([("u", Value::UInt(5))]);
        assert_eq!(payload::to_vec(&m).unwrap(), b"\x81\xa1u\x05");
    }

    #[test]
    fn value_decodes_into_typed_and_back() {
        let v = Value::map([("message_number", 10.into())]);
        let bytes = payload::to_vec(&v).unwrap();
        assert_eq!(
            payload::from_slice::<Echo>(&bytes),
            Ok(Echo { message_number: 10 })
        );
        assert_eq!(Value::default(), Value::Nil);
        assert!(Value::Nil.is_nil());
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(Value::Bin(vec![1]).as_bytes(), Some(&[1u8][..]));
        assert_eq!(
            Value::from(vec![Value::Nil]).as_array().map(<[_]>::len),
            Some(1)
        );
        assert_eq!(v.as_map().map(<[_]>::len), Some(1));
        assert_eq!(Value::Int(-1).as_u64(), None);
        assert_eq!(Value::UInt(u64::MAX).as_i64(), None);
        assert_eq!(Value::F32(2.0).as_f64(), Some(2.0));
        assert_eq!(Value::Bool(false).as_bool(), Some(false));
    }

    #[test]
    fn value_rejects_what_the_reader_rejects() {
        for input in [
            &b""[..],
            b"\x05",
            b"\x81\xa1a\xc1",
            b"\x80\x80",
            &nested(MAX_DEPTH + 1),
        ] {
            assert_eq!(
                payload::from_slice::<Value>(input).err(),
                MapReader::new(input).err(),
                "{input:02x?}"
            );
        }
    }
}
