//! The seed's echo demo: an echo server answers `echo` with `reply`; an echo client sends
//! `{'message_number': N}` and counts down to 0.
//!
//! The examples, the installable binaries, the one-process demo and the tests all run these
//! two functions, so there is one echo implementation.

use std::ops::ControlFlow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::component::Component;
use crate::error::{Error, Result};

/// Topic the client publishes on and the server subscribes to.
pub const ECHO_TOPIC: &str = "echo";
/// Topic the server answers on and the client subscribes to.
pub const REPLY_TOPIC: &str = "reply";
/// The seed's message count.
pub const DEFAULT_COUNT: u32 = 10;

/// The echo payload: `{'message_number': N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoPayload {
    /// Counts down to 0.
    pub message_number: i64,
}

/// Runs the echo server on `component` (which must be subscribed to [`ECHO_TOPIC`]) until
/// its [`ShutdownHandle`](crate::component::ShutdownHandle) fires. Each `echo` payload is
/// republished verbatim on [`REPLY_TOPIC`] and its `message_number` passed to `on_message`.
/// Payloads that are not msgpack maps with an integer `message_number` are logged and
/// skipped; they never stop the server.
pub fn serve(component: &mut Component, mut on_message: impl FnMut(i64)) -> Result<()> {
    component.receive_loop(|component, message| {
        if message.topic != ECHO_TOPIC {
            return Ok(ControlFlow::Continue(()));
        }
        match message.decode::<EchoPayload>() {
            Ok(echo) => {
                on_message(echo.message_number);
                component.publish_raw(REPLY_TOPIC.as_bytes(), &message.payload)?;
            }
            Err(error) => tracing::warn!(
                %error,
                payload = %crate::hex(&message.payload),
                "echo server: skipping a payload without an integer message_number"
            ),
        }
        Ok(ControlFlow::Continue(()))
    })
}

/// What an echo client run saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoReport {
    /// `message_number`s of the replies, in arrival order (duplicates excluded).
    pub replies: Vec<i64>,
    /// Messages published (including re-sends after a timeout).
    pub sent: u64,
}

/// Runs the echo client on `component` (which must be subscribed to [`REPLY_TOPIC`]): sends
/// `{'message_number': count}`, and on each reply `n > 0` sends `n - 1`, until the reply 0.
/// `on_reply` sees each new reply. A reply that does not come within `timeout` is an error
/// naming the message that went unanswered. Replies that repeat an older number are ignored.
pub fn run_client(
    component: &mut Component,
    count: u32,
    timeout: Duration,
    mut on_reply: impl FnMut(i64),
) -> Result<EchoReport> {
    let mut expected = i64::from(count);
    let mut report = EchoReport {
        replies: Vec::with_capacity(count as usize + 1),
        sent: 0,
    };
    component.publish(
        ECHO_TOPIC,
        &EchoPayload {
            message_number: expected,
        },
    )?;
    report.sent += 1;
    loop {
        let Some(message) = component.recv_timeout(timeout)? else {
            return Err(Error::Timeout(format!(
                "echo client: no reply to message_number {expected} within {timeout:?}"
            )));
        };
        if message.topic != REPLY_TOPIC {
            continue;
        }
        let reply = match message.decode::<EchoPayload>() {
            Ok(reply) => reply,
            Err(error) => {
                tracing::warn!(%error, "echo client: skipping a malformed reply");
                continue;
            }
        };
        if reply.message_number != expected {
            tracing::debug!(got = reply.message_number, expected, "ignoring stale reply");
            continue;
        }
        report.replies.push(expected);
        on_reply(expected);
        if expected == 0 {
            return Ok(report);
        }
        expected -= 1;
        component.publish(
            ECHO_TOPIC,
            &EchoPayload {
                message_number: expected,
            },
        )?;
        report.sent += 1;
    }
}
