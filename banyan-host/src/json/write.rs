//! Writing: one walk over a [`Value`] driving a serde_json [`Formatter`] (see the module
//! docs), and [`PythonFormatter`], the formatter of Python's `json.dumps`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use banyan_proto::payload::Value;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

use super::{BytesAs, JsonError, JsonOptions, Layout, NonFinite};

/// Python's `json.dumps` defaults as a serde_json formatter: `", "` and `": "` separators,
/// `ensure_ascii` (everything outside `' '..='~'` as `\uxxxx`, astral characters as a
/// surrogate pair) and floats as Python's `repr` ([`float_repr`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        // Python widens a msgpack float 32 to a double.
        self.write_f64(writer, f64::from(value))
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(float_repr(value).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (index, c) in fragment.char_indices() {
            if matches!(c, ' '..='~') {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = index + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
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

/// Writes `value` as `options` say.
pub(super) fn to_string(value: &Value, options: &JsonOptions) -> Result<String, JsonError> {
    let mut out = Vec::new();
    match options.layout {
        Layout::Python => Walk {
            formatter: PythonFormatter,
            options,
        }
        .value(value, &mut out)?,
        Layout::Compact => Walk {
            formatter: CompactFormatter,
            options,
        }
        .value(value, &mut out)?,
    }
    // Both formatters write UTF-8 only.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
}

/// Maps with more entries than this merge repeated keys through a hash map, smaller ones by
/// a scan.
const SCAN_MERGE_MAX: usize = 16;

/// One walk over a value (payloads nest at most `MAX_DEPTH` deep: the recursion is bounded).
struct Walk<'o, F> {
    formatter: F,
    options: &'o JsonOptions,
}

/// Writing into a `Vec` cannot fail.
fn infallible(result: io::Result<()>) {
    debug_assert!(result.is_ok());
}

impl<F: Formatter> Walk<'_, F> {
    fn value(&mut self, value: &Value, out: &mut Vec<u8>) -> Result<(), JsonError> {
        let f = &mut self.formatter;
        match value {
            Value::Nil => infallible(f.write_null(out)),
            Value::Bool(b) => infallible(f.write_bool(out, *b)),
            Value::Int(v) => infallible(f.write_i64(out, *v)),
            Value::UInt(v) => infallible(f.write_u64(out, *v)),
            Value::F32(v) => self.float(f64::from(*v), out),
            Value::F64(v) => self.float(*v, out),
            Value::Str(s) => self.string(s, out),
            Value::Bin(bytes) => match self.options.bytes {
                BytesAs::Refuse => return Err(JsonError::Bytes),
                BytesAs::Hex => self.string(&hex(bytes), out),
            },
            Value::Array(items) => {
                infallible(f.begin_array(out));
                for (index, item) in items.iter().enumerate() {
                    infallible(self.formatter.begin_array_value(out, index == 0));
                    self.value(item, out)?;
                    infallible(self.formatter.end_array_value(out));
                }
                infallible(self.formatter.end_array(out));
            }
            Value::Map(entries) => {
                let entries = self.merged(entries)?;
                infallible(self.formatter.begin_object(out));
                for (index, (key, item)) in entries.iter().enumerate() {
                    infallible(self.formatter.begin_object_key(out, index == 0));
                    self.string(key, out);
                    infallible(self.formatter.end_object_key(out));
                    infallible(self.formatter.begin_object_value(out));
                    self.value(item, out)?;
                    infallible(self.formatter.end_object_value(out));
                }
                infallible(self.formatter.end_object(out));
            }
        }
        Ok(())
    }

    fn float(&mut self, v: f64, out: &mut Vec<u8>) {
        let f = &mut self.formatter;
        infallible(match (v.is_finite(), self.options.non_finite) {
            (true, _) => f.write_f64(out, v),
            (false, NonFinite::Null) => f.write_null(out),
            (false, NonFinite::Python) => f.write_raw_fragment(out, &float_repr(v)),
        });
    }

    /// A string literal: JSON's mandatory escapes here, the rest is the formatter's.
    fn string(&mut self, s: &str, out: &mut Vec<u8>) {
        let f = &mut self.formatter;
        infallible(f.begin_string(out));
        let mut start = 0;
        for (index, byte) in s.bytes().enumerate() {
            let escape = match byte {
                b'"' => CharEscape::Quote,
                b'\\' => CharEscape::ReverseSolidus,
                0x08 => CharEscape::Backspace,
                0x0c => CharEscape::FormFeed,
                b'\n' => CharEscape::LineFeed,
                b'\r' => CharEscape::CarriageReturn,
                b'\t' => CharEscape::Tab,
                0x00..=0x1f => CharEscape::AsciiControl(byte),
                _ => continue,
            };
            // An ASCII byte is always a character boundary.
            if start < index {
                infallible(f.write_string_fragment(out, &s[start..index]));
            }
            infallible(f.write_char_escape(out, escape));
            start = index + 1;
        }
        if start < s.len() {
            infallible(f.write_string_fragment(out, &s[start..]));
        }
        infallible(f.end_string(out));
    }

    /// A map key's text (see [`Layout`]).
    fn key_text(&self, key: &Value) -> Result<String, JsonError> {
        Ok(match (key, self.options.layout) {
            (Value::Str(s), _) => s.clone(),
            (Value::Nil, Layout::Python) => "null".into(),
            (Value::Bool(b), Layout::Python) => b.to_string(),
            (Value::Int(v), Layout::Python) => v.to_string(),
            (Value::UInt(v), Layout::Python) => v.to_string(),
            (Value::F32(v), Layout::Python) => float_repr(f64::from(*v)),
            (Value::F64(v), Layout::Python) => float_repr(*v),
            (Value::Bin(_), Layout::Python) => return Err(JsonError::Key("bytes")),
            (Value::Array(_), Layout::Python) => return Err(JsonError::Key("array")),
            (Value::Map(_), Layout::Python) => return Err(JsonError::Key("map")),
            (other, Layout::Compact) => to_string(other, self.options)?,
        })
    }

    /// The entries with repeated keys merged: first position, last value (a Python dict
    /// merges equal strings, and equal non-strings by their text; a JavaScript object merges
    /// equal texts).
    fn merged<'v>(
        &self,
        entries: &'v [(Value, Value)],
    ) -> Result<Vec<(String, &'v Value)>, JsonError> {
        let mut merged: Vec<(String, &Value)> = Vec::with_capacity(entries.len());
        let mut kinds: Vec<bool> = Vec::with_capacity(entries.len());
        let mut index: HashMap<(bool, String), usize> = HashMap::new();
        for (key, value) in entries {
            let text = self.key_text(key)?;
            let is_str = self.options.layout == Layout::Compact || matches!(key, Value::Str(_));
            let found = if entries.len() <= SCAN_MERGE_MAX {
                merged
                    .iter()
                    .zip(&kinds)
                    .position(|((seen, _), &kind)| kind == is_str && *seen == text)
            } else {
                index.get(&(is_str, text.clone())).copied()
            };
            match found {
                Some(at) => merged[at].1 = value,
                None => {
                    if entries.len() > SCAN_MERGE_MAX {
                        index.insert((is_str, text.clone()), merged.len());
                    }
                    merged.push((text, value));
                    kinds.push(is_str);
                }
            }
        }
        Ok(merged)
    }
}

/// Lower-case hex of `bytes` (`"00ff"`): how the browser JSON writes bytes
/// ([`BytesAs::Hex`]), and how logs and the monitor show payloads they cannot render
/// otherwise.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
