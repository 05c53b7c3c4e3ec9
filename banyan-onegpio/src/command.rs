//! Reading OneGPIO command payloads into a typed [`Command`]: every command of Python
//! Banyan's `GatewayBase.command_dictionary` (python-banyan 3.17,
//! `gateway_base_aio.py`), with exactly the payload keys s3-extend 1.35's `ardgw`
//! (`s3_extend/gateways/arduino_gateway.py`) reads.
//!
//! Pure: no board, no engine state. What depends on the consumer — which tags are bound,
//! which pin numbers exist, which commands it carries out — is asked through [`Context`], so
//! the MCU engine and a host gateway (`ardgw`) share one parser and give the same `error`
//! reports for the same faults.
//!
//! | command | keys read (besides `command`, `tag`) | [`Command`] |
//! |---|---|---|
//! | `set_mode_digital_input`, `…_pullup`, `set_mode_digital_output` (optional `value`), `set_mode_pwm`, `set_mode_servo`, `set_mode_tone` | `pin` | [`Command::SetMode`] |
//! | `set_mode_analog_input` | `pin` (analog channel), optional `change_diff` / `differential` | [`Command::SetAnalogInput`] |
//! | `set_mode_i2c` | — | [`Command::SetI2c`] |
//! | `set_mode_sonar` | `trigger_pin`, `echo_pin` | [`Command::SetSonar`] |
//! | `set_mode_stepper` | `pins` (2 or 4), `steps_per_revolution` | [`Command::SetStepper`] |
//! | `digital_write` | `pin`, `value` 0/1/`False`/`True` | [`Command::DigitalWrite`] |
//! | `pwm_write`, `analog_write` | `pin`, `value` (range is the consumer's) | [`Command::PwmWrite`], [`Command::AnalogWrite`] |
//! | `servo_position` | `pin`, `position` 0..=180 | [`Command::ServoPosition`] |
//! | `play_tone` | `pin`, `freq`, optional `duration` (ms) | [`Command::PlayTone`] |
//! | `i2c_read` | `addr`, `register` (may be `None`), `number_of_bytes` | [`Command::I2cRead`] |
//! | `i2c_write` | `addr`, `data` (list of bytes) | [`Command::I2cWrite`] |
//! | `stepper_write` | `motor_speed`, `number_of_steps` (negative: reverse) | [`Command::StepperWrite`] |
//! | `enable/disable_digital_reporting` | `pin` | [`Command::DigitalReporting`] |
//! | `enable/disable_analog_reporting` | `pin` (analog channel), optional `change_diff` / `differential` | [`Command::AnalogReporting`] |
//!
//! Tags as `GatewayBase.incoming_message_processing`: a known `tag` gives the pin (a `pin`
//! field is then ignored); an unknown tag is bound to the payload's `pin`, which the caller
//! does once the command succeeded ([`Parsed::new_tag`]). Commands without a `pin`
//! (`set_mode_i2c`, `i2c_*`, `set_mode_sonar`, `set_mode_stepper`, `stepper_write`) ignore
//! `tag`.

use banyan_proto::payload::{ArrayReader, MapReader, ValueRef};

use crate::{Field, PinMode, Reason};

/// Largest `servo_position` in degrees.
pub const MAX_DEGREES: u8 = 180;

/// Most bytes an `i2c_write` carries or an `i2c_read` asks for: the Arduino `Wire`
/// library's buffer (`BUFFER_LENGTH` 32), which Firmata's I2C requests go through.
pub const MAX_I2C_BYTES: usize = 32;

/// Largest `motor_speed` of `stepper_write`: 21 bits, as FirmataExpress's stepper message
/// carries it.
pub const MAX_MOTOR_SPEED: u32 = (1 << 21) - 1;

/// Largest `number_of_steps` magnitude: 14 bits.
pub const MAX_STEPS: i16 = (1 << 14) - 1;

/// The command names of Python's `GatewayBase.command_dictionary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(missing_docs)] // each variant is the command of the same name in snake case
pub enum Name {
    AnalogWrite,
    DigitalWrite,
    DisableAnalogReporting,
    DisableDigitalReporting,
    EnableAnalogReporting,
    EnableDigitalReporting,
    I2cRead,
    I2cWrite,
    PlayTone,
    PwmWrite,
    ServoPosition,
    SetModeAnalogInput,
    SetModeDigitalInput,
    SetModeDigitalInputPullup,
    SetModeDigitalOutput,
    SetModeI2c,
    SetModePwm,
    SetModeServo,
    SetModeSonar,
    SetModeStepper,
    SetModeTone,
    StepperWrite,
}

