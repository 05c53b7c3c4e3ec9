//! The sans-IO core of `ardgw`, the gateway between Banyan's OneGPIO messages and a stock
//! Arduino running **StandardFirmata** (the Arduino IDE's example, 57 600 baud) or
//! **FirmataExpress** (pymata-express's firmware, 115 200 baud): a drop-in for s3-extend
//! 1.35's `ardgw`.
//!
//! ```text
//!  OneGPIO command ──▶ Core::command ─▶ parse (banyan-onegpio) ─▶ validate against the
//!  (to_arduino_gateway)                  board's capability report and the pin table
//!                                        │                        │ error ─▶ report queue
//!                                        ▼
//!                       Firmata messages (banyan-proto::firmata::encode) ─▶ Pacer ─▶ bytes
//!  board bytes ──▶ Core::board_bytes ─▶ FirmataDecoder ─▶ handshake / reports ─▶ report queue
//!  time ─────────▶ Core::poll (retries, keep-alive, pacing)          notes ─▶ the driver's log
//! ```
//!
//! The core does no I/O and reads no clock: the driver passes a monotonic `Instant` and the
//! wall-clock time (Unix µs, for the reports' `timestamp` as Python's `time.time()`), writes
//! [`Core::transmit`]'s bytes to the link, publishes [`Core::pop_report`]'s payloads on the
//! report topic and logs [`Core::pop_note`]'s notes.
//!
//! # Life of a connection
//!
//! 1. [`Core::connected`]: ask REPORT_VERSION, the firmware name and (for FirmataExpress)
//!    ARE_YOU_THERE, again every [`RETRY`] until [`HANDSHAKE_TIMEOUT`] (an Arduino resets
//!    when its port opens and StandardFirmata blinks its version for about 2 s before it
//!    reads anything). StandardFirmata sends nothing unsolicited after its boot, so a
//!    gateway that connects later must ask.
//! 2. The firmware name decides: a name containing `Express` is FirmataExpress (its
//!    I_AM_HERE instance id must match `-i`), anything else is treated as StandardFirmata.
//! 3. CAPABILITY and ANALOG_MAPPING queries; the pins are learnt from them.
//! 4. Ready: the [`PinTable`](pins::PinTable) is replayed — every mode, output value and
//!    reporting setting the bus had set — and commands flow.
//! 5. [`Core::disconnected`] (the driver lost the link) keeps the table; a firmware report
//!    arriving unasked while ready means the board was reset, and the table is replayed.
//!
//! # Where we differ from s3-extend's `ardgw`, on purpose
//!
//! * StandardFirmata works (s3-extend's needs FirmataExpress: "Invalid Arduino ID reply
//!   length"). Firmata 2.4 has no PULLUP mode: a pull-up input is INPUT then a 1 written.
//! * Every value is checked: a bad pin, PWM over 255, a servo angle over 180, a tone at 0 Hz,
//!   a mode the pin's capability report lacks, a missing or mistyped key, or a command the
//!   firmware cannot do (tone, sonar, stepper on StandardFirmata) gives an `error` report
//!   and the gateway keeps serving (Python's raises and dies, s3onegpio #80).
//! * `enable_digital_reporting` / `enable_analog_reporting` enable (Python's
//!   `GatewayBaseAIO.command_dictionary` maps them to the *disable* handlers).
//! * The first report after reporting is switched on is always published (pymata compares
//!   with a last value that starts at 0, so an input that starts low is never reported).
//! * The board unplugged, reset or its TCP stream dropped: the gateway reconnects and
//!   restores the pins (s3-extend #3).
//! * Commands are paced ([`pacer`]) so a burst arrives whole and in order.

mod board;
mod commands;
pub mod discover;
pub mod driver;
pub mod pins;
/// The paced outbound queue (shared with the Telemetrix gateways: [`crate::pacer`]).
pub use crate::pacer;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use banyan_proto::firmata::{Capabilities, Command as Fm, FirmataDecoder, encode};

pub use pacer::{Pace, PacerStats};

/// How often an unanswered handshake question is asked again.
pub const RETRY: Duration = Duration::from_millis(1000);

/// How long a board may take to answer the handshake before the link is given up (and
/// reopened by the driver's reconnect machine).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(12);

/// Most reports waiting for the driver; beyond it the oldest is dropped (counted).
pub const REPORT_QUEUE: usize = 1024;

/// Most notes waiting for the driver; beyond it new notes are dropped (counted).
pub const NOTE_QUEUE: usize = 256;

/// The firmware families the core speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// StandardFirmata (or any Firmata that is not FirmataExpress).
    Standard,
    /// FirmataExpress: are-you-there, keep-alive, tone, sonar, stepper.
    Express,
}

impl Firmware {
    /// The name used in error reports and logs.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::Standard => "StandardFirmata",
            Firmware::Express => "FirmataExpress",
        }
    }
}

