//! Carrying out one command: parse, resolve the pin (tags), check everything, then act.

use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::pwm::SetDutyCycle;

use super::{Engine, MAX_TAG_LEN, PinState, SERVO_MAX_DEGREES, SERVO_PERIOD_US};
use crate::command::{self, Command, Context, Name, PinKind, Rejection};
use crate::{Board, Field, PinMode, Reason};

/// Python's commands this engine does not carry out: refused with
/// [`Reason::UnsupportedCommand`] before any field is read.
const UNSUPPORTED: [Name; 7] = [
    Name::AnalogWrite,
    Name::I2cRead,
    Name::I2cWrite,
    Name::SetModeI2c,
    Name::SetModeSonar,
    Name::SetModeStepper,
    Name::StepperWrite,
];

impl<B: Board, const PINS: usize, const CHANNELS: usize> Context for Engine<B, PINS, CHANNELS> {
    fn supports(&self, name: Name) -> Result<(), Reason> {
        if UNSUPPORTED.contains(&name) {
            Err(Reason::UnsupportedCommand)
        } else {
            Ok(())
        }
    }

    fn tag_pin(&self, tag: &str) -> Option<u8> {
        Engine::tag_pin(self, tag)
    }

    fn check_new_tag(&self, tag: &str) -> Result<(), Reason> {
        if tag.len() > MAX_TAG_LEN {
            Err(Reason::TagTooLong)
        } else if self.tags.is_full() {
            Err(Reason::TagTableFull)
        } else {
            Ok(())
        }
    }

    /// Also for a tag's pin: a tag bound by an analog command names a channel, which may be
    /// no digital pin of this board (the board is never asked about such numbers).
    fn check_pin(&self, pin: u8, kind: PinKind) -> Result<(), Reason> {
        let limit = match kind {
            PinKind::Analog => usize::from(self.board.analog_channel_count()).min(CHANNELS),
            _ => usize::from(self.board.pin_count()).min(PINS),
        };
        if usize::from(pin) >= limit {
            return Err(Reason::OutOfRange(Field::Pin));
        }
        Ok(())
    }
}

