//! The sensor-and-command application of the boards' `sensor*` firmware, without I/O.
//!
//! Contract (tests rely on it): every period (100 ms at boot) the firmware publishes on
//! `sensor/<board>` the map `{'count': n, 'temperature': t}` — `n` counts published readings
//! from 0, `t` is a float (msgpack float 64, as Python writes) in °C. It subscribes to
//! `command/<board>` and obeys:
//!
//! | payload | effect |
//! |---|---|
//! | `{'command': 'rate', 'ms': M}` | the period becomes `M` ms (`MIN_PERIOD_MS..=MAX_PERIOD_MS`) |
//! | `{'command': 'stop'}` | the board stops (QEMU: exits with status 0; Pico: pauses until the next `rate`) |
//!
//! Anything else is refused with a [`CommandError`] (the boards log it) and changes nothing.
//!
//! [`Sensor`] keeps the count and the schedule; [`parse_command`] reads a command payload;
//! the temperature comes from the board ([`rp2040_temperature_c`] for the Pico's on-chip
//! sensor, [`simulated_temperature_c`] where there is none).

use core::fmt;

use banyan_proto::payload::MapReader;
use serde::Serialize;

/// The period at boot.
pub const DEFAULT_PERIOD_MS: u32 = 100;
/// The shortest period `rate` accepts. A link slower than the readings slows them down
/// (publishing waits for the transport), it never breaks them.
pub const MIN_PERIOD_MS: u32 = 1;
/// The longest period `rate` accepts (one hour).
pub const MAX_PERIOD_MS: u32 = 3_600_000;

/// One reading: published as the map `{'count': n, 'temperature': t}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reading {
    /// Readings published before this one (0 for the first).
    pub count: u32,
    /// Degrees Celsius; a msgpack float 64 (a Python `float`).
    pub temperature: f64,
}

/// A command received on `command/<board>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command {
    /// `{'command': 'rate', 'ms': M}`: publish every `ms` milliseconds.
    Rate {
        /// The new period, within `MIN_PERIOD_MS..=MAX_PERIOD_MS`.
        ms: u32,
    },
    /// `{'command': 'stop'}`.
    Stop,
}

/// Why a command payload was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CommandError {
    /// The payload is not a valid msgpack map.
    NotAMap,
    /// No `'command'` key with a str value.
    MissingCommand,
    /// A `'command'` other than `rate` or `stop`.
    UnknownCommand,
    /// `rate` without an integer `'ms'`.
    MissingRate,
    /// `rate` with `'ms'` outside `MIN_PERIOD_MS..=MAX_PERIOD_MS`.
    RateOutOfRange,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAMap => "payload is not a msgpack map",
            Self::MissingCommand => "no 'command' string",
            Self::UnknownCommand => "unknown command (expected 'rate' or 'stop')",
            Self::MissingRate => "'rate' needs an integer 'ms'",
            Self::RateOutOfRange => "'ms' out of range (1..=3600000)",
        })
    }
}

impl core::error::Error for CommandError {}

/// Reads a command payload. Never panics; unknown extra keys are ignored.
///
/// # Errors
/// A [`CommandError`] saying what is wrong with the payload.
pub fn parse_command(payload: &[u8]) -> Result<Command, CommandError> {
    let map = MapReader::new(payload).map_err(|_| CommandError::NotAMap)?;
    let command = map
        .get("command")
        .and_then(|value| value.as_str())
        .ok_or(CommandError::MissingCommand)?;
    match command {
        "stop" => Ok(Command::Stop),
        "rate" => {
            let ms = map
                .get("ms")
                .and_then(|value| value.as_i64())
                .ok_or(CommandError::MissingRate)?;
            match u32::try_from(ms) {
                Ok(ms) if (MIN_PERIOD_MS..=MAX_PERIOD_MS).contains(&ms) => Ok(Command::Rate { ms }),
                _ => Err(CommandError::RateOutOfRange),
            }
        }
        _ => Err(CommandError::UnknownCommand),
    }
}

/// The count and the schedule of the readings.
///
/// ```
/// use banyan_firmware::sensor::Sensor;
///
/// let mut sensor = Sensor::new(0);
/// assert!(sensor.due(0));
/// let reading = sensor.reading(21.5);
/// assert_eq!(reading.count, 0);
/// sensor.published(0);
/// assert_eq!(sensor.wait_ms(0), 100);
/// assert!(sensor.due(100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sensor {
    count: u32,
    period_ms: u32,
    next_due_ms: u64,
}

