//! [`Client`]: the general Banyan client — [`ClientCore`] plus a frame decoder and buffers,
//! driven over a blocking transport ([`Client::poll`]) or an async one (`Client::poll_async`,
//! feature `async`).

use banyan_proto::frame::{self, DEFAULT_MAX_FRAME, FeedResult, FrameDecoder};
use banyan_proto::payload::{self, MapReader, PayloadError};
use embedded_io::{Error as _, ErrorKind, Read, Write};
use serde::{Deserialize, Serialize};

use crate::core::{
    ClientConfig, ClientCore, ClientStats, LinkEvent, LinkState, PublishStep, SubState,
};
use crate::{ClientError, Clock};

/// Default receive buffer: a frame body of up to [`DEFAULT_MAX_FRAME`] (512) bytes.
pub const DEFAULT_RX_LEN: usize = frame::max_encoded_len(DEFAULT_MAX_FRAME);

/// Bytes read from the transport per `read` call.
pub(crate) const CHUNK_LEN: usize = 64;

/// Topic aliases a [`Client`] holds per direction (its core's `A`): the first 4 topics it
/// publishes and the first 4 the gateway delivers travel as aliases; more topics keep
/// working with full-topic frames.
pub const CLIENT_ALIASES: usize = 4;

/// The core a `Client<N, L, B, A>` runs: `A` aliases per direction, batches of up to `B`
/// bytes. `A = 0` is a client without topic aliases at compile time: it announces protocol
/// version 1 and the alias and batch paths fold away (the echo client, for flash).
pub type CoreOf<const N: usize, const L: usize, const B: usize, const A: usize> =
    ClientCore<N, L, A, B>;

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

/// A message from the backplane on a topic the application subscribed to. It borrows the
/// client's receive buffer: decode it (or copy what you need) before polling again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The topic (UTF-8 for Banyan).
    pub topic: &'a [u8],
    /// The msgpack payload (a map), as the publisher sent it.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The topic as text; `None` when it is not UTF-8.
    pub fn topic_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.topic).ok()
    }

    /// Decodes the payload into `T` (a `#[derive(Deserialize)]` struct: map keys are field
    /// names; `&str` and `&[u8]` fields borrow from the message). See `banyan_proto::payload`
    /// for what is accepted.
    ///
    /// # Errors
    /// Any [`PayloadError`]: not a map, malformed, or not the shape of `T`.
    pub fn decode<T: Deserialize<'a>>(&self) -> Result<T, PayloadError> {
        payload::from_slice(self.payload)
    }

    /// A zero-copy reader over the payload map, for reading a few keys of any payload.
    ///
    /// # Errors
    /// [`PayloadError`] when the payload is not one valid msgpack map.
    pub fn map(&self) -> Result<MapReader<'a>, PayloadError> {
        MapReader::new(self.payload)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Message<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Message {{ topic: {=[u8]:a}, payload: {=usize} bytes }}",
            self.topic,
            self.payload.len()
        );
    }
}

/// What [`Client::poll`] has for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Incoming<'a> {
    /// A message on a subscribed topic.
    Message(Message<'a>),
    /// The link changed (up, down, gateway restarted, subscriptions in force or refused).
    Link(LinkEvent),
}

