//! Golden tests against Python's `json` module, and the browser options.

use super::*;

#[test]
fn float_repr_matches_python() {
    // Each pair: value, Python 3's repr(value).
    for (v, python) in [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.3333333333333333"),
        (123456.789, "123456.789"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (1.2345e16, "1.2345e+16"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e22, "1e+22"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (-2.5e-5, "-2.5e-05"),
        (f64::from(0.1f32), "0.10000000149011612"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (f64::NAN, "NaN"),
        (9999999999999998.0, "9999999999999998.0"),
    ] {
        assert_eq!(float_repr(v), python, "{v:e}");
    }
}

#[test]
fn dumps_matches_python() {
    let value = Value::map([
        (
            "s",
            Value::Str("a\"b\\c/\n\r\t\u{8}\u{c}\u{1}\u{7f}é€😀".into()),
        ),
        ("i", Value::Int(-5)),
        ("u", Value::UInt(u64::MAX)),
        ("f", Value::F64(2.0)),
        ("n", Value::Nil),
        ("b", Value::Bool(true)),
        (
            "a",
            Value::Array(vec![
                Value::Int(1),
                Value::Array(vec![]),
                Value::Map(vec![]),
            ]),
        ),
    ]);
    // python3 -c 'import json; print(json.dumps({...}))'
    assert_eq!(
        to_json(&value).unwrap(),
        r#"{"s": "a\"b\\c/\n\r\t\b\f\u0001\u007f\u00e9\u20ac\ud83d\ude00", "i": -5, "u": 18446744073709551615, "f": 2.0, "n": null, "b": true, "a": [1, [], {}]}"#
    );
    let keys = Value::Map(vec![
        (Value::Int(1), Value::Int(1)),
        (Value::F64(1.5), Value::Int(2)),
        (Value::Bool(false), Value::Int(3)),
        (Value::Nil, Value::Int(4)),
    ]);
    assert_eq!(
        to_json(&keys).unwrap(),
        r#"{"1": 1, "1.5": 2, "false": 3, "null": 4}"#
    );
    assert_eq!(
        to_json(&Value::map([("x", Value::Bin(vec![1]))])),
        Err(JsonError::Bytes)
    );
    assert_eq!(
        to_json(&Value::Map(vec![(Value::Array(vec![]), Value::Nil)])),
        Err(JsonError::Key("array"))
    );
}

#[test]
fn loads_matches_python() {
    let value = from_json(
        " {\"a\": 1, \"b\": 1.0, \"c\": 1e2, \"d\": -0, \"e\": -0.0, \"f\": [true, false, null],\
         \"g\": \"\\u00e9\\ud83d\\ude00\\/\", \"a\": 2, \"h\": NaN, \"i\": -Infinity,\
         \"j\": 18446744073709551615, \"k\": -9223372036854775808, \"l\": 1E400} \n",
    )
    .unwrap();
    let Value::Map(entries) = &value else {
        panic!()
    };
    let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]
    );
    assert_eq!(value.get("a"), Some(&Value::Int(2)));
    assert_eq!(value.get("b"), Some(&Value::F64(1.0)));
    assert_eq!(value.get("c"), Some(&Value::F64(100.0)));
    assert_eq!(value.get("d"), Some(&Value::Int(0)));
    assert!(value.get("e").unwrap().as_f64().unwrap().is_sign_negative());
    assert_eq!(value.get("g"), Some(&Value::Str("é😀/".into())));
    assert!(value.get("h").unwrap().as_f64().unwrap().is_nan());
    assert_eq!(value.get("j"), Some(&Value::UInt(u64::MAX)));
    assert_eq!(value.get("k"), Some(&Value::Int(i64::MIN)));
    assert_eq!(value.get("l"), Some(&Value::F64(f64::INFINITY)));
}

#[test]
fn loads_rejects_what_python_rejects() {
    for bad in [
        "",
        "{",
        "{\"a\" 1}",
        "{'a': 1}",
        "[1,]",
        "{\"a\": 1,}",
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "\"\\x\"",
        "\"a\nb\"",
        "nul",
        "[1] x",
        "\u{feff}{}",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"abc",
        "Infinityx",
        "-",
        "\"\\u12\"",
    ] {
        assert!(from_json(bad).is_err(), "{bad:?} should fail");
    }
    assert_eq!(
        from_json("18446744073709551616"),
        Err(JsonError::IntegerRange { position: 0 })
    );
    assert_eq!(
        from_json("-9223372036854775809"),
        Err(JsonError::IntegerRange { position: 0 })
    );
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert_eq!(from_json(&deep), Err(JsonError::TooDeep));
    let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(from_json(&ok).is_ok());
}

proptest::proptest! {
    #[test]
    fn floats_round_trip(bits in proptest::num::u64::ANY) {
        let v = f64::from_bits(bits);
        let text = float_repr(v);
        let back = from_json(&text).unwrap();
        let back = back.as_f64().unwrap();
        proptest::prop_assert!(back == v || (back.is_nan() && v.is_nan()), "{} {}", text, v);
    }

    #[test]
    fn strings_round_trip(s in "\\PC*") {
        let text = to_json(&Value::Str(s.clone())).unwrap();
        proptest::prop_assert!(text.is_ascii());
        proptest::prop_assert_eq!(from_json(&text).unwrap(), Value::Str(s));
    }

    #[test]
    fn loads_never_panics(s in "[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ ]{0,40}") {
        let _ = from_json(&s);
    }
}

#[test]
fn repeated_keys_merge_as_a_python_dict_does() {
    // msgpack.unpackb(b'\x83\xa1a\x01\xa1b\x02\xa1a\x03') == {'a': 3, 'b': 2}
    let value = Value::Map(vec![
        (Value::from("a"), Value::Int(1)),
        (Value::from("b"), Value::Int(2)),
        (Value::from("a"), Value::Int(3)),
        // json.dumps({1: 'x', '1': 'y'}) == '{"1": "x", "1": "y"}'
        (Value::Int(1), Value::from("x")),
        (Value::from("1"), Value::from("y")),
    ]);
    assert_eq!(
        to_json(&value).unwrap(),
        r#"{"a": 3, "b": 2, "1": "x", "1": "y"}"#
    );
    // Many keys take the hashed path; same answer.
    let many: Vec<(Value, Value)> = (0..40)
        .map(|i| (Value::Str(format!("k{}", i % 20)), Value::Int(i)))
        .collect();
    let text = to_json(&Value::Map(many)).unwrap();
    assert!(text.starts_with(r#"{"k0": 20, "k1": 21"#), "{text}");
    assert_eq!(text.matches("\"k").count(), 20);
}

#[test]
fn browser_options_write_what_json_parse_reads() {
    let value = Value::Map(vec![
        (Value::from("bin"), Value::Bin(vec![0x00, 0xff])),
        (Value::from("nan"), Value::F64(f64::NAN)),
        (Value::from("inf"), Value::F32(f32::INFINITY)),
        (Value::Int(7), Value::from("int key")),
        (Value::Nil, Value::Bool(false)),
        (Value::Bool(true), Value::Int(1)),
        (Value::from("dup"), Value::Int(1)),
        (Value::from("dup"), Value::Int(2)),
        (Value::from("s"), Value::from("é\n\u{7f}")),
        (Value::from("f"), Value::F64(1e16)),
    ]);
    assert_eq!(
        to_json_with(&value, &JsonOptions::BROWSER).unwrap(),
        "{\"bin\":\"00ff\",\"nan\":null,\"inf\":null,\"7\":\"int key\",\"null\":false,\
         \"true\":1,\"dup\":2,\"s\":\"é\\n\u{7f}\",\"f\":1e+16}"
    );
    // Each difference is its own option.
    let words = JsonOptions {
        non_finite: NonFinite::Python,
        ..JsonOptions::BROWSER
    };
    let nan = Value::map([("x", Value::F64(f64::NAN))]);
    assert_eq!(to_json_with(&nan, &words).unwrap(), r#"{"x":NaN}"#);
    let hex = JsonOptions {
        bytes: BytesAs::Hex,
        ..JsonOptions::PYTHON
    };
    let bin = Value::map([("x", Value::Bin(vec![0xab]))]);
    assert_eq!(to_json_with(&bin, &hex).unwrap(), r#"{"x": "ab"}"#);
}

#[test]
fn the_browser_layout_is_serde_jsons() {
    let value = Value::map([
        ("f", Value::F64(0.1)),
        ("g", Value::F32(1.5)),
        (
            "a",
            Value::Array(vec![Value::Int(-1), Value::UInt(u64::MAX)]),
        ),
        ("s", Value::from("a\"b\\c\u{1}😀")),
    ]);
    let json = serde_json::json!({
        "f": 0.1, "g": 1.5, "a": [-1, u64::MAX], "s": "a\"b\\c\u{1}😀"
    });
    assert_eq!(
        to_json_with(&value, &JsonOptions::BROWSER).unwrap(),
        json.to_string()
    );
}

#[test]
fn serde_trees_become_payload_values() {
    let json: serde_json::Value = serde_json::from_str(
        r#"{"z":1,"a":-2,"f":2.5,"big":18446744073709551615,"n":null,"l":[true,{}]}"#,
    )
    .unwrap();
    let value = from_serde(&json).unwrap();
    assert_eq!(
        value,
        Value::Map(vec![
            (Value::from("z"), Value::Int(1)),
            (Value::from("a"), Value::Int(-2)),
            (Value::from("f"), Value::F64(2.5)),
            (Value::from("big"), Value::UInt(u64::MAX)),
            (Value::from("n"), Value::Nil),
            (
                Value::from("l"),
                Value::Array(vec![Value::Bool(true), Value::Map(vec![])])
            ),
        ])
    );
    let deep: serde_json::Value =
        serde_json::from_str(&format!("{}1{}", "[".repeat(40), "]".repeat(40))).unwrap();
    assert_eq!(from_serde(&deep), Err(JsonError::TooDeep));
    assert_eq!(depth(&serde_json::json!(1)), 0);
    assert_eq!(depth(&serde_json::json!({"a": [1, {"b": 2}]})), 3);
}
