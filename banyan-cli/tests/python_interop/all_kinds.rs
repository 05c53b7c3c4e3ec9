//! `all_kinds()`: the Rust twin of `tests/python/all_kinds.py`'s `ALL_KINDS`, a Banyan payload
//! with every msgpack kind (nil, bools, integers at every width up to the 64-bit extremes,
//! float 64 including -0.0 and infinities, str and bin at several length classes, arrays and
//! maps, empty, long and nested). Keys are in sorted order at every level, as in the Python
//! file; the tests check that both encode to the same bytes.

use banyan_proto::payload::Value;

/// The twin of `tests/python/all_kinds.py`'s `ALL_KINDS`, entry for entry.
pub fn all_kinds() -> Value {
    let ints = |values: &[i64]| values.iter().map(|&v| Value::Int(v)).collect::<Vec<_>>();
    let mut int_pos = ints(&[
        0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
    ]);
    int_pos.extend([
        Value::Int(i64::MAX),
        Value::UInt(1 << 63),
        Value::UInt(u64::MAX),
    ]);
    let int_neg = ints(&[
        -1,
        -32,
        -33,
        -128,
        -129,
        -32768,
        -32769,
        -2147483648,
        -2147483649,
    ]);
    let int_neg = [int_neg, vec![Value::Int(i64::MIN)]].concat();
    Value::map([
        ("array_empty", Value::Array(vec![])),
        (
            "array_long",
            Value::Array(ints(&(0..20).collect::<Vec<_>>())),
        ),
        (
            "array_mixed",
            Value::Array(vec![
                Value::Int(1),
                Value::from("two"),
                Value::Nil,
                Value::Bool(true),
                Value::F64(2.5),
                Value::Bin(vec![3]),
            ]),
        ),
        (
            "array_nested",
            Value::Array(vec![
                Value::Array(vec![
                    Value::Int(1),
                    Value::Array(vec![
                        Value::Int(2),
                        Value::Array(vec![Value::Int(3), Value::Array(vec![])]),
                    ]),
                ]),
                Value::Array(vec![Value::map([("k", Value::from("v"))])]),
            ]),
        ),
        ("bin_256", Value::Bin((0..=255).collect())),
        ("bin_empty", Value::Bin(vec![])),
        ("bin_short", Value::Bin(vec![0x00, 0xff, 0x7f, 0x80])),
        ("bool_false", Value::Bool(false)),
        ("bool_true", Value::Bool(true)),
        ("float_big", Value::F64(1e300)),
        ("float_inf", Value::F64(f64::INFINITY)),
        ("float_neg_inf", Value::F64(f64::NEG_INFINITY)),
        ("float_neg_zero", Value::F64(-0.0)),
        ("float_pi", Value::F64(std::f64::consts::PI)),
        ("float_small", Value::F64(-2.5e-300)),
        ("float_whole", Value::F64(2.0)),
        ("int_neg", Value::Array(int_neg)),
        ("int_pos", Value::Array(int_pos)),
        ("map_empty", Value::Map(vec![])),
        (
            "map_long",
            Value::map((0..16).map(|i| (format!("k{i:02}"), Value::Int(i)))),
        ),
        (
            "map_nested",
            Value::map([
                (
                    "inner",
                    Value::map([(
                        "deeper",
                        Value::map([("deepest", Value::Array(vec![Value::Nil]))]),
                    )]),
                ),
                ("n", Value::Int(1)),
            ]),
        ),
        ("nil", Value::Nil),
        ("str_256", Value::from("x".repeat(256))),
        ("str_40", Value::from("y".repeat(40))),
        ("str_empty", Value::from("")),
        (
            "str_unicode",
            Value::from("h\u{e9}llo w\u{f6}rld \u{2713} \u{1f980}"),
        ),
    ])
}
