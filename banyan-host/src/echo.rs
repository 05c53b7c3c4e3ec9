//! The seed's echo demo: an echo server answers `echo` with `reply`; an echo client sends
//! `{'message_number': N}` and counts down to 0.
//!
//! The examples, the installable binaries, the one-process demo and the tests all run these
//! two functions, so there is one echo implementation.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::component::Component;
use crate::error::Error;

/// What can stop the echo demo: its own give-up, or a failure of the component under it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EchoError {
    /// The echo client got no reply to a message within its give-up time, re-sends included.
    #[error(
        "echo client: no reply to message_number {message_number} within {waited:?} \
         ({resent} re-sends; is an echo server running on this backplane?)"
    )]
    Unanswered {
        /// The number that went unanswered.
        message_number: i64,
        /// How long the client waited since the last reply.
        waited: Duration,
        /// Re-sends so far in the whole run.
        resent: u64,
    },
    /// The component failed (publishing, receiving, shutdown).
    #[error(transparent)]
    Host(#[from] Error),
}

impl EchoError {
    /// The component's error, when that is what stopped the demo (binaries use it to add
    /// which flag to change).
    pub fn host(&self) -> Option<&Error> {
        match self {
            Self::Host(error) => Some(error),
            Self::Unanswered { .. } => None,
        }
    }
}

/// Result of the echo demo's functions.
pub type Result<T, E = EchoError> = std::result::Result<T, E>;

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
/// skipped; they never stop the server, so only the component's own errors end it.
pub fn serve(
    component: &mut Component,
    mut on_message: impl FnMut(i64),
) -> crate::error::Result<()> {
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

/// Default time [`run_client`] waits for a reply before re-sending the outstanding message.
pub const DEFAULT_RESEND_AFTER: Duration = Duration::from_secs(1);

/// What an echo client run saw. Counters only: nothing in it grows with the count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EchoReport {
    /// Distinct replies counted (`count + 1` when the run completed).
    pub replies: u64,
    /// Messages published, re-sends included.
    pub sent: u64,
    /// Re-sends of an unanswered message (after [`ClientOptions::resend_after`], or at once
    /// when the component proved its path again after a backplane restart).
    pub resent: u64,
    /// Messages on the reply topic that were not the awaited reply (duplicates of answered
    /// messages, other prefixes such as `reply_x`, malformed payloads).
    pub ignored: u64,
}

/// How [`run_client_with`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// The first message number: the client sends `count`, `count - 1`, ..., `0`.
    pub count: u32,
    /// Re-send the outstanding message when no matching reply came for this long.
    pub resend_after: Duration,
    /// Fail when one message stays unanswered this long, re-sends included. Only a matching
    /// reply restarts this clock; other messages never do.
    pub give_up_after: Duration,
}

impl ClientOptions {
    /// Counts down from `count`, re-sends after [`DEFAULT_RESEND_AFTER`] (at most
    /// `give_up_after`) and gives up after `give_up_after` without the awaited reply.
    pub fn new(count: u32, give_up_after: Duration) -> Self {
        Self {
            count,
            resend_after: DEFAULT_RESEND_AFTER.min(give_up_after),
            give_up_after,
        }
    }
}

/// [`run_client_with`] with [`ClientOptions::new`]`(count, timeout)`.
pub fn run_client(
    component: &mut Component,
    count: u32,
    timeout: Duration,
    on_reply: impl FnMut(i64),
) -> Result<EchoReport> {
    run_client_with(component, &ClientOptions::new(count, timeout), on_reply)
}

/// Runs the echo client on `component` (which must be subscribed to [`REPLY_TOPIC`]): sends
/// `{'message_number': count}`, and on the reply `n > 0` sends `n - 1`, until the reply 0.
/// `on_reply` sees each counted reply once, in order.
///
/// Survives restarts of the backplane and of the echo server in between: the outstanding
/// message is re-sent every `resend_after` without its reply (and at once when the component
/// re-proved its path after a backplane restart); a reply is counted only if it answers the
/// outstanding number, so late and duplicate replies are never counted twice. Fails (never
/// hangs) when one message stays unanswered for `give_up_after`, naming it.
pub fn run_client_with(
    component: &mut Component,
    options: &ClientOptions,
    mut on_reply: impl FnMut(i64),
) -> Result<EchoReport> {
    let resend_after = options.resend_after.max(Duration::from_millis(1));
    let mut report = EchoReport::default();
    let mut expected = i64::from(options.count);
    let mut epoch = component.stats().reproofs;
    let send = |component: &mut Component, number: i64, report: &mut EchoReport| {
        report.sent += 1;
        component.publish(
            ECHO_TOPIC,
            &EchoPayload {
                message_number: number,
            },
        )
    };
    send(component, expected, &mut report)?;
    let mut give_up = Instant::now() + options.give_up_after;
    let mut resend_at = Instant::now() + resend_after;
    loop {
        let now = Instant::now();
        if now >= give_up {
            return Err(EchoError::Unanswered {
                message_number: expected,
                waited: options.give_up_after,
                resent: report.resent,
            });
        }
        let reproofs = component.stats().reproofs;
        if now >= resend_at || reproofs != epoch {
            epoch = reproofs;
            tracing::debug!(
                message_number = expected,
                "re-sending the unanswered message"
            );
            report.resent += 1;
            send(component, expected, &mut report)?;
            resend_at = now + resend_after;
        }
        let wait = resend_at.min(give_up).saturating_duration_since(now);
        let Some(message) = component.recv_ref_timeout(wait)? else {
            continue;
        };
        if message.topic != REPLY_TOPIC {
            report.ignored += 1;
            continue;
        }
        match message.decode::<EchoPayload>() {
            Ok(reply) if reply.message_number == expected => {}
            Ok(reply) => {
                tracing::debug!(
                    got = reply.message_number,
                    expected,
                    "ignoring a stale reply"
                );
                report.ignored += 1;
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "echo client: skipping a malformed reply");
                report.ignored += 1;
                continue;
            }
        }
        report.replies += 1;
        on_reply(expected);
        if expected == 0 {
            return Ok(report);
        }
        expected -= 1;
        send(component, expected, &mut report)?;
        let now = Instant::now();
        give_up = now + options.give_up_after;
        resend_at = now + resend_after;
    }
}