/// What the `pin` of a command numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinKind {
    /// The command has no `pin` (i2c, sonar, stepper).
    None,
    /// A digital pin number.
    Digital,
    /// An analog channel (`0` is A0), as Python's Arduino gateway numbers them.
    Analog,
}

impl Name {
    /// Every command, in Python's dictionary order.
    pub const ALL: [Name; 22] = [
        Name::AnalogWrite,
        Name::DigitalWrite,
        Name::DisableAnalogReporting,
        Name::DisableDigitalReporting,
        Name::EnableAnalogReporting,
        Name::EnableDigitalReporting,
        Name::I2cRead,
        Name::I2cWrite,
        Name::PlayTone,
        Name::PwmWrite,
        Name::ServoPosition,
        Name::SetModeAnalogInput,
        Name::SetModeDigitalInput,
        Name::SetModeDigitalInputPullup,
        Name::SetModeDigitalOutput,
        Name::SetModeI2c,
        Name::SetModePwm,
        Name::SetModeServo,
        Name::SetModeSonar,
        Name::SetModeStepper,
        Name::SetModeTone,
        Name::StepperWrite,
    ];

    /// The command string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Name::AnalogWrite => "analog_write",
            Name::DigitalWrite => "digital_write",
            Name::DisableAnalogReporting => "disable_analog_reporting",
            Name::DisableDigitalReporting => "disable_digital_reporting",
            Name::EnableAnalogReporting => "enable_analog_reporting",
            Name::EnableDigitalReporting => "enable_digital_reporting",
            Name::I2cRead => "i2c_read",
            Name::I2cWrite => "i2c_write",
            Name::PlayTone => "play_tone",
            Name::PwmWrite => "pwm_write",
            Name::ServoPosition => "servo_position",
            Name::SetModeAnalogInput => "set_mode_analog_input",
            Name::SetModeDigitalInput => "set_mode_digital_input",
            Name::SetModeDigitalInputPullup => "set_mode_digital_input_pullup",
            Name::SetModeDigitalOutput => "set_mode_digital_output",
            Name::SetModeI2c => "set_mode_i2c",
            Name::SetModePwm => "set_mode_pwm",
            Name::SetModeServo => "set_mode_servo",
            Name::SetModeSonar => "set_mode_sonar",
            Name::SetModeStepper => "set_mode_stepper",
            Name::SetModeTone => "set_mode_tone",
            Name::StepperWrite => "stepper_write",
        }
    }

    /// The command named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Name> {
        Name::ALL.into_iter().find(|n| n.as_str() == name)
    }

    /// What the command's `pin` numbers.
    pub const fn pin_kind(self) -> PinKind {
        match self {
            Name::SetModeAnalogInput
            | Name::EnableAnalogReporting
            | Name::DisableAnalogReporting => PinKind::Analog,
            Name::I2cRead
            | Name::I2cWrite
            | Name::SetModeI2c
            | Name::SetModeSonar
            | Name::SetModeStepper
            | Name::StepperWrite => PinKind::None,
            _ => PinKind::Digital,
        }
    }
}

/// The bytes of an `i2c_write`'s `data`: a checked view of the payload's list (at most
/// [`MAX_I2C_BYTES`] integers in `0..=255`), read without copying.
#[derive(Debug, Clone, Copy)]
pub struct I2cData<'a>(ArrayReader<'a>);

impl<'a> I2cData<'a> {
    /// How many bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` for an empty list.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes, in order (validated when parsed: every element is a byte).
    pub fn iter(&self) -> impl Iterator<Item = u8> + 'a {
        self.0
            .iter()
            .filter_map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
    }
}

