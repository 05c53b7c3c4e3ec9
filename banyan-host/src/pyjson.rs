//! JSON exactly as Python's `json` module writes and reads it, for the MQTT gateway.
//!
//! Python's `mgw` turns a Banyan payload into MQTT bytes with
//! `json.dumps(msgpack.unpackb(payload)).encode()` and MQTT bytes into a Banyan payload with
//! `msgpack.packb(json.loads(bytes.decode()))`. [`to_json`] and [`from_json`] reproduce that
//! byte for byte (checked against the real Python in `banyan-cli/tests/mqtt.rs`):
//!
//! - separators `", "` and `": "`; keys in payload (insertion) order;
//! - `ensure_ascii`: every non-ASCII character as `\uxxxx` (lower-case hex; astral characters
//!   as a surrogate pair), control characters and DEL as `\n`, `\r`, `\t`, `\b`, `\f` or
//!   `\u00xx`; `/` as is;
//! - floats as Python's `repr` (shortest round trip; `1.0`, `1e+16`, `1e-05`, `-0.0`) and the
//!   non-standard `NaN`, `Infinity`, `-Infinity`; a msgpack float 32 is widened to a double
//!   first, as Python does;
//! - map keys that are numbers, booleans or nil become strings as `json.dumps` makes them.
//!
//! Reading follows `json.loads`: the same number grammar (`1` is an int, `1.0` and `1e0` are
//! floats, `01` and `1.` are errors), `NaN`/`Infinity`/`-Infinity` accepted, no control
//! characters inside strings, a repeated key keeps its first position and its last value.
//!
//! Where Python would raise, these functions return an error instead: bytes (msgpack bin)
//! and composite map keys cannot be written; integers outside msgpack's range, lone
//! surrogates and nesting deeper than [`MAX_DEPTH`] cannot be read.

use std::fmt::Write as _;

use banyan_proto::payload::{MAX_DEPTH, Value};

