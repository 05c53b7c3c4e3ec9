//! Firmata: the serial protocol of stock Arduino boards running StandardFirmata (Arduino IDE
//! example, 57 600 baud, protocol 2.4/2.5) or FirmataExpress (115 200 baud; the firmware of
//! pymata4 / pymata-express, which adds an are-you-there handshake, keep-alive, tone, sonar,
//! stepper and DHT sysexes). Sans-IO: bytes in, events out; commands in, bytes out.
//!
//! * [`FirmataDecoder`] (board → host): a streaming parser fed arbitrary chunks, with a fixed
//!   sysex buffer; yields [`Feed`] events, each with the unconsumed input. Never panics, never
//!   allocates, resynchronises on the next status byte after noise.
//! * [`encode`] (host → board): a typed [`Command`] written into a caller buffer
//!   (`encode_to_vec` with feature `std`).
//! * [`Capabilities`]: what each pin supports, built from the capability and analog-mapping
//!   responses (in either order); the gateway asks it before sending a pin a mode.
//! * [`DigitalOutputs`]: the per-port output image DIGITAL_MESSAGE needs.
//! * [`Event::encode`]: the board's side of the replies (for test boards and fuzzing).
//!
//! # Wire format
//!
//! MIDI-style: a *status* byte (bit 7 set) starts every message and *data* bytes (bit 7
//! clear) carry 7 bits each; a 14-bit value is sent as LSB (bits 0–6) then MSB (bits 7–13).
//! Sysex messages run from `F0` to `F7`: `F0 command data… F7`. Any status byte ends the
//! message before it, which is how the decoder finds its way back after noise.
//!
//! Sources: the Firmata protocol specification (`firmata/protocol`: `protocol.md`,
//! `i2c.md`, `servos.md`, `capabilities.md` … protocol version 2.6) and the constants of
//! FirmataExpress as pymata4 1.15 / pymata-express 1.21 define them in their
//! `private_constants.py` (identical where both define one, and their code builds the same
//! bytes for these calls). `tests/firmata_golden/` holds the bytes pymata4 and pyfirmata2
//! really wrote for each call and what a real StandardFirmata Uno answered; `docs/firmata.md`
//! has the measurements and the clients' quirks.
//!
//! ## Board → host (decoded)
//!
//! | bytes | message | event |
//! |-------|---------|-------|
//! | `F9 major minor` | REPORT_VERSION | [`Event::ProtocolVersion`] |
//! | `E0+ch lsb msb` | ANALOG_MESSAGE, channel 0–15, 14-bit value | [`Event::Analog`] |
//! | `90+port lsb msb` | DIGITAL_MESSAGE, 8 pins of a port (bit 0 = pin 8·port) | [`Event::DigitalPort`] |
//! | `F0 79 major minor name… F7` | REPORT_FIRMWARE, name as LSB/MSB pairs | [`Event::Firmware`] |
//! | `F0 6C (mode res)* 7F … F7` | CAPABILITY_RESPONSE, one `7F`-terminated list per pin | [`Event::Capabilities`] |
//! | `F0 6A ch… F7` | ANALOG_MAPPING_RESPONSE, per pin a channel or `7F` (none) | [`Event::AnalogMapping`] |
//! | `F0 6E pin mode state… F7` | PIN_STATE_RESPONSE, state in 7-bit groups, LSB first | [`Event::PinState`] |
//! | `F0 77 addr(2) reg(2) data(2)… F7` | I2C_REPLY, every value as LSB/MSB | [`Event::I2cReply`] |
//! | `F0 71 text(2)… F7` | STRING_DATA, characters as LSB/MSB pairs | [`Event::StringData`] |
//! | `F0 52 id F7` | I_AM_HERE (FirmataExpress, answer to ARE_YOU_THERE) | [`Event::IAmHere`] |
//! | `F0 63 pin lsb msb F7` | SONAR_DATA (FirmataExpress), distance in cm | [`Event::SonarData`] |
//! | `F0 65 pin type status h− t− h h/100 t t/100 F7` | DHT_DATA (FirmataExpress) | [`Event::DhtData`] |
//! | `F0 cmd data… F7`, any other `cmd` | a sysex this module does not interpret | [`Event::UnknownSysex`] |
//!
//! ## Host → board (encoded)
//!
//! | [`Command`] | bytes |
//! |-------------|-------|
//! | `ReportVersion` | `F9` |
//! | `SystemReset` | `FF` |
//! | `SetPinMode` | `F4 pin mode` |
//! | `DigitalPort` | `90+port lsb msb` (port 0–15) |
//! | `SetDigitalPin` | `F5 pin 0/1` (protocol 2.5+, FirmataExpress) |
//! | `AnalogWrite` | `E0+pin lsb msb` for pin 0–15 and a 14-bit value, else EXTENDED_ANALOG `F0 6F pin v0 v1 v2 F7` |
//! | `ReportAnalog` | `C0+ch 0/1` |
//! | `ReportDigital` | `D0+port 0/1` |
//! | `SamplingInterval` | `F0 7A lsb msb F7` (ms) |
//! | `ServoConfig` | `F0 70 pin min(2) max(2) F7` (µs) |
//! | `I2cConfig` | `F0 78 delay(2) F7` (µs) |
//! | `I2cRequest` | `F0 76 addr mode [reg(2)] count(2) F7` (read) / `F0 76 addr mode byte(2)… F7` (write) |
//! | `ReportFirmware` | `F0 79 F7` |
//! | `CapabilityQuery` | `F0 6B F7` |
//! | `AnalogMappingQuery` | `F0 69 F7` |
//! | `PinStateQuery` | `F0 6D pin F7` |
//! | `AreYouThere` | `F0 51 F7` (FirmataExpress) |
//! | `KeepAlive` | `F0 50 lsb msb F7` (FirmataExpress; period in s, 0 = off) |
//! | `Tone` / `NoTone` | `F0 5F 00 pin freq(2) dur(2) F7` / `F0 5F 01 pin F7` (FirmataExpress) |
//! | `SonarConfig` | `F0 62 trigger echo max(2) F7` (FirmataExpress) |
//! | `DhtConfig` | `F0 64 pin type F7` (FirmataExpress) |
//! | `StepperConfig` | `F0 72 00 steps(2) pin pin [pin pin] F7` (FirmataExpress) |
//! | `StepperStep` | `F0 72 01 speed(3) steps(2) dir F7` (FirmataExpress) |
//! | `Sysex` | `F0 cmd data… F7`, any other sysex |
//!
//! # Where we differ from the Python clients, on purpose
//!
//! * pymata4 masks out-of-range values (`value & 0x7f`) and sends them anyway; [`encode`]
//!   refuses them with [`EncodeError::OutOfRange`] (naming the field), so a bad value never
//!   reaches a board silently changed. pymata's sonar `timeout=80000` default, for instance,
//!   goes out as `00 71` (80 000 mod 2¹⁴ = 14 464): send `max_distance: 14464` for those
//!   bytes.
//! * pymata's receive loop raises on a sysex it has no handler for and busy-waits on a
//!   message that never ends; the decoder yields [`Event::UnknownSysex`] and resynchronises
//!   at the next status byte.
//! * FirmataExpress reuses sysex ids that ConfigurableFirmata gives other meanings (`62` is
//!   its SONAR_CONFIG but ConfigurableFirmata's ACCELSTEPPER_DATA): send the FirmataExpress
//!   commands only to a board that answered [`Command::AreYouThere`].
//!
//! # Example
//!
//! ```
//! use banyan_proto::firmata::{encode, Command, Event, Feed, FirmataDecoder, PinMode};
//!
//! let mut out = [0u8; 16];
//! let n = encode(&Command::SetPinMode { pin: 13, mode: PinMode::Output }, &mut out).unwrap();
//! assert_eq!(&out[..n], [0xF4, 13, 1]);
//!
//! // A board's REPORT_VERSION (2.5) and an analog reading of channel 0, in two chunks.
//! let mut decoder: FirmataDecoder = FirmataDecoder::new();
//! let mut seen = Vec::new();
//! for chunk in [&[0xF9, 2][..], &[5, 0xE0, 0x7F, 0x07]] {
//!     let mut input = chunk;
//!     while let Feed::Event { event, remaining } = decoder.feed(input) {
//!         seen.push(format!("{event:?}"));
//!         input = remaining;
//!     }
//! }
//! assert_eq!(seen, ["ProtocolVersion { major: 2, minor: 5 }", "Analog { channel: 0, value: 1023 }"]);
//! ```

