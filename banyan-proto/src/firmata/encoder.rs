//! Host → board commands.

use core::fmt;

use super::{PinMode, cmd, split14};

/// Largest 14-bit value (two data bytes).
const MAX14: u32 = 0x3FFF;
/// Largest 21-bit value (three data bytes, EXTENDED_ANALOG and stepper speed).
const MAX21: u32 = 0x1F_FFFF;
/// Largest pin number (one data byte).
const MAX_PIN: u32 = 0x7F;
/// Largest port or analog channel (the low nibble of a status byte).
const MAX_NIBBLE: u32 = 0x0F;
/// Largest 10-bit I2C address.
const MAX_I2C_ADDRESS: u32 = 0x3FF;

/// A command to the board. Encode it with [`encode`]; see the module docs for the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command<'a> {
    /// Ask for the protocol version (answered by [`Event::ProtocolVersion`](super::Event)).
    ReportVersion,
    /// Ask for the firmware name and version ([`Event::Firmware`](super::Event)).
    ReportFirmware,
    /// Ask for every pin's modes ([`Event::Capabilities`](super::Event)).
    CapabilityQuery,
    /// Ask for the pin ↔ analog channel map ([`Event::AnalogMapping`](super::Event)).
    AnalogMappingQuery,
    /// Ask for a pin's mode and state ([`Event::PinState`](super::Event)).
    PinStateQuery {
        /// The pin (0–127).
        pin: u8,
    },
    /// Reset the firmware: every pin back to its default, all reporting off.
    SystemReset,
    /// Set a pin's mode. (StandardFirmata switches an analog channel's reporting on when its
    /// pin is set to [`PinMode::Analog`].)
    SetPinMode {
        /// The pin (0–127).
        pin: u8,
        /// The mode.
        mode: PinMode,
    },
    /// Write the 8 output pins of a port at once (DIGITAL_MESSAGE).
    DigitalPort {
        /// Port 0–15 (pins `8 * port` … `8 * port + 7`).
        port: u8,
        /// Pin levels, bit 0 = first pin of the port.
        pins: u8,
    },
    /// Write one digital pin (SET_DIGITAL_PIN_VALUE; protocol 2.5 and FirmataExpress —
    /// StandardFirmata 2.4 ignores it, use [`DigitalPort`](Self::DigitalPort) there).
    SetDigitalPin {
        /// The pin (0–127).
        pin: u8,
        /// Drive it high.
        high: bool,
    },
    /// Write a PWM duty or servo angle: ANALOG_MESSAGE for pins 0–15 with values up to 14
    /// bits, otherwise EXTENDED_ANALOG with 3 value bytes (as pymata sends it).
    AnalogWrite {
        /// The pin (0–127).
        pin: u8,
        /// The value (up to 21 bits).
        value: u32,
    },
    /// Switch reporting of an analog channel on or off.
    ReportAnalog {
        /// Analog channel 0–15.
        channel: u8,
        /// On or off.
        enable: bool,
    },
    /// Switch reporting of a digital port on or off.
    ReportDigital {
        /// Port 0–15.
        port: u8,
        /// On or off.
        enable: bool,
    },
    /// Set how often analog inputs (and I2C continuous reads, sonar, DHT) are reported.
    SamplingInterval {
        /// Milliseconds (14 bits; StandardFirmata ignores values under 10).
        ms: u16,
    },
    /// Attach a servo to a pin with its pulse range.
    ServoConfig {
        /// The pin (0–127).
        pin: u8,
        /// Pulse width at 0° in µs (14 bits; pymata's default 544).
        min_pulse_us: u16,
        /// Pulse width at 180° in µs (14 bits; pymata's default 2400).
        max_pulse_us: u16,
    },
    /// Enable I2C, with a delay between writing a register and reading it.
    I2cConfig {
        /// Microseconds (14 bits).
        delay_us: u16,
    },
    /// An I2C transfer.
    I2cRequest {
        /// 7-bit address (0–127), or a 10-bit one (128–1023) sent in 10-bit mode.
        address: u16,
        /// Restart instead of stop after the transfer (pymata's `I2C_END_TX_MASK`, needed by
        /// devices such as the MMA8452Q).
        restart: bool,
        /// What to do.
        op: I2cOp<'a>,
    },
    /// Ask a FirmataExpress board for its instance id ([`Event::IAmHere`](super::Event)).
    AreYouThere,
    /// FirmataExpress keep-alive: the board resets itself when none comes within the period.
    KeepAlive {
        /// Period in seconds (pymata: 0–10; 0 switches the watchdog off).
        period_s: u16,
    },
    /// Play a tone (FirmataExpress).
    Tone {
        /// The pin (0–127).
        pin: u8,
        /// Frequency in Hz (14 bits).
        frequency_hz: u16,
        /// Duration in ms (14 bits); 0 plays until [`NoTone`](Self::NoTone).
        duration_ms: u16,
    },
    /// Stop a tone (FirmataExpress).
    NoTone {
        /// The pin (0–127).
        pin: u8,
    },
    /// Attach an HC-SR04 sonar (FirmataExpress; it then reports
    /// [`Event::SonarData`](super::Event) every sampling interval). Set both pins to
    /// [`PinMode::Sonar`] first, as pymata does.
    SonarConfig {
        /// Trigger pin (0–127).
        trigger_pin: u8,
        /// Echo pin (0–127).
        echo_pin: u8,
        /// The 14-bit limit FirmataExpress passes to its ping library (pymata calls it
        /// `timeout` and sends `80000 mod 2¹⁴` = 14464 by default).
        max_distance: u16,
    },
    /// Attach a DHT sensor (FirmataExpress; it then reports [`Event::DhtData`](super::Event)).
    DhtConfig {
        /// The data pin (0–127).
        pin: u8,
        /// 11 or 22 (any 7-bit value is sent).
        sensor_type: u8,
    },
    /// Configure the stepper motor (FirmataExpress: one motor).
    StepperConfig {
        /// Steps per revolution (14 bits).
        steps_per_revolution: u16,
        /// Its control pins.
        pins: StepperPins,
    },
    /// Move the stepper motor (FirmataExpress).
    StepperStep {
        /// Speed (21 bits, revolutions per minute as the firmware's Stepper library takes it).
        speed: u32,
        /// Steps, positive forward, negative or 0 backward as pymata sends it (|steps| up to
        /// 14 bits).
        steps: i16,
    },
    /// Any other sysex: `F0 command data… F7` (command and data 7-bit).
    Sysex {
        /// The sysex command byte.
        command: u8,
        /// Its data bytes.
        data: &'a [u8],
    },
}

