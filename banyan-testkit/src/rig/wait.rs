//! Deadlines, built once: [`wait_until`] retries a condition until it holds or the deadline
//! passes, and then fails with a message naming what was awaited (never hangs, never panics).
//!
//! The condition may do work on each try (publish a probe, poll a socket for a while, read a
//! counter); between tries that come back empty the kit pauses [`PAUSE`], so a condition that
//! only reads a counter does not spin a core of the shared machine.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long a test waits for anything (a connection, a proof, a message, a counter) before
/// it fails: generous, because a loaded 2-core CI machine can stall a step for seconds; a
/// passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(60);

/// The pause between two tries that did not succeed.
pub const PAUSE: Duration = Duration::from_millis(5);

/// Retries `condition` until it returns `true`; fails with [`Error::WaitTimeout`] naming
/// `what` when `deadline` passes first. The condition is tried at least once.
pub fn wait_until(
    deadline: Instant,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<()> {
    wait_for(deadline, what, || condition().then_some(()))
}

/// Retries `attempt` until it returns `Some(value)` and returns the value; fails with
/// [`Error::WaitTimeout`] naming `what` when `deadline` passes first.
pub fn wait_for<T>(
    deadline: Instant,
    what: &str,
    mut attempt: impl FnMut() -> Option<T>,
) -> Result<T> {
    try_wait_for(deadline, what, || {
        Ok::<_, std::convert::Infallible>(attempt())
    })
}

/// [`wait_for`] with an attempt that can fail: its first error ends the wait as
/// [`Error::WaitFailed`] (naming `what` and the reason) instead of being retried.
pub fn try_wait_for<T, E: std::fmt::Display>(
    deadline: Instant,
    what: &str,
    attempt: impl FnMut() -> std::result::Result<Option<T>, E>,
) -> Result<T> {
    retry(deadline, what, PAUSE, attempt)
}

/// [`wait_until`] without the pause between tries, for a condition that blocks by itself
/// (it polls a socket or a link with a timeout): a loop that drives a client, where a pause
/// would slow every step down.
pub fn poll_until(
    deadline: Instant,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<()> {
    retry(deadline, what, Duration::ZERO, || {
        Ok::<_, std::convert::Infallible>(condition().then_some(()))
    })
}

fn retry<T, E: std::fmt::Display>(
    deadline: Instant,
    what: &str,
    pause: Duration,
    mut attempt: impl FnMut() -> std::result::Result<Option<T>, E>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        match attempt() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => {
                return Err(Error::WaitFailed {
                    what: what.to_owned(),
                    reason: error.to_string(),
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::WaitTimeout {
                what: what.to_owned(),
                waited: now - start,
            });
        }
        if !pause.is_zero() {
            std::thread::sleep(pause.min(deadline - now));
        }
    }
}

/// [`wait_for`] for async tests: `attempt` is awaited on each try (it may drive a page or read
/// a socket), with `pause` on tokio's timer between tries that came back empty; fails with
/// [`Error::WaitTimeout`] naming `what` when `deadline` passes first.
pub async fn wait_for_async<T>(
    deadline: Instant,
    what: &str,
    pause: Duration,
    mut attempt: impl AsyncFnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return Ok(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::WaitTimeout {
                what: what.to_owned(),
                waited: now - start,
            });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_that_holds_returns_at_once_and_its_value() {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut tries = 0;
        let got = wait_for(far, "the third try", || {
            tries += 1;
            (tries == 3).then_some(tries * 10)
        });
        assert_eq!(got.unwrap(), 30);
    }

    #[test]
    fn a_passed_deadline_names_what_was_awaited() {
        let mut tries = 0;
        let error = wait_until(Instant::now(), "the moon", || {
            tries += 1;
            false
        })
        .unwrap_err();
        assert_eq!(tries, 1, "tried once before giving up");
        assert!(matches!(error, Error::WaitTimeout { ref what, .. } if what == "the moon"));
        assert!(error.to_string().contains("the moon"), "{error}");
    }

    #[test]
    fn an_attempt_error_ends_the_wait_with_its_reason() {
        let far = Instant::now() + Duration::from_secs(3600);
        let error = try_wait_for::<(), _>(far, "a reply", || Err("socket closed")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("a reply") && text.contains("socket closed"),
            "{text}"
        );
    }

    #[test]
    fn the_async_wait_awaits_each_try_and_names_what_timed_out() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let mut tries = 0;
        let got = runtime.block_on(wait_for_async(far, "the third try", PAUSE, async || {
            tries += 1;
            tokio::task::yield_now().await;
            (tries == 3).then_some(tries)
        }));
        assert_eq!(got.unwrap(), 3);
        let error = runtime
            .block_on(wait_for_async::<()>(
                Instant::now(),
                "the moon",
                PAUSE,
                async || None,
            ))
            .unwrap_err();
        assert!(error.to_string().contains("the moon"), "{error}");
    }
}
