//! Golden vectors through the dynamic `Value` (feature `std`): Python's bytes decode to the
//! expected `Value`, the `Value` encodes to Python's bytes, and `Display` renders them.
#![cfg(feature = "std")]

#[path = "payload_support/golden.rs"]
mod golden;

use banyan_proto::payload::{self, Value, ValueRef};
use golden::{bin_value, float_value, golden, golden_bytes, hexs, int_value, str_value};

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
