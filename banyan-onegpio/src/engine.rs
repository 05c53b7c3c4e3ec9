//! [`Engine`]: the OneGPIO state machine — commands in, pin operations and reports out.

use banyan_proto::payload::MapReader;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::pwm::SetDutyCycle;

use crate::command::{self, Kind};
use crate::report::{self, REPORT_BUF_LEN};
use crate::{Adc as _, Board, DeviceError, Field, PinMode, Reason, Topics};

/// How many tags (`'tag': 'blinker'`) the engine remembers.
pub const MAX_TAGS: usize = 16;

/// Longest tag in bytes.
pub const MAX_TAG_LEN: usize = 24;

/// Servo period: [`PinMode::Servo`] channels run at 50 Hz.
pub const SERVO_PERIOD_US: u16 = 20_000;

/// Largest `position` of `servo_position`, in degrees.
pub const SERVO_MAX_DEGREES: u16 = 180;

/// Tunables of an [`Engine`]; [`Config::DEFAULT`] is what Python's gateways do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// A digital input must hold a new level this long before it is reported (debounce).
    /// Default 20 ms, the glitch filter of Python's Raspberry Pi gateway. 0 reports every
    /// level seen by [`Engine::poll`] (right for virtual pins).
    pub debounce_us: u32,
    /// Analog channels with reporting on are sampled this often. Default 100 ms.
    pub analog_interval_us: u32,
    /// Default change threshold: a sample is reported when it differs from the last reported
    /// value by at least this much (0: every sample). A command's `change_diff` (ESP8266
    /// gateway) or `differential` (pymata-express) overrides it per channel. Default 1 (any
    /// change), pymata-express's default.
    pub analog_threshold: u16,
    /// `pwm_write` takes `value` in `0..=pwm_range` (duty = value / pwm_range). Default 255,
    /// as the Raspberry Pi and Arduino gateways (the Tk demo's slider goes to 255). 0 is
    /// treated as 1.
    pub pwm_range: u16,
    /// Pulse width for `servo_position` 0°, in µs. Default 544, Arduino's `Servo` library.
    pub servo_min_us: u16,
    /// Pulse width for 180°, in µs. Default 2400, Arduino's `Servo` library. Clamped to the
    /// 20 ms period.
    pub servo_max_us: u16,
}

impl Config {
    /// The defaults documented on each field.
    pub const DEFAULT: Config = Config {
        debounce_us: 20_000,
        analog_interval_us: 100_000,
        analog_threshold: 1,
        pwm_range: 255,
        servo_min_us: 544,
        servo_max_us: 2400,
    };

    /// Makes the values safe to compute with: `pwm_range ≥ 1`, `servo_min_us ≤ servo_max_us
    /// ≤ 20 000`.
    fn sanitized(mut self) -> Self {
        self.pwm_range = self.pwm_range.max(1);
        self.servo_max_us = self.servo_max_us.min(SERVO_PERIOD_US);
        self.servo_min_us = self.servo_min_us.min(self.servo_max_us);
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The caller could not take a report now (its transmit queue is full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SinkFull;

/// Where reports go: one call per report, `topic` always [`Topics::reports`].
///
/// Implemented for closures `FnMut(&str, &[u8]) -> Result<(), SinkFull>`. When the sink
/// refuses a report the engine does not queue it:
/// * a **digital input** change stays pending in the pin's state and is offered again at
///   every [`Engine::poll`] until taken (if the pin changes back meanwhile, both edges are
///   lost and counted in [`Stats::edges_lost`]);
/// * an **analog** sample is offered again at the next sampling time (with the new value);
/// * an **error** report is dropped and counted in [`Stats::errors_dropped`].
///
/// So memory stays fixed however long the caller is blocked.
pub trait Sink {
    /// Takes one report, or refuses it.
    fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), SinkFull>;
}

impl<F: FnMut(&str, &[u8]) -> Result<(), SinkFull>> Sink for F {
    fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), SinkFull> {
        self(topic, payload)
    }
}

/// What [`Engine::handle`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// The command was carried out.
    Done,
    /// The command was refused and changed nothing; an error report was offered to the sink.
    Rejected(Reason),
    /// The topic is not [`Topics::commands`]: the message was not looked at.
    Ignored,
}