impl Sensor {
    /// The first reading is due at `now_ms`, then one every [`DEFAULT_PERIOD_MS`].
    pub const fn new(now_ms: u64) -> Self {
        Self {
            count: 0,
            period_ms: DEFAULT_PERIOD_MS,
            next_due_ms: now_ms,
        }
    }

    /// The count the next reading carries (readings published so far).
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The current period in milliseconds.
    pub const fn period_ms(&self) -> u32 {
        self.period_ms
    }

    /// Whether a reading is due at `now_ms`.
    pub const fn due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_due_ms
    }

    /// Milliseconds from `now_ms` until the next reading is due (0 when it is due).
    pub const fn wait_ms(&self, now_ms: u64) -> u64 {
        self.next_due_ms.saturating_sub(now_ms)
    }

    /// The reading to publish now, with the board's `temperature` in °C.
    pub const fn reading(&self, temperature: f64) -> Reading {
        Reading {
            count: self.count,
            temperature,
        }
    }

    /// Records that the reading was published at `now_ms`: counts it and schedules the next
    /// one a period after the one just due (a steady rate), or a period after `now_ms` when
    /// the board fell more than a period behind (no burst of catch-up readings).
    pub fn published(&mut self, now_ms: u64) {
        self.count = self.count.wrapping_add(1);
        self.schedule_next(now_ms);
    }

    /// Records that the due reading could not be taken (a sensor error): schedules the next
    /// one as [`published`](Self::published) does, without counting.
    pub fn skipped(&mut self, now_ms: u64) {
        self.schedule_next(now_ms);
    }

    fn schedule_next(&mut self, now_ms: u64) {
        let next = self.next_due_ms.saturating_add(u64::from(self.period_ms));
        self.next_due_ms = if next > now_ms {
            next
        } else {
            now_ms.saturating_add(u64::from(self.period_ms))
        };
    }

    /// Sets the period; the next reading is due `ms` after `now_ms`, or at once if it was due
    /// earlier under the old period.
    pub fn set_period(&mut self, ms: u32, now_ms: u64) {
        self.period_ms = ms.clamp(MIN_PERIOD_MS, MAX_PERIOD_MS);
        let next = now_ms.saturating_add(u64::from(self.period_ms));
        self.next_due_ms = self.next_due_ms.min(next);
    }
}

/// The RP2040's on-chip temperature sensor (ADC input 4) in °C from a raw 12-bit reading,
/// with the datasheet's formula (RP2040 datasheet §4.9.5): `V = raw · 3.3 / 4096`,
/// `T = 27 − (V − 0.706) / 0.001721`. Assumes a 3.3 V reference (the Pico's ADC_VREF); the
/// sensor itself is accurate to a few degrees only.
pub fn rp2040_temperature_c(raw: u16) -> f64 {
    let volts = f64::from(raw) * 3.3 / 4096.0;
    27.0 - (volts - 0.706) / 0.001721
}

