//! Telemetrix: the protocol of the stock Telemetrix firmwares (Telemetrix4RpiPico,
//! Telemetrix4Esp32, Telemetrix4Arduino) that s3-extend's `rpgw` and `esp32gw` speak.
//! Sans-IO, `no_std`, no allocation: typed commands → bytes, board bytes → typed reports.
//!
//! * [`encode`]: a typed [`Command`] into a caller buffer, for one [`Family`].
//! * [`ReportDecoder`]: a streaming decoder fed arbitrary chunks; yields [`Feed`] events
//!   (typed [`Report`]s, malformed frames), each with the unconsumed input.
//! * [`Report::emit`]: the board's side (for test devices and fuzzing).
//! * [`ids`]: the command and report ids, **one table per family**, each citing the Python
//!   client's `private_constants.py` it comes from.
//!
//! # Wire format
//!
//! Both directions carry frames of one length byte, an id and a payload:
//!
//! ```text
//!  ┌────────────┬─────────┬──────────────────────┐
//!  │ length: u8 │ id: u8  │ payload: length − 1   │   length counts id + payload, 1 … 255
//!  └────────────┴─────────┴──────────────────────┘
//! ```
//!
//! Multi-byte values are big-endian (except the ESP32 PWM frequency, a little-endian f64).
//! There is no start byte, no checksum and no acknowledgement. The firmwares read commands
//! into a 30-byte buffer without checking the length, so [`encode`] refuses a frame longer
//! than the family's `MAX_COMMAND_LENGTH` ([`EncodeError::TooLong`]) instead of sending a
//! board bytes that overwrite its memory.
//!
//! # Families
//!
//! | | Telemetrix4RpiPico | Telemetrix4Esp32 | Telemetrix4Arduino |
//! |---|---|---|---|
//! | Python client (PyPI) | `tmx-pico-aio` 1.5.1, `telemetrix-rpi-pico` 1.5.1 | `telemetrix-esp32` 2.1.1 (module `telemetrix_aio_esp32`) | `telemetrix` 1.47 |
//! | link | USB CDC, 115 200 | TCP 31336 (or BLE) | USB serial 115 200 (or TCP 31335) |
//! | handshake the client sends | `RETRIEVE_PICO_UNIQUE_ID` (6) → 8-byte id, `GET_FIRMWARE_VERSION` (5) → `[major, minor]` | `GET_FIRMWARE_VERSION` (5) → `[major, minor, build]`, then `ENABLE_ALL_REPORTS` (16) | wait 4 s for the reset, `ARE_U_THERE` (6) → `I_AM_HERE [id]`, `GET_FIRMWARE_VERSION` (5) ×2 → `[major, minor, patch]`, `ENABLE_ALL_REPORTS` (17), `GET_FEATURES` (54) → `[bits]`, `RESET` (18) |
//! | PWM | `PWM_WRITE` (3), raw duty of 20 000 at 50 Hz; servos are PWM pins | `ANALOG_WRITE` (3) after an LEDC `SET_PIN_MODE` | `ANALOG_WRITE` (3) |
//! | servo | (PWM) | `SERVO_ATTACH` 6, `SERVO_WRITE` 7 | `SERVO_ATTACH` 7, `SERVO_WRITE` 8 |
//! | reset | `RESET_BOARD` 18 (watchdog reboot) | `RESET` 20 (`ESP.restart()`) | `RESET` 18 (`reset_data()`) |
//!
//! No family has a tone command (s3-extend's `rpgw` raises `NotImplementedError` for
//! `play_tone`/`set_mode_tone`; `esp32gw` has no handler), so there is none here.
//!
//! # Resynchronisation
//!
//! A length-prefixed stream without a checksum cannot prove it is aligned: after a lost or
//! extra byte every later length byte is read from the wrong place, and any byte sequence is
//! a valid sequence of frames. What the decoder does:
//!
//! 1. **Unknown ids are skipped by their length** ([`Report::Unknown`]), so a newer firmware's
//!    extra report does not stop the stream (the Python clients raise `KeyError` and their
//!    receive loop dies).
//! 2. **A known id with the wrong payload size** is dropped by its length
//!    ([`Malformed::Length`]); **a length byte of 0** (no firmware sends one) drops one byte
//!    ([`Malformed::ZeroLength`]).
//! 3. **Idle gap**: every firmware writes a report in one go, so a partial frame still held
//!    after the link has been quiet (the driver's timer, e.g. 100 ms) is misalignment:
//!    [`ReportDecoder::idle`] drops it and the next byte is read as a length again. A
//!    reporting board goes quiet between scans, so a misaligned stream realigns at the next
//!    pause.
//! 4. **Reconnect and device reset**: [`ReportDecoder::reset`].
//! 5. **Evidence of misalignment**: [`Stats::suspect_run`] counts malformed and unknown
//!    frames since the last valid known report; a gateway that sees it grow (the tests use
//!    3) reopens the link and replays its pin state, the only recovery that is certain.
//!
//! A known source of misalignment is the firmware itself: Telemetrix4Esp32 and
//! Telemetrix4Arduino send `SERVO_UNAVAILABLE` as the two bytes `[id, pin]` with **no length
//! byte** when every servo is taken. The id is then read as a length; rule 3 or 5 recovers.
//!
//! # Example
//!
//! ```
//! use banyan_proto::telemetrix::{encode, Command, Family, Feed, Report, ReportDecoder};
//!
//! let mut out = [0u8; 8];
//! let n = encode(Family::RpiPico, &Command::GetFirmwareVersion, &mut out).unwrap();
//! assert_eq!(&out[..n], [1, 5]);
//!
//! // A Pico's firmware report and a digital report, split across chunks.
//! let mut decoder = ReportDecoder::new(Family::RpiPico);
//! let mut seen = Vec::new();
//! for chunk in [&[3, 5, 1][..], &[1, 3, 2, 15, 1]] {
//!     let mut input = chunk;
//!     loop {
//!         input = match decoder.feed(input) {
//!             Feed::Consumed => break,
//!             Feed::Report { report, remaining } => {
//!                 seen.push(format!("{report:?}"));
//!                 remaining
//!             }
//!             Feed::Malformed { remaining, .. } => remaining,
//!         };
//!     }
//! }
//! assert_eq!(seen, [
//!     "FirmwareVersion(FirmwareVersion { major: 1, minor: 1, patch: None })",
//!     "Digital { pin: 15, value: 1 }",
//! ]);
//! ```

