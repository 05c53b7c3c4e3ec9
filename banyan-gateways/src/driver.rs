//! The thin driver shared by the board gateways (`ardgw`, `rpgw`, `esp32gw`): one thread
//! joins a sans-IO [`Protocol`] core to a backplane [`Component`] and a board [`Device`] (a
//! serial port, a TCP stream, a pty in tests).
//!
//! Each turn: open the link when the reconnect machine says so, run the core's timers,
//! write what its pacer allows, publish the reports, log the notes, then wait for a message,
//! the board's bytes or the next deadline. Logging follows "say once, then count": one line
//! when the board goes away (`board lost … reconnecting`), the failed attempts counted, one
//! line when it is back (`board back after N failed attempts`). A board that opens but never
//! answers (the wrong baud rate, another firmware) is said once and then counted too; the
//! core's own notes are logged by [`Protocol::log_notes`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use banyan_host::Component;
use banyan_host::component::Incoming;

use crate::link::{Attempt, Connector, Device, Received};
use crate::reconnect::Tally;

/// What a gateway's sans-IO core offers the driver. The core does no I/O and reads no
/// clock: the driver passes a monotonic `Instant` and the wall-clock time (Unix µs).
pub trait Protocol {
    /// The link to the board is open: start the handshake.
    fn connected(&mut self, now: Instant);
    /// The link is gone (state the core keeps for the next connection stays).
    fn disconnected(&mut self);
    /// Timers: handshake retries and give-up, keep-alive, resynchronisation.
    fn poll(&mut self, now: Instant);
    /// `true` when the core wants the open link closed and reopened (no answer, lost
    /// alignment) until the next [`connected`](Self::connected).
    fn gave_up(&self) -> bool;
    /// Appends to `out` the bytes the pace allows now.
    fn transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> usize;
    /// The next time [`poll`](Self::poll) or [`transmit`](Self::transmit) has work.
    fn next_deadline(&self, now: Instant) -> Option<Instant>;
    /// The next report payload to publish on the report topic.
    fn pop_report(&mut self) -> Option<Vec<u8>>;
    /// One OneGPIO command payload from the bus.
    fn command(&mut self, payload: &[u8]);
    /// Bytes read from the board.
    fn board_bytes(&mut self, bytes: &[u8], now: Instant, wall_us: u64);
    /// Logs (and drains) the core's notes; `silent` counts opened links whose board never
    /// answered, so that they are said once and then counted.
    fn log_notes(&mut self, board: &str, silent: &mut Tally);
    /// A new board address the bus asked for (`esp32gw`'s `ip_address` command), to hand to
    /// the connector. Default: never.
    fn take_address(&mut self) -> Option<String> {
        None
    }
}

/// Where to listen and where to publish.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Prefixes of the command topics (`-m`, e.g. `to_arduino_gateway`).
    pub commands: Vec<String>,
    /// The report topic (`-r`, e.g. `from_arduino_gateway`).
    pub reports: String,
}

/// What a run did, for the exit line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Times the link opened.
    pub connections: u64,
    /// Times an open link was lost (or closed for an unresponsive board).
    pub losses: u64,
    /// Bytes written to the board.
    pub bytes_out: u64,
    /// Bytes read from the board.
    pub bytes_in: u64,
    /// Reports published.
    pub published: u64,
    /// Commands received.
    pub commands: u64,
}

/// Unix time in µs (the reports' `timestamp`, as Python's `time.time()`).
pub fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Serves until the component's shutdown handle fires; backplane errors end the run.
pub fn run<C: Connector, P: Protocol>(
    component: &mut Component,
    device: &mut Device<C>,
    core: &mut P,
    topics: &Topics,
) -> banyan_host::Result<Summary> {
    let mut summary = Summary::default();
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::new();
    let mut reopen_failures = 0u64;
    // Opened links whose board never answered, in a row.
    let mut silent = Tally::new();
    loop {
        let now = Instant::now();
        match device.open_if_due(now) {
            Attempt::Opened { failed } => {
                summary.connections += 1;
                if silent.count() > 0 {
                    tracing::debug!("board {}: opened again, asking", device.name());
                } else if summary.connections == 1 {
                    tracing::warn!("board {}: connected, asking who is there", device.name());
                } else {
                    tracing::warn!(
                        "board {}: back after {} failed attempt(s)",
                        device.name(),
                        failed.max(reopen_failures)
                    );
                }
                reopen_failures = 0;
                core.connected(now);
            }
            Attempt::Failed { error, say } => {
                reopen_failures += 1;
                if say.loud() {
                    tracing::warn!(
                        "board {}: cannot open ({error}); retrying ({} attempt(s) so far)",
                        device.name(),
                        reopen_failures
                    );
                }
            }
            Attempt::NotDue => {}
        }
        core.poll(now);
        if device.is_open() && core.gave_up() {
            device.close(now);
            summary.losses += 1;
            tracing::debug!("board {}: closed (no answer); reopening", device.name());
        }
        out.clear();
        core.transmit(now, &mut out);
        if !out.is_empty() {
            match device.write_all(&out, now) {
                Ok(()) => summary.bytes_out += out.len() as u64,
                Err(why) => {
                    core.disconnected();
                    summary.losses += 1;
                    tracing::warn!("board {}: lost ({why}); reconnecting", device.name());
                }
            }
        }
        while let Some(report) = core.pop_report() {
            component.publish_raw(topics.reports.as_bytes(), &report)?;
            summary.published += 1;
        }
        core.log_notes(device.name(), &mut silent);
        let deadline = [core.next_deadline(now), device.retry_at()]
            .into_iter()
            .flatten()
            .min()
            // Keep-alive and idle: look again at least once a second.
            .unwrap_or(now + Duration::from_secs(1));
        match component.wait_with_fd(Some(deadline), device.poll_fd())? {
            Incoming::Message(message) => {
                if topics
                    .commands
                    .iter()
                    .any(|t| message.topic.starts_with(t.as_str()))
                {
                    summary.commands += 1;
                    core.command(&message.payload);
                    if let Some(address) = core.take_address() {
                        let now = Instant::now();
                        if device.retarget(&address, now) {
                            core.disconnected();
                            tracing::warn!("board: now at {}", device.name());
                        }
                    }
                }
            }
            Incoming::FdReady => {
                let now = Instant::now();
                match device.read(&mut buf, now) {
                    Received::Bytes(n) => {
                        summary.bytes_in += n as u64;
                        core.board_bytes(&buf[..n], now, wall_us());
                    }
                    Received::Nothing => {}
                    Received::Ended(why) => {
                        core.disconnected();
                        summary.losses += 1;
                        tracing::warn!("board {}: lost ({why}); reconnecting", device.name());
                    }
                }
            }
            Incoming::Stop => return Ok(summary),
            Incoming::Timeout | Incoming::Proven | Incoming::ProofGaveUp => {}
        }
    }
}
