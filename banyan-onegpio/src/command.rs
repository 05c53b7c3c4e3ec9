//! Reading OneGPIO command payloads: the command name and typed fields. Pure: no board, no
//! engine state (tags and pin checks are the engine's).

use banyan_proto::payload::{MapReader, ValueRef};

use crate::{Field, PinMode, Reason};

/// The commands of Python Banyan's `GatewayBase.command_dictionary` that this engine does not
/// implement: refused with [`Reason::UnsupportedCommand`] rather than "unknown".
const UNSUPPORTED: [&str; 7] = [
    "analog_write",
    "i2c_read",
    "i2c_write",
    "set_mode_i2c",
    "set_mode_sonar",
    "set_mode_stepper",
    "stepper_write",
];

/// What a command does, decided by its name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `set_mode_digital_input`, `…_pullup`, `set_mode_digital_output`, `set_mode_pwm`,
    /// `set_mode_servo`, `set_mode_tone`.
    SetMode(PinMode),
    /// `set_mode_analog_input`.
    SetAnalogInput,
    /// `digital_write`.
    DigitalWrite,
    /// `pwm_write`.
    PwmWrite,
    /// `servo_position`.
    ServoPosition,
    /// `play_tone`.
    PlayTone,
    /// `enable_digital_reporting` (`true`) / `disable_digital_reporting` (`false`).
    DigitalReporting(bool),
    /// `enable_analog_reporting` (`true`) / `disable_analog_reporting` (`false`).
    AnalogReporting(bool),
}

impl Kind {
    pub(crate) fn from_name(name: &str) -> Result<Self, Reason> {
        Ok(match name {
            "set_mode_digital_input" => Kind::SetMode(PinMode::DigitalInput),
            "set_mode_digital_input_pullup" => Kind::SetMode(PinMode::DigitalInputPullUp),
            "set_mode_digital_output" => Kind::SetMode(PinMode::DigitalOutput),
            "set_mode_pwm" => Kind::SetMode(PinMode::Pwm),
            "set_mode_servo" => Kind::SetMode(PinMode::Servo),
            "set_mode_tone" => Kind::SetMode(PinMode::Tone),
            "set_mode_analog_input" => Kind::SetAnalogInput,
            "digital_write" => Kind::DigitalWrite,
            "pwm_write" => Kind::PwmWrite,
            "servo_position" => Kind::ServoPosition,
            "play_tone" => Kind::PlayTone,
            "enable_digital_reporting" => Kind::DigitalReporting(true),
            "disable_digital_reporting" => Kind::DigitalReporting(false),
            "enable_analog_reporting" => Kind::AnalogReporting(true),
            "disable_analog_reporting" => Kind::AnalogReporting(false),
            _ if UNSUPPORTED.contains(&name) => return Err(Reason::UnsupportedCommand),
            _ => return Err(Reason::UnknownCommand),
        })
    }

    /// `true` for commands whose `pin` is an analog channel number.
    pub(crate) fn is_analog(self) -> bool {
        matches!(self, Kind::SetAnalogInput | Kind::AnalogReporting(_))
    }
}

/// The `command` field: `Ok(name)`, or why there is none.
pub(crate) fn command_name<'a>(map: &MapReader<'a>) -> Result<&'a str, Reason> {
    match map.get(Field::Command.key()) {
        None => Err(Reason::Missing(Field::Command)),
        Some(ValueRef::Str(name)) => Ok(name),
        Some(_) => Err(Reason::WrongType(Field::Command)),
    }
}

/// The `tag` field: `None` when absent or falsy (`None`, `''`, `False`, `0`), as Python's
/// `if tag:` in `GatewayBase.incoming_message_processing`; a non-string truthy tag is refused.
pub(crate) fn tag<'a>(map: &MapReader<'a>) -> Result<Option<&'a str>, Reason> {
    match map.get(Field::Tag.key()) {
        None | Some(ValueRef::Nil | ValueRef::Bool(false) | ValueRef::Int(0)) => Ok(None),
        Some(ValueRef::Str("")) => Ok(None),
        Some(ValueRef::Str(tag)) => Ok(Some(tag)),
        Some(_) => Err(Reason::WrongType(Field::Tag)),
    }
}

/// An optional integer field in `0..=max`: `Ok(None)` when absent.
pub(crate) fn opt_uint(map: &MapReader<'_>, field: Field, max: u64) -> Result<Option<u64>, Reason> {
    let Some(value) = map.get(field.key()) else {
        return Ok(None);
    };
    let n = match value {
        ValueRef::Int(n) => u64::try_from(n).map_err(|_| Reason::OutOfRange(field))?,
        ValueRef::UInt(n) => n,
        _ => return Err(Reason::WrongType(field)),
    };
    if n > max {
        return Err(Reason::OutOfRange(field));
    }
    Ok(Some(n))
}

/// A required integer field in `0..=max`.
pub(crate) fn uint(map: &MapReader<'_>, field: Field, max: u64) -> Result<u64, Reason> {
    opt_uint(map, field, max)?.ok_or(Reason::Missing(field))
}

/// The `value` of `digital_write` (and the optional initial `value` of
/// `set_mode_digital_output`): `0`, `1`, `False` or `True`.
pub(crate) fn opt_level(map: &MapReader<'_>) -> Result<Option<bool>, Reason> {
    match map.get(Field::Value.key()) {
        None => Ok(None),
        Some(ValueRef::Bool(b)) => Ok(Some(b)),
        Some(ValueRef::Int(0)) => Ok(Some(false)),
        Some(ValueRef::Int(1)) => Ok(Some(true)),
        Some(ValueRef::Int(_) | ValueRef::UInt(_)) => Err(Reason::OutOfRange(Field::Value)),
        Some(_) => Err(Reason::WrongType(Field::Value)),
    }
}

/// The analog change threshold: `change_diff` (ESP8266 gateway) or `differential`
/// (pymata-express), first one present wins.
pub(crate) fn change_diff(map: &MapReader<'_>) -> Result<Option<u16>, Reason> {
    let max = u64::from(u16::MAX);
    let found = match opt_uint(map, Field::ChangeDiff, max)? {
        Some(v) => Some(v),
        None => match map.get("differential") {
            None => None,
            Some(ValueRef::Int(n)) => Some(
                u64::try_from(n)
                    .ok()
                    .filter(|&n| n <= max)
                    .ok_or(Reason::OutOfRange(Field::ChangeDiff))?,
            ),
            Some(_) => return Err(Reason::WrongType(Field::ChangeDiff)),
        },
    };
    // In range by the checks above.
    Ok(found.map(|v| u16::try_from(v).unwrap_or(u16::MAX)))
}