impl PartialEq for I2cData<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// A parsed command, all fields typed and range-checked as far as the command alone allows
/// (pin numbers against the board and PWM against the consumer's range are the
/// [`Context`]'s and consumer's).
#[derive(Debug, Clone, PartialEq)]
pub enum Command<'a> {
    /// `set_mode_digital_input`, `…_pullup`, `…_output` (with its optional initial `value`,
    /// ESP8266 style), `set_mode_pwm`, `set_mode_servo`, `set_mode_tone`.
    SetMode {
        /// Digital pin.
        pin: u8,
        /// The mode asked for.
        mode: PinMode,
        /// Initial level of an output, when given.
        value: Option<bool>,
    },
    /// `set_mode_analog_input`: analog reporting on for a channel.
    SetAnalogInput {
        /// Analog channel (0 = A0).
        channel: u8,
        /// `change_diff` / `differential`, when given.
        differential: Option<u16>,
    },
    /// `set_mode_i2c`.
    SetI2c,
    /// `set_mode_sonar`.
    SetSonar {
        /// The HC-SR04's trigger pin.
        trigger_pin: u8,
        /// Its echo pin.
        echo_pin: u8,
    },
    /// `set_mode_stepper`.
    SetStepper {
        /// 2 or 4 control pins.
        pins: heapless::Vec<u8, 4>,
        /// Steps per revolution (14 bits).
        steps_per_revolution: u16,
    },
    /// `digital_write`.
    DigitalWrite {
        /// Digital pin.
        pin: u8,
        /// The level.
        value: bool,
    },
    /// `pwm_write`: `value` as sent (the consumer checks its PWM range).
    PwmWrite {
        /// Digital pin.
        pin: u8,
        /// Duty as sent.
        value: u16,
    },
    /// `analog_write` (in Python's dictionary; s3-extend's `ardgw` never implemented it).
    AnalogWrite {
        /// Digital pin.
        pin: u8,
        /// Value as sent.
        value: u16,
    },
    /// `servo_position`.
    ServoPosition {
        /// Digital pin.
        pin: u8,
        /// Degrees, `0..=180`.
        degrees: u8,
    },
    /// `play_tone`: `freq` as sent (0 is the consumer's to accept or refuse).
    PlayTone {
        /// Digital pin.
        pin: u8,
        /// Hz.
        freq: u16,
        /// Milliseconds; `None` (absent or `None`) or 0: until the next `play_tone`.
        duration_ms: Option<u32>,
    },
    /// `i2c_read`.
    I2cRead {
        /// 7-bit device address.
        addr: u8,
        /// Register (14 bits) or `None` to read without writing one.
        register: Option<u16>,
        /// `1..=MAX_I2C_BYTES`.
        number_of_bytes: u8,
    },
    /// `i2c_write`.
    I2cWrite {
        /// 7-bit device address.
        addr: u8,
        /// The bytes.
        data: I2cData<'a>,
    },
    /// `stepper_write`.
    StepperWrite {
        /// Speed, `0..=MAX_MOTOR_SPEED`.
        motor_speed: u32,
        /// Steps, `-MAX_STEPS..=MAX_STEPS`; negative runs in reverse.
        number_of_steps: i16,
    },
    /// `enable_digital_reporting` / `disable_digital_reporting`.
    DigitalReporting {
        /// Digital pin.
        pin: u8,
        /// On or off.
        enable: bool,
    },
    /// `enable_analog_reporting` / `disable_analog_reporting`.
    AnalogReporting {
        /// Analog channel.
        channel: u8,
        /// On or off.
        enable: bool,
        /// `change_diff` / `differential` (enable only), when given.
        differential: Option<u16>,
    },
}

impl Command<'_> {
    /// The pin (or analog channel) the command is for, if it has one.
    pub fn pin(&self) -> Option<u8> {
        match *self {
            Command::SetMode { pin, .. }
            | Command::DigitalWrite { pin, .. }
            | Command::PwmWrite { pin, .. }
            | Command::AnalogWrite { pin, .. }
            | Command::ServoPosition { pin, .. }
            | Command::PlayTone { pin, .. }
            | Command::DigitalReporting { pin, .. } => Some(pin),
            Command::SetAnalogInput { channel, .. } | Command::AnalogReporting { channel, .. } => {
                Some(channel)
            }
            Command::SetSonar { trigger_pin, .. } => Some(trigger_pin),
            Command::SetI2c
            | Command::SetStepper { .. }
            | Command::I2cRead { .. }
            | Command::I2cWrite { .. }
            | Command::StepperWrite { .. } => None,
        }
    }
}

