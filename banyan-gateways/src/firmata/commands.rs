//! OneGPIO commands from the bus: parsed by `banyan-onegpio`, validated against the board's
//! capability report and the pin table, recorded in the table, and sent as Firmata.
//!
//! While the board is away, commands that set state (modes, outputs, reporting) are checked
//! against the last board seen and recorded; the board gets them when the table is restored.
//! One-shot commands (tone, i2c transfers, stepper moves) need the board now and are refused
//! with `no board connected`.

use banyan_onegpio::command::{self, Command, Context, PinKind};
use banyan_onegpio::report::{self, REPORT_BUF_LEN};
use banyan_onegpio::{Field, PinMode as OneMode, Reason};
use banyan_proto::firmata::{Capabilities, Command as Fm, I2cOp, PinMode as FmMode, StepperPins};

use super::pins::{self, Mode};
use super::{Core, Firmware, Phase};

/// Longest tag (bytes) and most tags remembered.
const MAX_TAG_LEN: usize = 64;
const MAX_TAGS: usize = 256;

/// Largest PWM value (`pwm_write`), 8-bit as an AVR's PWM.
pub const PWM_MAX: u16 = 255;
/// Largest tone frequency and duration: 14 bits on the wire.
const TONE_MAX: u16 = 0x3fff;

/// Whether `pin` can take `mode` on a board with `caps`.
pub(super) fn mode_possible(caps: &Capabilities, pin: u8, mode: Mode) -> bool {
    let has = |m| caps.supports(pin, m);
    match mode {
        Mode::Input => has(FmMode::Input),
        // Firmata 2.4 has no PULLUP mode: INPUT plus a written 1 does it.
        Mode::InputPullup => has(FmMode::Input) || has(FmMode::Pullup),
        Mode::Output => has(FmMode::Output),
        Mode::Pwm => has(FmMode::Pwm),
        Mode::Servo => has(FmMode::Servo),
        // FirmataExpress drives tone and sonar on any digital pin.
        Mode::Tone | Mode::Sonar | Mode::Stepper => has(FmMode::Output) || has(FmMode::Tone),
        Mode::Analog => has(FmMode::Analog),
    }
}

/// The `Context` the parser asks: tags, and pins against the last board seen.
struct Pins<'a> {
    core: &'a Core,
}

