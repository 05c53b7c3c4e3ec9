//! Reads arbitrary bytes as a Banyan msgpack payload and checks:
//! * `MapReader::new`, walking every entry recursively (all accessors, `get`, `Display`),
//!   and `from_slice` into a typed struct never panic;
//! * a reader's iteration yields exactly `len()` items, at every level;
//! * `MapReader::new` succeeds exactly when `validate` does and the value is a map, and a
//!   successful typed decode implies both;
//! * a typed decode re-encodes (`to_vec`) to bytes that decode to a value that re-encodes to
//!   the same bytes.
#![no_main]

use banyan_proto::payload::{self, ArrayReader, MapReader, PayloadError, ValueRef};
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Inner {
    x: f64,
    y: Option<i32>,
}

/// A payload shape with the kinds Banyan components use.
#[derive(Debug, Serialize, Deserialize)]
struct Sample<'a> {
    message_number: i64,
    #[serde(borrow, default)]
    name: Option<&'a str>,
    #[serde(borrow, default)]
    data: Option<&'a serde_bytes::Bytes>,
    #[serde(default)]
    values: Option<Vec<f64>>,
    #[serde(default)]
    flags: Option<[bool; 2]>,
    #[serde(default)]
    inner: Option<Inner>,
    #[serde(default)]
    big: Option<u64>,
}

/// `depth`: how many arrays/maps enclose `v` (0 at the top level).
fn walk_value(v: &ValueRef<'_>, depth: usize) {
    let _ = (v.is_nil(), v.as_bool(), v.as_i64(), v.as_u64(), v.as_f64());
    let _ = (v.as_str(), v.as_bytes());
    match *v {
        ValueRef::Map(m) => walk_map(&m, depth + 1),
        ValueRef::Array(a) => walk_array(&a, depth + 1),
        _ => {}
    }
    assert_eq!(v.as_map().is_some(), matches!(v, ValueRef::Map(_)));
    assert_eq!(v.as_array().is_some(), matches!(v, ValueRef::Array(_)));
}

/// `depth`: nesting depth of `a` itself (1 for a top-level array).
fn walk_array(a: &ArrayReader<'_>, depth: usize) {
    assert!(depth <= payload::MAX_DEPTH);
    let mut n = 0;
    for item in a.iter() {
        walk_value(&item, depth);
        n += 1;
    }
    assert_eq!(n, a.len());
    assert_eq!(a.is_empty(), n == 0);
    if n > 0 {
        assert!(a.get(n - 1).is_some());
    }
    assert!(a.get(n).is_none());
}

/// `depth`: nesting depth of `m` itself (1 for the payload's top-level map).
fn walk_map(m: &MapReader<'_>, depth: usize) {
    assert!(depth <= payload::MAX_DEPTH);
    let mut n = 0;
    for (k, v) in m.iter() {
        walk_value(&k, depth);
        walk_value(&v, depth);
        if let Some(key) = k.as_str() {
            // `get` finds the first entry with that key, so it finds something.
            assert!(m.get(key).is_some());
        }
        n += 1;
    }
    assert_eq!(n, m.len());
    assert_eq!(m.is_empty(), n == 0);
}

fuzz_target!(|data: &[u8]| {
    let valid = payload::validate(data);
    let reader = MapReader::new(data);
    match (&valid, &reader) {
        (Ok(()), Ok(map)) => {
            walk_map(map, 1);
            let _ = format!("{map}");
        }
        (Ok(()), Err(e)) => assert_eq!(*e, PayloadError::NotAMap),
        (Err(v), Err(r)) => assert_eq!(v, r),
        (Err(_), Ok(_)) => panic!("MapReader accepted input that validate rejects"),
    }
    if let Ok(value) = ValueRef::from_slice(data) {
        walk_value(&value, 0);
    }

    if let Ok(sample) = payload::from_slice::<Sample<'_>>(data) {
        assert!(
            reader.is_ok(),
            "typed decode accepted a non-map or invalid payload"
        );
        let bytes = payload::to_vec(&sample).expect("a decoded payload re-encodes");
        let again: Sample<'_> = payload::from_slice(&bytes).expect("re-encoded payload decodes");
        assert_eq!(payload::to_vec(&again).expect("re-encodes"), bytes);
    }
    let _ = payload::from_slice::<Inner>(data);
});
