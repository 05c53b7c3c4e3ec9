//! The WebSocket gateway protocol of Python Banyan's `ws_gateway.py`, sans-IO.
//!
//! One [`Session`] per browser connection turns each WebSocket message into an [`Action`];
//! [`bus_to_client`] turns a backplane payload into the text sent to the browser. The I/O
//! around them lives in [`crate::server`].
//!
//! # The protocol (as python-banyan 3.17's `projects/OneGPIO/shared/ws_gateway.py`)
//! 1. The page's first message is a JSON object with an `id`, e.g. `{"id": "to_rpi_gateway"}`.
//!    The id is the topic the page publishes on; the gateway subscribes the page to the id
//!    with `to` replaced by `from` ([`reply_topic`]: `from_rpi_gateway`). The id message
//!    itself is not published.
//! 2. Every later message (a JSON object) is published on the id topic as a Banyan payload.
//! 3. Every backplane message whose topic *equals* the reply topic (ZeroMQ would also match
//!    longer topics; Python's gateway forwards exact matches only, and so do we) is sent to the
//!    page as JSON text. A numeric `timestamp` field is rewritten as local time
//!    `"%Y-%m-%d %H:%M:%S"` ([`Timestamps::Python`]), as Python's gateway does for the
//!    OneGPIO pages.
//!
//! # Where we differ, on purpose
//! - Bad input is answered with an error frame ([`ErrorFrame`], a JSON object
//!   `{"error": CODE, "detail": TEXT}`) and the connection stays usable; Python's gateway
//!   raises and drops the page. Pages that dispatch on `report` ignore the error frames.
//! - Later messages must be JSON objects (Banyan payloads are maps; Python would publish a
//!   bare list or number, which every Banyan receiver rejects) of at most
//!   `max_message_bytes`.
//! - `to` is replaced once, not everywhere: Python's `str.replace` turns `to_motor` into
//!   `from_mofromr`; ours gives `from_motor`. Ids without `to` are used as they are, as in
//!   Python.
//! - Binary WebSocket messages holding UTF-8 JSON are accepted like text (Python's
//!   `json.loads` accepts bytes too).

use banyan_proto::payload::Value;
use serde_json::Value as Json;

use crate::error::JsonError;
use crate::json;

/// Default largest client message accepted, in bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Longest id (publish topic) accepted, in bytes.
pub const MAX_ID_BYTES: usize = 1024;

/// The topic a page with id `id` receives on: the first `to` replaced by `from`.
///
/// ```
/// use banyan_web::session::reply_topic;
/// assert_eq!(reply_topic("to_rpi_gateway"), "from_rpi_gateway");
/// assert_eq!(reply_topic("to_motor"), "from_motor");
/// assert_eq!(reply_topic("robot"), "robot");
/// ```
pub fn reply_topic(id: &str) -> String {
    id.replacen("to", "from", 1)
}

/// What kind of input a client sent that could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The message is not JSON.
    NotJson,
    /// The message is JSON but not an object.
    NotAnObject,
    /// The message is larger than the limit.
    TooLarge,
    /// The first message has no usable `id`.
    NoId,
    /// The message nests deeper than Banyan receivers decode.
    TooDeep,
    /// A binary message that is not UTF-8 text.
    NotUtf8,
    /// The object cannot be encoded as msgpack.
    Unencodable,
    /// A monitor command that is not understood.
    BadCommand,
    /// The message could not be handed to the backplane.
    NotPublished,
    /// Messages for this client were dropped because it read too slowly (a notice, sent
    /// once the client caught up).
    Dropped,
}

impl ErrorKind {
    /// The code in the error frame's `error` field.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotJson => "not_json",
            Self::NotAnObject => "not_an_object",
            Self::TooLarge => "too_large",
            Self::NoId => "no_id",
            Self::TooDeep => "too_deep",
            Self::NotUtf8 => "not_utf8",
            Self::Unencodable => "unencodable",
            Self::BadCommand => "bad_command",
            Self::NotPublished => "not_published",
            Self::Dropped => "dropped",
        }
    }
}

