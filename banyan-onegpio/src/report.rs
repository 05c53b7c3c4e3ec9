//! Encoding OneGPIO reports exactly as Python Banyan's gateways publish them.
//!
//! | report | Python source | payload (key order as Python inserts them) |
//! |---|---|---|
//! | digital input change | `rpi_gateway.input_callback`, `arduino_gateway.digital_input_callback` | `{'report': 'digital_input', 'pin': p, 'value': 0 or 1, 'timestamp': float seconds}` |
//! | analog input | `arduino_gateway.analog_input_callback` (the RPi one omits `timestamp`) | `{'report': 'analog_input', 'pin': channel, 'value': raw, 'timestamp': float seconds}` |
//! | refused command | (ours; Python raises and dies) | `{'report': 'error', 'command': name or None, 'pin': p (when known), 'reason': str}` |
//!
//! `timestamp` is a msgpack float 64 like Python's `time.time()`, but counted in seconds
//! since the engine's clock origin (normally boot): a microcontroller has no wall clock.

use core::fmt::Write as _;

use banyan_proto::payload::{MapWriter, PayloadError};

use crate::Reason;

/// Size of the buffer every report fits in (the longest is an error report with a
/// [`MAX_ECHOED_COMMAND`]-byte command name and the longest reason).
pub const REPORT_BUF_LEN: usize = 192;

/// The longest command name echoed in an error report; longer names are cut at a character
/// boundary.
pub const MAX_ECHOED_COMMAND: usize = 40;

/// Longest `reason` sentence (the longest [`Reason`] `Display` is well below).
const REASON_CAP: usize = 80;

/// Seconds as Python's `time.time()` gives them: `f64`.
pub(crate) fn seconds(now_us: u64) -> f64 {
    now_us as f64 / 1_000_000.0
}

/// `{'report': 'digital_input', 'pin': pin, 'value': level, 'timestamp': t}`.
pub(crate) fn digital_input(
    buf: &mut [u8],
    pin: u8,
    high: bool,
    at_us: u64,
) -> Result<usize, PayloadError> {
    let mut map = MapWriter::new(buf, 4)?;
    map.entry("report", "digital_input")?
        .entry("pin", &pin)?
        .entry("value", &u8::from(high))?
        .entry("timestamp", &seconds(at_us))?;
    map.finish()
}

/// `{'report': 'analog_input', 'pin': channel, 'value': raw, 'timestamp': t}`.
pub(crate) fn analog_input(
    buf: &mut [u8],
    channel: u8,
    value: u16,
    at_us: u64,
) -> Result<usize, PayloadError> {
    let mut map = MapWriter::new(buf, 4)?;
    map.entry("report", "analog_input")?
        .entry("pin", &channel)?
        .entry("value", &value)?
        .entry("timestamp", &seconds(at_us))?;
    map.finish()
}

/// `{'report': 'error', 'command': name, ['pin': pin,] 'reason': text}`.
pub(crate) fn error(
    buf: &mut [u8],
    command: Option<&str>,
    pin: Option<u8>,
    reason: Reason,
) -> Result<usize, PayloadError> {
    let mut text: heapless::String<REASON_CAP> = heapless::String::new();
    // A reason longer than the cap would be cut; all fit (tested).
    let _ = write!(text, "{reason}");
    let entries = if pin.is_some() { 4 } else { 3 };
    let mut map = MapWriter::new(buf, entries)?;
    map.entry("report", "error")?;
    match command {
        Some(name) => map.entry("command", truncate(name, MAX_ECHOED_COMMAND))?,
        None => map.entry("command", &())?,
    };
    if let Some(pin) = pin {
        map.entry("pin", &pin)?;
    }
    map.entry("reason", text.as_str())?;
    map.finish()
}

/// `s` cut to at most `max` bytes at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Field, PinMode};
    use banyan_proto::payload::PayloadError;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("ééé", 5), "éé");
    }

    #[test]
    fn every_reason_fits() {
        let reasons = [
            Reason::InvalidPayload(PayloadError::EntryCount),
            Reason::InvalidPayload(PayloadError::UnexpectedEof),
            Reason::InvalidPayload(PayloadError::Mismatch),
            Reason::Missing(Field::ChangeDiff),
            Reason::WrongType(Field::ChangeDiff),
            Reason::OutOfRange(Field::ChangeDiff),
            Reason::UnknownCommand,
            Reason::UnsupportedCommand,
            Reason::UnknownTag,
            Reason::TagTableFull,
            Reason::TagTooLong,
            Reason::ModeNotSupported(PinMode::DigitalInputPullUp),
            Reason::WrongMode(PinMode::DigitalInputPullUp),
            Reason::NotAnInput,
            Reason::Hardware,
        ];
        let long = "x".repeat(300);
        for reason in reasons {
            let text = std::format!("{reason}");
            assert!(text.len() <= REASON_CAP, "{text}");
            let mut buf = [0u8; REPORT_BUF_LEN];
            let len = error(&mut buf, Some(&long), Some(255), reason).unwrap();
            assert!(len <= REPORT_BUF_LEN);
        }
    }
}