/// A deterministic stand-in where a board has no temperature sensor (QEMU's lm3s6965evb):
/// a triangle wave from 20.0 to 24.0 °C and back in steps of 0.1 °C per reading (80 readings
/// a cycle), so a reader sees a plausible, changing float.
pub fn simulated_temperature_c(count: u32) -> f64 {
    let step = count % 80;
    let tenths = if step <= 40 { step } else { 80 - step };
    20.0 + f64::from(tenths) / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_proto::payload::{self, Value};

    fn encode(entries: Vec<(&str, Value)>) -> Vec<u8> {
        payload::to_vec(&Value::map(entries)).unwrap()
    }

    #[test]
    fn reading_is_pythons_map() {
        let mut buf = [0u8; 64];
        let n = payload::to_slice(
            &Reading {
                count: 3,
                temperature: 21.5,
            },
            &mut buf,
        )
        .unwrap();
        // msgpack.packb({'count': 3, 'temperature': 21.5}, use_bin_type=True)
        let mut expected = b"\x82\xa5count\x03\xabtemperature\xcb".to_vec();
        expected.extend_from_slice(&21.5f64.to_be_bytes());
        assert_eq!(&buf[..n], &expected[..]);
    }

    #[test]
    fn commands_parse() {
        let rate = encode(vec![
            ("command", Value::Str("rate".into())),
            ("ms", Value::Int(250)),
        ]);
        assert_eq!(parse_command(&rate), Ok(Command::Rate { ms: 250 }));
        let stop = encode(vec![("command", Value::Str("stop".into()))]);
        assert_eq!(parse_command(&stop), Ok(Command::Stop));
        // Extra keys are ignored, as a Python component would.
        let extra = encode(vec![
            ("command", Value::Str("stop".into())),
            ("from", Value::Str("me".into())),
        ]);
        assert_eq!(parse_command(&extra), Ok(Command::Stop));
    }

    #[test]
    fn bad_commands_are_refused() {
        let cases: Vec<(Vec<u8>, CommandError)> = vec![
            (vec![0xc1], CommandError::NotAMap),
            (vec![0x92, 1, 2], CommandError::NotAMap),
            (
                encode(vec![("cmd", Value::Str("stop".into()))]),
                CommandError::MissingCommand,
            ),
            (
                encode(vec![("command", Value::Int(1))]),
                CommandError::MissingCommand,
            ),
            (
                encode(vec![("command", Value::Str("go".into()))]),
                CommandError::UnknownCommand,
            ),
            (
                encode(vec![("command", Value::Str("rate".into()))]),
                CommandError::MissingRate,
            ),
            (
                encode(vec![
                    ("command", Value::Str("rate".into())),
                    ("ms", Value::F64(5.0)),
                ]),
                CommandError::MissingRate,
            ),
            (
                encode(vec![
                    ("command", Value::Str("rate".into())),
                    ("ms", Value::Int(0)),
                ]),
                CommandError::RateOutOfRange,
            ),
            (
                encode(vec![
                    ("command", Value::Str("rate".into())),
                    ("ms", Value::Int(-100)),
                ]),
                CommandError::RateOutOfRange,
            ),
            (
                encode(vec![
                    ("command", Value::Str("rate".into())),
                    ("ms", Value::Int(3_600_001)),
                ]),
                CommandError::RateOutOfRange,
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(parse_command(&bytes), Err(error), "{bytes:02x?}");
        }
    }

    #[test]
    fn schedule_keeps_a_steady_rate_and_never_bursts() {
        let mut sensor = Sensor::new(1000);
        assert!(!sensor.due(999));
        assert!(sensor.due(1000));
        sensor.published(1003); // a little late: the next one stays on the 100 ms grid
        assert_eq!(sensor.count(), 1);
        assert_eq!(sensor.wait_ms(1003), 97);
        sensor.published(1100);
        // Far behind (the link was busy for a second): next is a period from now, not 10 at once.
        assert!(sensor.due(2150));
        sensor.published(2150);
        assert_eq!(sensor.wait_ms(2150), 100);
        assert_eq!(sensor.reading(20.0).count, 3);
        // A skipped reading moves the schedule but not the count.
        sensor.skipped(2250);
        assert_eq!(sensor.count(), 3);
        assert_eq!(sensor.wait_ms(2250), 100);
    }

    #[test]
    fn rate_takes_effect_at_once() {
        let mut sensor = Sensor::new(0);
        sensor.published(0);
        sensor.set_period(1000, 10);
        assert_eq!(sensor.period_ms(), 1000);
        // Due at 100 under the old period, which is earlier than 10 + 1000: kept.
        assert_eq!(sensor.wait_ms(10), 90);
        sensor.published(100);
        assert_eq!(sensor.wait_ms(100), 1000);
        sensor.set_period(20, 150);
        assert_eq!(sensor.wait_ms(150), 20);
    }

    #[test]
    fn rp2040_sensor_formula() {
        // 0.706 V is 27 °C: raw = 0.706 / 3.3 * 4096 ≈ 876.3.
        assert!((rp2040_temperature_c(876) - 27.0).abs() < 0.5);
        // Lower voltage is warmer (−1.721 mV/°C).
        assert!(rp2040_temperature_c(860) > rp2040_temperature_c(876));
    }

    #[test]
    fn simulated_temperature_is_a_bounded_triangle() {
        assert_eq!(simulated_temperature_c(0), 20.0);
        assert_eq!(simulated_temperature_c(40), 24.0);
        assert_eq!(simulated_temperature_c(80), 20.0);
        for count in 0..200 {
            let t = simulated_temperature_c(count);
            assert!((20.0..=24.0).contains(&t));
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_command_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = parse_command(&bytes);
        }
    }
}