/// How the core is set up (from `ardgw`'s flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `-i`: the FirmataExpress instance id the board must answer with (pymata's default 1).
    pub instance_id: u8,
    /// `-k`: FirmataExpress keep-alive period in seconds (`None`: off). The board resets
    /// itself when no keep-alive comes within the period; one is sent every 70 % of it.
    pub keep_alive_s: Option<u16>,
    /// The outbound pace (see [`pacer`]).
    pub pace: Pace,
}

impl Config {
    /// Defaults for a line at `baud`: instance 1, keep-alive 1 s (s3-extend's `-k True`).
    pub fn for_baud(baud: u32) -> Self {
        Self {
            instance_id: 1,
            keep_alive_s: Some(1),
            pace: Pace::for_baud(baud),
        }
    }
}

/// Something worth a log line; the driver decides how to log it.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The board answered: firmware, its version and Firmata protocol version.
    Identified {
        /// The family.
        firmware: Firmware,
        /// The name it reported (`StandardFirmata.ino`).
        name: String,
        /// Firmware version.
        version: (u8, u8),
        /// Firmata protocol version (`None` if it never said).
        protocol: Option<(u8, u8)>,
    },
    /// The pins were learnt.
    Ready {
        /// Digital pins.
        pins: usize,
        /// Analog channels.
        channels: usize,
        /// Firmata messages sent to restore the pin table (0 on a first connection).
        restored: usize,
    },
    /// The board announced itself while ready: it was reset. The pin table is replayed.
    Reset,
    /// The handshake got no (complete) answer in [`HANDSHAKE_TIMEOUT`]; the driver should
    /// drop the link and reconnect.
    Unresponsive {
        /// What was still missing.
        waiting_for: &'static str,
    },
    /// A FirmataExpress board answered with another instance id than `-i`.
    WrongInstance {
        /// The board's id.
        got: u8,
        /// The id asked for.
        want: u8,
    },
    /// `-k` asks for keep-alive but the firmware has none.
    NoKeepAlive(Firmware),
    /// The board's capability report and analog mapping disagree.
    BadCapabilities(String),
    /// A pin of the table does not exist on, or cannot take its mode on, the board that
    /// answered (another board than before); it is left alone.
    NotRestored {
        /// The pin.
        pin: u8,
    },
    /// STRING_DATA from the firmware (StandardFirmata reports errors this way).
    BoardSays(String),
    /// Undecodable bytes from the board (counted by the decoder; said once per burst).
    Garbled {
        /// Total so far.
        messages: u64,
    },
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Commands carried out (or recorded for the next connection).
    pub commands: u64,
    /// Commands refused with an error report.
    pub rejected: u64,
    /// Reports queued for publishing.
    pub reports: u64,
    /// Reports dropped because the driver did not take them ([`REPORT_QUEUE`]).
    pub reports_dropped: u64,
    /// Notes dropped ([`NOTE_QUEUE`]).
    pub notes_dropped: u64,
    /// Times the pin table was replayed.
    pub restores: u64,
    /// Board resets seen.
    pub resets: u64,
    /// Malformed or oversized messages from the board.
    pub garbled: u64,
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No link.
    Down,
    /// Asking who is there.
    Identify { since: Instant, asked: Instant },
    /// Asking for capabilities and the analog mapping.
    Learn { since: Instant, asked: Instant },
    /// Serving.
    Ready,
}

/// What the board has told about itself on this connection.
#[derive(Debug, Default)]
struct Heard {
    protocol: Option<(u8, u8)>,
    firmware: Option<(String, (u8, u8))>,
    instance: Option<u8>,
    /// A wrong I_AM_HERE was noted on this connection (the retries would repeat it).
    wrong_instance_said: bool,
    capabilities: Option<Capabilities>,
    mapping_raw: Option<Vec<u8>>,
}

/// The ardgw state machine (see the module docs).
pub struct Core {
    config: Config,
    phase: Phase,
    decoder: FirmataDecoder,
    heard: Heard,
    /// The board's identity and pins, kept across connections (validation while down).
    firmware: Option<Firmware>,
    protocol: Option<(u8, u8)>,
    caps: Option<Box<Capabilities>>,
    table: pins::PinTable,
    tags: HashMap<String, u8>,
    pacer: pacer::Pacer,
    reports: VecDeque<Vec<u8>>,
    notes: VecDeque<Note>,
    next_keep_alive: Option<Instant>,
    stats: Stats,
}

impl Core {
    /// A core with no link.
    pub fn new(config: Config) -> Self {
        Self {
            pacer: pacer::Pacer::new(config.pace),
            config,
            phase: Phase::Down,
            decoder: FirmataDecoder::new(),
            heard: Heard::default(),
            firmware: None,
            protocol: None,
            caps: None,
            table: pins::PinTable::default(),
            tags: HashMap::new(),
            reports: VecDeque::new(),
            notes: VecDeque::new(),
            next_keep_alive: None,
            stats: Stats::default(),
        }
    }

    /// The link to the board is open: start the handshake.
    pub fn connected(&mut self, now: Instant) {
        self.pacer.clear();
        self.decoder.reset();
        self.heard = Heard::default();
        self.next_keep_alive = None;
        self.phase = Phase::Identify {
            since: now,
            asked: now,
        };
        self.ask_identity();
    }