/// What the parser asks the consumer (the engine, a host gateway).
pub trait Context {
    /// `Err(reason)` for a command this consumer does not carry out at all; asked before
    /// any field is read. Default: every command is carried out.
    fn supports(&self, name: Name) -> Result<(), Reason> {
        let _ = name;
        Ok(())
    }

    /// The pin `tag` is bound to.
    fn tag_pin(&self, tag: &str) -> Option<u8>;

    /// `Ok` if an unknown `tag` could be bound (length, table space).
    fn check_new_tag(&self, tag: &str) -> Result<(), Reason> {
        let _ = tag;
        Ok(())
    }

    /// `Ok` if `pin` exists as `kind` ([`PinKind::Digital`] or [`PinKind::Analog`]);
    /// normally `Err(Reason::OutOfRange(Field::Pin))`.
    fn check_pin(&self, pin: u8, kind: PinKind) -> Result<(), Reason>;
}

/// A command read from a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    /// Which command.
    pub name: Name,
    /// The command with its fields.
    pub command: Command<'a>,
    /// An unknown tag to bind to the command's pin once it has succeeded.
    pub new_tag: Option<&'a str>,
}

/// Why a payload is no command, with what the `error` report names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection<'a> {
    /// The `command` string, when the payload has one.
    pub command: Option<&'a str>,
    /// The pin, once resolved.
    pub pin: Option<u8>,
    /// Why.
    pub reason: Reason,
}

/// Reads one command payload (a msgpack map). Never panics, whatever `payload` holds.
///
/// Order of checks (the first fault is the one reported): the map, `command`, whether it is
/// a known and [supported](Context::supports) command, `tag` and `pin` (resolved, then
/// [checked](Context::check_pin)), then the other fields.
pub fn parse<'a, C: Context + ?Sized>(
    payload: &'a [u8],
    context: &C,
) -> Result<Parsed<'a>, Rejection<'a>> {
    let map = MapReader::new(payload).map_err(|e| Rejection {
        command: None,
        pin: None,
        reason: Reason::InvalidPayload(e),
    })?;
    let text = command_name(&map).map_err(|reason| Rejection {
        command: None,
        pin: None,
        reason,
    })?;
    let refuse = |pin, reason| Rejection {
        command: Some(text),
        pin,
        reason,
    };
    let name = Name::parse(text).ok_or(refuse(None, Reason::UnknownCommand))?;
    context.supports(name).map_err(|r| refuse(None, r))?;
    let kind = name.pin_kind();
    let (pin, new_tag) = match kind {
        PinKind::None => (0, None),
        _ => resolve_pin(&map, kind, context).map_err(|r| refuse(None, r))?,
    };
    let command = fields(name, pin, &map).map_err(|r| {
        let pin = (kind != PinKind::None).then_some(pin);
        refuse(pin, r)
    })?;
    Ok(Parsed {
        name,
        command,
        new_tag,
    })
}

/// The pin a command is for and a tag to bind to it later.
fn resolve_pin<'a, C: Context + ?Sized>(
    map: &MapReader<'a>,
    kind: PinKind,
    context: &C,
) -> Result<(u8, Option<&'a str>), Reason> {
    let tag = tag(map)?;
    let known = tag.and_then(|tag| context.tag_pin(tag));
    let new_tag = if known.is_some() { None } else { tag };
    if let Some(tag) = new_tag {
        context.check_new_tag(tag)?;
    }
    let pin = match known {
        Some(pin) => pin,
        None => match opt_uint(map, Field::Pin, u64::from(u8::MAX))? {
            Some(pin) => u8::try_from(pin).map_err(|_| Reason::OutOfRange(Field::Pin))?,
            None if tag.is_some() => return Err(Reason::UnknownTag),
            None => return Err(Reason::Missing(Field::Pin)),
        },
    };
    context.check_pin(pin, kind)?;
    Ok((pin, new_tag))
}