/// Counters since the engine was made; they wrap on overflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Commands carried out.
    pub commands: u32,
    /// Commands refused (each one an error report).
    pub rejected: u32,
    /// Messages on other topics.
    pub ignored: u32,
    /// Reports the sink took.
    pub reports: u32,
    /// Reports the sink refused (digital and analog ones are offered again later).
    pub deferred: u32,
    /// Error reports the sink refused, dropped.
    pub errors_dropped: u32,
    /// Digital edges never reported: a pending change undone before the sink took it.
    pub edges_lost: u32,
    /// Pin reads or writes that failed while sampling (not caused by a command).
    pub hardware_errors: u32,
}

#[derive(Debug, Clone, Copy)]
struct PinState {
    mode: PinMode,
    /// Digital input: reporting on.
    reporting: bool,
    /// Debounced level.
    stable: bool,
    /// Last level reported (or the baseline).
    reported: bool,
    /// Raw level waiting out the debounce time.
    candidate: bool,
    /// When `candidate` was first seen.
    candidate_since_us: u64,
    /// When `stable` last changed: the report's timestamp.
    stable_since_us: u64,
    /// Tone: when to stop it (`None`: not playing or continuous).
    tone_until_us: Option<u64>,
}

impl PinState {
    const UNSET: PinState = PinState {
        mode: PinMode::Unset,
        reporting: false,
        stable: false,
        reported: false,
        candidate: false,
        candidate_since_us: 0,
        stable_since_us: 0,
        tone_until_us: None,
    };

    /// An input with reporting on whose current level is `level` (nothing to report).
    fn baseline(&mut self, level: bool, now_us: u64) {
        self.reporting = true;
        self.stable = level;
        self.reported = level;
        self.candidate = level;
        self.candidate_since_us = now_us;
        self.stable_since_us = now_us;
    }
}

#[derive(Debug, Clone, Copy)]
struct ChannelState {
    enabled: bool,
    threshold: u16,
    /// Last value reported since reporting was enabled.
    last: Option<u16>,
}

impl ChannelState {
    const OFF: ChannelState = ChannelState {
        enabled: false,
        threshold: 0,
        last: None,
    };
}

/// A refused command: what goes into the error report.
struct Rejection<'a> {
    command: Option<&'a str>,
    pin: Option<u8>,
    reason: Reason,
}

/// The OneGPIO engine for a [`Board`] with up to `PINS` digital pins and `CHANNELS` analog
/// channels (the board's own counts are capped by these).
///
/// Sans-IO: it never blocks, owns no transport and reads no clock. The caller hands it each
/// message of the command topic ([`Engine::handle`]), calls [`Engine::poll`] often (inputs are
/// sampled there), passes the time as microseconds since any fixed origin, and publishes what
/// the [`Sink`] receives. See the crate docs for the full contract.
pub struct Engine<B: Board, const PINS: usize = 32, const CHANNELS: usize = 8> {
    board: B,
    config: Config,
    topics: Topics,
    pins: [PinState; PINS],
    channels: [ChannelState; CHANNELS],
    tags: heapless::Vec<(heapless::String<MAX_TAG_LEN>, u8), MAX_TAGS>,
    next_analog_us: u64,
    stats: Stats,
}

impl<B: Board, const PINS: usize, const CHANNELS: usize> Engine<B, PINS, CHANNELS> {
    /// An engine for `board` on the [default topics](Topics::default)
    /// (`to_pico_gateway` / `from_pico_gateway` unless built with `BANYAN_ONEGPIO_DEVICE`).
    /// Every pin starts [`PinMode::Unset`]; the board's pins are not touched.
    pub fn new(board: B, config: Config) -> Self {
        Self::with_topics(board, config, Topics::default())
    }

