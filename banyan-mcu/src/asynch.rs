//! Async driver (feature `async`): [`EchoClient::run_async`] over embedded-io-async 0.7 and an
//! embedded-hal-async delay, for embassy and other executors.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use embedded_hal_async::delay::DelayNs;
use embedded_io::Error as _;
use embedded_io_async::{Read, Write};

use crate::client::{CHUNK_LEN, is_idle, transport_error};
use crate::session::TX_BUF_LEN;
use crate::{ClientError, Clock, EchoClient, EchoSummary, Observer};

/// Longest single wait: the deadline is re-checked at least this often (ms).
const MAX_WAIT_MS: u64 = 1000;

impl<const N: usize> EchoClient<'_, N> {
    /// Runs the echo over an async transport until it completes or fails.
    ///
    /// Each turn races `transport.read` against `delay` until the session's deadline, so
    /// `read` may block as long as it likes, but it **must be cancel-safe**: when the delay
    /// wins, the read future is dropped, and bytes it already took from the hardware must
    /// not be lost (embassy's `BufferedUart` and embassy-usb's CDC-ACM receivers are). `clock`
    /// must share `delay`'s time base (with embassy: `embassy_time::Instant` and
    /// `embassy_time::Delay`).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_async<T, C, D, O>(
        &mut self,
        transport: &mut T,
        clock: &C,
        delay: &mut D,
        observer: &mut O,
    ) -> Result<EchoSummary, ClientError>
    where
        T: Read + Write + ?Sized,
        C: Clock + ?Sized,
        D: DelayNs + ?Sized,
        O: Observer,
    {
        self.session.start(clock.now_ms(), observer);
        let mut tx = [0u8; TX_BUF_LEN];
        let mut chunk = [0u8; CHUNK_LEN];
        loop {
            let mut wrote = false;
            while let Some(n) = self.session.poll_transmit(&mut tx, observer)? {
                transport
                    .write_all(&tx[..n])
                    .await
                    .map_err(transport_error)?;
                wrote = true;
            }
            if wrote {
                transport.flush().await.map_err(transport_error)?;
            }
            if let Some(outcome) = self.session.outcome() {
                return outcome;
            }
            let now = clock.now_ms();
            let wait = self
                .session
                .deadline_ms()
                .map_or(MAX_WAIT_MS, |deadline| deadline.saturating_sub(now))
                .clamp(1, MAX_WAIT_MS);
            // `wait` ≤ MAX_WAIT_MS, so it fits a u32.
            let wait = u32::try_from(wait).unwrap_or(1);
            match select(transport.read(&mut chunk), delay.delay_ms(wait)).await {
                Either::First(Ok(0)) => return Err(ClientError::Closed),
                Either::First(Ok(n)) => {
                    let now = clock.now_ms();
                    self.feed(&chunk[..n.min(CHUNK_LEN)], now, observer);
                }
                Either::First(Err(e)) if is_idle(e.kind()) => {}
                Either::First(Err(e)) => return Err(ClientError::Transport(e.kind())),
                Either::Second(()) => {}
            }
            self.session.on_tick(clock.now_ms(), observer)?;
        }
    }
}

enum Either<A, B> {
    First(A),
    Second(B),
}

/// Polls both futures until one completes (the first one wins a tie); the other is dropped.
async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::First(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Second(out));
        }
        Poll::Pending
    })
    .await
}