/// Why a payload cannot become JSON or JSON cannot become a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// A msgpack bin has no JSON form (Python: "Object of type bytes is not JSON
    /// serializable").
    #[error("bytes cannot be written as JSON")]
    Bytes,
    /// A map key is an array, a map or bytes.
    #[error("map key of kind {0} cannot be written as JSON")]
    Key(&'static str),
    /// The text is not JSON; `position` is the 0-based character offset.
    #[error("invalid JSON at character {position}: {reason}")]
    Syntax {
        /// Character offset of the problem.
        position: usize,
        /// What was expected.
        reason: &'static str,
    },
    /// An integer outside msgpack's range (`-2^63 ..= 2^64-1`).
    #[error("integer at character {position} is out of msgpack's range")]
    IntegerRange {
        /// Character offset of the number.
        position: usize,
    },
    /// Arrays/maps nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Writes `value` as Python's `json.dumps(value)` would.
pub fn to_json(value: &Value) -> Result<String, JsonError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), JsonError> {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Value::UInt(v) => {
            let _ = write!(out, "{v}");
        }
        Value::F32(v) => out.push_str(&float_repr(f64::from(*v))),
        Value::F64(v) => out.push_str(&float_repr(*v)),
        Value::Str(s) => write_string(s, out),
        Value::Bin(_) => return Err(JsonError::Bytes),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                let key = match key {
                    Value::Str(s) => s.clone(),
                    Value::Nil => "null".into(),
                    Value::Bool(b) => b.to_string(),
                    Value::Int(v) => v.to_string(),
                    Value::UInt(v) => v.to_string(),
                    Value::F32(v) => float_repr(f64::from(*v)),
                    Value::F64(v) => float_repr(*v),
                    Value::Bin(_) => return Err(JsonError::Key("bytes")),
                    Value::Array(_) => return Err(JsonError::Key("array")),
                    Value::Map(_) => return Err(JsonError::Key("map")),
                };
                write_string(&key, out);
                out.push_str(": ");
                write_value(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A JSON string literal with Python's `ensure_ascii` escaping.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, fixed notation for decimal
/// exponents from -4 to 15, else `d.ddde±XX`; `NaN`/`Infinity` as `json.dumps` writes them.
pub fn float_repr(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e16", "0e0".
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Position of the decimal point relative to the digits (Python's `decpt`).
    let decpt = exponent + 1;
    let mut out = String::from(sign);
    if (-3..=16).contains(&decpt) {
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = decpt as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
    }
    out
}

/// Reads JSON text as Python's `json.loads` does (see the module docs).
pub fn from_json(text: &str) -> Result<Value, JsonError> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser {
        chars: &chars,
        pos: 0,
    };
    if chars.first() == Some(&'\u{feff}') {
        return Err(parser.error("unexpected UTF-8 BOM"));
    }
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != chars.len() {
        return Err(parser.error("extra data after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError::Syntax {
            position: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        let n = word.chars().count();
        let matches = self
            .chars
            .get(self.pos..self.pos + n)
            .is_some_and(|slice| slice.iter().copied().eq(word.chars()));
        if matches {
            self.pos += n;
        }
        matches
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some('"') => Ok(Value::Str(self.string()?)),
            Some('{') => self.object(depth + 1),
            Some('[') => self.array(depth + 1),
            Some('n') if self.eat("null") => Ok(Value::Nil),
            Some('t') if self.eat("true") => Ok(Value::Bool(true)),
            Some('f') if self.eat("false") => Ok(Value::Bool(false)),
            Some('N') if self.eat("NaN") => Ok(Value::F64(f64::NAN)),
            Some('I') if self.eat("Infinity") => Ok(Value::F64(f64::INFINITY)),
            Some('-') if self.eat("-Infinity") => Ok(Value::F64(f64::NEG_INFINITY)),
            Some('-' | '0'..='9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.pos += 1; // '{'
        let mut entries: Vec<(Value, Value)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(Value::Map(entries));
        }
        loop {
            if self.peek() != Some('"') {
                return Err(self.error("expected a property name in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            // Python's dict: a repeated key keeps its place and takes the new value.
            match entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(key.as_str()))
            {
                Some(entry) => entry.1 = value,
                None => entries.push((Value::Str(key), value)),
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some('}') => {
                    self.pos += 1;
                    return Ok(Value::Map(entries));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("invalid \\uXXXX escape"))?;
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(escape) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    match escape {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let unit = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&unit) && self.eat("\\u") {
                                let start = self.pos;
                                let low = self.hex4()?;
                                if (0xdc00..0xe000).contains(&low) {
                                    0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                                } else {
                                    self.pos = start;
                                    return Err(self.error(
                                        "lone surrogate (cannot be packed as msgpack str)",
                                    ));
                                }
                            } else {
                                unit
                            };
                            out.push(char::from_u32(code).ok_or_else(|| {
                                self.error("lone surrogate (cannot be packed as msgpack str)")
                            })?);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    }
                }
                c if (c as u32) < 0x20 => {
                    self.pos -= 1;
                    return Err(self.error("control character in a string"));
                }
                c => out.push(c),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        match self.peek() {
            Some('0') => self.pos += 1,
            Some('1'..='9') => {
                while matches!(self.peek(), Some('0'..='9')) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.error("expected a value")),
        }
        let mut float = false;
        if self.peek() == Some('.') && matches!(self.chars.get(self.pos + 1), Some('0'..='9')) {
            float = true;
            self.pos += 1;
            while matches!(self.peek(), Some('0'..='9')) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if matches!(self.peek(), Some('0'..='9')) {
                float = true;
                while matches!(self.peek(), Some('0'..='9')) {
                    self.pos += 1;
                }
            } else {
                // Python's regex backs off: "1e" reads 1, then fails on extra data.
                self.pos = mark;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if float {
            // Rust's parser rounds correctly, as Python's float(); overflow gives ±inf too.
            text.parse::<f64>()
                .map(Value::F64)
                .map_err(|_| self.error("invalid number"))
        } else if let Ok(v) = text.parse::<i64>() {
            Ok(Value::Int(v))
        } else if let Ok(v) = text.parse::<u64>() {
            Ok(Value::UInt(v))
        } else {
            Err(JsonError::IntegerRange { position: start })
        }
    }
}

#[cfg(test)]
mod tests {
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
}