/// The reply to unusable input: `{"error": CODE, "detail": TEXT}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    /// What went wrong.
    pub kind: ErrorKind,
    /// A sentence for people.
    pub detail: String,
}

impl ErrorFrame {
    /// A frame of `kind` saying `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::json!({"error": self.kind.code(), "detail": self.detail}).to_string()
    }

    fn from_json_error(error: JsonError) -> Self {
        let kind = match error {
            JsonError::NotJson { .. } => ErrorKind::NotJson,
            JsonError::NotAnObject { .. } => ErrorKind::NotAnObject,
            JsonError::TooDeep { .. } => ErrorKind::TooDeep,
            _ => ErrorKind::Unencodable,
        };
        Self::new(kind, error.to_string())
    }
}

/// What the I/O layer should do with one client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The client identified itself: publish its messages on `publish`, send it the
    /// backplane messages on `subscribe`.
    Join {
        /// The id: the topic the client's messages are published on.
        publish: String,
        /// The topic whose messages are sent to the client.
        subscribe: String,
    },
    /// Publish `payload` (msgpack) on `topic`.
    Publish {
        /// The client's id.
        topic: String,
        /// The encoded Banyan payload.
        payload: Vec<u8>,
    },
    /// Send this error frame back; nothing else happens.
    Reply(ErrorFrame),
}

/// One client connection's protocol state.
#[derive(Debug, Clone)]
pub struct Session {
    max_message_bytes: usize,
    id: Option<String>,
}

impl Session {
    /// A session that has not yet seen its id message; messages above `max_message_bytes`
    /// are refused.
    pub fn new(max_message_bytes: usize) -> Self {
        Self {
            max_message_bytes,
            id: None,
        }
    }

    /// The client's id (its publish topic), once it sent one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Handles a binary message: UTF-8 JSON is accepted as text.
    pub fn on_binary(&mut self, bytes: &[u8]) -> Action {
        if bytes.len() > self.max_message_bytes {
            return self.too_large(bytes.len());
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => self.on_text(text),
            Err(error) => Action::Reply(ErrorFrame::new(
                ErrorKind::NotUtf8,
                format!("binary message is not UTF-8 JSON text: {error}"),
            )),
        }
    }

    /// Handles a text message.
    pub fn on_text(&mut self, text: &str) -> Action {
        if text.len() > self.max_message_bytes {
            return self.too_large(text.len());
        }
        let parsed: Json = match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(error) => {
                return Action::Reply(ErrorFrame::new(
                    ErrorKind::NotJson,
                    format!(
                        "not JSON (line {}, column {}): {error}",
                        error.line(),
                        error.column()
                    ),
                ));
            }
        };
        match &self.id {
            None => self.join(&parsed),
            Some(id) => match json::object_to_payload(&parsed) {
                Ok(payload) => Action::Publish {
                    topic: id.clone(),
                    payload,
                },
                Err(error) => Action::Reply(ErrorFrame::from_json_error(error)),
            },
        }
    }

    fn join(&mut self, parsed: &Json) -> Action {
        let refuse = |detail: String| Action::Reply(ErrorFrame::new(ErrorKind::NoId, detail));
        let id = match parsed.get("id") {
            Some(Json::String(id)) => id,
            Some(other) => {
                return refuse(format!(
                    "\"id\" must be a string (the topic to publish on), not {}",
                    json::kind_name(other)
                ));
            }
            None => {
                return refuse(
                    "the first message must be {\"id\": \"to_NAME\"}: the topic to publish on \
                     (replies come from \"from_NAME\")"
                        .into(),
                );
            }
        };
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            return refuse(format!(
                "\"id\" must be 1 to {MAX_ID_BYTES} bytes long, not {}",
                id.len()
            ));
        }
        self.id = Some(id.clone());
        Action::Join {
            publish: id.clone(),
            subscribe: reply_topic(id),
        }
    }

    fn too_large(&self, len: usize) -> Action {
        Action::Reply(ErrorFrame::new(
            ErrorKind::TooLarge,
            format!(
                "message of {len} bytes is larger than the limit of {} bytes",
                self.max_message_bytes
            ),
        ))
    }
}