mod board;
mod capabilities;
mod decoder;
mod encoder;
mod ports;
mod views;

pub use capabilities::{Capabilities, CapabilityError, ModeInfo, PinInfo};
pub use decoder::{Event, Feed, FirmataDecoder, Malformed, SYSEX_CAPACITY, Stats};
#[cfg(feature = "std")]
pub use encoder::encode_to_vec;
pub use encoder::{Command, EncodeError, I2cOp, StepperPins, encode};
pub use ports::DigitalOutputs;
pub use views::{
    AnalogMapping, CapabilityPins, CapabilityResponse, DhtReading, FIRMWARE_NAME_CAPACITY,
    FirmwareName, I2cReply, PinCapabilities, StringData,
};

use core::fmt;

/// Message and sysex command bytes (Firmata protocol, FirmataExpress additions marked).
pub mod cmd {
    /// ANALOG_MESSAGE, `E0`–`EF` (low nibble: channel, or pin when sent to the board).
    pub const ANALOG_MESSAGE: u8 = 0xE0;
    /// DIGITAL_MESSAGE, `90`–`9F` (low nibble: port).
    pub const DIGITAL_MESSAGE: u8 = 0x90;
    /// REPORT_ANALOG, `C0`–`CF` (low nibble: analog channel).
    pub const REPORT_ANALOG: u8 = 0xC0;
    /// REPORT_DIGITAL, `D0`–`DF` (low nibble: port).
    pub const REPORT_DIGITAL: u8 = 0xD0;
    /// SET_PIN_MODE.
    pub const SET_PIN_MODE: u8 = 0xF4;
    /// SET_DIGITAL_PIN_VALUE (protocol 2.5).
    pub const SET_DIGITAL_PIN_VALUE: u8 = 0xF5;
    /// REPORT_VERSION (query and answer).
    pub const REPORT_VERSION: u8 = 0xF9;
    /// SYSTEM_RESET.
    pub const SYSTEM_RESET: u8 = 0xFF;
    /// START_SYSEX.
    pub const START_SYSEX: u8 = 0xF0;
    /// END_SYSEX.
    pub const END_SYSEX: u8 = 0xF7;