    /// The link is gone. The pin table, the tags and what was learnt of the board stay.
    pub fn disconnected(&mut self) {
        self.phase = Phase::Down;
        self.pacer.clear();
        self.decoder.reset();
        self.next_keep_alive = None;
    }

    /// `true` once the handshake is done and commands reach the board.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// The firmware of the board (last seen).
    pub fn firmware(&self) -> Option<Firmware> {
        self.firmware
    }

    /// The board's pins (last seen).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_deref()
    }

    /// The pin table.
    pub fn pins(&self) -> &pins::PinTable {
        &self.table
    }

    /// Timers: handshake retries and give-up, keep-alive.
    pub fn poll(&mut self, now: Instant) {
        match self.phase {
            Phase::Down | Phase::Ready => {}
            Phase::Identify { since, asked } | Phase::Learn { since, asked } => {
                if now.duration_since(since) >= HANDSHAKE_TIMEOUT {
                    let waiting_for = self.waiting_for();
                    self.note(Note::Unresponsive { waiting_for });
                    self.disconnected();
                    return;
                }
                if now.duration_since(asked) >= RETRY {
                    self.phase = match self.phase {
                        Phase::Identify { since, .. } => {
                            self.ask_identity();
                            Phase::Identify { since, asked: now }
                        }
                        _ => {
                            self.ask_pins();
                            Phase::Learn { since, asked: now }
                        }
                    };
                }
            }
        }
        if self.phase == Phase::Ready
            && let (Some(at), Some(period)) = (self.next_keep_alive, self.config.keep_alive_s)
            && now >= at
        {
            self.send(&Fm::KeepAlive { period_s: period });
            self.next_keep_alive = Some(now + keep_alive_interval(period));
        }
    }

    /// `true` after [`Note::Unresponsive`] until the next [`connected`](Self::connected):
    /// the driver should close the link and reconnect.
    pub fn gave_up(&self) -> bool {
        self.phase == Phase::Down
    }

    /// Appends to `out` the bytes the pace allows now; the driver writes them to the link.
    pub fn transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> usize {
        if self.phase == Phase::Down {
            return 0;
        }
        self.pacer.drain(now, out)
    }

    /// The next time [`poll`](Self::poll) or [`transmit`](Self::transmit) has work.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let handshake = match self.phase {
            Phase::Identify { since, asked } | Phase::Learn { since, asked } => {
                Some((asked + RETRY).min(since + HANDSHAKE_TIMEOUT))
            }
            _ => None,
        };
        let send = if self.phase == Phase::Down {
            None
        } else {
            self.pacer.next_send(now)
        };
        [handshake, send, self.next_keep_alive]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next report payload to publish on the report topic.
    pub fn pop_report(&mut self) -> Option<Vec<u8>> {
        self.reports.pop_front()
    }

    /// The next note to log.
    pub fn pop_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The outbound queue's counters.
    pub fn pacer_stats(&self) -> PacerStats {
        self.pacer.stats()
    }

    /// Messages waiting for the board.
    pub fn queued(&self) -> usize {
        self.pacer.len()
    }

    // ---- internals shared by the submodules ----

    fn note(&mut self, note: Note) {
        if self.notes.len() >= NOTE_QUEUE {
            self.stats.notes_dropped += 1;
        } else {
            self.notes.push_back(note);
        }
    }

    fn report(&mut self, payload: Vec<u8>) {
        if self.reports.len() >= REPORT_QUEUE {
            self.reports.pop_front();
            self.stats.reports_dropped += 1;
        }
        self.reports.push_back(payload);
        self.stats.reports += 1;
    }

    /// Encodes and queues one message. Encoding errors cannot happen for the messages the
    /// core builds (values are validated first); one that does is dropped, never sent
    /// altered. Queue-full is counted by the pacer.
    fn send(&mut self, message: &Fm<'_>) -> bool {
        let mut buf = vec![0u8; message.encoded_len()];
        match encode(message, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                self.pacer.push(buf).is_ok()
            }
            Err(_) => false,
        }
    }

    fn ask_identity(&mut self) {
        self.send(&Fm::ReportVersion);
        self.send(&Fm::ReportFirmware);
        self.send(&Fm::AreYouThere);
    }

    fn ask_pins(&mut self) {
        self.send(&Fm::CapabilityQuery);
        self.send(&Fm::AnalogMappingQuery);
    }

    fn waiting_for(&self) -> &'static str {
        match self.phase {
            Phase::Identify { .. } if self.heard.firmware.is_none() => "the firmware report",
            Phase::Identify { .. } => "I_AM_HERE with the instance id",
            Phase::Learn { .. } if self.heard.capabilities.is_none() => "the capability report",
            _ => "the analog mapping",
        }
    }
}

/// How often a keep-alive goes out for a period of `period_s`: 70 % of it (pymata's
/// `period - period * margin` with margin 0.3).
fn keep_alive_interval(period_s: u16) -> Duration {
    Duration::from_millis(u64::from(period_s.max(1)) * 700)
}

#[cfg(test)]
mod tests;