/// How `timestamp` fields of backplane messages reach the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timestamps {
    /// As Python's gateway: a numeric `timestamp` (seconds since the epoch) becomes local
    /// time `"%Y-%m-%d %H:%M:%S"`; other values stay as they are.
    #[default]
    Python,
    /// Unchanged.
    Raw,
}

/// The text a client receives for a backplane payload (see the module docs).
pub fn bus_to_client(payload: &[u8], timestamps: Timestamps) -> Result<String, JsonError> {
    let mut value = json::payload_value(payload)?;
    if timestamps == Timestamps::Python
        && let Value::Map(entries) = &mut value
    {
        for (key, slot) in entries.iter_mut() {
            if matches!(key, Value::Str(k) if k == "timestamp")
                && let Some(text) = slot.as_f64().and_then(python_local_time)
            {
                *slot = Value::Str(text);
            }
        }
    }
    Ok(json::value_to_text(&value))
}

/// `datetime.fromtimestamp(seconds).strftime('%Y-%m-%d %H:%M:%S')`: local time, seconds
/// truncated towards the past. `None` outside the representable range.
pub fn python_local_time(seconds: f64) -> Option<String> {
    use chrono::TimeZone;
    if !seconds.is_finite() || seconds.abs() > 1e14 {
        return None;
    }
    // Python rounds to microseconds first, then prints whole seconds.
    let micros = (seconds * 1e6).round() as i64;
    let whole = micros.div_euclid(1_000_000);
    let time = chrono::Local.timestamp_opt(whole, 0).single()?;
    Some(time.format("%Y-%m-%d %H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_kind(action: Action) -> ErrorKind {
        match action {
            Action::Reply(frame) => frame.kind,
            other => panic!("expected an error frame, got {other:?}"),
        }
    }

    #[test]
    fn id_then_payloads() {
        let mut session = Session::new(1024);
        assert_eq!(
            session.on_text(r#"{"id": "to_rpi_gateway"}"#),
            Action::Join {
                publish: "to_rpi_gateway".into(),
                subscribe: "from_rpi_gateway".into()
            }
        );
        assert_eq!(session.id(), Some("to_rpi_gateway"));
        match session.on_text(r#"{"command": "set_mode_digital_input", "pin": 12}"#) {
            Action::Publish { topic, payload } => {
                assert_eq!(topic, "to_rpi_gateway");
                let text = json::payload_to_text(&payload).expect("decodes");
                let json: Json = serde_json::from_str(&text).expect("JSON");
                assert_eq!(json["command"], "set_mode_digital_input");
                assert_eq!(json["pin"], 12);
            }
            other => panic!("expected a publish, got {other:?}"),
        }
        // A later id message is an ordinary payload, as in Python.
        assert!(matches!(
            session.on_text(r#"{"id": "to_other"}"#),
            Action::Publish { topic, .. } if topic == "to_rpi_gateway"
        ));
    }

    #[test]
    fn bad_first_messages_keep_the_session_waiting() {
        let mut session = Session::new(4096);
        assert_eq!(reply_kind(session.on_text("hello")), ErrorKind::NotJson);
        assert_eq!(
            reply_kind(session.on_text(r#"{"name": "x"}"#)),
            ErrorKind::NoId
        );
        assert_eq!(reply_kind(session.on_text(r#"{"id": 5}"#)), ErrorKind::NoId);
        assert_eq!(
            reply_kind(session.on_text(r#"{"id": ""}"#)),
            ErrorKind::NoId
        );
        assert_eq!(reply_kind(session.on_text("[1]")), ErrorKind::NoId);
        let long = format!(r#"{{"id": "{}"}}"#, "t".repeat(MAX_ID_BYTES + 1));
        assert_eq!(reply_kind(session.on_text(&long)), ErrorKind::NoId);
        assert_eq!(session.id(), None);
        assert!(matches!(
            session.on_binary(br#"{"id": "to_x"}"#),
            Action::Join { .. }
        ));
    }

    #[test]
    fn bad_later_messages_are_refused_one_by_one() {
        let mut session = Session::new(64);
        session.on_text(r#"{"id": "to_x"}"#);
        assert_eq!(reply_kind(session.on_text("{")), ErrorKind::NotJson);
        assert_eq!(
            reply_kind(session.on_text("[1, 2]")),
            ErrorKind::NotAnObject
        );
        assert_eq!(reply_kind(session.on_text("42")), ErrorKind::NotAnObject);
        assert_eq!(
            reply_kind(session.on_text(&format!(r#"{{"a": "{}"}}"#, "x".repeat(64)))),
            ErrorKind::TooLarge
        );
        assert_eq!(
            reply_kind(session.on_binary(&[0xff, 0xfe, b'{'])),
            ErrorKind::NotUtf8
        );
        assert_eq!(
            reply_kind(session.on_binary(&[b' '; 65])),
            ErrorKind::TooLarge
        );
        let mut deep = Session::new(4096);
        deep.on_text(r#"{"id": "to_x"}"#);
        let text = format!("{}1{}", r#"{"a":"#.repeat(33), "}".repeat(33));
        assert_eq!(reply_kind(deep.on_text(&text)), ErrorKind::TooDeep);
        assert!(matches!(
            session.on_text(r#"{"ok": 1}"#),
            Action::Publish { .. }
        ));
    }

    #[test]
    fn reply_topic_replaces_the_first_to_only() {
        assert_eq!(reply_topic("to_arduino_gateway"), "from_arduino_gateway");
        assert_eq!(reply_topic("to_esp8266_gateway"), "from_esp8266_gateway");
        assert_eq!(reply_topic("to_motor"), "from_motor");
        assert_eq!(reply_topic("photo"), "phofrom");
        assert_eq!(reply_topic("x"), "x");
    }

    #[test]
    fn error_frames_are_json_objects() {
        let frame = ErrorFrame::new(ErrorKind::NotJson, "a \"quoted\" detail");
        let parsed: Json = serde_json::from_str(&frame.to_json()).expect("JSON");
        assert_eq!(parsed["error"], "not_json");
        assert_eq!(parsed["detail"], "a \"quoted\" detail");
    }

    #[test]
    fn timestamps_become_local_time_text() {
        let payload = banyan_proto::payload::to_vec(&serde_json::json!({
            "report": "digital_input", "pin": 2, "value": 1, "timestamp": 1_700_000_000.75
        }))
        .expect("encodes");
        let text = bus_to_client(&payload, Timestamps::Python).expect("converts");
        let json: Json = serde_json::from_str(&text).expect("JSON");
        let expected = python_local_time(1_700_000_000.0).expect("in range");
        assert_eq!(json["timestamp"], expected.as_str());
        assert_eq!(expected.len(), "2023-11-14 22:13:20".len());
        let raw = bus_to_client(&payload, Timestamps::Raw).expect("converts");
        assert!(raw.contains("1700000000.75"));
        // Not a number: left alone, as nothing sensible can be printed.
        let odd = banyan_proto::payload::to_vec(&serde_json::json!({"timestamp": "now"}))
            .expect("encodes");
        assert_eq!(
            bus_to_client(&odd, Timestamps::Python).expect("converts"),
            r#"{"timestamp":"now"}"#
        );
        assert_eq!(python_local_time(f64::NAN), None);
        assert_eq!(python_local_time(1e300), None);
    }
}
