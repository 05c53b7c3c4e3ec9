//! Carrying out one command: parse, resolve the pin (tags), check everything, then act.

use banyan_proto::payload::MapReader;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::pwm::SetDutyCycle;

use super::{Engine, MAX_TAG_LEN, PinState, Rejection, SERVO_MAX_DEGREES, SERVO_PERIOD_US};
use crate::command::{self, Kind};
use crate::{Board, Field, PinMode, Reason};

impl<B: Board, const PINS: usize, const CHANNELS: usize> Engine<B, PINS, CHANNELS> {
    pub(super) fn execute<'a>(
        &mut self,
        payload: &'a [u8],
        now_us: u64,
    ) -> Result<(), Rejection<'a>> {
        let map = MapReader::new(payload).map_err(|e| Rejection {
            command: None,
            pin: None,
            reason: Reason::InvalidPayload(e),
        })?;
        let name = command::command_name(&map).map_err(|reason| Rejection {
            command: None,
            pin: None,
            reason,
        })?;
        let refuse = |pin, reason| Rejection {
            command: Some(name),
            pin,
            reason,
        };
        let kind = Kind::from_name(name).map_err(|r| refuse(None, r))?;
        let (pin, new_tag) = self.resolve_pin(&map, kind).map_err(|r| refuse(None, r))?;
        self.run(kind, pin, &map, now_us)
            .map_err(|r| refuse(Some(pin), r))?;
        if let Some(tag) = new_tag {
            self.bind_tag(tag, pin);
        }
        Ok(())
    }

    /// The pin (or channel) a command is for, and a tag to bind to it once the command has
    /// succeeded. As Python's `GatewayBase`: a known tag gives the pin (a `pin` field is then
    /// ignored); an unknown tag is bound to the payload's `pin`.
    pub(super) fn resolve_pin<'a>(
        &self,
        map: &MapReader<'a>,
        kind: Kind,
    ) -> Result<(u8, Option<&'a str>), Reason> {
        let tag = command::tag(map)?;
        let known = tag.and_then(|tag| self.tag_pin(tag));
        let new_tag = if known.is_some() { None } else { tag };
        if new_tag.is_some_and(|tag| tag.len() > MAX_TAG_LEN) {
            return Err(Reason::TagTooLong);
        }
        let pin = match known {
            Some(pin) => pin,
            None => match command::opt_uint(map, Field::Pin, u64::from(u8::MAX))? {
                Some(pin) => u8::try_from(pin).map_err(|_| Reason::OutOfRange(Field::Pin))?,
                None if tag.is_some() => return Err(Reason::UnknownTag),
                None => return Err(Reason::Missing(Field::Pin)),
            },
        };
        // Also for a tag's pin: a tag bound by an analog command names a channel, which may
        // be no digital pin of this board (the board is never asked about such numbers).
        let limit = if kind.is_analog() {
            usize::from(self.board.analog_channel_count()).min(CHANNELS)
        } else {
            usize::from(self.board.pin_count()).min(PINS)
        };
        if usize::from(pin) >= limit {
            return Err(Reason::OutOfRange(Field::Pin));
        }
        if new_tag.is_some() && self.tags.is_full() {
            return Err(Reason::TagTableFull);
        }
        Ok((pin, new_tag))
    }

    pub(super) fn bind_tag(&mut self, tag: &str, pin: u8) {
        let mut name = heapless::String::new();
        // Length and space were checked in `resolve_pin`.
        if name.push_str(tag).is_ok() {
            let _ = self.tags.push((name, pin));
        }
    }

    /// Carries out a validated command for `pin` (< PINS or < CHANNELS, checked). Every field
    /// is checked before anything is changed.
    pub(super) fn run(
        &mut self,
        kind: Kind,
        pin: u8,
        map: &MapReader<'_>,
        now_us: u64,
    ) -> Result<(), Reason> {
        let index = usize::from(pin);
        match kind {
            Kind::SetMode(mode) => {
                self.check_capable(pin, mode)?;
                let initial = match mode {
                    PinMode::DigitalOutput => command::opt_level(map)?,
                    _ => None,
                };
                self.set_mode(pin, mode, initial, now_us)
            }
            Kind::SetAnalogInput | Kind::AnalogReporting(true) => {
                let threshold = command::change_diff(map)?;
                let any_enabled = self.channels.iter().any(|c| c.enabled);
                let channel = self
                    .channels
                    .get_mut(index)
                    .ok_or(Reason::OutOfRange(Field::Pin))?;
                if let Some(threshold) = threshold {
                    channel.threshold = threshold;
                } else if !channel.enabled {
                    channel.threshold = self.config.analog_threshold;
                }
                if !channel.enabled {
                    channel.enabled = true;
                    channel.last = None;
                }
                if !any_enabled {
                    self.next_analog_us = now_us;
                }
                Ok(())
            }
            Kind::AnalogReporting(false) => {
                let channel = self
                    .channels
                    .get_mut(index)
                    .ok_or(Reason::OutOfRange(Field::Pin))?;
                channel.enabled = false;
                channel.last = None;
                Ok(())
            }
            Kind::DigitalWrite => {
                let level = command::opt_level(map)?.ok_or(Reason::Missing(Field::Value))?;
                self.require_mode(pin, PinMode::DigitalOutput)?;
                self.write(pin, level)
            }
            Kind::PwmWrite => {
                let range = self.config.pwm_range;
                let value = command::uint(map, Field::Value, u64::from(range))?;
                self.require_mode(pin, PinMode::Pwm)?;
                let value = u16::try_from(value).map_err(|_| Reason::OutOfRange(Field::Value))?;
                self.duty(pin, value, range)
            }
            Kind::ServoPosition => {
                let degrees = command::uint(map, Field::Position, u64::from(SERVO_MAX_DEGREES))?;
                self.require_mode(pin, PinMode::Servo)?;
                let (min, max) = (
                    u64::from(self.config.servo_min_us),
                    u64::from(self.config.servo_max_us),
                );
                let pulse = min + (max - min) * degrees / u64::from(SERVO_MAX_DEGREES);
                let pulse =
                    u16::try_from(pulse).map_err(|_| Reason::OutOfRange(Field::Position))?;
                self.duty(pin, pulse, SERVO_PERIOD_US)
            }
            Kind::PlayTone => {
                self.check_capable(pin, PinMode::Tone)?;
                let freq = command::uint(map, Field::Freq, u64::from(u16::MAX))?;
                let freq = u16::try_from(freq).map_err(|_| Reason::OutOfRange(Field::Freq))?;
                let duration_ms =
                    command::opt_uint(map, Field::Duration, u64::from(u32::MAX))?.unwrap_or(0);
                match self.pins.get(index).map(|p| p.mode) {
                    Some(PinMode::Tone) => {}
                    // The Tk demo plays tones without set_mode_tone first.
                    Some(PinMode::Unset) => self.set_mode(pin, PinMode::Tone, None, now_us)?,
                    _ => return Err(Reason::WrongMode(PinMode::Tone)),
                }
                self.board.tone(pin, freq).map_err(|_| Reason::Hardware)?;
                if let Some(state) = self.pins.get_mut(index) {
                    state.tone_until_us = (freq > 0 && duration_ms > 0)
                        .then(|| now_us.saturating_add(duration_ms.saturating_mul(1000)));
                }
                Ok(())
            }
            Kind::DigitalReporting(enable) => {
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
