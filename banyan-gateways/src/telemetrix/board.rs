//! Bytes from the board: the handshake's answers, then input reports as the OneGPIO
//! reports s3-extend's gateways publish.
//!
//! | report | published (as `rpgw` / `esp32gw` 1.35) |
//! |---|---|
//! | DIGITAL_REPORT | `{'report': 'digital_input', 'pin', 'value', 'timestamp'}` |
//! | ANALOG_REPORT | `{'report': 'analog_input', 'pin', 'value', 'timestamp'}` (pin: the Pico's ADC number) |
//! | I2C_READ_REPORT | `{'report': 'i2c_data', 'value': text}`, text = `', '.join` of the client's callback list: Pico `10, port, address, register, count, data…, time`; ESP32 `9, count, address, register, data…, time`; Arduino (`telemetrix`'s list) `10, port, count, address, register, data…, time` |
//! | SONAR_DISTANCE | `{'report': 'sonar_data', 'value': d}`: Pico `cm + hundredths / 100` (a float; `0` when no echo), ESP32 whole cm |
//! | I2C failures, SERVO_UNAVAILABLE | ours: an `error` report (the Python clients print or raise) |

use core::fmt::Write as _;
use std::time::Instant;

use banyan_onegpio::Reason;
use banyan_onegpio::report::{self, I2C_REPORT_BUF_LEN, REPORT_BUF_LEN};
use banyan_proto::payload::MapWriter;
use banyan_proto::telemetrix::{Family, Feed, I2cErrorKind, Report, SonarDistance, ids};

use super::{Core, Note, Phase, SUSPECT_LIMIT};

/// Longest `value` text of an `i2c_data` report (5 header numbers, 255 data bytes of up to
/// 3 digits, the time, each with `, `).
const I2C_TEXT_CAP: usize = 5 * 5 + 255 * 5 + 32;

/// What a report asks the core to do, owned (reports borrow the decoder).
enum Action {
    Firmware(banyan_proto::telemetrix::FirmwareVersion),
    UniqueId([u8; 8]),
    IAmHere(u8),
    Digital {
        pin: u8,
        value: u8,
    },
    Analog {
        pin: u8,
        value: u16,
    },
    I2c(Vec<u8>),
    Sonar {
        trigger: u8,
        payload: Vec<u8>,
    },
    Error {
        command: &'static str,
        pin: Option<u8>,
    },
    Debug {
        id: u8,
        value: u16,
    },
    Garbled,
}

impl Core {
    /// Feeds bytes read from the board; `wall_us` is the wall-clock time (Unix µs) for the
    /// reports' `timestamp`.
    pub fn board_bytes(&mut self, bytes: &[u8], now: Instant, wall_us: u64) {
        if self.phase == Phase::Down {
            return;
        }
        self.last_rx = Some(now);
        let family = self.config.family;
        let mut input = bytes;
        loop {
            let (action, remaining) = match self.decoder.feed(input) {
                Feed::Consumed => break,
                Feed::Report { report, remaining } => {
                    (Action::from_report(family, &report, wall_us), remaining)
                }
                Feed::Malformed { remaining, .. } => (Some(Action::Garbled), remaining),
            };
            if let Some(action) = action {
                self.act(action, wall_us);
            }
            input = remaining;
            if self.decoder.stats().suspect_run >= SUSPECT_LIMIT {
                self.note(Note::Misaligned);
                self.disconnected();
                return;
            }
        }
    }

    fn act(&mut self, action: Action, wall_us: u64) {
        match action {
            Action::Firmware(version) => self.identified(version),
            Action::UniqueId(id) => self.unique_id = Some(id),
            Action::IAmHere(id) => self.i_am_here(id),
            Action::Digital { pin, value } => {
                if self.table.get(pin).is_some_and(|s| s.mode.is_input()) {
                    let mut buf = [0u8; REPORT_BUF_LEN];
                    if let Ok(n) = report::digital_input(&mut buf, pin, value != 0, wall_us) {
                        self.report(buf[..n].to_vec());
                    }
                }
            }
            Action::Analog { pin, value } => {
                if self.table.analog.contains_key(&pin) {
                    let mut buf = [0u8; REPORT_BUF_LEN];
                    if let Ok(n) = report::analog_input(&mut buf, pin, value, wall_us) {
                        self.report(buf[..n].to_vec());
                    }
                }
            }
            Action::I2c(payload) => self.report(payload),
            Action::Sonar { trigger, payload } => {
                // Only sonars the bus set up (the Python clients look the callback up by
                // trigger pin and raise KeyError for another).
                if self.table.sonars.iter().any(|&(t, _)| t == trigger) {
                    self.report(payload);
                }
            }
            Action::Error { command, pin } => self.reject(Some(command), pin, Reason::Hardware),
            Action::Debug { id, value } => self.note(Note::Debug { id, value }),
            Action::Garbled => {
                self.stats.garbled += 1;
                let frames = self.stats.garbled;
                if frames == 1 || frames.is_power_of_two() {
                    self.note(Note::Garbled { frames });
                }
            }
        }
    }
}

