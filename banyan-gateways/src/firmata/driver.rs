//! The thin driver of `ardgw`: one thread joins the [`Core`] to a backplane
//! [`Component`] and a board [`Device`] (a serial port, a TCP stream, a pty in tests).
//!
//! Each turn: open the link when the reconnect machine says so, run the core's timers,
//! write what the pacer allows, publish the reports, log the notes, then wait for a message,
//! the board's bytes or the next deadline. Logging follows "say once, then count": one line
//! when the board goes away (`board lost … reconnecting`), the failed attempts counted, one
//! line when it is back (`board back after N failed attempts`). A board that opens but never
//! answers (the wrong baud rate, another firmware) is said once and then counted too.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use banyan_host::Component;
use banyan_host::component::Incoming;

use super::{Core, Note};
use crate::link::{Attempt, Connector, Device, Received};
use crate::reconnect::Tally;

/// What [`run`] needs besides its parts.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Prefixes of the command topics (`-m`, default `to_arduino_gateway`).
    pub commands: Vec<String>,
    /// The report topic (`-r`, default `from_arduino_gateway`).
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
pub fn run<C: Connector>(
    component: &mut Component,
    device: &mut Device<C>,
    core: &mut Core,
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
        while let Some(note) = core.pop_note() {
            log(device.name(), &note, &mut silent);
        }
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

/// One log line per note (silent boards: the first, then every hundredth).
fn log(board: &str, note: &Note, silent: &mut Tally) {
    match note {
        Note::Identified {
            firmware,
            name,
            version,
            protocol,
        } => {
            let protocol = protocol.map_or("?".into(), |(a, b)| format!("{a}.{b}"));
            tracing::warn!(
                "board {board}: {name} {}.{} ({}), Firmata protocol {protocol}",
                version.0,
                version.1,
                firmware.name()
            );
        }
        Note::Ready {
            pins,
            channels,
            restored,
        } => {
            let unanswered = silent.take();
            if unanswered > 0 {
                tracing::warn!("board {board}: answered after {unanswered} silent attempt(s)");
            }
            if *restored > 0 {
                tracing::warn!(
                    "board {board}: ready, {pins} pins, {channels} analog channels; pin \
                     settings restored ({restored} messages)"
                );
            } else {
                tracing::warn!("board {board}: ready, {pins} pins, {channels} analog channels");
            }
        }
        Note::Reset => {
            tracing::warn!("board {board}: it was reset; restoring its pin settings")
        }
        Note::Unresponsive { waiting_for } => {
            if let Some(n) = silent.bump() {
                tracing::warn!(
                    "board {board}: no answer (waiting for {waiting_for}); reopening and \
                     asking again ({n} silent attempt(s) so far)"
                );
            }
        }
        Note::WrongInstance { got, want } => {
            if silent.count() == 0 {
                tracing::warn!(
                    "board {board}: FirmataExpress instance id {got}, not {want} (-i); not \
                     using it"
                );
            }
        }
        Note::NoKeepAlive(firmware) => tracing::info!(
            "board {board}: {} has no keep-alive; -k ignored",
            firmware.name()
        ),
        Note::BadCapabilities(why) => {
            tracing::warn!("board {board}: capability report unusable: {why}; asking again")
        }
        Note::NotRestored { pin } => {
            tracing::warn!("board {board}: pin {pin} cannot take its former mode; left alone")
        }
        Note::BoardSays(text) => tracing::warn!("board {board} says: {text}"),
        Note::Garbled { messages } => {
            tracing::warn!("board {board}: {messages} undecodable message(s) so far")
        }
    }
}
