//! Banyan payloads ⇄ JSON: the one converter of the project, for the MQTT gateway (`mgw`)
//! and the web gateway (`banyan-web`) alike.
//!
//! # Python's `json` module, byte for byte ([`JsonOptions::PYTHON`])
//! Python's `mgw` turns a Banyan payload into MQTT bytes with
//! `json.dumps(msgpack.unpackb(payload)).encode()` and MQTT bytes into a Banyan payload with
//! `msgpack.packb(json.loads(bytes.decode()))`. [`to_json`] and [`from_json`] reproduce that
//! byte for byte (checked against the real Python in `banyan-cli/tests/mqtt.rs`):
//!
//! - separators `", "` and `": "`; keys in payload (insertion) order; a repeated key keeps
//!   its first position and its last value, as the Python dict `unpackb` builds;
//! - `ensure_ascii`: every non-ASCII character as `\uxxxx` (lower-case hex; astral characters
//!   as a surrogate pair), control characters and DEL as `\n`, `\r`, `\t`, `\b`, `\f` or
//!   `\u00xx`; `/` as is;
//! - floats as Python's `repr` (shortest round trip; `1.0`, `1e+16`, `1e-05`, `-0.0`) and the
//!   non-standard `NaN`, `Infinity`, `-Infinity`; a msgpack float 32 is widened to a double
//!   first, as Python does;
//! - map keys that are numbers, booleans or nil become strings as `json.dumps` makes them.
//!
//! Reading ([`from_json`]) follows `json.loads`: the same number grammar (`1` is an int, `1.0`
//! and `1e0` are floats, `01` and `1.` are errors), `NaN`/`Infinity`/`-Infinity` accepted, no
//! control characters inside strings, a repeated key keeps its first position and its last
//! value. Where Python would raise, these functions return an error instead: bytes (msgpack
//! bin) and composite map keys cannot be written; integers outside msgpack's range, lone
//! surrogates and nesting deeper than [`MAX_DEPTH`] cannot be read.
//!
//! # For browsers ([`JsonOptions::BROWSER`])
//! The web gateway's documented differences, each an explicit option: NaN and ±infinity
//! become `null` (a browser's `JSON.parse` rejects Python's words), bytes become lower-case
//! hex strings (`"00ff"`; Python cannot encode bytes at all), composite keys are written as
//! their JSON text, and the layout is serde_json's compact one (no spaces, UTF-8 as is,
//! shortest floats). Browsers' JSON is parsed by serde_json (strict JSON) and turned into a
//! payload value by [`from_serde`].
//!
//! # How
//! Writing walks the [`Value`] once and drives a `serde_json` [`Formatter`]: serde_json's
//! `CompactFormatter` for browsers, [`PythonFormatter`] (separators, `ensure_ascii`, float
//! `repr`) for Python. The walk, not serde's `Serialize`, decides about non-finite floats
//! (serde_json would always write `null`), bytes and keys.
//!
//! [`Formatter`]: serde_json::ser::Formatter

mod read;
mod write;

use banyan_proto::payload::{MAX_DEPTH, Value};

pub use read::from_json;
pub use write::{PythonFormatter, float_repr, hex};

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

/// What NaN and ±infinity become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonFinite {
    /// `NaN`, `Infinity`, `-Infinity`, as Python's `json.dumps` writes them (not JSON).
    Python,
    /// `null`.
    Null,
}

/// What msgpack bin values become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesAs {
    /// An error ([`JsonError::Bytes`]), as Python's `json.dumps` raises.
    Refuse,
    /// A lower-case hex string.
    Hex,
}

/// The text layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Python's `json.dumps` defaults ([`PythonFormatter`]); composite keys are refused,
    /// repeated keys are merged as a Python dict merges them.
    Python,
    /// serde_json's compact layout; composite keys become their JSON text, keys are merged
    /// by their text (as a JavaScript object merges them).
    Compact,
}

/// How [`to_json_with`] writes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    /// NaN and ±infinity.
    pub non_finite: NonFinite,
    /// Bytes.
    pub bytes: BytesAs,
    /// Separators, escaping, floats, keys.
    pub layout: Layout,
}

impl JsonOptions {
    /// Python's `json.dumps`, byte for byte.
    pub const PYTHON: Self = Self {
        non_finite: NonFinite::Python,
        bytes: BytesAs::Refuse,
        layout: Layout::Python,
    };

    /// What the web gateway sends to browsers.
    pub const BROWSER: Self = Self {
        non_finite: NonFinite::Null,
        bytes: BytesAs::Hex,
        layout: Layout::Compact,
    };
}

/// Writes `value` as Python's `json.dumps(value)` would.
pub fn to_json(value: &Value) -> Result<String, JsonError> {
    to_json_with(value, &JsonOptions::PYTHON)
}

/// Writes `value` as `options` say.
pub fn to_json_with(value: &Value, options: &JsonOptions) -> Result<String, JsonError> {
    write::to_string(value, options)
}

/// A JSON tree parsed by serde_json (a browser's message) as a payload value: integers stay
/// integers, other numbers become float 64, key order is kept. Nesting deeper than
/// [`MAX_DEPTH`] is refused, because no Banyan receiver decodes it.
pub fn from_serde(json: &serde_json::Value) -> Result<Value, JsonError> {
    if depth(json) > MAX_DEPTH {
        return Err(JsonError::TooDeep);
    }
    Ok(convert(json))
}

fn convert(json: &serde_json::Value) -> Value {
    use serde_json::Value as Json;
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(v), _) => Value::Int(v),
            (None, Some(v)) => Value::UInt(v),
            (None, None) => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(convert).collect()),
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(key, value)| (Value::Str(key.clone()), convert(value)))
                .collect(),
        ),
    }
}

/// Nesting depth of arrays and objects of a serde_json tree (a scalar is 0, `{}` is 1),
/// without recursion.
pub fn depth(json: &serde_json::Value) -> usize {
    use serde_json::Value as Json;
    let mut deepest = 0;
    let mut stack = vec![(json, 1usize)];
    while let Some((value, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Json>> = match value {
            Json::Array(items) => Box::new(items.iter()),
            Json::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(level);
        stack.extend(children.map(|child| (child, level + 1)));
    }
    deepest
}

#[cfg(test)]
mod tests;
