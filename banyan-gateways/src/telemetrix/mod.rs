//! The sans-IO core of `rpgw`, `esp32gw` and `ardgw --telemetrix`: Banyan's OneGPIO messages
//! to a Raspberry Pi Pico running **Telemetrix4RpiPico** (USB serial), an ESP32 running
//! **Telemetrix4Esp32** (Wi-Fi TCP 31336) — drop-ins for s3-extend 1.35's `rpgw` and
//! `esp32gw` — or an Arduino running **Telemetrix4Arduino** (USB serial).
//!
//! ```text
//!  OneGPIO command ──▶ Core::command ─▶ parse (banyan-onegpio) ─▶ validate against the
//!  (to_rpi_pico_gateway,                 family's pins and the pin table
//!   to_esp32_gateway)                    │                        │ error ─▶ report queue
//!                                        ▼
//!               Telemetrix commands (banyan-proto::telemetrix::encode) ─▶ Pacer ─▶ bytes
//!  board bytes ──▶ Core::board_bytes ─▶ ReportDecoder ─▶ handshake / reports ─▶ report queue
//!  time ─────────▶ Core::poll (retries, resynchronisation, pacing)   notes ─▶ the driver's log
//! ```
//!
//! The core does no I/O and reads no clock; the shared driver ([`crate::driver`]) runs it
//! through [`Protocol`](crate::driver::Protocol).
//!
//! # Life of a connection
//!
//! 1. [`Core::connected`]: the family's handshake, as its Python client does — Pico:
//!    RETRIEVE_PICO_UNIQUE_ID and GET_FIRMWARE_VERSION; ESP32: GET_FIRMWARE_VERSION, then
//!    ENABLE_ALL_REPORTS once it answers; Arduino: ARE_U_THERE (its I_AM_HERE must carry
//!    [`Config::instance_id`]) and GET_FIRMWARE_VERSION, then ENABLE_ALL_REPORTS. Asked again
//!    every [`RETRY`] until [`handshake_timeout`]; then the driver reopens the link.
//! 2. Ready: the [`PinTable`](pins::PinTable) is replayed — every mode, output value,
//!    reporting setting, the I2C bus and the sonars the bus had set — and commands flow.
//! 3. [`Core::disconnected`] keeps the table. Telemetrix firmwares announce nothing when they
//!    boot, so a device reset is seen as the link dropping (the ESP32's TCP connection, the
//!    Pico's USB port): the reconnect replays the table.
//! 4. Alignment: a partial frame still held after [`IDLE_RESYNC`] of silence is dropped
//!    (every firmware writes a report in one go); [`SUSPECT_LIMIT`] malformed or unknown
//!    frames in a row mean the stream is misaligned, and the core asks the driver for a
//!    fresh link ([`Core::gave_up`]), the only certain recovery.
//!
//! Where we differ from s3-extend's gateways on purpose is tabled in `docs/telemetrix.md`.

pub mod address;
mod board;
mod commands;
pub mod pins;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use banyan_proto::telemetrix::{Command as Tx, Family, FirmwareVersion, ReportDecoder, encode};

use crate::pacer::{Pace, Pacer, PacerStats};
use crate::reconnect::Tally;

/// How often an unanswered handshake question is asked again.
pub const RETRY: Duration = Duration::from_millis(1000);

/// How long a board may take to answer the handshake before the link is given up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The same for an Arduino, which resets when its port opens (its bootloader runs first;
/// the `telemetrix` client waits 4 s before it asks).
pub const ARDUINO_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `family`'s board may take to answer the handshake.
pub fn handshake_timeout(family: Family) -> Duration {
    match family {
        Family::Arduino => ARDUINO_HANDSHAKE_TIMEOUT,
        _ => HANDSHAKE_TIMEOUT,
    }
}

/// Quiet time after which a partial frame is dropped as misalignment.
pub const IDLE_RESYNC: Duration = Duration::from_millis(100);

/// Malformed or unknown frames in a row after which the link is reopened.
pub const SUSPECT_LIMIT: u32 = 3;