    /// An engine on the topics of another device (`Topics::new("rpi")?`).
    pub fn with_topics(board: B, config: Config, topics: Topics) -> Self {
        Self {
            board,
            config: config.sanitized(),
            topics,
            pins: [PinState::UNSET; PINS],
            channels: [ChannelState::OFF; CHANNELS],
            tags: heapless::Vec::new(),
            next_analog_us: 0,
            stats: Stats::default(),
        }
    }

    /// Switches to the topics of `device` (the caller re-subscribes).
    pub fn set_device(&mut self, device: &str) -> Result<(), DeviceError> {
        self.topics = Topics::new(device)?;
        Ok(())
    }

    /// The command and report topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The configuration in use (after sanitizing).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The board.
    pub fn board(&self) -> &B {
        &self.board
    }

    /// The board, mutably (pins the engine has configured should be left alone).
    pub fn board_mut(&mut self) -> &mut B {
        &mut self.board
    }

    /// Gives the board back.
    pub fn into_board(self) -> B {
        self.board
    }

    /// The mode of digital pin `pin` (`None` beyond `PINS`).
    pub fn mode(&self, pin: u8) -> Option<PinMode> {
        self.pins.get(usize::from(pin)).map(|p| p.mode)
    }

    /// `true` if digital input `pin` reports changes.
    pub fn digital_reporting(&self, pin: u8) -> bool {
        self.pins
            .get(usize::from(pin))
            .is_some_and(|p| p.mode.is_input() && p.reporting)
    }

    /// `true` if analog `channel` reports.
    pub fn analog_reporting(&self, channel: u8) -> bool {
        self.channels
            .get(usize::from(channel))
            .is_some_and(|c| c.enabled)
    }

    /// The pin a tag is bound to.
    pub fn tag_pin(&self, tag: &str) -> Option<u8> {
        self.tags
            .iter()
            .find(|(t, _)| t.as_str() == tag)
            .map(|&(_, pin)| pin)
    }

    /// Handles one message: if `topic` is [`Topics::commands`], carries out the command in
    /// `payload` or refuses it (offering an error report to `sink`); then [`polls`](Self::poll)
    /// so that effects of the command on inputs (a loopback wire) are reported at once.
    ///
    /// Never panics, whatever `payload` holds.
    pub fn handle<S: Sink + ?Sized>(
        &mut self,
        topic: &str,
        payload: &[u8],
        now_us: u64,
        sink: &mut S,
    ) -> Outcome {
        if topic != self.topics.commands() {
            self.stats.ignored = self.stats.ignored.wrapping_add(1);
            return Outcome::Ignored;
        }
        let outcome = match self.execute(payload, now_us) {
            Ok(()) => {
                self.stats.commands = self.stats.commands.wrapping_add(1);
                Outcome::Done
            }
            Err(rejection) => {
                self.stats.rejected = self.stats.rejected.wrapping_add(1);
                let mut buf = [0u8; REPORT_BUF_LEN];
                let sent =
                    report::error(&mut buf, rejection.command, rejection.pin, rejection.reason)
                        .ok()
                        .and_then(|len| buf.get(..len))
                        .map(|bytes| sink.publish(self.topics.reports(), bytes));
                match sent {
                    Some(Ok(())) => self.stats.reports = self.stats.reports.wrapping_add(1),
                    _ => self.stats.errors_dropped = self.stats.errors_dropped.wrapping_add(1),
                }
                Outcome::Rejected(rejection.reason)
            }
        };
        self.poll(now_us, sink);
        outcome
    }

    /// Samples digital inputs (debounce, change reports), takes analog samples when due, ends
    /// timed tones, and re-offers reports the sink refused earlier.
    ///
    /// Call it after every [`handle`](Self::handle) (which does it itself) and at least as
    /// often as inputs should be sampled — every millisecond or few — and by
    /// [`next_deadline`](Self::next_deadline) at the latest.
    pub fn poll<S: Sink + ?Sized>(&mut self, now_us: u64, sink: &mut S) {
        self.poll_tones(now_us);
        self.poll_digital(now_us, sink);
        self.poll_analog(now_us, sink);
    }

