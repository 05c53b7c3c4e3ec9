//! The launcher's messages on the backplane, as python-banyan 3.17's `bls`/`blc`/`blk` send
//! them.
//!
//! - **Launch request** `bls → blc` on the entry's topic: Python's whole launch record,
//!   `{append_bp_address, auto_restart, command_string, process, process_id, spawn, topic,
//!   reply_topic, launch_id, wait}` in that key order, yes/no fields as the strings `"yes"`/
//!   `"no"`, `process`/`process_id` nil, `launch_id` an integer counted from 1 over the remote
//!   entries, `reply_topic` = `"ACK" + topic`. Repeated until acknowledged.
//! - **Acknowledgement** `blc → bls` on `reply_topic`:
//!   `{command_string, process_id, launch_id}`.
//! - **Kill all** `blk → everyone` on [`KILLALL_TOPIC`]: `{"exit": "exit"}`.

use banyan_proto::payload::Value;

/// Topic of the "stop everything" message.
pub const KILLALL_TOPIC: &str = "killall";

/// Prefix of a launch request's reply topic.
pub const REPLY_PREFIX: &str = "ACK";

/// The payload `blk` publishes on [`KILLALL_TOPIC`].
pub fn killall_payload() -> Value {
    Value::map([("exit", Value::Str("exit".into()))])
}

fn yes_no(flag: bool) -> Value {
    Value::Str(if flag { "yes" } else { "no" }.into())
}

/// A launch request for a remote `blc`.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRequest {
    /// The full command line (with `-b ADDR` already appended if asked for).
    pub command_string: String,
    /// Run in a terminal window.
    pub spawn: bool,
    /// Restart when it exits.
    pub auto_restart: bool,
    /// Whether `-b ADDR` was appended (informational; `command_string` has it).
    pub append_bp_address: bool,
    /// The topic the request is published on.
    pub topic: String,
    /// Where the acknowledgement goes.
    pub reply_topic: String,
    /// Identifies the entry across repeats.
    pub launch_id: i64,
    /// The `wait` field as written in the launch file.
    pub wait: String,
}

impl LaunchRequest {
    /// Python's record, key for key.
    pub fn to_value(&self) -> Value {
        Value::map([
            ("append_bp_address", yes_no(self.append_bp_address)),
            ("auto_restart", yes_no(self.auto_restart)),
            ("command_string", Value::Str(self.command_string.clone())),
            ("process", Value::Nil),
            ("process_id", Value::Nil),
            ("spawn", yes_no(self.spawn)),
            ("topic", Value::Str(self.topic.clone())),
            ("reply_topic", Value::Str(self.reply_topic.clone())),
            ("launch_id", Value::Int(self.launch_id)),
            ("wait", Value::Str(self.wait.clone())),
        ])
    }

    /// Reads a request published on `topic`. Tolerant as Python's `blc` is: only
    /// `command_string` and `launch_id` are required; `reply_topic` defaults to
    /// `"ACK" + topic`, yes/no fields to "no". `None` when the payload is not a request.
    pub fn from_value(value: &Value, topic: &str) -> Option<Self> {
        let text = |key: &str| value.get(key).and_then(Value::as_str);
        let flag = |key: &str| {
            value.get(key).is_some_and(|v| match v {
                Value::Str(s) => s.trim().eq_ignore_ascii_case("yes"),
                Value::Bool(b) => *b,
                _ => false,
            })
        };
        let command_string = text("command_string")?.to_owned();
        let launch_id = value.get("launch_id")?.as_i64()?;
        Some(Self {
            command_string,
            spawn: flag("spawn"),
            auto_restart: flag("auto_restart"),
            append_bp_address: flag("append_bp_address"),
            topic: text("topic").unwrap_or(topic).to_owned(),
            reply_topic: text("reply_topic")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{REPLY_PREFIX}{topic}")),
            launch_id,
            wait: match value.get("wait") {
                Some(Value::Str(s)) => s.clone(),
                Some(Value::Int(i)) => i.to_string(),
                _ => "0".into(),
            },
        })
    }
}

/// A `blc`'s acknowledgement of a launch request.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchAck {
    /// The command it runs.
    pub command_string: String,
    /// Its process id (`None` if it did not start a process).
    pub process_id: Option<i64>,
    /// The request's id.
    pub launch_id: i64,
}

impl LaunchAck {
    /// Python's `{command_string, process_id, launch_id}`.
    pub fn to_value(&self) -> Value {
        Value::map([
            ("command_string", Value::Str(self.command_string.clone())),
            ("process_id", self.process_id.map_or(Value::Nil, Value::Int)),
            ("launch_id", Value::Int(self.launch_id)),
        ])
    }

    /// Reads an acknowledgement; `None` when `launch_id` is missing.
    pub fn from_value(value: &Value) -> Option<Self> {
        Some(Self {
            command_string: value
                .get("command_string")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            process_id: value.get("process_id").and_then(Value::as_i64),
            launch_id: value.get("launch_id")?.as_i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_proto::payload;

    #[test]
    fn request_bytes_match_python() {
        // Python: msgpack.packb({'exit': 'exit'}, use_bin_type=True)
        assert_eq!(
            payload::to_vec(&killall_payload()).unwrap(),
            b"\x81\xa4exit\xa4exit"
        );
        let request = LaunchRequest {
            command_string: "simple-echo-server -b 10.0.0.1".into(),
            spawn: false,
            auto_restart: true,
            append_bp_address: true,
            topic: "pi".into(),
            reply_topic: "ACKpi".into(),
            launch_id: 1,
            wait: "0".into(),
        };
        let bytes = payload::to_vec(&request.to_value()).unwrap();
        // The same dict packed by python: keys in Python's order, None for process fields.
        let mut expected = vec![0x8a];
        for (key, value) in [
            ("append_bp_address", &b"\xa3yes"[..]),
            ("auto_restart", b"\xa3yes"),
            ("command_string", b"\xbesimple-echo-server -b 10.0.0.1"),
            ("process", b"\xc0"),
            ("process_id", b"\xc0"),
            ("spawn", b"\xa2no"),
            ("topic", b"\xa2pi"),
            ("reply_topic", b"\xa5ACKpi"),
            ("launch_id", b"\x01"),
            ("wait", b"\xa10"),
        ] {
            expected.push(0xa0 | key.len() as u8);
            expected.extend_from_slice(key.as_bytes());
            expected.extend_from_slice(value);
        }
        assert_eq!(bytes, expected);
        let back: Value = payload::from_slice(&bytes).unwrap();
        assert_eq!(LaunchRequest::from_value(&back, "pi"), Some(request));
    }

    #[test]
    fn tolerant_request_and_ack() {
        let minimal = Value::map([
            ("command_string", Value::Str("x".into())),
            ("launch_id", Value::Int(3)),
        ]);
        let request = LaunchRequest::from_value(&minimal, "t").unwrap();
        assert_eq!(request.reply_topic, "ACKt");
        assert!(!request.auto_restart);
        assert_eq!(LaunchRequest::from_value(&killall_payload(), "t"), None);

        let ack = LaunchAck {
            command_string: "x".into(),
            process_id: Some(42),
            launch_id: 3,
        };
        assert_eq!(LaunchAck::from_value(&ack.to_value()), Some(ack));
        let nil_pid = Value::map([("process_id", Value::Nil), ("launch_id", Value::Int(1))]);
        assert_eq!(LaunchAck::from_value(&nil_pid).unwrap().process_id, None);
    }
}
