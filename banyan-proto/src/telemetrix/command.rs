//! Host → board: typed commands and their bytes, per family.

use core::fmt;

use super::Family;
use super::ids::{arduino, esp32, reporting, rpi_pico};

/// A pin mode sent with SET_PIN_MODE. Servo, sonar, DHT and I2C pins are set up by their own
/// commands ([`Command::ServoAttach`], [`Command::SonarNew`], [`Command::DhtNew`],
/// [`Command::I2cBegin`]), as in every Telemetrix firmware.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinMode {
    /// Digital input; `report` switches its change reports on (`[pin, AT_INPUT, report]`).
    DigitalInput {
        /// Report changes of the pin.
        report: bool,
    },
    /// Digital input with the pull-up resistor.
    DigitalInputPullUp {
        /// Report changes of the pin.
        report: bool,
    },
    /// Digital input with the pull-down resistor (Pico, ESP32; the Arduino has none).
    DigitalInputPullDown {
        /// Report changes of the pin.
        report: bool,
    },
    /// Digital output.
    DigitalOutput,
    /// Analog input: report when the value moved by at least `differential`
    /// (`[pin, AT_ANALOG, diff_hi, diff_lo, report]`). On the Pico `pin` is the ADC number
    /// (0–4), on the ESP32 the GPIO, on the Arduino the analog pin number (A0 = 0).
    AnalogInput {
        /// Minimum change between two reports.
        differential: u16,
        /// Report the pin.
        report: bool,
    },
    /// PWM output. Pico: `AT_PWM_OUTPUT` (50 Hz, also used for servos). Arduino: the client
    /// sends `AT_OUTPUT` (`analogWrite` needs no mode). ESP32: use [`PinMode::Ledc`].
    PwmOutput,
    /// ESP32 LEDC PWM: `[pin, AT_PWM_OUT, channel, resolution, frequency as 8 bytes of a
    /// little-endian f64]` (the client's `struct.pack("d", frequency)` on a little-endian
    /// host, which is what the ESP32's `memcpy` expects).
    Ledc {
        /// LEDC channel, 0–15.
        channel: u8,
        /// Duty resolution in bits.
        resolution: u8,
        /// PWM frequency in Hz.
        frequency: f64,
    },
    /// ESP32 capacitive touch input (`[pin, AT_TOUCH, diff_hi, diff_lo, report]`).
    Touch {
        /// Minimum change between two reports.
        differential: u16,
        /// Report the pin.
        report: bool,
    },
}

/// A MODIFY_REPORTING request: `[MODIFY_REPORTING, sub-command, pin]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reporting {
    /// Stop reporting every pin (the pin byte is 0).
    DisableAll,
    /// Start reporting an analog pin.
    AnalogEnable(u8),
    /// Start reporting a digital pin (the firmware ignores pins whose mode is not set).
    DigitalEnable(u8),
    /// Stop reporting an analog pin.
    AnalogDisable(u8),
    /// Stop reporting a digital pin.
    DigitalDisable(u8),
}