/// Most reports waiting for the driver; beyond it the oldest is dropped (counted).
pub const REPORT_QUEUE: usize = 1024;

/// Most notes waiting for the driver; beyond it new notes are dropped (counted).
pub const NOTE_QUEUE: usize = 256;

/// The ESP32 firmware's TCP port (Telemetrix4Esp32WIFI.ino).
pub const ESP32_PORT: u16 = 31336;

/// How the core is set up (from the binary's flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Which firmware the board runs.
    pub family: Family,
    /// The instance id a Telemetrix4Arduino sketch must answer ARE_U_THERE with
    /// (`ARDUINO_ID`, 1 unless changed; `ardgw -i`).
    pub instance_id: u8,
    /// The outbound pace.
    pub pace: Pace,
}

impl Config {
    /// The defaults for `family`: the pace of a 115 200 baud line (the Pico's USB serial
    /// rate as its client opens it; the ESP32's Wi-Fi is faster and needs no more).
    pub fn for_family(family: Family) -> Self {
        Self {
            family,
            instance_id: 1,
            pace: Pace::for_baud(115_200),
        }
    }
}

/// Something worth a log line; the driver decides how to log it.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The board answered the handshake.
    Identified {
        /// Its firmware version.
        version: FirmwareVersion,
        /// The Pico's unique id, when it sent one.
        unique_id: Option<[u8; 8]>,
    },
    /// Ready; `restored` commands were sent to put the pin table back (0 on a first
    /// connection).
    Ready {
        /// Commands replayed.
        restored: usize,
    },
    /// The handshake got no answer in [`handshake_timeout`]; the driver reopens the link.
    Unresponsive,
    /// A Telemetrix4Arduino answered with another instance id than asked for.
    WrongInstance {
        /// The board's id.
        got: u8,
        /// The id asked for.
        want: u8,
    },
    /// [`SUSPECT_LIMIT`] bad frames in a row: the stream is misaligned; the link is reopened.
    Misaligned,
    /// Undecodable frames from the board (said once per power of two).
    Garbled {
        /// Total so far.
        frames: u64,
    },
    /// A DEBUG_PRINT report from the firmware.
    Debug {
        /// Its id.
        id: u8,
        /// Its value.
        value: u16,
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
    /// Malformed or unknown frames from the board.
    pub garbled: u64,
    /// Partial frames dropped after a quiet link.
    pub resyncs: u64,
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No link (or the core gave it up).
    Down,
    /// Waiting for the firmware version.
    Handshake { since: Instant, asked: Instant },
    /// Serving.
    Ready,
}

/// The rpgw/esp32gw state machine (see the module docs).
pub struct Core {
    config: Config,
    phase: Phase,
    decoder: ReportDecoder,
    unique_id: Option<[u8; 8]>,
    version: Option<FirmwareVersion>,
    instance_ok: bool,
    wrong_instance_said: bool,
    last_rx: Option<Instant>,
    table: pins::PinTable,
    tags: std::collections::HashMap<String, u8>,
    pacer: Pacer,
    reports: VecDeque<Vec<u8>>,
    notes: VecDeque<Note>,
    address: Option<String>,
    stats: Stats,
}

impl Core {
    /// A core with no link.
    pub fn new(config: Config) -> Self {
        Self {
            pacer: Pacer::new(config.pace),
            phase: Phase::Down,
            decoder: ReportDecoder::new(config.family),
            unique_id: None,
            version: None,
            instance_ok: false,
            wrong_instance_said: false,
            last_rx: None,
            table: pins::PinTable::default(),
            tags: std::collections::HashMap::new(),
            reports: VecDeque::new(),
            notes: VecDeque::new(),
            address: None,
            stats: Stats::default(),
            config,
        }
    }

    /// The firmware family.
    pub fn family(&self) -> Family {
        self.config.family
    }

