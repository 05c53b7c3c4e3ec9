//! Encoding OneGPIO reports exactly as Python Banyan's gateways publish them.
//!
//! | report | Python source | payload (key order as Python inserts them) |
//! |---|---|---|
//! | digital input change | `rpi_gateway.input_callback`, `arduino_gateway.digital_input_callback` | `{'report': 'digital_input', 'pin': p, 'value': 0 or 1, 'timestamp': float seconds}` |
//! | analog input | `arduino_gateway.analog_input_callback` (the RPi one omits `timestamp`) | `{'report': 'analog_input', 'pin': channel, 'value': raw, 'timestamp': float seconds}` |
//! | i2c read reply | `arduino_gateway.i2c_callback` | `{'report': 'i2c_data', 'value': '6, addr, register, d0, …, timestamp'}` (a string: Python's `', '.join(str(e) for e in data)`) |
//! | sonar distance change | `arduino_gateway.sonar_callback` | `{'report': 'sonar_data', 'value': cm}` |
//! | refused command | (ours; Python raises and dies) | `{'report': 'error', 'command': name or None, 'pin': p (when known), 'reason': str}` |
//!
//! `timestamp` is a msgpack float 64 like Python's `time.time()`: seconds since the caller's
//! clock origin — boot on a microcontroller (it has no wall clock), the Unix epoch on a host
//! gateway (`ardgw` passes wall-clock time, as Python's `time.time()`).

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
pub fn seconds(now_us: u64) -> f64 {
    now_us as f64 / 1_000_000.0
}

/// `{'report': 'digital_input', 'pin': pin, 'value': level, 'timestamp': t}`, `t` =
/// `at_us` in seconds. Fits [`REPORT_BUF_LEN`].
pub fn digital_input(
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

/// `{'report': 'analog_input', 'pin': channel, 'value': raw, 'timestamp': t}`. Fits
/// [`REPORT_BUF_LEN`].
pub fn analog_input(
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

/// `{'report': 'error', 'command': name, ['pin': pin,] 'reason': text}`. Fits
/// [`REPORT_BUF_LEN`].
pub fn error(
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

/// Size of the buffer an [`i2c_data`] report of up to
/// [`MAX_I2C_BYTES`](crate::command::MAX_I2C_BYTES) data bytes fits in.
pub const I2C_REPORT_BUF_LEN: usize = 320;

/// Longest `value` text of an `i2c_data` report: `6, ` + address + register + 32 data
/// values of up to 5 digits + the timestamp, each with `, `.
const I2C_TEXT_CAP: usize = 288;

/// `{'report': 'i2c_data', 'value': text}` as s3-extend's `ardgw` (`i2c_callback`) publishes
/// it: `text` is Python's `', '.join(str(e) for e in data)` of pymata-express's reply list
/// `[6, address, register, d0, d1, …, time.time()]` (6 is Firmata's I2C pin mode), so the
/// timestamp is written as Python's `repr` of a float. At most
/// [`MAX_I2C_BYTES`](crate::command::MAX_I2C_BYTES) data values fit
/// [`I2C_REPORT_BUF_LEN`]; more give `PayloadError::BufferFull`.
pub fn i2c_data(
    buf: &mut [u8],
    address: u16,
    register: u16,
    data: &[u16],
    at_us: u64,
) -> Result<usize, PayloadError> {
    let mut text: heapless::String<I2C_TEXT_CAP> = heapless::String::new();
    let full = |_| PayloadError::BufferFull;
    write!(text, "6, {address}, {register}").map_err(full)?;
    for value in data {
        write!(text, ", {value}").map_err(full)?;
    }
    text.push_str(", ").map_err(|_| PayloadError::BufferFull)?;
    python_float(&mut text, seconds(at_us)).map_err(full)?;
    let mut map = MapWriter::new(buf, 2)?;
    map.entry("report", "i2c_data")?
        .entry("value", text.as_str())?;
    map.finish()
}

/// `{'report': 'sonar_data', 'value': distance_cm}` as s3-extend's `ardgw`
/// (`sonar_callback`) publishes it: no pin, no timestamp. Fits [`REPORT_BUF_LEN`].
pub fn sonar_data(buf: &mut [u8], distance_cm: u16) -> Result<usize, PayloadError> {
    let mut map = MapWriter::new(buf, 2)?;
    map.entry("report", "sonar_data")?
        .entry("value", &distance_cm)?;
    map.finish()
}

/// Writes `x` as Python's `repr(float)`: the shortest text that reads back to `x` (as Rust's
/// `Display`), but `1.0` for integral values, and `1e+16` / `1e-05` style exponents outside
/// `1e-4 <= |x| < 1e16`.
pub fn python_float<W: core::fmt::Write>(out: &mut W, x: f64) -> core::fmt::Result {
    if x.is_nan() {
        return out.write_str("nan");
    }
    if x.is_infinite() {
        return out.write_str(if x > 0.0 { "inf" } else { "-inf" });
    }
    let magnitude = if x < 0.0 { -x } else { x };
    if x == 0.0 || (1e-4..1e16).contains(&magnitude) {
        // Display gives the shortest round-trip digits without exponent in this range.
        let mut digits: heapless::String<40> = heapless::String::new();
        write!(digits, "{x}")?;
        out.write_str(&digits)?;
        if !digits.contains('.') {
            out.write_str(".0")?;
        }
        return Ok(());
    }
    // LowerExp gives `1.5e16` / `1.5e-5`; Python writes `1.5e+16` / `1.5e-05`.
    let mut text: heapless::String<40> = heapless::String::new();
    write!(text, "{x:e}")?;
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exponent),
    };
    out.write_str(mantissa)?;
    out.write_char('e')?;
    out.write_char(sign)?;
    if digits.len() < 2 {
        out.write_char('0')?;
    }
    out.write_str(digits)
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

    fn py(x: f64) -> std::string::String {
        let mut s = std::string::String::new();
        python_float(&mut s, x).unwrap();
        s
    }

    #[test]
    fn floats_read_as_pythons_repr() {
        // Expected texts are Python 3's repr() of the same floats.
        assert_eq!(py(1765093213.25), "1765093213.25");
        assert_eq!(py(1765093213.0), "1765093213.0");
        assert_eq!(py(0.1), "0.1");
        assert_eq!(py(0.0), "0.0");
        assert_eq!(py(-2.5), "-2.5");
        assert_eq!(py(1e16), "1e+16");
        assert_eq!(py(1.5e-5), "1.5e-05");
        assert_eq!(py(0.0001), "0.0001");
        assert_eq!(py(1.2345678901234567e20), "1.2345678901234567e+20");
        assert_eq!(py(f64::NAN), "nan");
        assert_eq!(py(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn i2c_report_of_the_most_data_fits() {
        let mut buf = [0u8; I2C_REPORT_BUF_LEN];
        let data = [65535u16; crate::command::MAX_I2C_BYTES];
        let len = i2c_data(&mut buf, 16383, 16383, &data, u64::MAX).unwrap();
        assert!(len <= I2C_REPORT_BUF_LEN);
        let too_many = [1u16; 200];
        assert!(i2c_data(&mut buf, 1, 2, &too_many, 0).is_err());
    }

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
