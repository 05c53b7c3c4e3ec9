//! Async drivers (feature `async`): [`Client::poll_async`] and [`EchoClient::run_async`] over
//! embedded-io-async 0.7 and an embedded-hal-async delay, for embassy and other executors.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use embedded_hal_async::delay::DelayNs;
use embedded_io::Error as _;
use embedded_io_async::{Read, Write};
use serde::Serialize;

use crate::client::{CHUNK_LEN, Incoming, is_idle, transport_error};
use crate::core::PublishStep;
use crate::echo::Io;
use crate::{Client, ClientError, Clock, EchoClient, EchoSummary, Observer};

/// Longest single wait: the timers are re-checked at least this often (ms).
const MAX_WAIT_MS: u64 = 1000;

impl<const N: usize, const L: usize, const B: usize, const A: usize> Client<N, L, B, A> {
    /// One turn of the client over an async transport: writes what is queued, then waits for
    /// bytes **or** the next timer (at most 1 s), and returns the first thing for the
    /// application, or `Ok(None)` when the wait ended with nothing (call it again).
    ///
    /// `read` may block as long as it likes, but it **must be cancel-safe**: when the delay
    /// wins, the read future is dropped, and bytes it already took from the hardware must
    /// not be lost (embassy's `BufferedUart` and embassy-usb's CDC-ACM receivers are).
    /// `clock` must share `delay`'s time base (with embassy: `embassy_time::Instant` and
    /// `embassy_time::Delay`). To publish on a timer while waiting, race this future against
    /// your own timer (it is cancel-safe too: nothing is lost when it is dropped while
    /// waiting).
    ///
    /// # Errors
    /// As [`poll`](Self::poll).
    pub async fn poll_async<T, C, D>(
        &mut self,
        transport: &mut T,
        clock: &C,
        delay: &mut D,
    ) -> Result<Option<Incoming<'_>>, ClientError>
    where
        T: Read + Write + ?Sized,
        C: Clock + ?Sized,
        D: DelayNs + ?Sized,
    {
        self.poll_async_until(transport, clock, delay, None).await
    }

    /// [`poll_async`](Self::poll_async) that also wakes up at `wake_at_ms` (the caller's own
    /// timer).
    pub(crate) async fn poll_async_until<T, C, D>(
        &mut self,
        transport: &mut T,
        clock: &C,
        delay: &mut D,
        wake_at_ms: Option<u64>,
    ) -> Result<Option<Incoming<'_>>, ClientError>
    where
        T: Read + Write + ?Sized,
        C: Clock + ?Sized,
        D: DelayNs + ?Sized,
    {
        let now = clock.now_ms();
        self.core.start(now);
        self.core.on_tick(now);
        self.flush_queued_async(transport).await?;
        if let Some(event) = self.core.poll_event() {
            return Ok(Some(Incoming::Link(event)));
        }
        if self.pos >= self.len {
            let deadline = match (self.core.next_deadline_ms(), wake_at_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = deadline
                .map_or(MAX_WAIT_MS, |deadline| deadline.saturating_sub(now))
                .clamp(1, MAX_WAIT_MS);
            // `wait` ≤ MAX_WAIT_MS, so it fits a u32.
            let wait = u32::try_from(wait).unwrap_or(1);
            match select(transport.read(&mut self.chunk), delay.delay_ms(wait)).await {
                Either::First(Ok(0)) => return Err(ClientError::Closed),
                Either::First(Ok(n)) => {
                    self.pos = 0;
                    self.len = n.min(CHUNK_LEN);
                }
                Either::First(Err(e)) if is_idle(e.kind()) => return Ok(None),
                Either::First(Err(e)) => return Err(ClientError::Transport(e.kind())),
                Either::Second(()) => return Ok(None),
            }
        }
        Ok(self.process(clock.now_ms()))
    }

    /// [`publish`](Self::publish) over an async transport.
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    pub async fn publish_async<T, P>(
        &mut self,
        transport: &mut T,
        topic: &str,
        payload: &P,
    ) -> Result<bool, ClientError>
    where
        T: Write + ?Sized,
        P: Serialize + ?Sized,
    {
        if !self.core.is_up() {
            return self
                .publish_raw_async(transport, topic.as_bytes(), &[])
                .await;
        }
        let mut scratch = [0u8; B];
        let len = banyan_proto::payload::to_slice(payload, &mut scratch)?;
        self.publish_raw_async(
            transport,
            topic.as_bytes(),
            scratch.get(..len).unwrap_or_default(),
        )
        .await
    }

    /// [`publish_raw`](Self::publish_raw) over an async transport.
    ///
    /// # Errors
    /// As [`publish_raw`](Self::publish_raw).
    pub async fn publish_raw_async<T: Write + ?Sized>(
        &mut self,
        transport: &mut T,
        topic: &[u8],
        payload: &[u8],
    ) -> Result<bool, ClientError> {
        loop {
            let (n, done) = match self.core.publish_step(topic, payload, &mut self.tx)? {
                PublishStep::Offline => return Ok(false),
                PublishStep::Batched => return Ok(true),
                PublishStep::Written(n) => (n, true),
                PublishStep::BatchedFull => (self.core.encode_batch(&mut self.tx)?, true),
                PublishStep::FlushFirst => (self.core.encode_batch(&mut self.tx)?, false),
            };
            let bytes = self.tx.get(..n).unwrap_or_default();
            transport.write_all(bytes).await.map_err(transport_error)?;
            transport.flush().await.map_err(transport_error)?;
            if done {
                return Ok(true);
            }
        }
    }

    async fn flush_queued_async<T: Write + ?Sized>(
        &mut self,
        transport: &mut T,
    ) -> Result<(), ClientError> {
        let mut wrote = false;
        while let Some(n) = self.core.poll_transmit(&mut self.tx)? {
            let bytes = self.tx.get(..n).unwrap_or_default();
            transport.write_all(bytes).await.map_err(transport_error)?;
            wrote = true;
        }
        if wrote {
            transport.flush().await.map_err(transport_error)?;
        }
        Ok(())
    }
}

impl<const B: usize> EchoClient<'_, B> {
    /// Runs the echo over an async transport until it completes or fails (the transport
    /// contract of [`Client::poll_async`]).
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
        self.start(clock.now_ms())?;
        // One write and one wait site: the echo's logic is the sans-IO `turn`, as in `run`.
        loop {
            let wait_ms = match self.turn(clock.now_ms(), observer)? {
                Io::Done(outcome) => return outcome,
                Io::Write { len, publish } => {
                    let bytes = self.client.tx.get(..len).unwrap_or_default();
                    transport.write_all(bytes).await.map_err(transport_error)?;
                    transport.flush().await.map_err(transport_error)?;
                    if publish {
                        self.on_sent(true, clock.now_ms(), observer);
                    }
                    continue;
                }
                Io::Read { wait_ms } => wait_ms,
            };
            // `clamp` keeps it ≤ MAX_WAIT_MS, so it fits a u32.
            let wait = u32::try_from(wait_ms.clamp(1, MAX_WAIT_MS)).unwrap_or(1);
            let read =
                match select(transport.read(&mut self.client.chunk), delay.delay_ms(wait)).await {
                    Either::First(read) => read.map_err(|e| e.kind()),
                    Either::Second(()) => continue,
                };
            self.client.on_read(read)?;
        }
    }
}

pub(crate) enum Either<A, B> {
    First(A),
    Second(B),
}

/// Polls both futures until one completes (the first one wins a tie); the other is dropped.
pub(crate) async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
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