/// The general Banyan client for microcontrollers: subscribe, publish, receive, over any
/// embedded-io byte stream to `banyan-gateway`, without alloc.
///
/// * `N`: most topics subscribed at once (default 4);
/// * `L`: longest topic in bytes (default 32);
/// * `A`: topic aliases per direction (default [`CLIENT_ALIASES`]; 0 = protocol version 1
///   only, no alias code);
/// * `B`: size of the receive buffer and of the transmit buffer, each (default 128): the
///   largest encoded frame either way. The largest frame body accepted is
///   [`max_body_for`]`(B)` (announced to the gateway, which drops bigger messages for us);
///   a publish whose frame exceeds `B` is [`ClientError::TooLarge`].
///
/// RAM: `3 × B` + [`CHUNK`](Self::CHUNK) bytes of buffers (receive, transmit, batch),
/// `N × (L + 4)` of topics, `2 ×` [`CLIENT_ALIASES`] `× (L + 3)` of alias tables and ~130
/// bytes of state. `publish` (typed) needs `B` bytes of stack for the payload.
///
/// ```
/// use banyan_mcu::{Client, ClientConfig, ClientError, Clock, Incoming};
/// use embedded_io::{Read, Write};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize)]
/// struct Reading {
///     count: u32,
///     temperature: f64,
/// }
///
/// #[derive(Deserialize)]
/// struct Command<'a> {
///     command: &'a str,
///     ms: Option<u32>,
/// }
///
/// /// Publishes a reading every `period` ms and obeys `{'command': 'rate', 'ms': M}`.
/// fn sensor<T: Read + Write>(link: &mut T, clock: &impl Clock) -> Result<(), ClientError> {
///     let mut client: Client = Client::new(ClientConfig::new(0x1234_5678));
///     client.subscribe("command/demo")?;
///     let (mut period, mut next, mut count) = (100u64, 0u64, 0u32);
///     loop {
///         if let Some(Incoming::Message(msg)) = client.poll(link, clock)? {
///             if let Ok(Command { command: "rate", ms: Some(ms) }) = msg.decode() {
///                 period = ms.into();
///             }
///         }
///         if clock.now_ms() >= next {
///             next = clock.now_ms() + period;
///             client.publish(link, "sensor/demo", &Reading { count, temperature: 21.5 })?;
///             count += 1;
///         }
/// #       if count > 0 { return Ok(()); }
///     }
/// }
/// # struct Sink;
/// # impl embedded_io::ErrorType for Sink { type Error = embedded_io::ErrorKind; }
/// # impl Read for Sink { fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> { Err(embedded_io::ErrorKind::TimedOut) } }
/// # impl Write for Sink { fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) } fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) } }
/// # struct Zero; impl Clock for Zero { fn now_ms(&self) -> u64 { 0 } }
/// # sensor(&mut Sink, &Zero).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Client<
    const N: usize = 4,
    const L: usize = 32,
    const B: usize = 128,
    const A: usize = CLIENT_ALIASES,
> {
    pub(crate) core: CoreOf<N, L, B, A>,
    pub(crate) decoder: FrameDecoder<B>,
    pub(crate) tx: [u8; B],
    /// Bytes read but not yet fed to the decoder: `chunk[pos..len]`.
    pub(crate) chunk: [u8; CHUNK_LEN],
    pub(crate) pos: usize,
    pub(crate) len: usize,
}

/// Where the feed loop stopped.
pub(crate) enum Fed {
    /// The chunk is used up.
    Empty,
    /// A link event is waiting.
    Event,
    /// The decoder holds a message for the application.
    Message,
}

impl<const N: usize, const L: usize, const B: usize, const A: usize> Client<N, L, B, A> {
    /// Bytes read from the transport per `read` call.
    pub const CHUNK: usize = CHUNK_LEN;

    /// A client for `config`, announcing the largest body its receive buffer takes.
    pub const fn new(config: ClientConfig) -> Self {
        Self {
            core: ClientCore::new(config, max_body_for(B)),
            decoder: FrameDecoder::new(),
            tx: [0; B],
            chunk: [0; CHUNK_LEN],
            pos: 0,
            len: 0,
        }
    }

    /// The protocol state machine.
    pub fn core(&self) -> &CoreOf<N, L, B, A> {
        &self.core
    }

    /// The link state.
    pub fn link(&self) -> LinkState {
        self.core.link()
    }

    /// `true` while the link is up.
    pub fn is_up(&self) -> bool {
        self.core.is_up()
    }

    /// `true` when the link is up and every subscription is confirmed in force.
    pub fn all_subscribed(&self) -> bool {
        self.core.all_subscribed()
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.core.stats()
    }

    /// The state of the subscription to exactly `topic` (`None`: not subscribed).
    pub fn subscription(&self, topic: &str) -> Option<SubState> {
        self.core.subscription(topic)
    }

    /// Subscribes to every topic starting with `topic` (ZeroMQ prefix rules). Takes effect
    /// through the next polls; see [`ClientCore::subscribe`].
    ///
    /// # Errors
    /// [`ClientError::TopicTooLong`], [`ClientError::TooManyTopics`].
    pub fn subscribe(&mut self, topic: &str) -> Result<(), ClientError> {
        self.core.subscribe(topic)
    }

