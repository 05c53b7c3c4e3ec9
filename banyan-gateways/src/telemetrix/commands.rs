//! OneGPIO commands from the bus: parsed by `banyan-onegpio`, validated against the
//! family's pins and the pin table, recorded in the table, and sent as Telemetrix commands
//! with the bytes s3-extend's gateways send for them.
//!
//! While the board is away, commands that set state (modes, outputs, reporting) are
//! recorded; the board gets them when the table is restored. One-shot commands (I2C
//! transfers) need the board now and are refused with `no board connected`.

use banyan_onegpio::command::{self, Command, Context, Name, PinKind};
use banyan_onegpio::report::{self, REPORT_BUF_LEN};
use banyan_onegpio::{Field, PinMode as OneMode, Reason};
use banyan_proto::payload::{MapReader, MapWriter, ValueRef};
use banyan_proto::telemetrix::{Command as Tx, Family, Reporting, encode};

use super::pins::{self, AnalogState, Mode, PinState, PinTable};
use super::{Core, Phase};

/// Longest tag (bytes) and most tags remembered.
const MAX_TAG_LEN: usize = 64;
const MAX_TAGS: usize = 256;
/// Most sonars the table holds (the firmwares keep a handful; the bound keeps the table
/// and its replay bounded).
pub const MAX_SONARS: usize = 8;
/// Longest board address accepted from `ip_address`.
const MAX_ADDRESS_LEN: usize = 253;

/// The `Context` the parser asks: the family's pins and the tags.
struct Pins<'a> {
    core: &'a Core,
}

impl Context for Pins<'_> {
    fn supports(&self, name: Name) -> Result<(), Reason> {
        match name {
            // No Telemetrix firmware has tone or a stepper command (s3-extend: rpgw raises
            // NotImplementedError, esp32gw has no handler).
            Name::PlayTone | Name::SetModeTone | Name::SetModeStepper | Name::StepperWrite => {
                Err(Reason::NotInFirmware(self.core.config.family.firmware()))
            }
            _ => Ok(()),
        }
    }

    fn tag_pin(&self, tag: &str) -> Option<u8> {
        self.core.tags.get(tag).copied()
    }

    fn check_new_tag(&self, tag: &str) -> Result<(), Reason> {
        if tag.len() > MAX_TAG_LEN {
            Err(Reason::TagTooLong)
        } else if self.core.tags.len() >= MAX_TAGS {
            Err(Reason::TagTableFull)
        } else {
            Ok(())
        }
    }

    fn check_pin(&self, pin: u8, kind: PinKind) -> Result<(), Reason> {
        let family = self.core.config.family;
        let exists = match kind {
            PinKind::Analog => pins::analog_ok(family, pin),
            _ => pins::gpio_ok(family, pin, true) || pins::gpio_ok(family, pin, false),
        };
        if exists {
            Ok(())
        } else {
            Err(Reason::OutOfRange(Field::Pin))
        }
    }
}

impl Core {
    /// Handles one OneGPIO command payload (a message on the command topic). A refused
    /// command queues an `error` report and changes nothing. Never panics.
    pub fn command(&mut self, payload: &[u8]) {
        if self.ip_address(payload) {
            return;
        }
        let parsed = match command::parse(payload, &Pins { core: self }) {
            Ok(parsed) => parsed,
            Err(rejection) => {
                self.reject(rejection.command, rejection.pin, rejection.reason);
                return;
            }
        };
        let pin = parsed.command.pin();
        match self.execute(&parsed.command) {
            Ok(()) => {
                self.stats.commands += 1;
                if let (Some(tag), Some(pin)) = (parsed.new_tag, pin) {
                    self.tags.insert(tag.to_owned(), pin);
                }
            }
            Err(reason) => self.reject(Some(parsed.name.as_str()), pin, reason),
        }
    }