/// A command to the board. Where the families' bytes differ the encoder follows each family's
/// Python client exactly; a command a family's firmware does not have is
/// [`EncodeError::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command<'a> {
    /// LOOP_COMMAND: the board sends the byte back (`Report::LoopBack`).
    LoopBack {
        /// The byte to echo.
        byte: u8,
    },
    /// SET_PIN_MODE.
    SetPinMode {
        /// GPIO (or analog pin / ADC number for [`PinMode::AnalogInput`]).
        pin: u8,
        /// The mode and its parameters.
        mode: PinMode,
    },
    /// DIGITAL_WRITE `[pin, value]`.
    DigitalWrite {
        /// GPIO.
        pin: u8,
        /// Level.
        value: bool,
    },
    /// PWM_WRITE (Pico: raw duty 0–19 999 of a 20 ms period) or ANALOG_WRITE (ESP32 LEDC
    /// duty, Arduino `analogWrite` 0–255): `[pin, value_hi, value_lo]`.
    PwmWrite {
        /// GPIO.
        pin: u8,
        /// Duty value, big-endian on the wire.
        value: u16,
    },
    /// SERVO_ATTACH `[pin, min_hi, min_lo, max_hi, max_lo]` (ESP32, Arduino; the Pico drives
    /// servos as PWM pins, see [`PinMode::PwmOutput`]).
    ServoAttach {
        /// GPIO.
        pin: u8,
        /// Pulse width at 0°, µs.
        min_pulse: u16,
        /// Pulse width at 180°, µs.
        max_pulse: u16,
    },
    /// SERVO_WRITE `[pin, angle]` (ESP32, Arduino).
    ServoWrite {
        /// GPIO.
        pin: u8,
        /// Angle in degrees.
        angle: u8,
    },
    /// SERVO_DETACH `[pin]` (ESP32, Arduino).
    ServoDetach {
        /// GPIO.
        pin: u8,
    },
    /// MODIFY_REPORTING.
    ModifyReporting(Reporting),
    /// GET_FIRMWARE_VERSION: answered by `Report::FirmwareVersion`.
    GetFirmwareVersion,
    /// Are-you-there: ARE_U_THERE on the Arduino (answered by `Report::IAmHere`),
    /// RETRIEVE_PICO_UNIQUE_ID on the Pico (answered by `Report::PicoUniqueId`); the ESP32
    /// has none.
    AreYouThere,
    /// GET_FEATURES (Arduino): answered by `Report::Features`.
    GetFeatures,
    /// I2C_BEGIN. Pico: `[port, sda, scl]`; Arduino: `[port]`; ESP32: no bytes (fixed pins).
    I2cBegin {
        /// I2C port (0 or 1).
        port: u8,
        /// SDA GPIO (Pico only).
        sda: u8,
        /// SCL GPIO (Pico only).
        scl: u8,
    },
    /// I2C_READ. Pico: `[port, address, register or 254, count, no_stop]`; ESP32: `[address,
    /// register or 0, count, stop]`; Arduino: `[address, register or 0, count, stop, port,
    /// write_register]`.
    I2cRead {
        /// I2C port (Pico, Arduino).
        port: u8,
        /// 7-bit device address.
        address: u8,
        /// Register to select first, or none.
        register: Option<u8>,
        /// Bytes to read.
        count: u8,
        /// Pico: keep the bus (no STOP) after the transfer. ESP32/Arduino: the client's
        /// `stop_transmission` is sent as `!restart`.
        restart: bool,
    },
    /// I2C_WRITE. Pico: `[port, address, len, no_stop, data…]`; ESP32: `[len, address,
    /// data…]`; Arduino: `[len, address, port, data…]`.
    I2cWrite {
        /// I2C port (Pico, Arduino).
        port: u8,
        /// 7-bit device address.
        address: u8,
        /// Bytes to write.
        data: &'a [u8],
        /// Pico: keep the bus after the transfer.
        no_stop: bool,
    },
    /// SONAR_NEW `[trigger, echo]`.
    SonarNew {
        /// Trigger GPIO.
        trigger: u8,
        /// Echo GPIO.
        echo: u8,
    },
    /// DHT_NEW. Pico, ESP32: `[pin]`; Arduino: `[pin, type]`.
    DhtNew {
        /// Data GPIO.
        pin: u8,
        /// 11 or 22 (Arduino only).
        dht_type: u8,
    },
    /// STOP_ALL_REPORTS.
    StopAllReports,
    /// ENABLE_ALL_REPORTS.
    EnableAllReports,
    /// SET_ANALOG_SCANNING_INTERVAL `[ms]` (ESP32, Arduino).
    SetAnalogScanInterval {
        /// Milliseconds between analog scans.
        ms: u8,
    },
    /// The family's reset: RESET_BOARD (Pico: watchdog reboot), RESET (ESP32:
    /// `ESP.restart()`), RESET (Arduino: `reset_data()`, the sketch keeps running).
    Reset,
    /// Any other command by id (NeoPixel, SPI, OneWire, stepper, DAC …): `[id, payload…]`.
    Raw {
        /// Command id.
        id: u8,
        /// Bytes after the id.
        payload: &'a [u8],
    },
}

