//! Banyan payloads (msgpack maps) ⇄ JSON for browsers, the conversion Python's
//! `ws_gateway.py` does with `json.loads` + `msgpack.packb` one way and `msgpack.unpackb` +
//! `json.dumps` the other — through the project's one converter, [`banyan_host::json`].
//!
//! # msgpack → JSON
//! [`banyan_host::json`] with [`JsonOptions::BROWSER`]: nil, bools, integers, strings,
//! arrays and maps map to their JSON twins; map entries keep their wire order (Python's dict
//! order), a repeated key keeps its first position and its last value. The web side's
//! documented differences from Python's `json.dumps` are that option set: NaN and ±infinity
//! become `null` (a browser's `JSON.parse` rejects Python's `NaN`/`Infinity`), byte strings
//! become lower-case hex strings (`"00ff"`; Python's gateway drops such a message with an
//! exception), the layout is compact. Map keys that are not strings are written as JSON text
//! (`1` → `"1"`, `true` → `"true"`, nil → `"null"`), as Python does for int, bool and None
//! keys.
//!
//! # JSON → msgpack
//! Browsers' text is parsed by serde_json (strict JSON, errors with line and column) and
//! converted by [`banyan_host::json::from_serde`]. The text must be one JSON object (a Banyan
//! payload is a map); integers stay integers (smallest msgpack encoding), other numbers become
//! float 64, key order is kept — the bytes equal Python's
//! `msgpack.packb(json.loads(text), use_bin_type=True)`. Nesting deeper than
//! [`banyan_proto::payload::MAX_DEPTH`] is refused, because no Banyan receiver decodes it.

use banyan_host::json::{self as convert, JsonOptions};
use banyan_proto::payload::{self, MAX_DEPTH, Value};
use serde_json::Value as Json;

use crate::error::JsonError;

pub use banyan_host::json::depth;

/// Decodes a Banyan payload.
pub fn payload_value(payload: &[u8]) -> Result<Value, JsonError> {
    payload::from_slice(payload).map_err(JsonError::Payload)
}

/// A decoded payload as the JSON text browsers get (see the module docs).
pub fn value_to_text(value: &Value) -> String {
    // The browser options refuse nothing: bytes become hex, any key becomes text.
    convert::to_json_with(value, &JsonOptions::BROWSER).unwrap_or_else(|error| {
        tracing::warn!(%error, "payload not writable as JSON");
        "null".to_owned()
    })
}

/// Decodes a Banyan payload and writes it as the JSON text browsers get.
pub fn payload_to_text(payload: &[u8]) -> Result<String, JsonError> {
    Ok(value_to_text(&payload_value(payload)?))
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
    let value = convert::from_serde(json).map_err(|_| JsonError::TooDeep { max: MAX_DEPTH })?;
    payload::to_vec(&value).map_err(JsonError::Payload)
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
        assert_eq!(payload_to_text(&bytes).expect("decodes"), text);
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
        assert_eq!(
            payload_to_text(&bytes).expect("decodes"),
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
            payload_to_text(&[0x92, 0x01, 0x02]),
            Err(JsonError::Payload(_))
        ));
        assert!(matches!(
            payload_to_text(&[0xc1]),
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