    /// `{'command': 'ip_address', 'address': …}` (esp32gw): the board's address, kept for
    /// the driver ([`Core::take_address`]). `true` if the payload was this command.
    fn ip_address(&mut self, payload: &[u8]) -> bool {
        let Ok(map) = MapReader::new(payload) else {
            return false;
        };
        if !matches!(map.get("command"), Some(ValueRef::Str("ip_address"))) {
            return false;
        }
        match map.get("address") {
            Some(ValueRef::Str(address))
                if !address.is_empty() && address.len() <= MAX_ADDRESS_LEN =>
            {
                self.stats.commands += 1;
                self.address = Some(address.to_owned());
            }
            Some(ValueRef::Str(_)) => self.reject_text("ip_address", "'address' out of range"),
            Some(_) => self.reject_text("ip_address", "wrong type for 'address'"),
            None => self.reject_text("ip_address", "missing 'address'"),
        }
        true
    }

    pub(super) fn reject(&mut self, command: Option<&str>, pin: Option<u8>, reason: Reason) {
        self.stats.rejected += 1;
        let mut buf = [0u8; REPORT_BUF_LEN];
        if let Ok(n) = report::error(&mut buf, command, pin, reason) {
            self.report(buf[..n].to_vec());
        }
    }

    /// An error report whose reason is not one of OneGPIO's.
    fn reject_text(&mut self, command: &str, reason: &str) {
        self.stats.rejected += 1;
        let mut buf = [0u8; REPORT_BUF_LEN];
        let written = MapWriter::new(&mut buf, 3).and_then(|mut map| {
            map.entry("report", "error")?
                .entry("command", command)?
                .entry("reason", reason)?;
            map.finish()
        });
        if let Ok(n) = written {
            self.report(buf[..n].to_vec());
        }
    }

    /// One-shot commands need the board now.
    fn need_board(&self) -> Result<(), Reason> {
        if self.phase == Phase::Ready {
            Ok(())
        } else {
            Err(Reason::NoBoard)
        }
    }