    /// The link to the board is open: start the handshake.
    pub fn connected(&mut self, now: Instant) {
        self.pacer.clear();
        self.decoder.reset();
        self.unique_id = None;
        self.version = None;
        self.instance_ok = false;
        self.wrong_instance_said = false;
        self.last_rx = None;
        self.phase = Phase::Handshake {
            since: now,
            asked: now,
        };
        self.ask();
    }

    /// The link is gone. The pin table and the tags stay.
    pub fn disconnected(&mut self) {
        self.phase = Phase::Down;
        self.pacer.clear();
        self.decoder.reset();
    }

    /// `true` once the handshake is done and commands reach the board.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// `true` after [`Note::Unresponsive`] or [`Note::Misaligned`] until the next
    /// [`connected`](Self::connected): the driver should close the link and reopen it.
    pub fn gave_up(&self) -> bool {
        self.phase == Phase::Down
    }

    /// The pin table.
    pub fn pins(&self) -> &pins::PinTable {
        &self.table
    }

    /// Timers: handshake retries and give-up, resynchronisation after a quiet link.
    pub fn poll(&mut self, now: Instant) {
        if let Phase::Handshake { since, asked } = self.phase {
            if now.duration_since(since) >= handshake_timeout(self.config.family) {
                self.note(Note::Unresponsive);
                self.disconnected();
                return;
            }
            if now.duration_since(asked) >= RETRY {
                self.ask();
                self.phase = Phase::Handshake { since, asked: now };
            }
        }
        if let Some(at) = self.last_rx
            && self.decoder.pending() > 0
            && now.duration_since(at) >= IDLE_RESYNC
        {
            self.decoder.idle();
            self.stats.resyncs += 1;
        }
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
            Phase::Handshake { since, asked } => {
                Some((asked + RETRY).min(since + handshake_timeout(self.config.family)))
            }
            _ => None,
        };
        let send = if self.phase == Phase::Down {
            None
        } else {
            self.pacer.next_send(now)
        };
        let resync = self
            .last_rx
            .filter(|_| self.decoder.pending() > 0)
            .map(|at| at + IDLE_RESYNC);
        [handshake, send, resync].into_iter().flatten().min()
    }

    /// The next report payload to publish on the report topic.
    pub fn pop_report(&mut self) -> Option<Vec<u8>> {
        self.reports.pop_front()
    }

    /// The next note to log.
    pub fn pop_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    /// A board address from an `ip_address` command, once.
    pub fn take_address(&mut self) -> Option<String> {
        self.address.take()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The outbound queue's counters.
    pub fn pacer_stats(&self) -> PacerStats {
        self.pacer.stats()
    }

    /// Commands waiting for the board.
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

    /// Encodes and queues one command. Encoding errors cannot happen for the commands the
    /// core builds (values are validated first); one that does is dropped, never sent
    /// altered, and `false` returned. Queue-full is counted by the pacer.
    fn send(&mut self, command: &Tx<'_>) -> bool {
        let mut buf = [0u8; banyan_proto::telemetrix::MAX_FRAME];
        match encode(self.config.family, command, &mut buf) {
            Ok(n) => self.pacer.push(buf[..n].to_vec()).is_ok(),
            Err(_) => false,
        }
    }

    /// The handshake's questions (ENABLE_ALL_REPORTS follows the answers).
    fn ask(&mut self) {
        if self.config.family != Family::Esp32 {
            self.send(&Tx::AreYouThere);
        }
        self.send(&Tx::GetFirmwareVersion);
    }

    /// A Telemetrix4Arduino's I_AM_HERE.
    fn i_am_here(&mut self, id: u8) {
        if id == self.config.instance_id {
            self.instance_ok = true;
            self.try_ready();
        } else if !std::mem::replace(&mut self.wrong_instance_said, true) {
            self.note(Note::WrongInstance {
                got: id,
                want: self.config.instance_id,
            });
        }
    }

    /// The firmware told its version.
    fn identified(&mut self, version: FirmwareVersion) {
        self.version = Some(version);
        self.try_ready();
    }

    /// Once the handshake has what it waits for: ENABLE_ALL_REPORTS where the client sends
    /// it, then ready and the table replayed.
    fn try_ready(&mut self) {
        if !matches!(self.phase, Phase::Handshake { .. }) {
            return; // a repeated answer to a retried question
        }
        let Some(version) = self.version else {
            return;
        };
        if self.config.family == Family::Arduino && !self.instance_ok {
            return;
        }
        self.note(Note::Identified {
            version,
            unique_id: self.unique_id,
        });
        if self.config.family != Family::RpiPico {
            self.send(&Tx::EnableAllReports);
        }
        self.phase = Phase::Ready;
        let restored = self.restore();
        self.note(Note::Ready { restored });
    }

    /// Queues the table's replay; returns how many commands.
    fn restore(&mut self) -> usize {
        let mut commands = Vec::new();
        self.table
            .restore_commands(self.config.family, &mut commands);
        let mut sent = 0;
        for command in &commands {
            if self.send(command) {
                sent += 1;
            }
        }
        if sent > 0 {
            self.stats.restores += 1;
        }
        sent
    }
}