mod command;
mod decoder;
pub mod ids;
mod report;

pub use command::{Command, EncodeError, PinMode, Reporting, encode};
pub use decoder::{Feed, ReportDecoder, Stats};
pub use report::{EmitError, FirmwareVersion, I2cErrorKind, Malformed, Report, SonarDistance};

use core::fmt;

/// Largest frame on the wire: the length byte and 255 bytes of id + payload.
pub const MAX_FRAME: usize = 256;

/// A Telemetrix firmware family: each has its own id table ([`ids`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Family {
    /// Telemetrix4RpiPico (Raspberry Pi Pico, USB serial).
    RpiPico,
    /// Telemetrix4Esp32 (ESP32, Wi-Fi TCP 31336).
    Esp32,
    /// Telemetrix4Arduino (Arduino boards, USB serial).
    Arduino,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 3] = [Family::RpiPico, Family::Esp32, Family::Arduino];

    /// The largest frame length byte the family's firmware accepts for a command.
    pub const fn max_command_length(self) -> u8 {
        match self {
            Self::RpiPico => ids::rpi_pico::MAX_COMMAND_LENGTH,
            Self::Esp32 => ids::esp32::MAX_COMMAND_LENGTH,
            Self::Arduino => ids::arduino::MAX_COMMAND_LENGTH,
        }
    }

    const fn command_ids(self) -> command::CommandIds {
        match self {
            Self::RpiPico => command::PICO_COMMANDS,
            Self::Esp32 => command::ESP32_COMMANDS,
            Self::Arduino => command::ARDUINO_COMMANDS,
        }
    }

    /// The firmware's name.
    pub const fn firmware(self) -> &'static str {
        match self {
            Self::RpiPico => "Telemetrix4RpiPico",
            Self::Esp32 => "Telemetrix4Esp32",
            Self::Arduino => "Telemetrix4Arduino",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.firmware())
    }
}