    /// Queues `commands` if the board is there: all or none (each must encode and the
    /// queue must have room). While the board is away, nothing is sent (the table has it).
    fn emit(&mut self, commands: &[Tx<'_>]) -> Result<(), Reason> {
        if self.phase != Phase::Ready {
            return Ok(());
        }
        if !self.pacer.has_room(commands.len()) {
            return Err(Reason::QueueFull);
        }
        let mut frames = Vec::with_capacity(commands.len());
        for command in commands {
            let mut buf = [0u8; banyan_proto::telemetrix::MAX_FRAME];
            let n = encode(self.config.family, command, &mut buf)
                // Values are checked before; what is left is a frame too long for the
                // firmware's command buffer (a long i2c_write).
                .map_err(|_| Reason::OutOfRange(Field::Data))?;
            frames.push(buf[..n].to_vec());
        }
        for frame in frames {
            // Room was checked above.
            let _ = self.pacer.push(frame);
        }
        Ok(())
    }

    /// Sets `pin`'s state to `state` and emits `commands`, or leaves it as it was.
    fn apply(&mut self, pin: u8, state: PinState, commands: &[Tx<'_>]) -> Result<(), Reason> {
        let before = self.table.gpio.insert(pin, state);
        self.emit(commands).inspect_err(|_| match before {
            Some(old) => {
                self.table.gpio.insert(pin, old);
            }
            None => {
                self.table.gpio.remove(&pin);
            }
        })
    }

    fn require(
        &self,
        pin: u8,
        ok: impl Fn(Mode) -> bool,
        named: OneMode,
    ) -> Result<PinState, Reason> {
        self.table
            .get(pin)
            .filter(|s| ok(s.mode))
            .ok_or(Reason::WrongMode(named))
    }

    fn execute(&mut self, command: &Command<'_>) -> Result<(), Reason> {
        let family = self.config.family;
        match *command {
            Command::SetMode { pin, mode, value } => self.set_mode(pin, mode, value),
            Command::SetAnalogInput {
                channel,
                differential,
            } => self.set_analog(channel, differential),
            // Enabling a channel the bus never set up sets it up (reporting on).
            Command::AnalogReporting {
                channel,
                enable: true,
                differential,
            } if !self.table.analog.contains_key(&channel) => {
                self.set_analog(channel, differential)
            }
            Command::AnalogReporting {
                channel, enable, ..
            } => {
                let Some(state) = self.table.analog.get_mut(&channel) else {
                    // Never set up: sent as the Python clients send it (the firmware
                    // ignores a pin it does not scan); nothing to record.
                    return self.emit(&[Tx::ModifyReporting(Reporting::AnalogDisable(channel))]);
                };
                let was = state.reporting;
                state.reporting = enable;
                let sub = if enable {
                    Reporting::AnalogEnable(channel)
                } else {
                    Reporting::AnalogDisable(channel)
                };
                self.emit(&[Tx::ModifyReporting(sub)]).inspect_err(|_| {
                    if let Some(state) = self.table.analog.get_mut(&channel) {
                        state.reporting = was;
                    }
                })
            }
            Command::DigitalReporting { pin, enable } => {
                let state = self
                    .table
                    .get(pin)
                    .filter(|s| s.mode.is_input())
                    .ok_or(Reason::NotAnInput)?;
                let sub = if enable {
                    Reporting::DigitalEnable(pin)
                } else {
                    Reporting::DigitalDisable(pin)
                };
                self.apply(
                    pin,
                    PinState {
                        reporting: enable,
                        ..state
                    },
                    &[Tx::ModifyReporting(sub)],
                )
            }
            Command::DigitalWrite { pin, value } => {
                let state = self.require(pin, |m| m == Mode::Output, OneMode::DigitalOutput)?;
                self.apply(
                    pin,
                    PinState {
                        output: Some(u16::from(value)),
                        ..state
                    },
                    &[Tx::DigitalWrite { pin, value }],
                )
            }
            Command::PwmWrite { pin, value } | Command::AnalogWrite { pin, value } => {
                let state = self.require(pin, |m| matches!(m, Mode::Pwm { .. }), OneMode::Pwm)?;
                let wire = match family {
                    // rpgw: a percentage (tmx_pico_aio shuts the board down above 99).
                    Family::RpiPico if value <= 99 => {
                        u16::try_from(pins::PICO_DUTY_STEPS * u32::from(value) / 100)
                            .unwrap_or(u16::MAX)
                    }
                    // esp32gw: the LEDC duty at 8 bits.
                    Family::Esp32 | Family::Arduino if value <= 255 => value,
                    _ => return Err(Reason::OutOfRange(Field::Value)),
                };
                self.apply(
                    pin,
                    PinState {
                        output: Some(wire),
                        ..state
                    },
                    &[Tx::PwmWrite { pin, value: wire }],
                )
            }
            Command::ServoPosition { pin, degrees } => {
                let state = self.require(pin, |m| m == Mode::Servo, OneMode::Servo)?;
                let wire = match family {
                    Family::RpiPico => {
                        let (min, max) = pins::PICO_SERVO_DUTY;
                        // tmx_pico_aio: int(value / 180 * servo_range) + min_duty, in f64.
                        (f64::from(degrees) / 180.0 * f64::from(max - min)) as u16 + min
                    }
                    _ => u16::from(degrees),
                };
                let message = PinTable::value_command(family, pin, Mode::Servo, wire)
                    .ok_or(Reason::WrongMode(OneMode::Servo))?;
                self.apply(
                    pin,
                    PinState {
                        output: Some(wire),
                        ..state
                    },
                    &[message],
                )
            }
            Command::PlayTone { .. }
            | Command::SetStepper { .. }
            | Command::StepperWrite { .. } => Err(Reason::NotInFirmware(family.firmware())),
            Command::SetI2c => {
                let was = self.table.i2c;
                self.table.i2c = true;
                self.emit(&[PinTable::i2c_begin()]).inspect_err(|_| {
                    self.table.i2c = was;
                })
            }
            Command::I2cRead {
                addr,
                register,
                number_of_bytes,
            } => {
                self.need_i2c()?;
                self.need_board()?;
                let register = register
                    .map(|r| u8::try_from(r).map_err(|_| Reason::OutOfRange(Field::Register)))
                    .transpose()?;
                self.emit(&[Tx::I2cRead {
                    port: 0,
                    address: addr,
                    register,
                    count: number_of_bytes,
                    restart: false,
                }])
            }
            Command::I2cWrite { addr, ref data } => {
                self.need_i2c()?;
                self.need_board()?;
                let bytes: Vec<u8> = data.iter().collect();
                self.emit(&[Tx::I2cWrite {
                    port: 0,
                    address: addr,
                    data: &bytes,
                    no_stop: false,
                }])
            }
            Command::SetSonar {
                trigger_pin,
                echo_pin,
            } => {
                if !pins::gpio_ok(family, trigger_pin, true) {
                    return Err(Reason::OutOfRange(Field::TriggerPin));
                }
                if !pins::gpio_ok(family, echo_pin, false) {
                    return Err(Reason::OutOfRange(Field::EchoPin));
                }
                if self.table.sonars.iter().any(|&(t, _)| t == trigger_pin) {
                    return Ok(()); // a known trigger pin: already set up
                }
                if self.table.sonars.len() >= MAX_SONARS {
                    return Err(Reason::OutOfRange(Field::TriggerPin));
                }
                self.emit(&[Tx::SonarNew {
                    trigger: trigger_pin,
                    echo: echo_pin,
                }])?;
                self.table.sonars.push((trigger_pin, echo_pin));
                for pin in [trigger_pin, echo_pin] {
                    self.table.gpio.insert(
                        pin,
                        PinState {
                            mode: Mode::Sonar,
                            reporting: true,
                            output: None,
                        },
                    );
                }
                Ok(())
            }
        }
    }

    /// An analog input with reporting on (`set_mode_analog_input`): differential 0 unless
    /// given, as the clients' default.
    fn set_analog(&mut self, channel: u8, differential: Option<u16>) -> Result<(), Reason> {
        let state = AnalogState {
            reporting: true,
            differential: differential.unwrap_or(0),
        };
        let before = self.table.analog.insert(channel, state);
        self.emit(&[PinTable::analog_command(channel, state)])
            .inspect_err(|_| {
                match before {
                    Some(old) => self.table.analog.insert(channel, old),
                    None => self.table.analog.remove(&channel),
                };
            })
    }

    fn need_i2c(&self) -> Result<(), Reason> {
        if self.table.i2c {
            Ok(())
        } else {
            Err(Reason::NotInCapabilities("i2c before set_mode_i2c"))
        }
    }

    fn set_mode(&mut self, pin: u8, asked: OneMode, value: Option<bool>) -> Result<(), Reason> {
        let family = self.config.family;
        let (mode, output_pin) = match asked {
            OneMode::DigitalInput => (Mode::Input, false),
            OneMode::DigitalInputPullUp => (Mode::InputPullup, false),
            OneMode::DigitalOutput => (Mode::Output, true),
            OneMode::Pwm => {
                let channel = match family {
                    Family::Esp32 => {
                        self.table
                            .ledc_channel(pin)
                            .ok_or(Reason::NotInCapabilities(
                                "PWM (every LEDC channel is taken)",
                            ))?
                    }
                    _ => 0,
                };
                (Mode::Pwm { channel }, true)
            }
            // esp32gw's servo pins are its input list; the Pico drives any GPIO.
            OneMode::Servo => (Mode::Servo, family != Family::Esp32),
            OneMode::Tone => return Err(Reason::NotInFirmware(family.firmware())),
            OneMode::Unset => return Err(Reason::ModeNotSupported(asked)),
        };
        if !pins::gpio_ok(family, pin, output_pin) {
            return Err(Reason::ModeNotSupported(asked));
        }
        let state = PinState {
            mode,
            reporting: mode.is_input(),
            output: value.filter(|_| mode == Mode::Output).map(u16::from),
        };
        let mut commands: Vec<Tx<'static>> = Vec::new();
        commands.extend(PinTable::mode_command(family, pin, state));
        if let (Mode::Output, Some(level)) = (mode, value) {
            commands.push(Tx::DigitalWrite { pin, value: level });
        }
        self.apply(pin, state, &commands)
    }
}
