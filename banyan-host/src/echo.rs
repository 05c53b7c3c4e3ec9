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
/// skipped; they never stop the server.
/// Only the component's own errors end it.
pub fn serve(
    component: &mut Component,
    mut on_message: impl FnMut(i64),
) -> crate::error::Result<()> {
    component.receive_loop(|component, message| {
        if let Some((number, reply)) = serve_one(&message.topic, &message.payload) {
            on_message(number);
            component.publish_raw(REPLY_TOPIC.as_bytes(), reply)?;
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
    let mut countdown = Countdown::new(options, component.stats().reproofs);
    let send = |component: &mut Component, number: i64| {
        component.publish(
            ECHO_TOPIC,
            &EchoPayload {
                message_number: number,
            },
        )
    };
    send(component, countdown.first())?;
    loop {
        if let Some(number) = countdown.due(Instant::now(), component.stats().reproofs)? {
            send(component, number)?;
        }
        let Some(message) = component.recv_ref_timeout(countdown.wait(Instant::now()))? else {
            continue;
        };
        match countdown.on_message(message.topic, message.payload) {
            Reply::Ignored => {}
            Reply::Counted { number, next } => {
                on_reply(number);
                match next {
                    Some(next) => send(component, next)?,
                    None => return Ok(countdown.report),
                }
            }
        }
    }
}

/// What a message meant to the echo client ([`Countdown::on_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Not the awaited reply (counted in [`EchoReport::ignored`]).
    Ignored,
    /// The awaited reply to `number`; send `next`, or the run is complete (`None`).
    Counted { number: i64, next: Option<i64> },
}

/// The echo client's sans-IO state (see [`run_client_with`]): which number is outstanding,
/// when to re-send it, when to give up, which reply counts. The blocking client above and the
/// async one (`crate::aio::echo`) drive it.
#[derive(Debug)]
pub(crate) struct Countdown {
    resend_after: Duration,
    give_up_after: Duration,
    expected: i64,
    epoch: u64,
    give_up: Instant,
    resend_at: Instant,
    /// What the run saw so far.
    pub report: EchoReport,
}

impl Countdown {
    /// A run of `options` on a component that re-proved its path `reproofs` times so far.
    pub(crate) fn new(options: &ClientOptions, reproofs: u64) -> Self {
        let now = Instant::now();
        let resend_after = options.resend_after.max(Duration::from_millis(1));
        Self {
            resend_after,
            give_up_after: options.give_up_after,
            expected: i64::from(options.count),
            epoch: reproofs,
            give_up: now + options.give_up_after,
            resend_at: now + resend_after,
            report: EchoReport::default(),
        }
    }

    /// The first number to send (counted as sent).
    pub(crate) fn first(&mut self) -> i64 {
        self.report.sent += 1;
        self.expected
    }

    /// The number to re-send now, if one is due (its time passed, or the component proved
    /// its path again: `reproofs` changed). Fails when the outstanding number waited
    /// `give_up_after`.
    pub(crate) fn due(&mut self, now: Instant, reproofs: u64) -> Result<Option<i64>> {
        if now >= self.give_up {
            return Err(EchoError::Unanswered {
                message_number: self.expected,
                waited: self.give_up_after,
                resent: self.report.resent,
            });
        }
        if now >= self.resend_at || reproofs != self.epoch {
            self.epoch = reproofs;
            tracing::debug!(
                message_number = self.expected,
                "re-sending the unanswered message"
            );
            self.report.resent += 1;
            self.report.sent += 1;
            self.resend_at = now + self.resend_after;
            return Ok(Some(self.expected));
        }
        Ok(None)
    }

    /// How long to wait for a message before [`due`](Self::due) may have something.
    pub(crate) fn wait(&self, now: Instant) -> Duration {
        self.resend_at
            .min(self.give_up)
            .saturating_duration_since(now)
    }

    /// Judges a received message.
    pub(crate) fn on_message(&mut self, topic: &str, payload: &[u8]) -> Reply {
        if topic != REPLY_TOPIC {
            self.report.ignored += 1;
            return Reply::Ignored;
        }
        match banyan_proto::payload::from_slice::<EchoPayload>(payload) {
            Ok(reply) if reply.message_number == self.expected => {}
            Ok(reply) => {
                tracing::debug!(
                    got = reply.message_number,
                    expected = self.expected,
                    "ignoring a stale reply"
                );
                self.report.ignored += 1;
                return Reply::Ignored;
            }
            Err(error) => {
                tracing::warn!(%error, "echo client: skipping a malformed reply");
                self.report.ignored += 1;
                return Reply::Ignored;
            }
        }
        self.report.replies += 1;
        let number = self.expected;
        if number == 0 {
            return Reply::Counted { number, next: None };
        }
        self.expected -= 1;
        self.report.sent += 1;
        let now = Instant::now();
        self.give_up = now + self.give_up_after;
        self.resend_at = now + self.resend_after;
        Reply::Counted {
            number,
            next: Some(self.expected),
        }
    }
}

/// What the echo server does with one message: the bytes to publish on [`REPLY_TOPIC`] and
/// the number served, or `None` (not `echo`, or no integer `message_number`: logged).
pub(crate) fn serve_one<'a>(topic: &str, payload: &'a [u8]) -> Option<(i64, &'a [u8])> {
    if topic != ECHO_TOPIC {
        return None;
    }
    match banyan_proto::payload::from_slice::<EchoPayload>(payload) {
        Ok(echo) => Some((echo.message_number, payload)),
        Err(error) => {
            tracing::warn!(
                %error,
                payload = %crate::json::hex(payload),
                "echo server: skipping a payload without an integer message_number"
            );
            None
        }
    }
}