    /// Unsubscribes from exactly `topic`; nothing on it is delivered from now on.
    ///
    /// # Errors
    /// [`ClientError::NotSubscribed`].
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError> {
        self.core.unsubscribe(topic)
    }

    /// Publishes `payload` (a `#[derive(Serialize)]` struct or a map) on `topic`, encoded as
    /// Python's `msgpack.packb(payload, use_bin_type=True)`. Returns `Ok(false)` without
    /// writing when the link is not up (the message is dropped and counted).
    ///
    /// # Errors
    /// [`ClientError::Payload`] (not a map, or larger than `B`), [`ClientError::TooLarge`]
    /// (the frame exceeds `B` or the gateway's limit), [`ClientError::Transport`].
    pub fn publish<T, P>(
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
            return self.publish_raw(transport, topic.as_bytes(), &[]);
        }
        let mut scratch = [0u8; B];
        let len = payload::to_slice(payload, &mut scratch)?;
        self.publish_raw(
            transport,
            topic.as_bytes(),
            scratch.get(..len).unwrap_or_default(),
        )
    }

    /// Publishes already-encoded msgpack bytes on `topic`, verbatim. Returns `Ok(false)`
    /// without writing when the link is not up. With [`ClientConfig::batch_window_ms`] the
    /// message may wait in a batch (`Ok(true)` then means "queued"); it goes out at the
    /// first [`poll`](Self::poll) after its window, or earlier (see
    /// [`ClientCore::publish_step`]). Time is the clock of the last poll.
    ///
    /// # Errors
    /// [`ClientError::TooLarge`], [`ClientError::Transport`].
    pub fn publish_raw<T: Write + ?Sized>(
        &mut self,
        transport: &mut T,
        topic: &[u8],
        payload: &[u8],
    ) -> Result<bool, ClientError> {
        loop {
            match self.core.publish_step(topic, payload, &mut self.tx)? {
                PublishStep::Offline => return Ok(false),
                PublishStep::Batched => return Ok(true),
                PublishStep::BatchedFull => {
                    let n = self.core.encode_batch(&mut self.tx)?;
                    write_flush(transport, self.tx.get(..n).unwrap_or_default())?;
                    return Ok(true);
                }
                PublishStep::Written(n) => {
                    write_flush(transport, self.tx.get(..n).unwrap_or_default())?;
                    return Ok(true);
                }
                PublishStep::FlushFirst => {
                    let n = self.core.encode_batch(&mut self.tx)?;
                    write_flush(transport, self.tx.get(..n).unwrap_or_default())?;
                }
            }
        }
    }

    /// Writes the batch being collected now, if there is one (e.g. before sleeping).
    ///
    /// # Errors
    /// [`ClientError::Transport`].
    pub fn flush_batch<T: Write + ?Sized>(&mut self, transport: &mut T) -> Result<(), ClientError> {
        if self.core.batch_pending() {
            let n = self.core.encode_batch(&mut self.tx)?;
            write_flush(transport, self.tx.get(..n).unwrap_or_default())?;
        }
        Ok(())
    }

    /// One turn of the client over a blocking transport: writes what is queued, reads what
    /// is there, runs the timers, and returns the first thing for the application, or
    /// `Ok(None)` when there is nothing (call it again, e.g. in your main loop).
    ///
    /// `transport.read` must return within a bounded time, with data or with an error whose
    /// kind is [`ErrorKind::TimedOut`] (or `Interrupted`) meaning "nothing yet" (see the
    /// [transport contract](crate#transport-contract); wrap a
    /// [`ReadReady`](embedded_io::ReadReady) UART in [`Polled`](crate::Polled)). The first
    /// call starts the handshake.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when `read` returns 0, [`ClientError::Transport`] for other
    /// transport errors. The client stays usable: poll again once the transport is back.
    pub fn poll<T, C>(
        &mut self,
        transport: &mut T,
        clock: &C,
    ) -> Result<Option<Incoming<'_>>, ClientError>
    where
        T: Read + Write + ?Sized,
        C: Clock + ?Sized,
    {
        let now = clock.now_ms();
        self.core.start(now);
        self.core.on_tick(now);
        self.flush_queued(transport)?;
        if let Some(event) = self.core.poll_event() {
            return Ok(Some(Incoming::Link(event)));
        }
        if self.pos >= self.len {
            match transport.read(&mut self.chunk) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => {
                    self.pos = 0;
                    self.len = n.min(CHUNK_LEN);
                }
                Err(e) if is_idle(e.kind()) => return Ok(None),
                Err(e) => return Err(ClientError::Transport(e.kind())),
            }
        }
        Ok(self.process(clock.now_ms()))
    }

    /// Writes every queued control frame.
    pub(crate) fn flush_queued<T: Write + ?Sized>(
        &mut self,
        transport: &mut T,
    ) -> Result<(), ClientError> {
        let mut wrote = false;
        while let Some(n) = self.core.poll_transmit(&mut self.tx)? {
            transport
                .write_all(self.tx.get(..n).unwrap_or_default())
                .map_err(transport_error)?;
            wrote = true;
        }
        if wrote {
            transport.flush().map_err(transport_error)?;
        }
        Ok(())
    }

    /// Takes the result of one `read` into [`chunk`](Self::chunk): `Ok(0)` is
    /// [`ClientError::Closed`], an idle kind (timed out, interrupted) is nothing yet.
    pub(crate) fn on_read(&mut self, read: Result<usize, ErrorKind>) -> Result<(), ClientError> {
        match read {
            Ok(0) => Err(ClientError::Closed),
            Ok(n) => {
                self.pos = 0;
                self.len = n.min(CHUNK_LEN);
                Ok(())
            }
            Err(kind) if is_idle(kind) => Ok(()),
            Err(kind) => Err(ClientError::Transport(kind)),
        }
    }

    /// Feeds the buffered chunk and returns what it produced for the application.
    pub(crate) fn process(&mut self, now_ms: u64) -> Option<Incoming<'_>> {
        match self.feed(now_ms) {
            Fed::Empty => None,
            Fed::Event => self.core.poll_event().map(Incoming::Link),
            Fed::Message => match self.decoder.last_frame() {
                Some(
                    frame::Frame::Publish { topic, payload }
                    | frame::Frame::PublishDeclare { topic, payload, .. },
                ) => Some(Incoming::Message(Message { topic, payload })),
                Some(frame::Frame::PublishAlias { alias, payload }) => self
                    .core
                    .rx_alias_topic(alias)
                    .map(|topic| Incoming::Message(Message { topic, payload })),
                _ => None,
            },
        }
    }

    /// Feeds `chunk[pos..len]` to the decoder until a message or event is waiting.
    pub(crate) fn feed(&mut self, now_ms: u64) -> Fed {
        while self.pos < self.len {
            let input = self.chunk.get(self.pos..self.len).unwrap_or_default();
            let (remaining, message) = match self.decoder.feed(input) {
                FeedResult::Consumed => (0, false),
                FeedResult::Frame { frame, remaining } => {
                    (remaining.len(), self.core.on_frame(&frame, now_ms))
                }
                FeedResult::Corrupt { kind, remaining } => {
                    self.core.on_corrupt(kind);
                    (remaining.len(), false)
                }
                FeedResult::Oversized { remaining } => {
                    self.core.on_oversized();
                    (remaining.len(), false)
                }
            };
            self.pos = self.len.saturating_sub(remaining);
            if message {
                return Fed::Message;
            }
            if self.core.has_events() {
                return Fed::Event;
            }
        }
        Fed::Empty
    }
}

/// Read error kinds that mean "no data yet" under the transport contract.
pub(crate) fn is_idle(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::TimedOut | ErrorKind::Interrupted)
}

pub(crate) fn transport_error<E: embedded_io::Error>(e: E) -> ClientError {
    ClientError::Transport(e.kind())
}

pub(crate) fn write_flush<T: Write + ?Sized>(
    transport: &mut T,
    bytes: &[u8],
) -> Result<(), ClientError> {
    transport.write_all(bytes).map_err(transport_error)?;
    transport.flush().map_err(transport_error)
}