impl<B: Board, const PINS: usize, const CHANNELS: usize> Engine<B, PINS, CHANNELS> {
    pub(super) fn execute<'a>(
        &mut self,
        payload: &'a [u8],
        now_us: u64,
    ) -> Result<(), Rejection<'a>> {
        let parsed = command::parse(payload, self)?;
        let pin = parsed.command.pin().unwrap_or(0);
        self.run(&parsed.command, now_us)
            .map_err(|reason| Rejection {
                command: Some(parsed.name.as_str()),
                pin: Some(pin),
                reason,
            })?;
        if let Some(tag) = parsed.new_tag {
            self.bind_tag(tag, pin);
        }
        Ok(())
    }

    pub(super) fn bind_tag(&mut self, tag: &str, pin: u8) {
        let mut name = heapless::String::new();
        // Length and space were checked by `Context::check_new_tag`.
        if name.push_str(tag).is_ok() {
            let _ = self.tags.push((name, pin));
        }
    }

    /// Carries out a parsed command (pin < PINS or channel < CHANNELS, checked by
    /// `check_pin`). Every field is checked before anything is changed.
    pub(super) fn run(&mut self, command: &Command<'_>, now_us: u64) -> Result<(), Reason> {
        match *command {
            Command::SetMode { pin, mode, value } => {
                self.check_capable(pin, mode)?;
                let initial = if mode == PinMode::DigitalOutput {
                    value
                } else {
                    None
                };
                self.set_mode(pin, mode, initial, now_us)
            }
            Command::SetAnalogInput {
                channel,
                differential,
            }
            | Command::AnalogReporting {
                channel,
                enable: true,
                differential,
            } => {
                let any_enabled = self.channels.iter().any(|c| c.enabled);
                let state = self
                    .channels
                    .get_mut(usize::from(channel))
                    .ok_or(Reason::OutOfRange(Field::Pin))?;
                if let Some(threshold) = differential {
                    state.threshold = threshold;
                } else if !state.enabled {
                    state.threshold = self.config.analog_threshold;
                }
                if !state.enabled {
                    state.enabled = true;
                    state.last = None;
                }
                if !any_enabled {
                    self.next_analog_us = now_us;
                }
                Ok(())
            }
            Command::AnalogReporting {
                channel,
                enable: false,
                ..
            } => {
                let state = self
                    .channels
                    .get_mut(usize::from(channel))
                    .ok_or(Reason::OutOfRange(Field::Pin))?;
                state.enabled = false;
                state.last = None;
                Ok(())
            }
            Command::DigitalWrite { pin, value } => {
                self.require_mode(pin, PinMode::DigitalOutput)?;
                self.write(pin, value)
            }
            Command::PwmWrite { pin, value } => {
                let range = self.config.pwm_range;
                if value > range {
                    return Err(Reason::OutOfRange(Field::Value));
                }
                self.require_mode(pin, PinMode::Pwm)?;
                self.duty(pin, value, range)
            }
            Command::ServoPosition { pin, degrees } => {
                self.require_mode(pin, PinMode::Servo)?;
                let (min, max) = (
                    u64::from(self.config.servo_min_us),
                    u64::from(self.config.servo_max_us),
                );
                let pulse = min + (max - min) * u64::from(degrees) / u64::from(SERVO_MAX_DEGREES);
                let pulse =
                    u16::try_from(pulse).map_err(|_| Reason::OutOfRange(Field::Position))?;
                self.duty(pin, pulse, SERVO_PERIOD_US)
            }
            Command::PlayTone {
                pin,
                freq,
                duration_ms,
            } => {
                self.check_capable(pin, PinMode::Tone)?;
                let duration_ms = u64::from(duration_ms.unwrap_or(0));
                match self.pins.get(usize::from(pin)).map(|p| p.mode) {
                    Some(PinMode::Tone) => {}
                    // The Tk demo plays tones without set_mode_tone first.
                    Some(PinMode::Unset) => self.set_mode(pin, PinMode::Tone, None, now_us)?,
                    _ => return Err(Reason::WrongMode(PinMode::Tone)),
                }
                self.board.tone(pin, freq).map_err(|_| Reason::Hardware)?;
                if let Some(state) = self.pins.get_mut(usize::from(pin)) {
                    state.tone_until_us = (freq > 0 && duration_ms > 0)
                        .then(|| now_us.saturating_add(duration_ms.saturating_mul(1000)));
                }
                Ok(())
            }
            Command::DigitalReporting { pin, enable } => {
                let index = usize::from(pin);
                if !self.pins.get(index).is_some_and(|p| p.mode.is_input()) {
                    return Err(Reason::NotAnInput);
                }
                if enable {
                    let level = self.read(pin)?;
                    if let Some(state) = self.pins.get_mut(index) {
                        state.baseline(level, now_us);
                    }
                } else if let Some(state) = self.pins.get_mut(index) {
                    state.reporting = false;
                }
                Ok(())
            }
            // Refused by `Context::supports` before parsing.
            Command::SetI2c
            | Command::SetSonar { .. }
            | Command::SetStepper { .. }
            | Command::AnalogWrite { .. }
            | Command::I2cRead { .. }
            | Command::I2cWrite { .. }
            | Command::StepperWrite { .. } => Err(Reason::UnsupportedCommand),
        }
    }

    pub(super) fn check_capable(&self, pin: u8, mode: PinMode) -> Result<(), Reason> {
        match mode.required() {
            Some(needed) if self.board.capabilities(pin).contains(needed) => Ok(()),
            _ => Err(Reason::ModeNotSupported(mode)),
        }
    }

    pub(super) fn require_mode(&self, pin: u8, mode: PinMode) -> Result<(), Reason> {
        if self.pins.get(usize::from(pin)).map(|p| p.mode) == Some(mode) {
            Ok(())
        } else {
            Err(Reason::WrongMode(mode))
        }
    }

    /// Puts `pin` in `mode`. Setting the mode a pin already has touches no hardware (the Tk
    /// demo sends `set_mode_pwm` before every `pwm_write`), except an output's explicit
    /// initial `value` and an input's reporting, which is switched (back) on.
    pub(super) fn set_mode(
        &mut self,
        pin: u8,
        mode: PinMode,
        initial: Option<bool>,
        now_us: u64,
    ) -> Result<(), Reason> {
        let index = usize::from(pin);
        let current = self
            .pins
            .get(index)
            .copied()
            .ok_or(Reason::OutOfRange(Field::Pin))?;
        if current.mode == mode {
            return match mode {
                PinMode::DigitalOutput => initial.map_or(Ok(()), |level| self.write(pin, level)),
                _ if mode.is_input() && !current.reporting => {
                    let level = self.read(pin)?;
                    if let Some(state) = self.pins.get_mut(index) {
                        state.baseline(level, now_us);
                    }
                    Ok(())
                }
                _ => Ok(()),
            };
        }
        if current.mode == PinMode::Tone {
            // Best effort: the new mode reconfigures the pin anyway.
            let _ = self.board.tone(pin, 0);
        }
        // If anything below fails the pin's state is unknown: leave it Unset.
        if let Some(state) = self.pins.get_mut(index) {
            *state = PinState::UNSET;
        }
        self.board
            .set_mode(pin, mode)
            .map_err(|_| Reason::Hardware)?;
        let mut state = PinState::UNSET;
        match mode {
            PinMode::DigitalOutput => self.write(pin, initial.unwrap_or(false))?,
            PinMode::DigitalInput | PinMode::DigitalInputPullUp => {
                let level = self.read(pin)?;
                state.baseline(level, now_us);
            }
            PinMode::Pwm | PinMode::Servo => {
                self.board
                    .pwm(pin)
                    .ok_or(Reason::Hardware)?
                    .set_duty_cycle_fully_off()
                    .map_err(|_| Reason::Hardware)?;
            }
            PinMode::Tone | PinMode::Unset => {}
        }
        state.mode = mode;
        if let Some(slot) = self.pins.get_mut(index) {
            *slot = state;
        }
        Ok(())
    }

    pub(super) fn write(&mut self, pin: u8, high: bool) -> Result<(), Reason> {
        let digital = self.board.digital(pin).ok_or(Reason::Hardware)?;
        let result = if high {
            digital.set_high()
        } else {
            digital.set_low()
        };
        result.map_err(|_| Reason::Hardware)
    }

    pub(super) fn read(&mut self, pin: u8) -> Result<bool, Reason> {
        let digital = self.board.digital(pin).ok_or(Reason::Hardware)?;
        digital.is_high().map_err(|_| Reason::Hardware)
    }

    pub(super) fn duty(&mut self, pin: u8, num: u16, denom: u16) -> Result<(), Reason> {
        // num <= denom and denom >= 1 are guaranteed by the callers' range checks.
        if denom == 0 || num > denom {
            return Err(Reason::OutOfRange(Field::Value));
        }
        self.board
            .pwm(pin)
            .ok_or(Reason::Hardware)?
            .set_duty_cycle_fraction(num, denom)
            .map_err(|_| Reason::Hardware)
    }
}
