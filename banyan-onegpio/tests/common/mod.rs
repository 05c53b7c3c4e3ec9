//! Shared helpers of the engine's tests: building command payloads as Python would and
//! recording reports.
#![allow(dead_code)]

use banyan_onegpio::{Sink, SinkFull};
use banyan_proto::payload::{self, Value};

/// The command topic of the default device.
pub const TO: &str = "to_pico_gateway";
/// The report topic of the default device.
pub const FROM: &str = "from_pico_gateway";

/// A str value.
pub fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

/// An int value.
pub fn i(n: i64) -> Value {
    Value::Int(n)
}

/// `msgpack.packb({k: v, ...}, use_bin_type=True)` of the entries, in order.
pub fn map(entries: &[(&str, Value)]) -> Vec<u8> {
    payload::to_vec(&Value::map(
        entries.iter().map(|(k, v)| (k.to_string(), v.clone())),
    ))
    .expect("encodable test payload")
}

/// `{'command': command, 'pin': pin}`.
pub fn cmd(command: &str, pin: i64) -> Vec<u8> {
    map(&[("command", s(command)), ("pin", i(pin))])
}

/// `{'command': command, 'pin': pin, key: value}`.
pub fn cmd_with(command: &str, pin: i64, key: &str, value: Value) -> Vec<u8> {
    map(&[("command", s(command)), ("pin", i(pin)), (key, value)])
}

/// A decoded report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub topic: String,
    pub bytes: Vec<u8>,
    pub value: Value,
}

impl Report {
    pub fn kind(&self) -> &str {
        self.value
            .get("report")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn pin(&self) -> Option<i64> {
        self.value.get("pin").and_then(Value::as_i64)
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        self.value.get(key).and_then(Value::as_i64)
    }
    pub fn timestamp(&self) -> Option<f64> {
        match self.value.get("timestamp") {
            Some(Value::F64(t)) => Some(*t),
            _ => None,
        }
    }
    pub fn reason(&self) -> &str {
        self.value
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn command(&self) -> Option<&str> {
        self.value.get("command").and_then(Value::as_str)
    }
    /// The keys in wire order.
    pub fn keys(&self) -> Vec<String> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .map(|(k, _)| k.as_str().unwrap_or("?").to_owned())
                .collect(),
            _ => vec![],
        }
    }
}

/// A sink that records every report, and can be told to refuse them.
#[derive(Debug, Default)]
pub struct Recorder {
    pub reports: Vec<Report>,
    pub refuse: bool,
    pub refused: usize,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }
    /// The reports recorded since the last call.
    pub fn take(&mut self) -> Vec<Report> {
        std::mem::take(&mut self.reports)
    }
    /// Takes the recorded reports and asserts there is exactly one error report among them.
    pub fn take_error(&mut self) -> Report {
        let reports = self.take();
        let errors: Vec<_> = reports.iter().filter(|r| r.kind() == "error").collect();
        assert_eq!(
            errors.len(),
            1,
            "expected one error report, got {reports:?}"
        );
        errors[0].clone()
    }
}

impl Sink for Recorder {
    fn publish(&mut self, topic: &str, bytes: &[u8]) -> Result<(), SinkFull> {
        if self.refuse {
            self.refused += 1;
            return Err(SinkFull);
        }
        let value = payload::from_slice::<Value>(bytes).expect("reports decode");
        self.reports.push(Report {
            topic: topic.to_owned(),
            bytes: bytes.to_vec(),
            value,
        });
        Ok(())
    }
}