/// What an [`Command::I2cRequest`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum I2cOp<'a> {
    /// Write bytes (each sent as two 7-bit data bytes).
    Write(&'a [u8]),
    /// Read once (answered by one [`Event::I2cReply`](super::Event)).
    Read {
        /// Register to read from, or `None` for devices without registers.
        register: Option<u16>,
        /// Bytes to read (14 bits).
        count: u16,
    },
    /// Read every sampling interval until [`StopReading`](Self::StopReading).
    ReadContinuously {
        /// Register to read from, or `None`.
        register: Option<u16>,
        /// Bytes to read (14 bits).
        count: u16,
    },
    /// Stop continuous reads of the address.
    StopReading,
}

/// The control pins of a stepper motor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StepperPins {
    /// A two-wire driver.
    Two([u8; 2]),
    /// A four-wire driver.
    Four([u8; 4]),
}

impl StepperPins {
    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Two(pins) => pins,
            Self::Four(pins) => pins,
        }
    }
}

/// Why a command or event could not be encoded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The output buffer is too short (see [`Command::encoded_len`]).
    BufferFull,
    /// A field's value does not fit the bits Firmata gives it; nothing is sent.
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u32,
        /// The largest value the field can carry.
        max: u32,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferFull => f.write_str("output buffer too small for the Firmata message"),
            Self::OutOfRange { field, value, max } => {
                write!(f, "{field} {value} is out of range (at most {max})")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

/// `Err(OutOfRange)` unless `value <= max`.
pub(crate) fn check(field: &'static str, value: u32, max: u32) -> Result<(), EncodeError> {
    if value <= max {
        Ok(())
    } else {
        Err(EncodeError::OutOfRange { field, value, max })
    }
}

/// A 14-bit field, checked, as LSB/MSB.
pub(crate) fn bits14(field: &'static str, value: u16) -> Result<[u8; 2], EncodeError> {
    check(field, u32::from(value), MAX14)?;
    Ok(split14(value))
}

/// A 7-bit field, checked.
pub(crate) fn bits7(field: &'static str, value: u8) -> Result<u8, EncodeError> {
    check(field, u32::from(value), MAX_PIN)?;
    Ok(value)
}

/// Writes bytes into a caller buffer.
pub(crate) struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl<'o> Writer<'o> {
    pub(crate) fn new(out: &'o mut [u8]) -> Self {
        Self { out, len: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(EncodeError::BufferFull)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(EncodeError::BufferFull)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    pub(crate) fn byte(&mut self, byte: u8) -> Result<(), EncodeError> {
        self.put(&[byte])
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Command<'_> {
    /// Bytes [`encode`] writes for this command (when its fields are in range).
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::ReportVersion | Self::SystemReset => 1,
            Self::ReportFirmware
            | Self::CapabilityQuery
            | Self::AnalogMappingQuery
            | Self::AreYouThere => 3,
            Self::PinStateQuery { .. } => 4,
            Self::ReportAnalog { .. } | Self::ReportDigital { .. } => 2,
            Self::SetPinMode { .. } | Self::DigitalPort { .. } | Self::SetDigitalPin { .. } => 3,
            Self::AnalogWrite { pin, value } => {
                if *pin <= 15 && *value <= MAX14 {
                    3
                } else {
                    7
                }
            }
            Self::SamplingInterval { .. } | Self::I2cConfig { .. } | Self::KeepAlive { .. } => 5,
            Self::ServoConfig { .. } => 8,
            Self::I2cRequest { op, .. } => {
                5 + match op {
                    I2cOp::Write(bytes) => 2 * bytes.len(),
                    I2cOp::Read { register, .. } | I2cOp::ReadContinuously { register, .. } => {
                        2 + if register.is_some() { 2 } else { 0 }
                    }
                    I2cOp::StopReading => 0,
                }
            }
            Self::Tone { .. } => 9,
            Self::NoTone { .. } | Self::DhtConfig { .. } => 5,
            Self::SonarConfig { .. } => 7,
            Self::StepperConfig { pins, .. } => 6 + pins.as_slice().len(),
            Self::StepperStep { .. } => 10,
            Self::Sysex { data, .. } => 3 + data.len(),
        }
    }
}

/// Writes `command`'s bytes to the start of `out` and returns how many.
///
/// Errors: [`EncodeError::OutOfRange`] when a field does not fit its bits (checked before
/// anything is written), [`EncodeError::BufferFull`] when `out` is shorter than
/// [`Command::encoded_len`].
pub fn encode(command: &Command<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    match *command {
        Command::ReportVersion => w.byte(cmd::REPORT_VERSION)?,
        Command::SystemReset => w.byte(cmd::SYSTEM_RESET)?,
        Command::ReportFirmware => sysex(&mut w, cmd::REPORT_FIRMWARE, &[])?,
        Command::CapabilityQuery => sysex(&mut w, cmd::CAPABILITY_QUERY, &[])?,
        Command::AnalogMappingQuery => sysex(&mut w, cmd::ANALOG_MAPPING_QUERY, &[])?,
        Command::AreYouThere => sysex(&mut w, cmd::ARE_YOU_THERE, &[])?,
        Command::PinStateQuery { pin } => {
            sysex(&mut w, cmd::PIN_STATE_QUERY, &[bits7("pin", pin)?])?;
        }
        Command::SetPinMode { pin, mode } => {
            let pin = bits7("pin", pin)?;
            let mode = bits7("mode", mode.to_u8())?;
            w.put(&[cmd::SET_PIN_MODE, pin, mode])?;
        }
        Command::DigitalPort { port, pins } => {
            check("port", u32::from(port), MAX_NIBBLE)?;
            w.put(&[cmd::DIGITAL_MESSAGE | port, pins & 0x7F, pins >> 7])?;
        }
        Command::SetDigitalPin { pin, high } => {
            w.put(&[
                cmd::SET_DIGITAL_PIN_VALUE,
                bits7("pin", pin)?,
                u8::from(high),
            ])?;
        }
        Command::AnalogWrite { pin, value } => {
            let pin = bits7("pin", pin)?;
            check("value", value, MAX21)?;
            if pin <= 15 && value <= MAX14 {
                let [lsb, msb] = split14(value as u16);
                w.put(&[cmd::ANALOG_MESSAGE | pin, lsb, msb])?;
            } else {
                let [v0, v1, v2] = split21(value);
                sysex(&mut w, cmd::EXTENDED_ANALOG, &[pin, v0, v1, v2])?;
            }
        }
        Command::ReportAnalog { channel, enable } => {
            check("channel", u32::from(channel), MAX_NIBBLE)?;
            w.put(&[cmd::REPORT_ANALOG | channel, u8::from(enable)])?;
        }
        Command::ReportDigital { port, enable } => {
            check("port", u32::from(port), MAX_NIBBLE)?;
            w.put(&[cmd::REPORT_DIGITAL | port, u8::from(enable)])?;
        }
        Command::SamplingInterval { ms } => {
            sysex(&mut w, cmd::SAMPLING_INTERVAL, &bits14("interval", ms)?)?;
        }
        Command::ServoConfig {
            pin,
            min_pulse_us,
            max_pulse_us,
        } => {
            let pin = bits7("pin", pin)?;
            let [a, b] = bits14("min_pulse", min_pulse_us)?;
            let [c, d] = bits14("max_pulse", max_pulse_us)?;
            sysex(&mut w, cmd::SERVO_CONFIG, &[pin, a, b, c, d])?;
        }
        Command::I2cConfig { delay_us } => {
            sysex(&mut w, cmd::I2C_CONFIG, &bits14("delay", delay_us)?)?;
        }
        Command::I2cRequest {
            address,
            restart,
            op,
        } => i2c_request(&mut w, address, restart, op)?,
        Command::KeepAlive { period_s } => {
            sysex(&mut w, cmd::KEEP_ALIVE, &bits14("period", period_s)?)?;
        }
        Command::Tone {
            pin,
            frequency_hz,
            duration_ms,
        } => {
            let pin = bits7("pin", pin)?;
            let [a, b] = bits14("frequency", frequency_hz)?;
            let [c, d] = bits14("duration", duration_ms)?;
            sysex(&mut w, cmd::TONE_DATA, &[0, pin, a, b, c, d])?;
        }
        Command::NoTone { pin } => {
            sysex(&mut w, cmd::TONE_DATA, &[1, bits7("pin", pin)?])?;
        }
        Command::SonarConfig {
            trigger_pin,
            echo_pin,
            max_distance,
        } => {
            let trigger = bits7("trigger pin", trigger_pin)?;
            let echo = bits7("echo pin", echo_pin)?;
            let [a, b] = bits14("max distance", max_distance)?;
            sysex(&mut w, cmd::SONAR_CONFIG, &[trigger, echo, a, b])?;
        }
        Command::DhtConfig { pin, sensor_type } => {
            let pin = bits7("pin", pin)?;
            let sensor_type = bits7("sensor type", sensor_type)?;
            sysex(&mut w, cmd::DHT_CONFIG, &[pin, sensor_type])?;
        }
        Command::StepperConfig {
            steps_per_revolution,
            pins,
        } => {
            let [a, b] = bits14("steps per revolution", steps_per_revolution)?;
            for &pin in pins.as_slice() {
                bits7("pin", pin)?;
            }
            w.put(&[cmd::START_SYSEX, cmd::STEPPER_DATA, 0, a, b])?;
            w.put(pins.as_slice())?;
            w.byte(cmd::END_SYSEX)?;
        }
        Command::StepperStep { speed, steps } => {
            check("speed", speed, MAX21)?;
            let magnitude = steps.unsigned_abs();
            let [a, b] = bits14("steps", magnitude)?;
            let [s0, s1, s2] = split21(speed);
            let forward = u8::from(steps > 0);
            sysex(&mut w, cmd::STEPPER_DATA, &[1, s0, s1, s2, a, b, forward])?;
        }
        Command::Sysex { command, data } => {
            bits7("sysex command", command)?;
            for &byte in data {
                bits7("sysex data byte", byte)?;
            }
            w.put(&[cmd::START_SYSEX, command])?;
            w.put(data)?;
            w.byte(cmd::END_SYSEX)?;
        }
    }
    Ok(w.len())
}

/// [`encode`] into a new vector (feature `std`).
#[cfg(feature = "std")]
pub fn encode_to_vec(command: &Command<'_>) -> Result<std::vec::Vec<u8>, EncodeError> {
    let mut out = std::vec![0u8; command.encoded_len()];
    let n = encode(command, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// `F0 command data F7`; `data` must already be 7-bit.
pub(crate) fn sysex(w: &mut Writer<'_>, command: u8, data: &[u8]) -> Result<(), EncodeError> {
    w.put(&[cmd::START_SYSEX, command])?;
    w.put(data)?;
    w.byte(cmd::END_SYSEX)
}

/// Three 7-bit groups, least significant first (value checked ≤ 21 bits by the caller).
fn split21(value: u32) -> [u8; 3] {
    [
        (value & 0x7F) as u8,
        ((value >> 7) & 0x7F) as u8,
        ((value >> 14) & 0x7F) as u8,
    ]
}

fn i2c_request(
    w: &mut Writer<'_>,
    address: u16,
    restart: bool,
    op: I2cOp<'_>,
) -> Result<(), EncodeError> {
    check("I2C address", u32::from(address), MAX_I2C_ADDRESS)?;
    // Mode byte: bit 6 restart, bit 5 10-bit address, bits 4–3 read/write, bits 2–0 the
    // address's bits 7–9.
    let rw: u8 = match op {
        I2cOp::Write(_) => 0b00,
        I2cOp::Read { .. } => 0b01,
        I2cOp::ReadContinuously { .. } => 0b10,
        I2cOp::StopReading => 0b11,
    };
    let mut mode = (rw << 3) | if restart { 0x40 } else { 0 };
    if address > 0x7F {
        mode |= 0x20 | ((address >> 7) as u8 & 0x07);
    }
    let (register, count) = match op {
        I2cOp::Read { register, count } | I2cOp::ReadContinuously { register, count } => {
            (register, Some(count))
        }
        I2cOp::Write(_) | I2cOp::StopReading => (None, None),
    };
    let register = register.map(|r| bits14("I2C register", r)).transpose()?;
    let count = count.map(|c| bits14("I2C byte count", c)).transpose()?;
    w.put(&[
        cmd::START_SYSEX,
        cmd::I2C_REQUEST,
        (address & 0x7F) as u8,
        mode,
    ])?;
    if let Some(register) = register {
        w.put(&register)?;
    }
    if let Some(count) = count {
        w.put(&count)?;
    }
    if let I2cOp::Write(bytes) = op {
        for &byte in bytes {
            w.put(&[byte & 0x7F, byte >> 7])?;
        }
    }
    w.byte(cmd::END_SYSEX)
}
