//! Board → host: typed reports, parsed from and emitted to a frame's id and payload.

use core::fmt;

use super::Family;
use super::ids::{arduino, esp32, rpi_pico};

/// The firmware version in a FIRMWARE_REPORT: two bytes on the Pico, three elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FirmwareVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch / build number (ESP32, Arduino; `None` from a Pico).
    pub patch: Option<u8>,
}

/// A SONAR_DISTANCE value as each family sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SonarDistance {
    /// ESP32, Arduino: whole centimetres, big-endian u16.
    Centimeters(u16),
    /// Pico: whole centimetres and hundredths, one byte each (`0, 0` = no echo).
    CentimetersHundredths {
        /// Whole centimetres.
        cm: u8,
        /// Hundredths of a centimetre.
        hundredths: u8,
    },
}

/// Which I2C failure an error report names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum I2cErrorKind {
    /// Pico I2C_WRITE_FAILED.
    WriteFailed,
    /// Pico I2C_READ_FAILED.
    ReadFailed,
    /// ESP32 / Arduino I2C_TOO_FEW_BYTES_RCVD.
    TooFewBytes,
    /// ESP32 / Arduino I2C_TOO_MANY_BYTES_RCVD.
    TooManyBytes,
}

/// A report from the board, borrowing the decoder's buffer for variable-length data.
///
/// Every variant parses losslessly: [`Report::emit`] gives back the exact frame it was parsed
/// from (the property the fuzz target checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Report<'a> {
    /// LOOP_COMMAND echo `[byte]`.
    LoopBack {
        /// The byte sent with `Command::LoopBack`.
        byte: u8,
    },
    /// DIGITAL_REPORT `[pin, value]`: an input pin changed.
    Digital {
        /// GPIO.
        pin: u8,
        /// Level as sent (0 or 1 from real firmware).
        value: u8,
    },
    /// ANALOG_REPORT `[pin, hi, lo]`.
    Analog {
        /// ADC number (Pico), GPIO (ESP32) or analog pin (Arduino).
        pin: u8,
        /// Reading.
        value: u16,
    },
    /// FIRMWARE_REPORT.
    FirmwareVersion(FirmwareVersion),
    /// Pico UNIQUE_ID_REPORT: 8 bytes (the firmware fills 6 of the board id, then two 0s).
    PicoUniqueId([u8; 8]),
    /// Arduino I_AM_HERE `[instance id]`.
    IAmHere {
        /// The sketch's `ARDUINO_ID` (1 unless changed).
        instance_id: u8,
    },
    /// Arduino FEATURES `[bitmask]` (`ids::arduino::feature`).
    Features(u8),
    /// SERVO_UNAVAILABLE `[pin]`: no free servo for this pin.
    ServoUnavailable {
        /// GPIO.
        pin: u8,
    },
    /// I2C_READ_REPORT. Pico `[port, address, register, count, data…]`, ESP32 `[count,
    /// address, register, data…]`, Arduino `[port, count, address, register, data…]`; `count`
    /// must equal the data's length.
    I2cData {
        /// I2C port (`None` from an ESP32, which has one).
        port: Option<u8>,
        /// Device address.
        address: u8,
        /// Register read (254 on a Pico read without register).
        register: u8,
        /// Bytes read.
        data: &'a [u8],
    },
    /// An I2C failure. Pico `[port, address, x]` (the firmware sends one stale byte after
    /// the address), ESP32/Arduino `[port, address]`.
    I2cError {
        /// What failed.
        kind: I2cErrorKind,
        /// I2C port.
        port: u8,
        /// Device address.
        address: u8,
        /// The Pico's trailing byte (meaningless; kept so the frame re-encodes exactly).
        trailing: Option<u8>,
    },
    /// SONAR_DISTANCE `[trigger, …]`.
    Sonar {
        /// Trigger GPIO (identifies the sonar).
        trigger_pin: u8,
        /// Distance.
        distance: SonarDistance,
    },
    /// DEBUG_PRINT `[id, hi, lo]`.
    Debug {
        /// Debug id.
        id: u8,
        /// Value.
        value: u16,
    },
    /// A report this family defines but this module does not interpret (DHT, SPI,
    /// OneWire, touch, stepper): id and raw payload.
    Other {
        /// Report id.
        id: u8,
        /// Bytes after the id.
        payload: &'a [u8],
    },
    /// An id this family does not define; skipped by its length.
    Unknown {
        /// Report id.
        id: u8,
        /// Bytes after the id.
        payload: &'a [u8],
    },
}

