//! [`EchoClient`]: the session plus a frame decoder, driven over a blocking transport.

use banyan_proto::frame::{self, DEFAULT_MAX_FRAME, FeedResult, FrameDecoder};
use embedded_io::{Error as _, ErrorKind, Read, Write};

use crate::session::TX_BUF_LEN;
use crate::{ClientError, Clock, EchoConfig, EchoSession, EchoSummary, Observer};

/// Default receive buffer: a frame body of up to [`DEFAULT_MAX_FRAME`] (512) bytes.
pub const DEFAULT_RX_LEN: usize = frame::max_encoded_len(DEFAULT_MAX_FRAME);

/// Bytes read from the transport per `read` call.
pub(crate) const CHUNK_LEN: usize = 64;

/// The largest frame body a `FrameDecoder<N>` accepts, clamped to `u16` (announced in `Hello`).
pub const fn max_body_for(rx_len: usize) -> u16 {
    // Inverse of `max_encoded_len`: the largest `b` with `max_encoded_len(b) <= rx_len`.
    let mut body = rx_len;
    while body > 0 && frame::max_encoded_len(body) > rx_len {
        body -= 1;
    }
    if body > u16::MAX as usize {
        u16::MAX
    } else {
        body as u16
    }
}

/// The echo client: an [`EchoSession`] and a [`FrameDecoder`] of `N` bytes (the largest
/// encoded frame it receives; the default takes 512-byte bodies, 518 bytes of RAM).
///
/// [`run`](Self::run) drives it over a blocking transport (see the
/// [transport contract](crate#transport-contract)); with the `async` feature,
/// `run_async` over an embedded-io-async one.
#[derive(Debug, Clone)]
pub struct EchoClient<'a, const N: usize = DEFAULT_RX_LEN> {
    pub(crate) session: EchoSession<'a>,
    pub(crate) decoder: FrameDecoder<N>,
}

impl<'a, const N: usize> EchoClient<'a, N> {
    /// A client for `config`, announcing the largest body its decoder takes.
    pub const fn new(config: EchoConfig<'a>) -> Self {
        Self {
            session: EchoSession::new(config, max_body_for(N)),
            decoder: FrameDecoder::new(),
        }
    }

    /// The protocol state machine (phase, counters).
    pub fn session(&self) -> &EchoSession<'a> {
        &self.session
    }

    /// Runs the echo over a blocking transport until it completes or fails.
    ///
    /// `transport.read` must return within a bounded time, with data or with an error whose
    /// kind is [`ErrorKind::TimedOut`] (or `Interrupted`) meaning "nothing yet": wrap a
    /// transport that implements [`ReadReady`](embedded_io::ReadReady) in
    /// [`Polled`](crate::Polled). `clock` decides when a reply is overdue. A client that has
    /// already finished returns its outcome again; create a new one for a new run.
    ///
    /// # Errors
    /// [`ClientError::NoReply`] after too many timeouts, [`ClientError::Closed`] when `read`
    /// returns 0, [`ClientError::Transport`] for any other transport error.
    pub fn run<T, C, O>(
        &mut self,
        transport: &mut T,
        clock: &C,
        observer: &mut O,
    ) -> Result<EchoSummary, ClientError>
    where
        T: Read + Write + ?Sized,
        C: Clock + ?Sized,
        O: Observer,
    {
        self.session.start(clock.now_ms(), observer);
        let mut tx = [0u8; TX_BUF_LEN];
        let mut chunk = [0u8; CHUNK_LEN];
        loop {
            let mut wrote = false;
            while let Some(n) = self.session.poll_transmit(&mut tx, observer)? {
                transport.write_all(&tx[..n]).map_err(transport_error)?;
                wrote = true;
            }
            if wrote {
                transport.flush().map_err(transport_error)?;
            }
            if let Some(outcome) = self.session.outcome() {
                return outcome;
            }
            match transport.read(&mut chunk) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => {
                    let now = clock.now_ms();
                    self.feed(&chunk[..n.min(CHUNK_LEN)], now, observer);
                }
                Err(e) if is_idle(e.kind()) => {}
                Err(e) => return Err(ClientError::Transport(e.kind())),
            }
            self.session.on_tick(clock.now_ms(), observer)?;
        }
    }

    /// Feeds received bytes through the decoder into the session.
    pub(crate) fn feed(&mut self, bytes: &[u8], now_ms: u64, observer: &mut impl Observer) {
        let mut input = bytes;
        while !input.is_empty() {
            input = match self.decoder.feed(input) {
                FeedResult::Consumed => break,
                FeedResult::Frame { frame, remaining } => {
                    self.session.on_frame(&frame, now_ms, observer);
                    remaining
                }
                FeedResult::Corrupt { kind, remaining } => {
                    self.session.on_corrupt(kind, observer);
                    remaining
                }
                FeedResult::Oversized { remaining } => {
                    self.session.on_oversized(observer);
                    remaining
                }
            };
        }
    }
}

/// Read error kinds that mean "no data yet" under the transport contract.
pub(crate) fn is_idle(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::TimedOut | ErrorKind::Interrupted)
}

pub(crate) fn transport_error<E: embedded_io::Error>(e: E) -> ClientError {
    ClientError::Transport(e.kind())
}
