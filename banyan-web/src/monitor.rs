//! The monitor page's command protocol, sans-IO (the page's side of `/monitor/ws`; the
//! Python-compatible gateway's protocol is [`crate::session`]). The server reads a text
//! frame, calls [`decide`], carries out the [`Step`] on the bus and sends the [`Reply`]'s JSON.
//!
//! ```text
//!  {"op": "history", "topic": T}                 → {"type": "history", "topic": T, ...}
//!  {"op": "publish", "topic": T, "payload": {…}} → {"type": "published", "topic": T, "size": N}
//!  anything unusable                             → {"type": "error", "error": CODE, "detail": TEXT}
//! ```
//!
//! Commands are a serde-tagged enum ([`Command`], tag `op`); replies one too ([`Reply`], tag
//! `type`). A text that is not JSON is `not_json`; JSON of another shape (unknown `op`, no
//! `topic`) is `bad_command`.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error::JsonError;
use crate::json::object_to_payload;
use crate::session::{ErrorKind, MAX_ID_BYTES};
use crate::stats::History;

/// A command of a monitor page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// The per-second history of `topic`.
    History {
        /// The topic.
        topic: String,
    },
    /// Publish `payload` (a JSON object) on `topic`.
    Publish {
        /// The topic.
        topic: String,
        /// The payload; missing is an error of its own.
        #[serde(default)]
        payload: Option<Json>,
    },
}

/// What the server does for a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Look up the history of this topic, then answer with [`Reply::history`].
    History(String),
    /// Publish these payload bytes on this topic, then answer with [`Reply::published`] or
    /// [`Reply::not_published`].
    Publish {
        /// The topic.
        topic: String,
        /// The encoded Banyan payload.
        payload: Vec<u8>,
    },
    /// Answer at once (the command was unusable).
    Reply(Reply),
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The history of a topic.
    History(History),
    /// A payload was handed to the backplane.
    Published {
        /// The topic.
        topic: String,
        /// The payload's size in bytes.
        size: usize,
    },
    /// The command could not be carried out.
    Error {
        /// The code ([`ErrorKind::code`]).
        error: &'static str,
        /// A sentence for people.
        detail: String,
    },
}

impl Reply {
    /// An error reply of `kind`.
    pub fn error(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self::Error {
            error: kind.code(),
            detail: detail.into(),
        }
    }

    /// The answer to [`Step::History`]: the history, or `bad_command` for a topic not tracked.
    pub fn history(topic: &str, history: Option<History>) -> Self {
        match history {
            Some(history) => Self::History(history),
            None => Self::error(
                ErrorKind::BadCommand,
                format!("topic {topic:?} is not tracked"),
            ),
        }
    }

    /// The answer to a [`Step::Publish`] the bus took.
    pub fn published(topic: String, size: usize) -> Self {
        Self::Published { topic, size }
    }

    /// The answer to a [`Step::Publish`] the bus refused.
    pub fn not_published(error: impl std::fmt::Display) -> Self {
        Self::error(ErrorKind::NotPublished, error.to_string())
    }

    /// The reply as JSON text.
    pub fn to_json(&self) -> String {
        // Strings, integers and a struct of numbers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_else(|error| {
            format!(r#"{{"type":"error","error":"unencodable","detail":"{error}"}}"#)
        })
    }
}

/// Reads one command of at most `max_bytes` and says what to do.
pub fn decide(text: &str, max_bytes: usize) -> Step {
    if text.len() > max_bytes {
        return Step::Reply(Reply::error(
            ErrorKind::TooLarge,
            format!(
                "command of {} bytes is larger than the limit of {max_bytes} bytes",
                text.len()
            ),
        ));
    }
    let command = match serde_json::from_str::<Command>(text) {
        Ok(command) => command,
        Err(error) if error.is_data() => {
            return Step::Reply(Reply::error(
                ErrorKind::BadCommand,
                format!("expected {{\"op\": \"history\"|\"publish\", \"topic\": ...}}: {error}"),
            ));
        }
        Err(error) => {
            return Step::Reply(Reply::error(
                ErrorKind::NotJson,
                format!("not JSON: {error}"),
            ));
        }
    };
    match command {
        Command::History { topic } => Step::History(topic),
        Command::Publish { topic, payload } => {
            if topic.is_empty() || topic.len() > MAX_ID_BYTES {
                return Step::Reply(Reply::error(
                    ErrorKind::BadCommand,
                    format!("the topic must be 1 to {MAX_ID_BYTES} bytes long"),
                ));
            }
            let Some(payload) = payload else {
                return Step::Reply(Reply::error(
                    ErrorKind::BadCommand,
                    "\"payload\" is missing",
                ));
            };
            match object_to_payload(&payload) {
                Ok(payload) => Step::Publish { topic, payload },
                Err(error) => {
                    let kind = match error {
                        JsonError::NotAnObject { .. } => ErrorKind::NotAnObject,
                        JsonError::TooDeep { .. } => ErrorKind::TooDeep,
                        _ => ErrorKind::Unencodable,
                    };
                    Step::Reply(Reply::error(kind, error.to_string()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(step: Step) -> &'static str {
        match step {
            Step::Reply(Reply::Error { error, .. }) => error,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn commands_become_steps() {
        assert_eq!(
            decide(r#"{"op": "history", "topic": "a/b"}"#, 1024),
            Step::History("a/b".into())
        );
        assert_eq!(
            decide(
                r#"{"op": "publish", "topic": "t", "payload": {"n": 1}}"#,
                1024
            ),
            Step::Publish {
                topic: "t".into(),
                payload: b"\x81\xa1n\x01".to_vec()
            }
        );
    }

    #[test]
    fn unusable_commands_get_their_code() {
        assert_eq!(code(decide("{", 1024)), "not_json");
        assert_eq!(code(decide(r#"{"op": "dance"}"#, 1024)), "bad_command");
        assert_eq!(code(decide(r#"{"op": "history"}"#, 1024)), "bad_command");
        assert_eq!(code(decide(r#"[1]"#, 1024)), "bad_command");
        assert_eq!(
            code(decide(
                r#"{"op": "publish", "topic": "", "payload": {}}"#,
                1024
            )),
            "bad_command"
        );
        assert_eq!(
            code(decide(r#"{"op": "publish", "topic": "t"}"#, 1024)),
            "bad_command"
        );
        assert_eq!(
            code(decide(
                r#"{"op": "publish", "topic": "t", "payload": [1]}"#,
                1024
            )),
            "not_an_object"
        );
        assert_eq!(
            code(decide(r#"{"op": "history", "topic": "t"}"#, 10)),
            "too_large"
        );
    }

    #[test]
    fn replies_are_tagged_by_type() {
        let history = History {
            topic: "t".into(),
            end_second: 7,
            rates: vec![1, 2],
            byte_rates: vec![10, 20],
        };
        let text = Reply::history("t", Some(history)).to_json();
        let value: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"type": "history", "topic": "t", "end_second": 7, "rates": [1, 2], "byte_rates": [10, 20]})
        );
        let value: Json = serde_json::from_str(&Reply::published("t".into(), 3).to_json()).unwrap();
        assert_eq!(value, json!({"type": "published", "topic": "t", "size": 3}));
        let value: Json = serde_json::from_str(&Reply::history("x", None).to_json()).unwrap();
        assert_eq!(value["type"], "error");
        assert_eq!(value["error"], "bad_command");
    }
}
