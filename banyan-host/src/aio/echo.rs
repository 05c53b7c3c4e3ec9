//! The seed's echo server and client on the async component: the same rules as
//! [`crate::echo`] (its sans-IO countdown and reply rule), awaited instead of blocked on.

use std::time::Instant;

use super::Component;
use crate::echo::{ClientOptions, Countdown, ECHO_TOPIC, EchoPayload, EchoReport, Reply};
use crate::echo::{REPLY_TOPIC, serve_one};
use crate::error::{Error, Result};

/// Runs the echo server on `component` (subscribed to [`ECHO_TOPIC`]) until its
/// [`ShutdownHandle`](crate::ShutdownHandle) fires (then `Ok`), as
/// [`crate::echo::serve`] does: each `echo` payload is republished verbatim on
/// [`REPLY_TOPIC`] and its number passed to `on_message`.
///
/// Cancel-safe (it only awaits [`Component::recv`]): drop the future to stop serving.
pub async fn serve(component: &mut Component, mut on_message: impl FnMut(i64)) -> Result<()> {
    loop {
        let message = match component.recv().await {
            Ok(message) => message,
            Err(Error::Shutdown) => return Ok(()),
            Err(error) => return Err(error),
        };
        if let Some((number, reply)) = serve_one(&message.topic, &message.payload) {
            on_message(number);
            component.publish_raw(REPLY_TOPIC.as_bytes(), reply).await?;
        }
    }
}

/// Runs the echo client on `component` (subscribed to [`REPLY_TOPIC`]), as
/// [`crate::echo::run_client_with`] does: counts down from `options.count`, re-sends an
/// unanswered number (and at once after a re-proof), fails with
/// [`EchoError::Unanswered`](crate::echo::EchoError::Unanswered) after `options.give_up_after` without its reply.
pub async fn run_client(
    component: &mut Component,
    options: &ClientOptions,
    mut on_reply: impl FnMut(i64),
) -> crate::echo::Result<EchoReport> {
    let mut countdown = Countdown::new(options, component.stats().reproofs);
    let send = |component: &Component, number: i64| {
        component.publish(
            ECHO_TOPIC,
            &EchoPayload {
                message_number: number,
            },
        )
    };
    send(component, countdown.first()).await?;
    loop {
        if let Some(number) = countdown.due(Instant::now(), component.stats().reproofs)? {
            send(component, number).await?;
        }
        let wait = countdown.wait(Instant::now());
        // `recv` is cancel-safe: a timeout loses no message.
        let Ok(message) = tokio::time::timeout(wait, component.recv()).await else {
            continue;
        };
        let message = message?;
        if let Reply::Counted { number, next } =
            countdown.on_message(&message.topic, &message.payload)
        {
            on_reply(number);
            match next {
                Some(next) => send(component, next).await?,
                None => return Ok(countdown.report),
            }
        }
    }
}
