//! Banyan payloads (msgpack maps) ⇄ JSON, the conversion Python's `ws_gateway.py` does with
//! `json.loads` + `msgpack.packb` one way and `msgpack.unpackb` + `json.dumps` the other.
//!
//! # msgpack → JSON
//! - nil, bools, integers, strings, arrays and maps map to their JSON twins; map entries keep
//!   their wire order (Python's dict order), a repeated key keeps its first position and its
//!   last value (as a Python dict built from the map).
//! - Floats: finite ones are JSON numbers; NaN and ±infinity, which JSON cannot hold, become
//!   `null` (Python's `json.dumps` would write the non-JSON words `NaN`/`Infinity`, which a
//!   browser's `JSON.parse` rejects).
//! - Byte strings become lower-case hex strings (`"00ff"`): Python's `json.dumps` cannot
//!   encode bytes at all (its gateway drops the message with an exception).
//! - Map keys that are not strings are written as JSON text (`1` → `"1"`, `true` → `"true"`,
//!   nil → `"null"`), as Python's `json.dumps` does for int, bool and None keys.
//!
//! # JSON → msgpack
//! The text must be one JSON object (a Banyan payload is a map); integers stay integers
//! (smallest msgpack encoding), other numbers become float 64, key order is kept — the bytes
//! equal Python's `msgpack.packb(json.loads(text), use_bin_type=True)`. Nesting deeper than
//! [`banyan_proto::payload::MAX_DEPTH`] is refused, because no Banyan receiver decodes it.

use banyan_proto::payload::{self, MAX_DEPTH, Value};
use serde_json::{Map, Number, Value as Json};

use crate::error::JsonError;

/// Decodes a Banyan payload and converts it to JSON (see the module docs).
pub fn payload_to_json(payload: &[u8]) -> Result<Json, JsonError> {
    let value: Value = payload::from_slice(payload).map_err(JsonError::Payload)?;
    Ok(value_to_json(&value))
}

/// Converts a decoded msgpack value to JSON (see the module docs).
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(v) => Json::Number((*v).into()),
        Value::UInt(v) => Json::Number((*v).into()),
        Value::F32(v) => float(f64::from(*v)),
        Value::F64(v) => float(*v),
        Value::Str(s) => Json::String(s.clone()),
        Value::Bin(bytes) => Json::String(banyan_host::hex(bytes)),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (key, value) in entries {
                map.insert(key_text(key), value_to_json(value));
            }
            Json::Object(map)
        }
    }
}

fn float(v: f64) -> Json {
    Number::from_f64(v).map_or(Json::Null, Json::Number)
}

/// A map key as a JSON object key.
fn key_text(key: &Value) -> String {
    match key {
        Value::Str(s) => s.clone(),
        other => value_to_json(other).to_string(),
    }
}

/// Parses `text` as one JSON object and encodes it as a Banyan payload.
pub fn json_to_payload(text: &str) -> Result<Vec<u8>, JsonError> {
    let json: Json = serde_json::from_str(text).map_err(|error| JsonError::NotJson {
        line: error.line(),
        column: error.column(),
        reason: error.to_string(),
    })?;
    object_to_payload(&json)
}

/// Encodes an already parsed JSON value, which must be an object, as a Banyan payload.
pub fn object_to_payload(json: &Json) -> Result<Vec<u8>, JsonError> {
    if !json.is_object() {
        return Err(JsonError::NotAnObject {
            found: kind_name(json),
        });
    }
    if depth(json) > MAX_DEPTH {
        return Err(JsonError::TooDeep { max: MAX_DEPTH });
    }
    payload::to_vec(json).map_err(JsonError::Payload)
}

/// Nesting depth of arrays and objects (a scalar is 0, `{}` is 1), without recursion.
pub fn depth(json: &Json) -> usize {
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

/// The JSON kind of `json`, for error messages.
pub fn kind_name(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_bytes_for_a_page_command() {
        // msgpack.packb(json.loads('{"command": "digital_write", "pin": 2, "value": 1}'),
        //               use_bin_type=True)
        let bytes = json_to_payload(r#"{"command": "digital_write", "pin": 2, "value": 1}"#)
            .expect("encodes");
        assert_eq!(bytes, banyan_testkit::GOLDEN_DIGITAL_WRITE);
    }

    #[test]
    fn key_order_numbers_and_nesting_survive_a_round_trip() {
        let text = r#"{"z":1,"a":-2,"f":2.5,"big":18446744073709551615,"n":null,"t":true,"s":"é","l":[1,{"k":[]}]}"#;
        let bytes = json_to_payload(text).expect("encodes");
        let back = payload_to_json(&bytes).expect("decodes");
        assert_eq!(back.to_string(), text);
    }

    #[test]
    fn msgpack_only_values_become_json() {
        let value = Value::Map(vec![
            (Value::from("bin"), Value::Bin(vec![0x00, 0xff])),
            (Value::from("nan"), Value::F64(f64::NAN)),
            (Value::from("inf"), Value::F32(f32::INFINITY)),
            (Value::Int(7), Value::from("int key")),
            (Value::Nil, Value::Bool(false)),
            (Value::Bool(true), Value::Int(1)),
            (Value::from("dup"), Value::Int(1)),
            (Value::from("dup"), Value::Int(2)),
        ]);
        let bytes = payload::to_vec(&value).expect("encodes");
        let json = payload_to_json(&bytes).expect("decodes");
        assert_eq!(
            json.to_string(),
            r#"{"bin":"00ff","nan":null,"inf":null,"7":"int key","null":false,"true":1,"dup":2}"#
        );
    }

    #[test]
    fn refusals_are_typed() {
        assert!(matches!(
            json_to_payload("not json"),
            Err(JsonError::NotJson { line: 1, .. })
        ));
        assert!(matches!(
            json_to_payload("[1, 2]"),
            Err(JsonError::NotAnObject { found: "an array" })
        ));
        assert!(matches!(
            json_to_payload("\"text\""),
            Err(JsonError::NotAnObject { found: "a string" })
        ));
        let deep = format!(
            "{}{}",
            r#"{"a":"#.repeat(40),
            "1".to_owned() + &"}".repeat(40)
        );
        assert!(matches!(
            json_to_payload(&deep),
            Err(JsonError::TooDeep { max: MAX_DEPTH })
        ));
        // serde_json's own recursion limit holds for hostile nesting.
        let hostile = "[".repeat(100_000);
        assert!(matches!(
            json_to_payload(&hostile),
            Err(JsonError::NotJson { .. })
        ));
        assert!(matches!(
            payload_to_json(&[0x92, 0x01, 0x02]),
            Err(JsonError::Payload(_))
        ));
        assert!(matches!(
            payload_to_json(&[0xc1]),
            Err(JsonError::Payload(_))
        ));
    }

    #[test]
    fn depth_counts_levels() {
        assert_eq!(depth(&serde_json::json!(1)), 0);
        assert_eq!(depth(&serde_json::json!({})), 1);
        assert_eq!(depth(&serde_json::json!({"a": [1, {"b": 2}]})), 3);
    }
}