    /// The earliest time at which [`poll`](Self::poll) has timed work: an analog sample, the
    /// end of a debounce wait or of a tone. `None` when nothing is timed. Digital inputs with
    /// reporting on need polling regardless (they are sampled, not interrupt-driven).
    pub fn next_deadline(&self) -> Option<u64> {
        let debounce = u64::from(self.config.debounce_us);
        let analog = self
            .channels
            .iter()
            .any(|c| c.enabled)
            .then_some(self.next_analog_us);
        let pins = self.pins.iter().filter_map(|p| {
            let debouncing = (p.mode.is_input() && p.reporting && p.candidate != p.stable)
                .then(|| p.candidate_since_us.saturating_add(debounce));
            match (debouncing, p.tone_until_us) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        });
        pins.chain(analog).min()
    }

    fn execute<'a>(&mut self, payload: &'a [u8], now_us: u64) -> Result<(), Rejection<'a>> {
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
    fn resolve_pin<'a>(
        &self,
        map: &MapReader<'a>,
        kind: Kind,
    ) -> Result<(u8, Option<&'a str>), Reason> {
        let tag = command::tag(map)?;
        if let Some(tag) = tag {
            if let Some(pin) = self.tag_pin(tag) {
                return Ok((pin, None));
            }
            if tag.len() > MAX_TAG_LEN {
                return Err(Reason::TagTooLong);
            }
        }
        let pin = match command::opt_uint(map, Field::Pin, u64::from(u8::MAX))? {
            Some(pin) => u8::try_from(pin).map_err(|_| Reason::OutOfRange(Field::Pin))?,
            None if tag.is_some() => return Err(Reason::UnknownTag),
            None => return Err(Reason::Missing(Field::Pin)),
        };
        let limit = if kind.is_analog() {
            usize::from(self.board.analog_channel_count()).min(CHANNELS)
        } else {
            usize::from(self.board.pin_count()).min(PINS)
        };
        if usize::from(pin) >= limit {
            return Err(Reason::OutOfRange(Field::Pin));
        }
        if tag.is_some() && self.tags.is_full() {
            return Err(Reason::TagTableFull);
        }
        Ok((pin, tag))
    }

    fn bind_tag(&mut self, tag: &str, pin: u8) {
        let mut name = heapless::String::new();
        // Length and space were checked in `resolve_pin`.
        if name.push_str(tag).is_ok() {
            let _ = self.tags.push((name, pin));
        }
    }

    /// Carries out a validated command for `pin` (< PINS or < CHANNELS, checked). Every field
    /// is checked before anything is changed.
    fn run(&mut self, kind: Kind, pin: u8, map: &MapReader<'_>, now_us: u64) -> Result<(), Reason> {
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

    fn check_capable(&self, pin: u8, mode: PinMode) -> Result<(), Reason> {
        match mode.required() {
            Some(needed) if self.board.capabilities(pin).contains(needed) => Ok(()),
            _ => Err(Reason::ModeNotSupported(mode)),
        }
    }

    fn require_mode(&self, pin: u8, mode: PinMode) -> Result<(), Reason> {
        if self.pins.get(usize::from(pin)).map(|p| p.mode) == Some(mode) {
            Ok(())
        } else {
            Err(Reason::WrongMode(mode))
        }
    }

    /// Puts `pin` in `mode`. Setting the mode a pin already has touches no hardware (the Tk
    /// demo sends `set_mode_pwm` before every `pwm_write`), except an output's explicit
    /// initial `value` and an input's reporting, which is switched (back) on.
    fn set_mode(
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

    fn write(&mut self, pin: u8, high: bool) -> Result<(), Reason> {
        let digital = self.board.digital(pin).ok_or(Reason::Hardware)?;
        let result = if high {
            digital.set_high()
        } else {
            digital.set_low()
        };
        result.map_err(|_| Reason::Hardware)
    }

    fn read(&mut self, pin: u8) -> Result<bool, Reason> {
        let digital = self.board.digital(pin).ok_or(Reason::Hardware)?;
        digital.is_high().map_err(|_| Reason::Hardware)
    }

    fn duty(&mut self, pin: u8, num: u16, denom: u16) -> Result<(), Reason> {
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

    fn poll_tones(&mut self, now_us: u64) {
        for (index, state) in self.pins.iter_mut().enumerate() {
            if state.tone_until_us.is_some_and(|end| now_us >= end) {
                state.tone_until_us = None;
                let pin = u8::try_from(index).unwrap_or(u8::MAX);
                if self.board.tone(pin, 0).is_err() {
                    self.stats.hardware_errors = self.stats.hardware_errors.wrapping_add(1);
                }
            }
        }
    }

    fn poll_digital<S: Sink + ?Sized>(&mut self, now_us: u64, sink: &mut S) {
        let debounce = u64::from(self.config.debounce_us);
        let count = usize::from(self.board.pin_count()).min(PINS);
        for (index, state) in self.pins.iter_mut().enumerate().take(count) {
            if !(state.mode.is_input() && state.reporting) {
                continue;
            }
            let pin = u8::try_from(index).unwrap_or(u8::MAX);
            let level = match self.board.digital(pin).map(|d| d.is_high()) {
                Some(Ok(level)) => level,
                _ => {
                    self.stats.hardware_errors = self.stats.hardware_errors.wrapping_add(1);
                    continue;
                }
            };
            if level == state.stable {
                state.candidate = level;
            } else {
                if state.candidate != level {
                    state.candidate = level;
                    state.candidate_since_us = now_us;
                }
                if now_us.saturating_sub(state.candidate_since_us) >= debounce {
                    if state.reported != state.stable {
                        // A change still waiting for the sink is undone: both edges are lost.
                        self.stats.edges_lost = self.stats.edges_lost.wrapping_add(2);
                    }
                    state.stable = level;
                    state.stable_since_us = state.candidate_since_us;
                }
            }
            if state.stable != state.reported {
                let mut buf = [0u8; REPORT_BUF_LEN];
                let offered =
                    report::digital_input(&mut buf, pin, state.stable, state.stable_since_us)
                        .ok()
                        .and_then(|len| buf.get(..len))
                        .map(|bytes| sink.publish(self.topics.reports(), bytes));
                match offered {
                    Some(Ok(())) => {
                        state.reported = state.stable;
                        self.stats.reports = self.stats.reports.wrapping_add(1);
                    }
                    _ => self.stats.deferred = self.stats.deferred.wrapping_add(1),
                }
            }
        }
    }

    fn poll_analog<S: Sink + ?Sized>(&mut self, now_us: u64, sink: &mut S) {
        if !self.channels.iter().any(|c| c.enabled) || now_us < self.next_analog_us {
            return;
        }
        self.next_analog_us = now_us.saturating_add(u64::from(self.config.analog_interval_us));
        let count = usize::from(self.board.analog_channel_count()).min(CHANNELS);
        for (index, channel) in self.channels.iter_mut().enumerate().take(count) {
            if !channel.enabled {
                continue;
            }
            let ch = u8::try_from(index).unwrap_or(u8::MAX);
            let Ok(value) = self.board.adc().read(ch) else {
                self.stats.hardware_errors = self.stats.hardware_errors.wrapping_add(1);
                continue;
            };
            let due = channel
                .last
                .is_none_or(|last| last.abs_diff(value) >= channel.threshold);
            if !due {
                continue;
            }
            let mut buf = [0u8; REPORT_BUF_LEN];
            let offered = report::analog_input(&mut buf, ch, value, now_us)
                .ok()
                .and_then(|len| buf.get(..len))
                .map(|bytes| sink.publish(self.topics.reports(), bytes));
            match offered {
                Some(Ok(())) => {
                    channel.last = Some(value);
                    self.stats.reports = self.stats.reports.wrapping_add(1);
                }
                _ => self.stats.deferred = self.stats.deferred.wrapping_add(1),
            }
        }
    }
}