/// The fields of `name` other than `pin`.
fn fields<'a>(name: Name, pin: u8, map: &MapReader<'a>) -> Result<Command<'a>, Reason> {
    let mode = |mode| Command::SetMode {
        pin,
        mode,
        value: None,
    };
    Ok(match name {
        Name::SetModeDigitalInput => mode(PinMode::DigitalInput),
        Name::SetModeDigitalInputPullup => mode(PinMode::DigitalInputPullUp),
        Name::SetModePwm => mode(PinMode::Pwm),
        Name::SetModeServo => mode(PinMode::Servo),
        Name::SetModeTone => mode(PinMode::Tone),
        Name::SetModeDigitalOutput => Command::SetMode {
            pin,
            mode: PinMode::DigitalOutput,
            value: opt_level(map)?,
        },
        Name::SetModeAnalogInput => Command::SetAnalogInput {
            channel: pin,
            differential: change_diff(map)?,
        },
        Name::EnableAnalogReporting => Command::AnalogReporting {
            channel: pin,
            enable: true,
            differential: change_diff(map)?,
        },
        Name::DisableAnalogReporting => Command::AnalogReporting {
            channel: pin,
            enable: false,
            differential: None,
        },
        Name::EnableDigitalReporting => Command::DigitalReporting { pin, enable: true },
        Name::DisableDigitalReporting => Command::DigitalReporting { pin, enable: false },
        Name::DigitalWrite => Command::DigitalWrite {
            pin,
            value: opt_level(map)?.ok_or(Reason::Missing(Field::Value))?,
        },
        Name::PwmWrite => Command::PwmWrite {
            pin,
            value: u16_field(map, Field::Value)?,
        },
        Name::AnalogWrite => Command::AnalogWrite {
            pin,
            value: u16_field(map, Field::Value)?,
        },
        Name::ServoPosition => Command::ServoPosition {
            pin,
            degrees: narrow(
                uint(map, Field::Position, u64::from(MAX_DEGREES))?,
                Field::Position,
            )?,
        },
        Name::PlayTone => Command::PlayTone {
            pin,
            freq: u16_field(map, Field::Freq)?,
            duration_ms: match opt_uint_or_nil(map, Field::Duration, u64::from(u32::MAX))? {
                Some(ms) => Some(narrow(ms, Field::Duration)?),
                None => None,
            },
        },
        Name::SetModeI2c => Command::SetI2c,
        Name::I2cRead => Command::I2cRead {
            addr: addr(map)?,
            register: match opt_uint_or_nil(map, Field::Register, 0x3fff)? {
                Some(r) => Some(narrow(r, Field::Register)?),
                None if map.get(Field::Register.key()).is_none() => {
                    return Err(Reason::Missing(Field::Register));
                }
                None => None,
            },
            number_of_bytes: {
                let n = uint(map, Field::NumberOfBytes, MAX_I2C_BYTES as u64)?;
                if n == 0 {
                    return Err(Reason::OutOfRange(Field::NumberOfBytes));
                }
                narrow(n, Field::NumberOfBytes)?
            },
        },
        Name::I2cWrite => Command::I2cWrite {
            addr: addr(map)?,
            data: i2c_data(map)?,
        },
        Name::SetModeSonar => Command::SetSonar {
            trigger_pin: narrow(uint(map, Field::TriggerPin, 255)?, Field::TriggerPin)?,
            echo_pin: narrow(uint(map, Field::EchoPin, 255)?, Field::EchoPin)?,
        },
        Name::SetModeStepper => Command::SetStepper {
            pins: stepper_pins(map)?,
            steps_per_revolution: narrow(
                uint(map, Field::StepsPerRevolution, 0x3fff)?,
                Field::StepsPerRevolution,
            )?,
        },
        Name::StepperWrite => Command::StepperWrite {
            motor_speed: narrow(
                uint(map, Field::MotorSpeed, u64::from(MAX_MOTOR_SPEED))?,
                Field::MotorSpeed,
            )?,
            number_of_steps: steps(map)?,
        },
    })
}

fn narrow<T: TryFrom<u64>>(n: u64, field: Field) -> Result<T, Reason> {
    T::try_from(n).map_err(|_| Reason::OutOfRange(field))
}

fn u16_field(map: &MapReader<'_>, field: Field) -> Result<u16, Reason> {
    narrow(uint(map, field, u64::from(u16::MAX))?, field)
}

fn addr(map: &MapReader<'_>) -> Result<u8, Reason> {
    narrow(uint(map, Field::Addr, 0x7f)?, Field::Addr)
}