impl Command<'_> {
    /// A short name of the command, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoopBack { .. } => "loop_back",
            Self::SetPinMode { .. } => "set_pin_mode",
            Self::DigitalWrite { .. } => "digital_write",
            Self::PwmWrite { .. } => "pwm_write",
            Self::ServoAttach { .. } => "servo_attach",
            Self::ServoWrite { .. } => "servo_write",
            Self::ServoDetach { .. } => "servo_detach",
            Self::ModifyReporting(_) => "modify_reporting",
            Self::GetFirmwareVersion => "get_firmware_version",
            Self::AreYouThere => "are_you_there",
            Self::GetFeatures => "get_features",
            Self::I2cBegin { .. } => "i2c_begin",
            Self::I2cRead { .. } => "i2c_read",
            Self::I2cWrite { .. } => "i2c_write",
            Self::SonarNew { .. } => "sonar_new",
            Self::DhtNew { .. } => "dht_new",
            Self::StopAllReports => "stop_all_reports",
            Self::EnableAllReports => "enable_all_reports",
            Self::SetAnalogScanInterval { .. } => "set_analog_scan_interval",
            Self::Reset => "reset",
            Self::Raw { .. } => "raw",
        }
    }
}

/// Why a command could not be encoded. Nothing is written to the output on error.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// This family's firmware has no such command (or pin mode).
    Unsupported {
        /// The family.
        family: Family,
        /// [`Command::name`].
        command: &'static str,
    },
    /// The frame would be longer than the firmware's command buffer takes
    /// (`MAX_COMMAND_LENGTH` of the family in [`ids`](super::ids)): the firmware would write
    /// past its buffer.
    TooLong {
        /// The frame's length byte (id + payload).
        len: usize,
        /// The family's largest length byte.
        max: u8,
    },
    /// The output buffer is too short.
    BufferFull,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { family, command } => {
                write!(f, "{family} firmware has no {command} command")
            }
            Self::TooLong { len, max } => write!(
                f,
                "command frame of length {len} exceeds the firmware's limit of {max}"
            ),
            Self::BufferFull => f.write_str("output buffer too small for the command"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Collects a frame's bytes in a fixed array before anything is written to the caller's
/// buffer (so an error leaves it untouched).
struct Body {
    buf: [u8; 256],
    len: usize,
}

impl Body {
    fn new(id: u8) -> Self {
        let mut body = Self {
            buf: [0; 256],
            len: 1,
        };
        // Byte 0 is the length, filled in by `finish`.
        body.push(id);
        body
    }

    /// Appends bytes; past 256 bytes it only counts, and `finish` reports the length.
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
        }
        self.len += 1;
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    fn u16(&mut self, value: u16) {
        self.extend(&value.to_be_bytes());
    }

    fn finish(mut self, max: u8, out: &mut [u8]) -> Result<usize, EncodeError> {
        let length = self.len - 1;
        if length > usize::from(max) {
            return Err(EncodeError::TooLong { len: length, max });
        }
        let too_long = EncodeError::TooLong { len: length, max };
        // `length <= max <= 255`, so the frame fits `buf`.
        *self.buf.first_mut().ok_or(too_long)? = u8::try_from(length).map_err(|_| too_long)?;
        let src = self.buf.get(..self.len).ok_or(too_long)?;
        let dest = out.get_mut(..self.len).ok_or(EncodeError::BufferFull)?;
        dest.copy_from_slice(src);
        Ok(self.len)
    }
}

