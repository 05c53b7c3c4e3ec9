//! Golden payloads shared by `payload_golden.rs` and `payload_golden_value.rs`: the file
//! written by `golden/gen_payloads.py` and the Rust value of each parametrised case.
#![allow(dead_code)]

pub const GOLDEN: &str = include_str!("../../golden/payloads.txt");

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// `(name, bytes)` in file order.
pub fn golden() -> Vec<(&'static str, Vec<u8>)> {
    GOLDEN
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, h) = l.split_once(' ').expect("`name hex` line");
            (name, hex(h.trim()))
        })
        .collect()
}

pub fn golden_bytes(name: &str) -> Vec<u8> {
    golden()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no golden payload {name}"))
        .1
}

pub fn hexs(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn int_value(name: &str) -> Option<i128> {
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

pub fn float_value(name: &str) -> Option<f64> {
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

pub fn str_value(name: &str) -> Option<String> {
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

pub fn bin_value(name: &str) -> Option<Vec<u8>> {
    Some(match name.strip_prefix("bin_")? {
        "empty" => vec![],
        "small" => return None,
        "255" => (0..=254).collect(),
        "256" => (0..=255).collect(),
        other => panic!("unknown bin case {other}"),
    })
}
