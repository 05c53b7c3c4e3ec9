//! [`Engine`]: the OneGPIO state machine — commands in, pin operations and reports out.

mod execute;
mod sample;

use crate::report::{self, REPORT_BUF_LEN};
use crate::{Board, DeviceError, PinMode, Reason, Topics};

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
}
