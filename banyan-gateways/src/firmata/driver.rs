//! The thin driver of `ardgw`: the shared board-gateway loop ([`crate::driver`]) with
//! the Firmata [`Core`] as its [`Protocol`], and the log lines of the core's notes.
//!
//! One thread joins the core to a backplane [`Component`] and a board [`Device`] (a serial
//! port, a TCP stream, a pty in tests); see [`crate::driver`] for a turn of the loop and
//! the "say once, then count" logging.

use std::time::Instant;

use banyan_host::Component;

use super::{Core, Note};
use crate::driver::Protocol;
pub use crate::driver::{Summary, Topics, wall_us};
use crate::link::{Connector, Device};
use crate::reconnect::Tally;

/// Serves until the component's shutdown handle fires; backplane errors end the run.
pub fn run<C: Connector>(
    component: &mut Component,
    device: &mut Device<C>,
    core: &mut Core,
    topics: &Topics,
) -> banyan_host::Result<Summary> {
    crate::driver::run(component, device, core, topics)
}

impl Protocol for Core {
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