/// Why a complete frame was not a valid report. The frame is dropped; the decoder stays
/// aligned on the frame's length.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Malformed {
    /// A length byte of 0 (no id). No firmware sends one: one byte is dropped.
    ZeroLength,
    /// A known report id with a payload of the wrong size for this family.
    Length {
        /// Report id.
        id: u8,
        /// The payload's length.
        len: u8,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroLength => f.write_str("frame with length 0"),
            Self::Length { id, len } => {
                write!(
                    f,
                    "report {id} with a payload of {len} bytes, wrong for its type"
                )
            }
        }
    }
}

impl core::error::Error for Malformed {}

/// Why [`Report::emit`] failed. Nothing usable is written on error.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EmitError {
    /// This family has no such report, or sends it in another shape (a Pico sonar value in
    /// whole centimetres, an ESP32 I2C report with a port …).
    NotInFamily,
    /// The frame would exceed 255 bytes after the length byte.
    TooLong,
    /// The output buffer is too short.
    BufferFull,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotInFamily => "this family has no report of this shape",
            Self::TooLong => "report longer than 255 bytes",
            Self::BufferFull => "output buffer too small for the report",
        })
    }
}

impl core::error::Error for EmitError {}

/// What a report id means, per family (the one table both parsing and emitting read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    LoopBack,
    Digital,
    Analog,
    Firmware,
    UniqueId,
    IAmHere,
    Features,
    ServoUnavailable,
    I2cData,
    I2cError(I2cErrorKind),
    Sonar,
    Debug,
    Other,
}

const PICO_REPORTS: &[(u8, Kind)] = {
    use rpi_pico::report::*;
    &[
        (LOOP_BACK, Kind::LoopBack),
        (DIGITAL, Kind::Digital),
        (ANALOG, Kind::Analog),
        (FIRMWARE, Kind::Firmware),
        (UNIQUE_ID, Kind::UniqueId),
        (SERVO_UNAVAILABLE, Kind::ServoUnavailable),
        (I2C_WRITE_FAILED, Kind::I2cError(I2cErrorKind::WriteFailed)),
        (I2C_READ_FAILED, Kind::I2cError(I2cErrorKind::ReadFailed)),
        (I2C_READ, Kind::I2cData),
        (SONAR_DISTANCE, Kind::Sonar),
        (DHT, Kind::Other),
        (SPI, Kind::Other),
        (DEBUG_PRINT, Kind::Debug),
    ]
};

const ESP32_REPORTS: &[(u8, Kind)] = {
    use esp32::report::*;
    &[
        (LOOP_BACK, Kind::LoopBack),
        (DIGITAL, Kind::Digital),
        (ANALOG, Kind::Analog),
        (FIRMWARE, Kind::Firmware),
        (SERVO_UNAVAILABLE, Kind::ServoUnavailable),
        (I2C_TOO_FEW_BYTES, Kind::I2cError(I2cErrorKind::TooFewBytes)),
        (
            I2C_TOO_MANY_BYTES,
            Kind::I2cError(I2cErrorKind::TooManyBytes),
        ),
        (I2C_READ, Kind::I2cData),
        (SONAR_DISTANCE, Kind::Sonar),
        (DHT, Kind::Other),
        (TOUCH, Kind::Other),
        (SPI, Kind::Other),
        (ONE_WIRE, Kind::Other),
        // STEPPER_DISTANCE_TO_GO … STEPPER_RUN_COMPLETE_REPORT.
        (15, Kind::Other),
        (16, Kind::Other),
        (17, Kind::Other),
        (18, Kind::Other),
        (19, Kind::Other),
        (DEBUG_PRINT, Kind::Debug),
    ]
};

const ARDUINO_REPORTS: &[(u8, Kind)] = {
    use arduino::report::*;
    &[
        (LOOP_BACK, Kind::LoopBack),
        (DIGITAL, Kind::Digital),
        (ANALOG, Kind::Analog),
        (FIRMWARE, Kind::Firmware),
        (I_AM_HERE, Kind::IAmHere),
        (SERVO_UNAVAILABLE, Kind::ServoUnavailable),
        (I2C_TOO_FEW_BYTES, Kind::I2cError(I2cErrorKind::TooFewBytes)),
        (
            I2C_TOO_MANY_BYTES,
            Kind::I2cError(I2cErrorKind::TooManyBytes),
        ),
        (I2C_READ, Kind::I2cData),
        (SONAR_DISTANCE, Kind::Sonar),
        (DHT, Kind::Other),
        (SPI, Kind::Other),
        (ONE_WIRE, Kind::Other),
        // STEPPER_DISTANCE_TO_GO … STEPPER_RUN_COMPLETE_REPORT.
        (15, Kind::Other),
        (16, Kind::Other),
        (17, Kind::Other),
        (18, Kind::Other),
        (19, Kind::Other),
        (FEATURES, Kind::Features),
        (DEBUG_PRINT, Kind::Debug),
    ]
};