fn i2c_data<'a>(map: &MapReader<'a>) -> Result<I2cData<'a>, Reason> {
    let list = match map.get(Field::Data.key()) {
        None => return Err(Reason::Missing(Field::Data)),
        Some(ValueRef::Array(list)) => list,
        Some(_) => return Err(Reason::WrongType(Field::Data)),
    };
    if list.len() > MAX_I2C_BYTES {
        return Err(Reason::OutOfRange(Field::Data));
    }
    for value in list.iter() {
        match value {
            ValueRef::Int(n) if (0..=255).contains(&n) => {}
            ValueRef::Int(_) | ValueRef::UInt(_) => return Err(Reason::OutOfRange(Field::Data)),
            _ => return Err(Reason::WrongType(Field::Data)),
        }
    }
    Ok(I2cData(list))
}

fn stepper_pins(map: &MapReader<'_>) -> Result<heapless::Vec<u8, 4>, Reason> {
    let list = match map.get(Field::Pins.key()) {
        None => return Err(Reason::Missing(Field::Pins)),
        Some(ValueRef::Array(list)) => list,
        Some(_) => return Err(Reason::WrongType(Field::Pins)),
    };
    if list.len() != 2 && list.len() != 4 {
        return Err(Reason::OutOfRange(Field::Pins));
    }
    let mut pins = heapless::Vec::new();
    for value in list.iter() {
        let pin = match value {
            ValueRef::Int(n) => u8::try_from(n).map_err(|_| Reason::OutOfRange(Field::Pins))?,
            ValueRef::UInt(_) => return Err(Reason::OutOfRange(Field::Pins)),
            _ => return Err(Reason::WrongType(Field::Pins)),
        };
        pins.push(pin)
            .map_err(|_| Reason::OutOfRange(Field::Pins))?;
    }
    Ok(pins)
}