/// Writes `command`'s frame for `family` (`[length, id, payload…]`) to the start of `out` and
/// returns its length. Never panics.
///
/// ```
/// use banyan_proto::telemetrix::{encode, Command, Family};
///
/// let mut out = [0u8; 8];
/// let n = encode(Family::RpiPico, &Command::DigitalWrite { pin: 25, value: true }, &mut out).unwrap();
/// assert_eq!(&out[..n], [3, 2, 25, 1]);
/// // The same call for the ESP32 uses the same id; a servo attach does not:
/// let servo = Command::ServoAttach { pin: 4, min_pulse: 544, max_pulse: 2400 };
/// let n = encode(Family::Esp32, &servo, &mut out).unwrap();
/// assert_eq!(&out[..n], [6, 6, 4, 0x02, 0x20, 0x09, 0x60]);
/// ```
pub fn encode(family: Family, command: &Command<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    let unsupported = || EncodeError::Unsupported {
        family,
        command: command.name(),
    };
    let max = family.max_command_length();
    let t = family.command_ids();
    let body = match *command {
        Command::LoopBack { byte } => {
            let mut b = Body::new(t.loop_back);
            b.push(byte);
            b
        }
        Command::SetPinMode { pin, mode } => {
            let mut b = Body::new(t.set_pin_mode);
            b.push(pin);
            pin_mode(family, mode, &mut b).ok_or_else(unsupported)?;
            b
        }
        Command::DigitalWrite { pin, value } => {
            let mut b = Body::new(t.digital_write);
            b.extend(&[pin, u8::from(value)]);
            b
        }
        Command::PwmWrite { pin, value } => {
            let mut b = Body::new(t.pwm_write);
            b.push(pin);
            b.u16(value);
            b
        }
        Command::ServoAttach {
            pin,
            min_pulse,
            max_pulse,
        } => {
            let mut b = Body::new(t.servo_attach.ok_or_else(unsupported)?);
            b.push(pin);
            b.u16(min_pulse);
            b.u16(max_pulse);
            b
        }
        Command::ServoWrite { pin, angle } => {
            let mut b = Body::new(t.servo_write.ok_or_else(unsupported)?);
            b.extend(&[pin, angle]);
            b
        }
        Command::ServoDetach { pin } => {
            let mut b = Body::new(t.servo_detach.ok_or_else(unsupported)?);
            b.push(pin);
            b
        }
        Command::ModifyReporting(r) => {
            let mut b = Body::new(t.modify_reporting);
            let (sub, pin) = match r {
                Reporting::DisableAll => (reporting::DISABLE_ALL, 0),
                Reporting::AnalogEnable(p) => (reporting::ANALOG_ENABLE, p),
                Reporting::DigitalEnable(p) => (reporting::DIGITAL_ENABLE, p),
                Reporting::AnalogDisable(p) => (reporting::ANALOG_DISABLE, p),
                Reporting::DigitalDisable(p) => (reporting::DIGITAL_DISABLE, p),
            };
            b.extend(&[sub, pin]);
            b
        }
        Command::GetFirmwareVersion => Body::new(t.get_firmware_version),
        Command::AreYouThere => Body::new(t.are_you_there.ok_or_else(unsupported)?),
        Command::GetFeatures => Body::new(t.get_features.ok_or_else(unsupported)?),
        Command::I2cBegin { port, sda, scl } => {
            let mut b = Body::new(t.i2c_begin);
            match family {
                Family::RpiPico => b.extend(&[port, sda, scl]),
                Family::Arduino => b.push(port),
                Family::Esp32 => {}
            }
            b
        }
        Command::I2cRead {
            port,
            address,
            register,
            count,
            restart,
        } => {
            let mut b = Body::new(t.i2c_read);
            match family {
                Family::RpiPico => b.extend(&[
                    port,
                    address,
                    register.unwrap_or(rpi_pico::I2C_NO_REGISTER),
                    count,
                    u8::from(restart),
                ]),
                Family::Esp32 => {
                    b.extend(&[address, register.unwrap_or(0), count, u8::from(!restart)])
                }
                Family::Arduino => b.extend(&[
                    address,
                    register.unwrap_or(0),
                    count,
                    u8::from(!restart),
                    port,
                    1,
                ]),
            }
            b
        }
        Command::I2cWrite {
            port,
            address,
            data,
            no_stop,
        } => {
            let mut b = Body::new(t.i2c_write);
            let len = u8::try_from(data.len()).unwrap_or(u8::MAX);
            match family {
                Family::RpiPico => b.extend(&[port, address, len, u8::from(no_stop)]),
                Family::Esp32 => b.extend(&[len, address]),
                Family::Arduino => b.extend(&[len, address, port]),
            }
            b.extend(data);
            b
        }
        Command::SonarNew { trigger, echo } => {
            let mut b = Body::new(t.sonar_new);
            b.extend(&[trigger, echo]);
            b
        }
        Command::DhtNew { pin, dht_type } => {
            let mut b = Body::new(t.dht_new);
            b.push(pin);
            if family == Family::Arduino {
                b.push(dht_type);
            }
            b
        }
        Command::StopAllReports => Body::new(t.stop_all_reports),
        Command::EnableAllReports => Body::new(t.enable_all_reports),
        Command::SetAnalogScanInterval { ms } => {
            let mut b = Body::new(t.set_analog_scan_interval.ok_or_else(unsupported)?);
            b.push(ms);
            b
        }
        Command::Reset => Body::new(t.reset),
        Command::Raw { id, payload } => {
            let mut b = Body::new(id);
            b.extend(payload);
            b
        }
    };
    body.finish(max, out)
}