impl crate::driver::Protocol for Core {
    fn connected(&mut self, now: Instant) {
        Core::connected(self, now);
    }

    fn disconnected(&mut self) {
        Core::disconnected(self);
    }

    fn poll(&mut self, now: Instant) {
        Core::poll(self, now);
    }

    fn gave_up(&self) -> bool {
        Core::gave_up(self)
    }

    fn transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> usize {
        Core::transmit(self, now, out)
    }

    fn next_deadline(&self, now: Instant) -> Option<Instant> {
        Core::next_deadline(self, now)
    }

    fn pop_report(&mut self) -> Option<Vec<u8>> {
        Core::pop_report(self)
    }

    fn command(&mut self, payload: &[u8]) {
        Core::command(self, payload);
    }

    fn board_bytes(&mut self, bytes: &[u8], now: Instant, wall_us: u64) {
        Core::board_bytes(self, bytes, now, wall_us);
    }

    fn log_notes(&mut self, board: &str, silent: &mut Tally) {
        while let Some(note) = self.pop_note() {
            log(board, &note, silent);
        }
    }

    fn take_address(&mut self) -> Option<String> {
        Core::take_address(self)
    }
}

/// One log line per note (silent boards: the first, then every hundredth).
fn log(board: &str, note: &Note, silent: &mut Tally) {
    match note {
        Note::Identified { version, unique_id } => {
            let patch = version.patch.map_or(String::new(), |p| format!(".{p}"));
            let id = unique_id.map_or(String::new(), |id| {
                let hex: Vec<String> = id.iter().map(|b| format!("{b:02x}")).collect();
                format!(", unique id {}", hex.join(""))
            });
            tracing::warn!(
                "board {board}: Telemetrix firmware {}.{}{patch}{id}",
                version.major,
                version.minor
            );
        }
        Note::Ready { restored } => {
            let unanswered = silent.take();
            if unanswered > 0 {
                tracing::warn!("board {board}: answered after {unanswered} silent attempt(s)");
            }
            if *restored > 0 {
                tracing::warn!("board {board}: ready; pin settings restored ({restored} commands)");
            } else {
                tracing::warn!("board {board}: ready");
            }
        }
        Note::Unresponsive => {
            if let Some(n) = silent.bump() {
                tracing::warn!(
                    "board {board}: no answer to GET_FIRMWARE_VERSION; reopening and asking \
                     again ({n} silent attempt(s) so far)"
                );
            }
        }
        Note::WrongInstance { got, want } => tracing::warn!(
            "board {board}: Telemetrix4Arduino instance id {got}, not {want} (-i); not using it"
        ),
        Note::Misaligned => {
            tracing::warn!("board {board}: the report stream lost its alignment; reopening")
        }
        Note::Garbled { frames } => {
            tracing::warn!("board {board}: {frames} undecodable frame(s) so far")
        }
        Note::Debug { id, value } => tracing::info!("board {board}: debug {id} = {value}"),
    }
}

#[cfg(test)]
mod tests;