fn steps(map: &MapReader<'_>) -> Result<i16, Reason> {
    let field = Field::NumberOfSteps;
    match map.get(field.key()) {
        None => Err(Reason::Missing(field)),
        Some(ValueRef::Int(n)) if n.unsigned_abs() <= MAX_STEPS.unsigned_abs().into() => {
            i16::try_from(n).map_err(|_| Reason::OutOfRange(field))
        }
        Some(ValueRef::Int(_) | ValueRef::UInt(_)) => Err(Reason::OutOfRange(field)),
        Some(_) => Err(Reason::WrongType(field)),
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

/// As [`opt_uint`], with `None` (nil) read as absent.
fn opt_uint_or_nil(map: &MapReader<'_>, field: Field, max: u64) -> Result<Option<u64>, Reason> {
    match map.get(field.key()) {
        Some(ValueRef::Nil) => Ok(None),
        _ => opt_uint(map, field, max),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// A context with pins 0..20, channels 0..6 and the tag `led` on pin 13.
    struct Uno;

    impl Context for Uno {
        fn tag_pin(&self, tag: &str) -> Option<u8> {
            (tag == "led").then_some(13)
        }

        fn check_pin(&self, pin: u8, kind: PinKind) -> Result<(), Reason> {
            let limit = if kind == PinKind::Analog { 6 } else { 20 };
            if pin < limit {
                Ok(())
            } else {
                Err(Reason::OutOfRange(Field::Pin))
            }
        }
    }

    /// msgpack of a map built from (key, value-bytes) pairs.
    fn map(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::vec![0x80 | entries.len() as u8];
        for (key, value) in entries {
            out.push(0xa0 | key.len() as u8);
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(value);
        }
        out
    }

    fn s(text: &str) -> Vec<u8> {
        let mut out = std::vec![0xa0 | text.len() as u8];
        out.extend_from_slice(text.as_bytes());
        out
    }

    fn cmd(name: &str, rest: &[(&str, &[u8])]) -> Vec<u8> {
        let name = s(name);
        let mut entries: Vec<(&str, &[u8])> = std::vec![("command", &name)];
        entries.extend_from_slice(rest);
        map(&entries)
    }

    #[test]
    fn every_name_round_trips() {
        for name in Name::ALL {
            assert_eq!(Name::parse(name.as_str()), Some(name));
        }
        assert_eq!(Name::parse("blink"), None);
    }

    #[test]
    fn the_commands_without_a_pin_read_their_own_keys() {
        let p = cmd(
            "i2c_read",
            &[
                ("addr", &[0x48]),
                ("register", &[0xc0]),
                ("number_of_bytes", &[2]),
            ],
        );
        let parsed = parse(&p, &Uno).unwrap();
        assert_eq!(
            parsed.command,
            Command::I2cRead {
                addr: 0x48,
                register: None,
                number_of_bytes: 2
            }
        );
        let p = cmd(
            "i2c_write",
            &[("addr", &[0x48]), ("data", &[0x93, 1, 2, 0xcc, 0xff])],
        );
        match parse(&p, &Uno).unwrap().command {
            Command::I2cWrite { addr: 0x48, data } => {
                assert_eq!(data.iter().collect::<Vec<_>>(), [1, 2, 255]);
            }
            other => panic!("{other:?}"),
        }
        let p = cmd(
            "set_mode_sonar",
            &[("trigger_pin", &[7]), ("echo_pin", &[8])],
        );
        assert_eq!(
            parse(&p, &Uno).unwrap().command,
            Command::SetSonar {
                trigger_pin: 7,
                echo_pin: 8
            }
        );
        let p = cmd(
            "set_mode_stepper",
            &[
                ("pins", &[0x94, 8, 9, 10, 11]),
                ("steps_per_revolution", &[0xcc, 200]),
            ],
        );
        match parse(&p, &Uno).unwrap().command {
            Command::SetStepper {
                pins,
                steps_per_revolution: 200,
            } => assert_eq!(pins, [8, 9, 10, 11]),
            other => panic!("{other:?}"),
        }
        let p = cmd(
            "stepper_write",
            &[
                ("motor_speed", &[0xcd, 0x01, 0xf4]),
                ("number_of_steps", &[0xd0, 0x9c]),
            ],
        );
        assert_eq!(
            parse(&p, &Uno).unwrap().command,
            Command::StepperWrite {
                motor_speed: 500,
                number_of_steps: -100
            }
        );
    }

    #[test]
    fn faults_name_the_key() {
        let cases: [(Vec<u8>, Reason); 8] = [
            (
                cmd("i2c_read", &[("addr", &[0x48]), ("number_of_bytes", &[2])]),
                Reason::Missing(Field::Register),
            ),
            (
                cmd(
                    "i2c_read",
                    &[
                        ("addr", &[0xcc, 0x80]),
                        ("register", &[0]),
                        ("number_of_bytes", &[2]),
                    ],
                ),
                Reason::OutOfRange(Field::Addr),
            ),
            (
                cmd(
                    "i2c_read",
                    &[
                        ("addr", &[1]),
                        ("register", &[0]),
                        ("number_of_bytes", &[0]),
                    ],
                ),
                Reason::OutOfRange(Field::NumberOfBytes),
            ),
            (
                cmd(
                    "i2c_write",
                    &[("addr", &[1]), ("data", &[0x91, 0xcd, 1, 0])],
                ),
                Reason::OutOfRange(Field::Data),
            ),
            (
                cmd(
                    "i2c_write",
                    &[("addr", &[1]), ("data", &[0x91, 0xa1, b'x'])],
                ),
                Reason::WrongType(Field::Data),
            ),
            (
                cmd(
                    "set_mode_stepper",
                    &[("pins", &[0x93, 1, 2, 3]), ("steps_per_revolution", &[1])],
                ),
                Reason::OutOfRange(Field::Pins),
            ),
            (
                cmd(
                    "servo_position",
                    &[("pin", &[9]), ("position", &[0xcc, 181])],
                ),
                Reason::OutOfRange(Field::Position),
            ),
            (
                cmd("digital_write", &[("pin", &[30]), ("value", &[1])]),
                Reason::OutOfRange(Field::Pin),
            ),
        ];
        for (payload, reason) in cases {
            assert_eq!(parse(&payload, &Uno).unwrap_err().reason, reason);
        }
    }

    #[test]
    fn a_known_tag_gives_the_pin_and_a_new_one_is_handed_back() {
        let led = s("led");
        let p = cmd("digital_write", &[("tag", &led), ("value", &[0xc3])]);
        let parsed = parse(&p, &Uno).unwrap();
        assert_eq!(
            parsed.command,
            Command::DigitalWrite {
                pin: 13,
                value: true
            }
        );
        assert_eq!(parsed.new_tag, None);
        let pot = s("pot");
        let p = cmd("enable_analog_reporting", &[("pin", &[2]), ("tag", &pot)]);
        let parsed = parse(&p, &Uno).unwrap();
        assert_eq!(parsed.new_tag, Some("pot"));
        assert_eq!(parsed.command.pin(), Some(2));
    }
}