/// SET_PIN_MODE's bytes after the pin; `None` when the family has no such mode.
fn pin_mode(family: Family, mode: PinMode, b: &mut Body) -> Option<()> {
    use Family::*;
    match (family, mode) {
        (_, PinMode::DigitalInput { report }) => b.extend(&[0, u8::from(report)]),
        (RpiPico, PinMode::DigitalInputPullUp { report }) => {
            b.extend(&[rpi_pico::mode::INPUT_PULLUP, u8::from(report)])
        }
        (Esp32, PinMode::DigitalInputPullUp { report }) => {
            b.extend(&[esp32::mode::INPUT_PULLUP, u8::from(report)])
        }
        (Arduino, PinMode::DigitalInputPullUp { report }) => {
            b.extend(&[arduino::mode::INPUT_PULLUP, u8::from(report)])
        }
        (RpiPico, PinMode::DigitalInputPullDown { report }) => {
            b.extend(&[rpi_pico::mode::INPUT_PULL_DOWN, u8::from(report)])
        }
        (Esp32, PinMode::DigitalInputPullDown { report }) => {
            b.extend(&[esp32::mode::INPUT_PULL_DOWN, u8::from(report)])
        }
        (_, PinMode::DigitalOutput) => b.push(1),
        (
            _,
            PinMode::AnalogInput {
                differential,
                report,
            },
        ) => {
            b.push(match family {
                RpiPico => rpi_pico::mode::ANALOG,
                Esp32 => esp32::mode::ANALOG,
                Arduino => arduino::mode::ANALOG,
            });
            b.u16(differential);
            b.push(u8::from(report));
        }
        (RpiPico, PinMode::PwmOutput) => b.push(rpi_pico::mode::PWM_OUTPUT),
        (Arduino, PinMode::PwmOutput) => b.push(arduino::mode::OUTPUT),
        (
            Esp32,
            PinMode::Ledc {
                channel,
                resolution,
                frequency,
            },
        ) => {
            b.extend(&[esp32::mode::PWM_OUT, channel, resolution]);
            b.extend(&frequency.to_le_bytes());
        }
        (
            Esp32,
            PinMode::Touch {
                differential,
                report,
            },
        ) => {
            b.push(esp32::mode::TOUCH);
            b.u16(differential);
            b.push(u8::from(report));
        }
        _ => return None,
    }
    Some(())
}