impl Context for Pins<'_> {
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
        let Some(caps) = self.core.caps.as_deref() else {
            return Err(Reason::NoBoard);
        };
        let exists = match kind {
            PinKind::Analog => caps.pin_of_channel(pin).is_some(),
            _ => usize::from(pin) < caps.pin_count(),
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

    fn reject(&mut self, command: Option<&str>, pin: Option<u8>, reason: Reason) {
        self.stats.rejected += 1;
        let mut buf = [0u8; REPORT_BUF_LEN];
        if let Ok(n) = report::error(&mut buf, command, pin, reason) {
            self.report(buf[..n].to_vec());
        }
    }

    /// The firmware must be FirmataExpress.
    fn need_express(&self) -> Result<(), Reason> {
        match self.firmware {
            Some(Firmware::Express) => Ok(()),
            Some(other) => Err(Reason::NotInFirmware(other.name())),
            None => Err(Reason::NoBoard),
        }
    }

    fn caps(&self) -> Result<&Capabilities, Reason> {
        self.caps.as_deref().ok_or(Reason::NoBoard)
    }

    /// One-shot messages need the board now.
    fn need_board(&self) -> Result<(), Reason> {
        if self.phase == Phase::Ready {
            Ok(())
        } else {
            Err(Reason::NoBoard)
        }
    }

    /// Queues `messages` if the board is there (all or none: the queue must have room).
    fn emit(&mut self, messages: &[Fm<'_>]) -> Result<(), Reason> {
        if self.phase != Phase::Ready {
            return Ok(()); // recorded in the table; restored on connect
        }
        if !self.pacer.has_room(messages.len()) {
            return Err(Reason::QueueFull);
        }
        for message in messages {
            self.send(message);
        }
        Ok(())
    }

    fn check_mode(&self, pin: u8, mode: Mode, asked: OneMode) -> Result<(), Reason> {
        if mode_possible(self.caps()?, pin, mode) {
            Ok(())
        } else {
            Err(Reason::ModeNotSupported(asked))
        }
    }

    fn require(&self, pin: u8, mode: Mode, named: OneMode) -> Result<(), Reason> {
        if self.table.get(pin).mode == Some(mode) {
            Ok(())
        } else {
            Err(Reason::WrongMode(named))
        }
    }

    fn port_message(&self, pin: u8) -> Fm<'static> {
        let port = pin / 8;
        Fm::DigitalPort {
            port,
            pins: self.table.port_value(port, self.native_pullup_now()),
        }
    }

    fn native_pullup_now(&self) -> bool {
        let listed = self
            .caps
            .as_deref()
            .is_some_and(|c| c.pins().any(|(_, info)| info.supports(FmMode::Pullup)));
        Self::native_pullup_for(self.protocol, listed)
    }

    fn execute(&mut self, command: &Command<'_>) -> Result<(), Reason> {
        match *command {
            Command::SetMode { pin, mode, value } => self.set_mode(pin, mode, value),
            Command::SetAnalogInput {
                channel,
                differential,
            }
            | Command::AnalogReporting {
                channel,
                enable: true,
                differential,
            } => {
                let caps = self.caps()?;
                let pin = caps
                    .pin_of_channel(channel)
                    .ok_or(Reason::OutOfRange(Field::Pin))?;
                if !caps.supports(pin, FmMode::Analog) {
                    return Err(Reason::NotInCapabilities("analog input"));
                }
                let before = self.table.get(pin);
                let mut messages = Vec::new();
                let state = self.table.get_mut(pin);
                if before.mode != Some(Mode::Analog) {
                    state.mode = Some(Mode::Analog);
                    messages.push(Fm::SetPinMode {
                        pin,
                        mode: FmMode::Analog,
                    });
                }
                state.reporting = true;
                state.last_input = None;
                state.differential = differential.unwrap_or(1);
                messages.push(Fm::ReportAnalog {
                    channel,
                    enable: true,
                });
                self.emit_or_undo(pin, before, &messages)
            }
            Command::AnalogReporting {
                channel,
                enable: false,
                ..
            } => {
                let pin = self
                    .caps()?
                    .pin_of_channel(channel)
                    .ok_or(Reason::OutOfRange(Field::Pin))?;
                let before = self.table.get(pin);
                self.table.get_mut(pin).reporting = false;
                self.emit_or_undo(
                    pin,
                    before,
                    &[Fm::ReportAnalog {
                        channel,
                        enable: false,
                    }],
                )
            }
            Command::DigitalReporting { pin, enable } => {
                let before = self.table.get(pin);
                if !before.mode.is_some_and(Mode::is_input) {
                    return Err(Reason::NotAnInput);
                }
                let port = pin / 8;
                let state = self.table.get_mut(pin);
                state.reporting = enable;
                if enable {
                    state.last_input = None;
                }
                let message = Fm::ReportDigital {
                    port,
                    enable: self.table.port_reporting(port),
                };
                self.emit_or_undo(pin, before, &[message])
            }
            Command::DigitalWrite { pin, value } => {
                self.require(pin, Mode::Output, OneMode::DigitalOutput)?;
                let before = self.table.get(pin);
                self.table.get_mut(pin).output = Some(u16::from(value));
                let message = self.port_message(pin);
                self.emit_or_undo(pin, before, &[message])
            }
            Command::PwmWrite { pin, value } | Command::AnalogWrite { pin, value } => {
                if value > PWM_MAX {
                    return Err(Reason::OutOfRange(Field::Value));
                }
                self.require(pin, Mode::Pwm, OneMode::Pwm)?;
                self.write_value(pin, value)
            }
            Command::ServoPosition { pin, degrees } => {
                self.require(pin, Mode::Servo, OneMode::Servo)?;
                self.write_value(pin, u16::from(degrees))
            }
            Command::PlayTone {
                pin,
                freq,
                duration_ms,
            } => {
                self.need_express()?;
                if freq == 0 || freq > TONE_MAX {
                    return Err(Reason::OutOfRange(Field::Freq));
                }
                let duration_ms = match duration_ms {
                    None => 0,
                    Some(ms) => u16::try_from(ms)
                        .ok()
                        .filter(|&ms| ms <= TONE_MAX)
                        .ok_or(Reason::OutOfRange(Field::Duration))?,
                };
                match self.table.get(pin).mode {
                    Some(Mode::Tone) => {}
                    // The Tk demo plays tones without set_mode_tone first.
                    None => self.set_mode(pin, OneMode::Tone, None)?,
                    Some(_) => return Err(Reason::WrongMode(OneMode::Tone)),
                }
                self.need_board()?;
                self.emit(&[Fm::Tone {
                    pin,
                    frequency_hz: freq,
                    duration_ms,
                }])
            }
            Command::SetI2c => {
                let caps = self.caps()?;
                if !caps.pins().any(|(_, info)| info.supports(FmMode::I2c)) {
                    return Err(Reason::NotInCapabilities("i2c"));
                }
                let was = self.table.i2c;
                self.table.i2c = true;
                self.emit(&[Fm::I2cConfig { delay_us: 0 }])
                    .inspect_err(|_| {
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
                self.emit(&[Fm::I2cRequest {
                    address: u16::from(addr),
                    restart: false,
                    op: I2cOp::Read {
                        register,
                        count: u16::from(number_of_bytes),
                    },
                }])
            }
            Command::I2cWrite { addr, data } => {
                self.need_i2c()?;
                self.need_board()?;
                let bytes: Vec<u8> = data.iter().collect();
                self.emit(&[Fm::I2cRequest {
                    address: u16::from(addr),
                    restart: false,
                    op: I2cOp::Write(&bytes),
                }])
            }
            Command::SetSonar {
                trigger_pin,
                echo_pin,
            } => {
                self.need_express()?;
                for pin in [trigger_pin, echo_pin] {
                    let caps = self.caps()?;
                    if usize::from(pin) >= caps.pin_count() {
                        return Err(Reason::OutOfRange(Field::Pin));
                    }
                    if !mode_possible(caps, pin, Mode::Sonar) {
                        return Err(Reason::NotInCapabilities("sonar"));
                    }
                }
                if self.table.sonars.iter().any(|&(t, _)| t == trigger_pin) {
                    return Ok(()); // as pymata: a known trigger pin is ignored
                }
                if self.table.sonars.len() >= 6 {
                    return Err(Reason::OutOfRange(Field::TriggerPin));
                }
                let mut messages = Vec::new();
                pins::sonar_messages(trigger_pin, echo_pin, self.caps()?, &mut messages);
                self.emit(&messages)?;
                self.table.sonars.push((trigger_pin, echo_pin));
                for pin in [trigger_pin, echo_pin] {
                    let state = self.table.get_mut(pin);
                    state.mode = Some(Mode::Sonar);
                    state.last_input = None;
                }
                Ok(())
            }
            Command::SetStepper {
                ref pins,
                steps_per_revolution,
            } => {
                self.need_express()?;
                let caps = self.caps()?;
                for &pin in pins {
                    if usize::from(pin) >= caps.pin_count() {
                        return Err(Reason::OutOfRange(Field::Pins));
                    }
                    if !mode_possible(caps, pin, Mode::Stepper) {
                        return Err(Reason::NotInCapabilities("stepper"));
                    }
                }
                let wire = match *pins.as_slice() {
                    [a, b] => StepperPins::Two([a, b]),
                    [a, b, c, d] => StepperPins::Four([a, b, c, d]),
                    _ => return Err(Reason::OutOfRange(Field::Pins)),
                };
                self.emit(&[Fm::StepperConfig {
                    steps_per_revolution,
                    pins: wire,
                }])?;
                self.table.stepper = Some((steps_per_revolution, wire));
                for &pin in pins {
                    self.table.get_mut(pin).mode = Some(Mode::Stepper);
                }
                Ok(())
            }
            Command::StepperWrite {
                motor_speed,
                number_of_steps,
            } => {
                self.need_express()?;
                if self.table.stepper.is_none() {
                    return Err(Reason::WrongMode(OneMode::Unset));
                }
                self.need_board()?;
                self.emit(&[Fm::StepperStep {
                    speed: motor_speed,
                    steps: number_of_steps,
                }])
            }
        }
    }

    fn need_i2c(&self) -> Result<(), Reason> {
        if self.table.i2c {
            Ok(())
        } else {
            Err(Reason::NotInCapabilities("i2c before set_mode_i2c"))
        }
    }

    fn write_value(&mut self, pin: u8, value: u16) -> Result<(), Reason> {
        let before = self.table.get(pin);
        self.table.get_mut(pin).output = Some(value);
        let message = Fm::AnalogWrite {
            pin,
            value: u32::from(value),
        };
        self.emit_or_undo(pin, before, &[message])
    }

    /// Emits, or puts the pin's state back when the queue had no room.
    fn emit_or_undo(
        &mut self,
        pin: u8,
        before: pins::PinState,
        messages: &[Fm<'_>],
    ) -> Result<(), Reason> {
        self.emit(messages).inspect_err(|_| {
            *self.table.get_mut(pin) = before;
        })
    }

    fn set_mode(&mut self, pin: u8, asked: OneMode, value: Option<bool>) -> Result<(), Reason> {
        let mode = match asked {
            OneMode::DigitalInput => Mode::Input,
            OneMode::DigitalInputPullUp => Mode::InputPullup,
            OneMode::DigitalOutput => Mode::Output,
            OneMode::Pwm => Mode::Pwm,
            OneMode::Servo => Mode::Servo,
            OneMode::Tone => {
                self.need_express()?;
                Mode::Tone
            }
            OneMode::Unset => return Err(Reason::ModeNotSupported(asked)),
        };
        self.check_mode(pin, mode, asked)?;
        let before = self.table.get(pin);
        let same = before.mode == Some(mode);
        let re_enable = mode.is_input() && !before.reporting;
        if same && mode != Mode::Output && !re_enable {
            // Re-setting PWM would write 0 on StandardFirmata; the Tk demo sends
            // set_mode_pwm before every pwm_write.
            return Ok(());
        }
        let state = self.table.get_mut(pin);
        state.mode = Some(mode);
        state.last_input = None;
        state.reporting = mode.is_input();
        if mode == Mode::Output {
            state.output = Some(u16::from(value.unwrap_or(false)));
        } else if !same {
            state.output = None;
        }
        let port = pin / 8;
        let mut messages = Vec::new();
        if !same {
            let caps = self.caps()?;
            self.table
                .mode_messages(pin, caps, self.native_pullup_now(), &mut messages);
        }
        // The port byte: an output's level, a pull-up's 1 (or clearing a former one).
        let was_driven = matches!(before.mode, Some(Mode::Output | Mode::InputPullup));
        let now_driven = matches!(mode, Mode::Output | Mode::InputPullup);
        if now_driven || was_driven {
            messages.push(self.port_message(pin));
        }
        let reporting_was = (0..8u8).any(|bit| {
            let p = port * 8 + bit;
            let s = if p == pin { before } else { self.table.get(p) };
            s.reporting && s.mode.is_some_and(Mode::is_input)
        });
        let reporting_now = self.table.port_reporting(port);
        if reporting_now != reporting_was || mode.is_input() {
            messages.push(Fm::ReportDigital {
                port,
                enable: reporting_now,
            });
        }
        self.emit_or_undo(pin, before, &messages)
    }
}