    /// KEEP_ALIVE (FirmataExpress).
    pub const KEEP_ALIVE: u8 = 0x50;
    /// ARE_YOU_THERE (FirmataExpress).
    pub const ARE_YOU_THERE: u8 = 0x51;
    /// I_AM_HERE (FirmataExpress).
    pub const I_AM_HERE: u8 = 0x52;
    /// TONE_DATA (FirmataExpress).
    pub const TONE_DATA: u8 = 0x5F;
    /// SONAR_CONFIG (FirmataExpress).
    pub const SONAR_CONFIG: u8 = 0x62;
    /// SONAR_DATA (FirmataExpress).
    pub const SONAR_DATA: u8 = 0x63;
    /// DHT_CONFIG (FirmataExpress).
    pub const DHT_CONFIG: u8 = 0x64;
    /// DHT_DATA (FirmataExpress).
    pub const DHT_DATA: u8 = 0x65;
    /// ANALOG_MAPPING_QUERY.
    pub const ANALOG_MAPPING_QUERY: u8 = 0x69;
    /// ANALOG_MAPPING_RESPONSE.
    pub const ANALOG_MAPPING_RESPONSE: u8 = 0x6A;
    /// CAPABILITY_QUERY.
    pub const CAPABILITY_QUERY: u8 = 0x6B;
    /// CAPABILITY_RESPONSE.
    pub const CAPABILITY_RESPONSE: u8 = 0x6C;
    /// PIN_STATE_QUERY.
    pub const PIN_STATE_QUERY: u8 = 0x6D;
    /// PIN_STATE_RESPONSE.
    pub const PIN_STATE_RESPONSE: u8 = 0x6E;
    /// EXTENDED_ANALOG (pymata4 calls it EXTENDED_PWM).
    pub const EXTENDED_ANALOG: u8 = 0x6F;
    /// SERVO_CONFIG.
    pub const SERVO_CONFIG: u8 = 0x70;
    /// STRING_DATA.
    pub const STRING_DATA: u8 = 0x71;
    /// STEPPER_DATA (FirmataExpress's single-stepper form).
    pub const STEPPER_DATA: u8 = 0x72;
    /// I2C_REQUEST.
    pub const I2C_REQUEST: u8 = 0x76;
    /// I2C_REPLY.
    pub const I2C_REPLY: u8 = 0x77;
    /// I2C_CONFIG.
    pub const I2C_CONFIG: u8 = 0x78;
    /// REPORT_FIRMWARE (query and answer).
    pub const REPORT_FIRMWARE: u8 = 0x79;
    /// SAMPLING_INTERVAL.
    pub const SAMPLING_INTERVAL: u8 = 0x7A;
}