fn table(family: Family) -> &'static [(u8, Kind)] {
    match family {
        Family::RpiPico => PICO_REPORTS,
        Family::Esp32 => ESP32_REPORTS,
        Family::Arduino => ARDUINO_REPORTS,
    }
}

fn kind_of(family: Family, id: u8) -> Option<Kind> {
    table(family)
        .iter()
        .find(|(i, _)| *i == id)
        .map(|&(_, k)| k)
}

fn id_of(family: Family, kind: Kind) -> Option<u8> {
    table(family)
        .iter()
        .find(|(_, k)| *k == kind)
        .map(|&(i, _)| i)
}

impl<'a> Report<'a> {
    /// Parses the report with `id` and `payload` (the frame without its length byte and id)
    /// for `family`. Never panics.
    pub fn parse(family: Family, id: u8, payload: &'a [u8]) -> Result<Self, Malformed> {
        let bad = || Malformed::Length {
            id,
            len: u8::try_from(payload.len()).unwrap_or(u8::MAX),
        };
        let Some(kind) = kind_of(family, id) else {
            return Ok(Self::Unknown { id, payload });
        };
        let be = |hi: u8, lo: u8| u16::from_be_bytes([hi, lo]);
        Ok(match (kind, payload) {
            (Kind::LoopBack, &[byte]) => Self::LoopBack { byte },
            (Kind::Digital, &[pin, value]) => Self::Digital { pin, value },
            (Kind::Analog, &[pin, hi, lo]) => Self::Analog {
                pin,
                value: be(hi, lo),
            },
            (Kind::Firmware, &[major, minor]) if family == Family::RpiPico => {
                Self::FirmwareVersion(FirmwareVersion {
                    major,
                    minor,
                    patch: None,
                })
            }
            (Kind::Firmware, &[major, minor, patch]) if family != Family::RpiPico => {
                Self::FirmwareVersion(FirmwareVersion {
                    major,
                    minor,
                    patch: Some(patch),
                })
            }
            (Kind::UniqueId, &[a, b, c, d, e, f, g, h]) => {
                Self::PicoUniqueId([a, b, c, d, e, f, g, h])
            }
            (Kind::IAmHere, &[instance_id]) => Self::IAmHere { instance_id },
            (Kind::Features, &[bits]) => Self::Features(bits),
            (Kind::ServoUnavailable, &[pin]) => Self::ServoUnavailable { pin },
            (Kind::Debug, &[id, hi, lo]) => Self::Debug {
                id,
                value: be(hi, lo),
            },
            (Kind::Sonar, &[trigger_pin, a, b]) => Self::Sonar {
                trigger_pin,
                distance: if family == Family::RpiPico {
                    SonarDistance::CentimetersHundredths {
                        cm: a,
                        hundredths: b,
                    }
                } else {
                    SonarDistance::Centimeters(be(a, b))
                },
            },
            (Kind::I2cError(kind), &[port, address, x]) if family == Family::RpiPico => {
                Self::I2cError {
                    kind,
                    port,
                    address,
                    trailing: Some(x),
                }
            }
            (Kind::I2cError(kind), &[port, address]) if family != Family::RpiPico => {
                Self::I2cError {
                    kind,
                    port,
                    address,
                    trailing: None,
                }
            }
            (Kind::I2cData, _) => {
                let (port, address, register, count, data) = match (family, payload) {
                    (Family::RpiPico, [port, address, register, count, data @ ..]) => {
                        (Some(*port), *address, *register, *count, data)
                    }
                    (Family::Esp32, [count, address, register, data @ ..]) => {
                        (None, *address, *register, *count, data)
                    }
                    (Family::Arduino, [port, count, address, register, data @ ..]) => {
                        (Some(*port), *address, *register, *count, data)
                    }
                    _ => return Err(bad()),
                };
                if usize::from(count) != data.len() {
                    return Err(bad());
                }
                Self::I2cData {
                    port,
                    address,
                    register,
                    data,
                }
            }
            (Kind::Other, _) => Self::Other { id, payload },
            _ => return Err(bad()),
        })
    }