/// The command ids the typed [`Command`]s use, for one family (`None`: no such command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CommandIds {
    pub loop_back: u8,
    pub set_pin_mode: u8,
    pub digital_write: u8,
    pub pwm_write: u8,
    pub modify_reporting: u8,
    pub get_firmware_version: u8,
    pub are_you_there: Option<u8>,
    pub get_features: Option<u8>,
    pub servo_attach: Option<u8>,
    pub servo_write: Option<u8>,
    pub servo_detach: Option<u8>,
    pub i2c_begin: u8,
    pub i2c_read: u8,
    pub i2c_write: u8,
    pub sonar_new: u8,
    pub dht_new: u8,
    pub stop_all_reports: u8,
    pub enable_all_reports: u8,
    pub set_analog_scan_interval: Option<u8>,
    pub reset: u8,
}

pub(super) const PICO_COMMANDS: CommandIds = {
    use rpi_pico::cmd::*;
    CommandIds {
        loop_back: LOOP_COMMAND,
        set_pin_mode: SET_PIN_MODE,
        digital_write: DIGITAL_WRITE,
        pwm_write: PWM_WRITE,
        modify_reporting: MODIFY_REPORTING,
        get_firmware_version: GET_FIRMWARE_VERSION,
        are_you_there: Some(RETRIEVE_PICO_UNIQUE_ID),
        get_features: None,
        // The ids exist but the firmware's handlers are empty and the client never sends
        // them: servos are PWM pins on the Pico.
        servo_attach: None,
        servo_write: None,
        servo_detach: None,
        i2c_begin: I2C_BEGIN,
        i2c_read: I2C_READ,
        i2c_write: I2C_WRITE,
        sonar_new: SONAR_NEW,
        dht_new: DHT_NEW,
        stop_all_reports: STOP_ALL_REPORTS,
        enable_all_reports: ENABLE_ALL_REPORTS,
        set_analog_scan_interval: None,
        reset: RESET_BOARD,
    }
};

pub(super) const ESP32_COMMANDS: CommandIds = {
    use esp32::cmd::*;
    CommandIds {
        loop_back: LOOP_COMMAND,
        set_pin_mode: SET_PIN_MODE,
        digital_write: DIGITAL_WRITE,
        pwm_write: ANALOG_WRITE,
        modify_reporting: MODIFY_REPORTING,
        get_firmware_version: GET_FIRMWARE_VERSION,
        are_you_there: None,
        get_features: None,
        servo_attach: Some(SERVO_ATTACH),
        servo_write: Some(SERVO_WRITE),
        servo_detach: Some(SERVO_DETACH),
        i2c_begin: I2C_BEGIN,
        i2c_read: I2C_READ,
        i2c_write: I2C_WRITE,
        sonar_new: SONAR_NEW,
        dht_new: DHT_NEW,
        stop_all_reports: STOP_ALL_REPORTS,
        enable_all_reports: ENABLE_ALL_REPORTS,
        set_analog_scan_interval: Some(SET_ANALOG_SCANNING_INTERVAL),
        reset: RESET,
    }
};

pub(super) const ARDUINO_COMMANDS: CommandIds = {
    use arduino::cmd::*;
    CommandIds {
        loop_back: LOOP_COMMAND,
        set_pin_mode: SET_PIN_MODE,
        digital_write: DIGITAL_WRITE,
        pwm_write: ANALOG_WRITE,
        modify_reporting: MODIFY_REPORTING,
        get_firmware_version: GET_FIRMWARE_VERSION,
        are_you_there: Some(ARE_U_THERE),
        get_features: Some(GET_FEATURES),
        servo_attach: Some(SERVO_ATTACH),
        servo_write: Some(SERVO_WRITE),
        servo_detach: Some(SERVO_DETACH),
        i2c_begin: I2C_BEGIN,
        i2c_read: I2C_READ,
        i2c_write: I2C_WRITE,
        sonar_new: SONAR_NEW,
        dht_new: DHT_NEW,
        stop_all_reports: STOP_ALL_REPORTS,
        enable_all_reports: ENABLE_ALL_REPORTS,
        set_analog_scan_interval: Some(SET_ANALOG_SCANNING_INTERVAL),
        reset: RESET,
    }
};