impl Action {
    fn from_report(family: Family, report: &Report<'_>, wall_us: u64) -> Option<Action> {
        Some(match *report {
            Report::FirmwareVersion(version) => Action::Firmware(version),
            Report::PicoUniqueId(id) => Action::UniqueId(id),
            Report::Digital { pin, value } => Action::Digital { pin, value },
            Report::Analog { pin, value } => Action::Analog { pin, value },
            Report::I2cData {
                port,
                address,
                register,
                data,
            } => Action::I2c(i2c_payload(family, port, address, register, data, wall_us)?),
            Report::Sonar {
                trigger_pin,
                distance,
            } => Action::Sonar {
                trigger: trigger_pin,
                payload: sonar_payload(distance)?,
            },
            Report::I2cError { kind, .. } => Action::Error {
                command: match kind {
                    I2cErrorKind::WriteFailed => "i2c_write",
                    _ => "i2c_read",
                },
                pin: None,
            },
            Report::ServoUnavailable { pin } => Action::Error {
                command: "set_mode_servo",
                pin: Some(pin),
            },
            Report::Debug { id, value } => Action::Debug { id, value },
            Report::Unknown { .. } => Action::Garbled,
            Report::IAmHere { instance_id } => Action::IAmHere(instance_id),
            Report::LoopBack { .. } | Report::Features(_) | Report::Other { .. } => return None,
        })
    }
}

/// `{'report': 'i2c_data', 'value': text}` with the family's callback list as text.
fn i2c_payload(
    family: Family,
    port: Option<u8>,
    address: u8,
    register: u8,
    data: &[u8],
    wall_us: u64,
) -> Option<Vec<u8>> {
    let mut text = String::with_capacity(64);
    match family {
        Family::Esp32 => {
            write!(
                text,
                "{}, {}, {address}, {register}",
                ids::esp32::report::I2C_READ,
                data.len()
            )
            .ok()?;
        }
        Family::Arduino => {
            write!(
                text,
                "{}, {}, {}, {address}, {register}",
                ids::arduino::report::I2C_READ,
                port.unwrap_or(0),
                data.len()
            )
            .ok()?;
        }
        Family::RpiPico => {
            write!(
                text,
                "{}, {}, {address}, {register}, {}",
                ids::rpi_pico::report::I2C_READ,
                port.unwrap_or(0),
                data.len()
            )
            .ok()?;
        }
    }
    for byte in data {
        write!(text, ", {byte}").ok()?;
    }
    text.push_str(", ");
    report::python_float(&mut text, report::seconds(wall_us)).ok()?;
    if text.len() > I2C_TEXT_CAP {
        return None;
    }
    let mut buf = vec![0u8; I2C_REPORT_BUF_LEN.max(text.len() + 32)];
    let mut map = MapWriter::new(&mut buf, 2).ok()?;
    map.entry("report", "i2c_data")
        .ok()?
        .entry("value", text.as_str())
        .ok()?;
    let n = map.finish().ok()?;
    buf.truncate(n);
    Some(buf)
}

/// `{'report': 'sonar_data', 'value': d}`: the Pico's `cm + hundredths / 100` as a float
/// (`0`, an integer, for no echo), the ESP32's whole centimetres.
fn sonar_payload(distance: SonarDistance) -> Option<Vec<u8>> {
    let mut buf = [0u8; REPORT_BUF_LEN];
    let n = match distance {
        SonarDistance::Centimeters(cm) => report::sonar_data(&mut buf, cm).ok()?,
        SonarDistance::CentimetersHundredths {
            cm: 0,
            hundredths: 0,
        } => report::sonar_data(&mut buf, 0).ok()?,
        SonarDistance::CentimetersHundredths { cm, hundredths } => {
            let value = f64::from(cm) + f64::from(hundredths) / 100.0;
            let mut map = MapWriter::new(&mut buf, 2).ok()?;
            map.entry("report", "sonar_data")
                .ok()?
                .entry("value", &value)
                .ok()?;
            map.finish().ok()?
        }
    };
    Some(buf[..n].to_vec())
}