/// Largest number of pins Firmata can address (pin numbers are one 7-bit data byte).
pub const MAX_PINS: usize = 128;

/// Largest number of modes per pin a [`CapabilityResponse`] / [`Capabilities`] holds.
/// StandardFirmata lists at most 7 (an Uno's A4: input, pull-up, output, analog, servo, I2C …).
pub const MAX_MODES_PER_PIN: usize = 16;

/// The byte that separates pins in a capability response and marks "no channel" in an analog
/// mapping response.
pub const NONE: u8 = 0x7F;

/// A pin mode, as Firmata numbers them (FirmataExpress adds `Sonar`, `Tone`, `Dht`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinMode {
    /// 0: digital input.
    Input,
    /// 1: digital output.
    Output,
    /// 2: analog input (ADC).
    Analog,
    /// 3: PWM output.
    Pwm,
    /// 4: servo output.
    Servo,
    /// 5: shiftOut / shiftIn.
    Shift,
    /// 6: pin used by I2C.
    I2c,
    /// 7: OneWire bus.
    OneWire,
    /// 8: stepper motor.
    Stepper,
    /// 9: rotary encoder.
    Encoder,
    /// 10 (`0x0A`): UART (serial).
    Serial,
    /// 11 (`0x0B`): digital input with pull-up (protocol 2.5; StandardFirmata 2.4 refuses it).
    Pullup,
    /// 12 (`0x0C`): HC-SR04 sonar (FirmataExpress).
    Sonar,
    /// 13 (`0x0D`): tone output (FirmataExpress).
    Tone,
    /// 15 (`0x0F`): DHT temperature/humidity sensor (FirmataExpress).
    Dht,
    /// Any other mode number (7 bits), kept as sent.
    Other(u8),
}

impl PinMode {
    /// The mode for a Firmata mode number. Every byte maps to a mode; `from_u8(m).to_u8() == m`.
    pub const fn from_u8(mode: u8) -> Self {
        match mode {
            0 => Self::Input,
            1 => Self::Output,
            2 => Self::Analog,
            3 => Self::Pwm,
            4 => Self::Servo,
            5 => Self::Shift,
            6 => Self::I2c,
            7 => Self::OneWire,
            8 => Self::Stepper,
            9 => Self::Encoder,
            0x0A => Self::Serial,
            0x0B => Self::Pullup,
            0x0C => Self::Sonar,
            0x0D => Self::Tone,
            0x0F => Self::Dht,
            other => Self::Other(other),
        }
    }

    /// The mode's Firmata number.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Input => 0,
            Self::Output => 1,
            Self::Analog => 2,
            Self::Pwm => 3,
            Self::Servo => 4,
            Self::Shift => 5,
            Self::I2c => 6,
            Self::OneWire => 7,
            Self::Stepper => 8,
            Self::Encoder => 9,
            Self::Serial => 0x0A,
            Self::Pullup => 0x0B,
            Self::Sonar => 0x0C,
            Self::Tone => 0x0D,
            Self::Dht => 0x0F,
            Self::Other(other) => other,
        }
    }
}

impl From<u8> for PinMode {
    fn from(mode: u8) -> Self {
        Self::from_u8(mode)
    }
}

impl From<PinMode> for u8 {
    fn from(mode: PinMode) -> Self {
        mode.to_u8()
    }
}

impl fmt::Display for PinMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(mode) => write!(f, "mode {mode:#04x}"),
            known => fmt::Debug::fmt(known, f),
        }
    }
}

/// LSB (bits 0–6) and MSB (bits 7–13) of a 14-bit value.
pub(crate) const fn split14(value: u16) -> [u8; 2] {
    [(value & 0x7F) as u8, ((value >> 7) & 0x7F) as u8]
}

/// The 14-bit value of an LSB/MSB pair of data bytes.
pub(crate) const fn join14(lsb: u8, msb: u8) -> u16 {
    (lsb as u16 & 0x7F) | ((msb as u16 & 0x7F) << 7)
}
