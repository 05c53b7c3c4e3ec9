//! [`Reason`]: why a command was refused — the `reason` of an `{'report': 'error'}`.

use core::fmt;

use banyan_proto::payload::PayloadError;

use crate::PinMode;

/// A payload field the engine reads.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field {
    /// `command`
    Command,
    /// `pin`
    Pin,
    /// `tag`
    Tag,
    /// `value`
    Value,
    /// `position`
    Position,
    /// `freq`
    Freq,
    /// `duration`
    Duration,
    /// `change_diff` (ESP8266 gateway's name) or `differential` (pymata's name)
    ChangeDiff,
    /// `trigger_pin` (`set_mode_sonar`)
    TriggerPin,
    /// `echo_pin` (`set_mode_sonar`)
    EchoPin,
    /// `pins` (`set_mode_stepper`)
    Pins,
    /// `steps_per_revolution` (`set_mode_stepper`)
    StepsPerRevolution,
    /// `addr` (`i2c_read`, `i2c_write`)
    Addr,
    /// `register` (`i2c_read`)
    Register,
    /// `number_of_bytes` (`i2c_read`)
    NumberOfBytes,
    /// `data` (`i2c_write`)
    Data,
    /// `motor_speed` (`stepper_write`)
    MotorSpeed,
    /// `number_of_steps` (`stepper_write`)
    NumberOfSteps,
}

impl Field {
    /// The payload key.
    pub const fn key(self) -> &'static str {
        match self {
            Field::Command => "command",
            Field::Pin => "pin",
            Field::Tag => "tag",
            Field::Value => "value",
            Field::Position => "position",
            Field::Freq => "freq",
            Field::Duration => "duration",
            Field::ChangeDiff => "change_diff",
            Field::TriggerPin => "trigger_pin",
            Field::EchoPin => "echo_pin",
            Field::Pins => "pins",
            Field::StepsPerRevolution => "steps_per_revolution",
            Field::Addr => "addr",
            Field::Register => "register",
            Field::NumberOfBytes => "number_of_bytes",
            Field::Data => "data",
            Field::MotorSpeed => "motor_speed",
            Field::NumberOfSteps => "number_of_steps",
        }
    }
}

/// Why a command changed nothing. `Display` gives the sentence sent as `reason` in the error
/// report; the variant is what firmware logs or counts.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reason {
    /// The payload is not one well-formed msgpack map.
    InvalidPayload(PayloadError),
    /// A required field is absent.
    Missing(Field),
    /// A field has the wrong msgpack type (e.g. `pin: "2"`, `value: 1.5`).
    WrongType(Field),
    /// A field is outside its range (pin beyond the board, `value: 7` for `digital_write`, …).
    OutOfRange(Field),
    /// `command` names no OneGPIO command.
    UnknownCommand,
    /// A command of Python's `GatewayBase.command_dictionary` this firmware does not implement
    /// (i2c, sonar, stepper, `analog_write`).
    UnsupportedCommand,
    /// `tag` was never bound to a pin and the payload has no `pin` to bind it to.
    UnknownTag,
    /// The tag table is full ([`MAX_TAGS`](crate::MAX_TAGS)); the tag could not be bound.
    TagTableFull,
    /// The tag is longer than [`MAX_TAG_LEN`](crate::MAX_TAG_LEN) bytes.
    TagTooLong,
    /// The pin exists but cannot be used in this mode on this board.
    ModeNotSupported(PinMode),
    /// The command needs the pin in another mode (`digital_write` on an input, …); the mode
    /// named is the one required.
    WrongMode(PinMode),
    /// `enable/disable_digital_reporting` on a pin that is not a digital input.
    NotAnInput,
    /// The board reported a failure; the pin is left [`PinMode::Unset`].
    Hardware,
    /// The command needs a firmware feature the connected firmware (named) lacks — tone,
    /// sonar, stepper on StandardFirmata (host gateways).
    NotInFirmware(&'static str),
    /// The pin cannot be used for this on the connected board: its capability report does
    /// not list the mode (host gateways; the mode named is the one asked for).
    NotInCapabilities(&'static str),
    /// No board is connected, and the command cannot wait for one (host gateways).
    NoBoard,
    /// The queue to the board is full; the command was dropped (host gateways).
    QueueFull,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::InvalidPayload(e) => write!(f, "invalid payload: {e}"),
            Reason::Missing(field) => write!(f, "missing '{}'", field.key()),
            Reason::WrongType(field) => write!(f, "wrong type for '{}'", field.key()),
            Reason::OutOfRange(field) => write!(f, "'{}' out of range", field.key()),
            Reason::UnknownCommand => f.write_str("unknown command"),
            Reason::UnsupportedCommand => f.write_str("command not supported by this firmware"),
            Reason::UnknownTag => f.write_str("unknown 'tag' and no 'pin' to bind it to"),
            Reason::TagTableFull => f.write_str("tag table full"),
            Reason::TagTooLong => f.write_str("'tag' too long"),
            Reason::ModeNotSupported(mode) => write!(f, "pin cannot be used as {mode}"),
            Reason::WrongMode(mode) => write!(f, "pin is not in {mode} mode"),
            Reason::NotAnInput => f.write_str("pin is not a digital input"),
            Reason::Hardware => f.write_str("hardware error"),
            Reason::NotInFirmware(firmware) => {
                write!(f, "command not supported by {firmware}")
            }
            Reason::NotInCapabilities(mode) => {
                write!(
                    f,
                    "pin cannot be used as {mode} (not in the board's capabilities)"
                )
            }
            Reason::NoBoard => f.write_str("no board connected"),
            Reason::QueueFull => f.write_str("queue to the board full, command dropped"),
        }
    }
}

impl core::error::Error for Reason {}