    /// Writes this report's frame for `family` (`[length, id, payload…]`, what the firmware
    /// sends) to the start of `out` and returns its length. For test devices and fuzzing.
    pub fn emit(&self, family: Family, out: &mut [u8]) -> Result<usize, EmitError> {
        let pico = family == Family::RpiPico;
        let mut head = [0u8; 8];
        let (kind, head_len, tail): (Kind, usize, &[u8]) = match *self {
            Self::LoopBack { byte } => {
                head[0] = byte;
                (Kind::LoopBack, 1, &[])
            }
            Self::Digital { pin, value } => {
                head[..2].copy_from_slice(&[pin, value]);
                (Kind::Digital, 2, &[])
            }
            Self::Analog { pin, value } => {
                let [hi, lo] = value.to_be_bytes();
                head[..3].copy_from_slice(&[pin, hi, lo]);
                (Kind::Analog, 3, &[])
            }
            Self::FirmwareVersion(v) => match (pico, v.patch) {
                (true, None) => {
                    head[..2].copy_from_slice(&[v.major, v.minor]);
                    (Kind::Firmware, 2, &[])
                }
                (false, Some(patch)) => {
                    head[..3].copy_from_slice(&[v.major, v.minor, patch]);
                    (Kind::Firmware, 3, &[])
                }
                _ => return Err(EmitError::NotInFamily),
            },
            Self::PicoUniqueId(id) => {
                head = id;
                (Kind::UniqueId, 8, &[])
            }
            Self::IAmHere { instance_id } => {
                head[0] = instance_id;
                (Kind::IAmHere, 1, &[])
            }
            Self::Features(bits) => {
                head[0] = bits;
                (Kind::Features, 1, &[])
            }
            Self::ServoUnavailable { pin } => {
                head[0] = pin;
                (Kind::ServoUnavailable, 1, &[])
            }
            Self::Debug { id, value } => {
                let [hi, lo] = value.to_be_bytes();
                head[..3].copy_from_slice(&[id, hi, lo]);
                (Kind::Debug, 3, &[])
            }
            Self::Sonar {
                trigger_pin,
                distance,
            } => {
                let [a, b] = match (pico, distance) {
                    (true, SonarDistance::CentimetersHundredths { cm, hundredths }) => {
                        [cm, hundredths]
                    }
                    (false, SonarDistance::Centimeters(cm)) => cm.to_be_bytes(),
                    _ => return Err(EmitError::NotInFamily),
                };
                head[..3].copy_from_slice(&[trigger_pin, a, b]);
                (Kind::Sonar, 3, &[])
            }
            Self::I2cError {
                kind,
                port,
                address,
                trailing,
            } => match (pico, trailing) {
                (true, Some(x)) => {
                    head[..3].copy_from_slice(&[port, address, x]);
                    (Kind::I2cError(kind), 3, &[])
                }
                (false, None) => {
                    head[..2].copy_from_slice(&[port, address]);
                    (Kind::I2cError(kind), 2, &[])
                }
                _ => return Err(EmitError::NotInFamily),
            },
            Self::I2cData {
                port,
                address,
                register,
                data,
            } => {
                let count = u8::try_from(data.len()).map_err(|_| EmitError::TooLong)?;
                let n = match (family, port) {
                    (Family::RpiPico, Some(port)) => {
                        head[..4].copy_from_slice(&[port, address, register, count]);
                        4
                    }
                    (Family::Esp32, None) => {
                        head[..3].copy_from_slice(&[count, address, register]);
                        3
                    }
                    (Family::Arduino, Some(port)) => {
                        head[..4].copy_from_slice(&[port, count, address, register]);
                        4
                    }
                    _ => return Err(EmitError::NotInFamily),
                };
                (Kind::I2cData, n, data)
            }
            Self::Other { id, payload } => {
                if kind_of(family, id) != Some(Kind::Other) {
                    return Err(EmitError::NotInFamily);
                }
                return frame(id, &[], payload, out);
            }
            Self::Unknown { id, payload } => {
                if kind_of(family, id).is_some() {
                    return Err(EmitError::NotInFamily);
                }
                return frame(id, &[], payload, out);
            }
        };
        let id = id_of(family, kind).ok_or(EmitError::NotInFamily)?;
        frame(id, head.get(..head_len).unwrap_or(&[]), tail, out)
    }
}

/// `[1 + head + tail, id, head…, tail…]` into `out`.
fn frame(id: u8, head: &[u8], tail: &[u8], out: &mut [u8]) -> Result<usize, EmitError> {
    let length = 1 + head.len() + tail.len();
    let length_byte = u8::try_from(length).map_err(|_| EmitError::TooLong)?;
    let dest = out.get_mut(..1 + length).ok_or(EmitError::BufferFull)?;
    let (first, rest) = dest.split_at_mut(2);
    first.copy_from_slice(&[length_byte, id]);
    let (h, t) = rest.split_at_mut(head.len());
    h.copy_from_slice(head);
    t.copy_from_slice(tail);
    Ok(1 + length)
}
