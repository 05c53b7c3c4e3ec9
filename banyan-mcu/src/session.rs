//! [`EchoSession`]: the echo client as a sans-IO state machine.
//!
//! The session never touches a transport or a clock. A driver ([`EchoClient::run`](crate::EchoClient::run),
//! `EchoClient::run_async` with the `async` feature, or your own) feeds it decoded frames and the current time, and
//! writes out the bytes it asks for:
//!
//! ```text
//!             ┌───────────── poll_transmit(buf) ─────────────▶ transport.write_all
//!  EchoSession┤◀──────────── on_frame(frame, now) ◀── FrameDecoder ◀── transport.read
//!             └◀──────────── on_tick(now)   (deadline passed? re-send)
//! ```
//!
//! # Protocol
//!
//! 1. **Handshake**: send `Hello` and wait for the gateway's `Hello`, which proves that the
//!    gateway has processed ours and reset this link's subscriptions. Then send
//!    `Subscribe { reply_topic }` — once per handshake — and the outstanding message. (With
//!    [`EchoConfig::await_peer_hello`] off, `Hello`, `Subscribe` and the message go out
//!    together.)
//! 2. **Echo**: publish `{number_key: n}` on `publish_topic`, starting at `first_number`, and
//!    wait for the same number on `reply_topic`. Count it, then send `n - 1`; after the reply to
//!    0 the run is finished (`first_number + 1` messages, as the seed's client).
//! 3. A reply for a number already counted (greater than the outstanding one) is a
//!    **duplicate** and is not counted again; anything else on the reply topic is ignored.
//! 4. When the deadline (`timeout_ms` after the last send or progress) passes: if the
//!    subscription is confirmed (a reply arrived since the last handshake) and this is the
//!    first timeout in a row, the outstanding message alone is re-sent; otherwise the client
//!    goes back to the handshake (a lost `Hello` or `Subscribe` is repaired that way).
//! 5. A gateway `Hello` with a new boot nonce (the gateway restarted and forgot the
//!    subscription) starts a new handshake. `Ping` is answered with `Pong`.
//! 6. After [`EchoConfig::max_retries`] consecutive timeouts without a counted reply the run
//!    fails with [`ClientError::NoReply`].
//!
//! ## Why subscribe only after the gateway's `Hello`
//!
//! The gateway counts subscriptions as ZeroMQ does (two `Subscribe`s need two `Unsubscribe`s)
//! and a `Hello` clears them. Sending `Subscribe` only in answer to the gateway's `Hello`, once
//! per handshake, keeps the count of `reply_topic` at one when frames are lost or corrupted:
//! a lost `Hello` gets no answer and so no `Subscribe` follows it, and a lost `Subscribe` ends
//! in a timeout and a new handshake. (Sending `Hello` + `Subscribe` blindly is not idempotent
//! on a lossy link: a `Hello` lost before a `Subscribe` that arrives leaves a second
//! reference.) The remaining corner — a stale, duplicated gateway `Hello` arriving after a
//! lost `Hello` — can leave one extra reference until the next `Hello` reaches the gateway;
//! for this client that is harmless, since it never unsubscribes and a message matching a
//! subscription is delivered once however often it is counted.
//!
//! Several clients on one backplane share the seed's `echo`/`reply` topics and would count
//! each other's replies; give each its own `reply_topic` (and an echo server that answers on
//! it) if that matters.

use banyan_proto::frame::{self, CorruptKind, Frame, PROTOCOL_VERSION};
use banyan_proto::payload::{MapReader, MapWriter};

use crate::{ClientError, Event, Observer};

/// Longest `publish_topic` / `reply_topic` the client's transmit buffer holds.
pub const MAX_TOPIC_LEN: usize = 64;

/// Longest `number_key` the client's payload buffer holds.
pub const MAX_KEY_LEN: usize = 32;

/// Payload buffer: map header (1) + key (str 8 header 2 + key) + u32 (up to 5).
const PAYLOAD_CAP: usize = 1 + 2 + MAX_KEY_LEN + 5;

/// Largest body the session ever encodes: tag, two varint lengths of up to 2 bytes, topic and
/// payload.
const MAX_TX_BODY: usize = 1 + 2 + MAX_TOPIC_LEN + 2 + PAYLOAD_CAP;

/// Size of a buffer that holds any bytes [`EchoSession::poll_transmit`] produces: a leading
/// 0x00 (sent before each `Hello`) and the largest encoded frame.
pub const TX_BUF_LEN: usize = 1 + frame::max_encoded_len(MAX_TX_BODY);

/// What the echo client does; [`EchoConfig::seed`] is the seed's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EchoConfig<'a> {
    /// Topic of the outgoing messages (`"echo"`). At most [`MAX_TOPIC_LEN`] bytes.
    pub publish_topic: &'a str,
    /// Topic subscribed to and expected on replies (`"reply"`); a reply must carry exactly this
    /// topic. At most [`MAX_TOPIC_LEN`] bytes.
    pub reply_topic: &'a str,
    /// Map key of the message number (`"message_number"`). At most [`MAX_KEY_LEN`] bytes.
    pub number_key: &'a str,
    /// The first message number (`10`); the run sends `first_number + 1` messages, counting
    /// down to 0.
    pub first_number: u32,
    /// How long to wait for a reply (or the gateway's `Hello`) before re-sending, in ms.
    pub timeout_ms: u32,
    /// Consecutive timeouts tolerated before the run fails with
    /// [`ClientError::NoReply`]; `None` retries forever (a device waiting for its gateway).
    pub max_retries: Option<u32>,
    /// Wait for the gateway's `Hello` before subscribing and publishing (the handshake, see
    /// the [module docs](self)). `false` for a peer that does not answer `Hello`.
    pub await_peer_hello: bool,
    /// Sent in `Hello`: a value drawn at boot (random, or a boot counter) so that the gateway
    /// can tell a restart.
    pub boot_nonce: u32,
}

impl EchoConfig<'static> {
    /// The seed's client: `{"message_number": 10}` on `"echo"`, replies on `"reply"`, counting
    /// down to 0; 1 s timeout, at most 20 consecutive timeouts, waits for the gateway's `Hello`.
    pub const fn seed(boot_nonce: u32) -> Self {
        Self {
            publish_topic: "echo",
            reply_topic: "reply",
            number_key: "message_number",
            first_number: 10,
            timeout_ms: 1000,
            max_retries: Some(20),
            await_peer_hello: true,
            boot_nonce,
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// Not started.
    Idle,
    /// `Hello` sent, waiting for the gateway's.
    Handshake,
    /// Exchanging echo messages.
    Echo,
    /// Every reply arrived.
    Done,
    /// Gave up after too many timeouts.
    Failed,
}

/// Counters of a run, returned when it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EchoSummary {
    /// Distinct replies counted: `first_number + 1` when the run is complete.
    pub received: u32,
    /// Echo messages transmitted, re-sends included.
    pub sent: u32,
    /// Replies that arrived again after being counted.
    pub duplicates: u32,
    /// Deadlines that passed (each caused a re-send).
    pub timeouts: u32,
    /// Frames dropped because they were corrupt or oversized.
    pub bad_frames: u32,
    /// `Publish` frames on the reply topic that were not replies of this run.
    pub unexpected: u32,
}

/// Frames waiting to be written, coalesced: each kind at most once.
#[derive(Debug, Clone, Copy, Default)]
struct Outbox {
    hello: bool,
    subscribe: bool,
    publish: bool,
    pong: Option<u32>,
}

/// The echo client's protocol logic, without I/O (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct EchoSession<'a> {
    config: EchoConfig<'a>,
    /// Largest frame body announced in our `Hello`.
    max_frame: u16,
    phase: Phase,
    /// The outstanding message number.
    current: u32,
    /// Transmissions of `current` so far.
    attempt: u32,
    /// Consecutive timeouts without progress.
    retries: u32,
    deadline_ms: u64,
    peer_nonce: Option<u32>,
    /// A reply arrived since our last `Hello`: the gateway holds our subscription.
    subscription_confirmed: bool,
    outbox: Outbox,
    stats: EchoSummary,
    failure: Option<ClientError>,
}

impl<'a> EchoSession<'a> {
    /// A session that will announce `max_frame` (the largest frame body its receiver accepts)
    /// in its `Hello`.
    pub const fn new(config: EchoConfig<'a>, max_frame: u16) -> Self {
        Self {
            current: config.first_number,
            config,
            max_frame,
            phase: Phase::Idle,
            attempt: 0,
            retries: 0,
            deadline_ms: 0,
            peer_nonce: None,
            subscription_confirmed: false,
            outbox: Outbox {
                hello: false,
                subscribe: false,
                publish: false,
                pong: None,
            },
            stats: EchoSummary {
                received: 0,
                sent: 0,
                duplicates: 0,
                timeouts: 0,
                bad_frames: 0,
                unexpected: 0,
            },
            failure: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EchoConfig<'a> {
        &self.config
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Counters so far.
    pub fn stats(&self) -> EchoSummary {
        self.stats
    }

    /// When [`on_tick`](Self::on_tick) will next act, in the clock's milliseconds; `None` when
    /// the session is idle or over.
    pub fn deadline_ms(&self) -> Option<u64> {
        match self.phase {
            Phase::Handshake | Phase::Echo => Some(self.deadline_ms),
            Phase::Idle | Phase::Done | Phase::Failed => None,
        }
    }

    /// `None` while the run goes on; the summary when it completed, or why it failed.
    /// Frames still queued (a final `Pong`) do not matter once it is over.
    pub fn outcome(&self) -> Option<Result<EchoSummary, ClientError>> {
        match (self.phase, self.failure) {
            (Phase::Done, _) => Some(Ok(self.stats)),
            (Phase::Failed, Some(e)) => Some(Err(e)),
            _ => None,
        }
    }

    /// Starts the run at time `now_ms`: queues `Hello` + `Subscribe` (and the first message if
    /// not waiting for the gateway). Does nothing if already started.
    pub fn start(&mut self, now_ms: u64, observer: &mut impl Observer) {
        if self.phase != Phase::Idle {
            return;
        }
        info!(
            "echo client: {=u32} messages on {=str}, replies on {=str}",
            self.config.first_number + 1,
            self.config.publish_topic,
            self.config.reply_topic
        );
        self.begin_handshake(observer);
        self.deadline_ms = now_ms.saturating_add(self.config.timeout_ms.into());
    }

    /// Handles one frame from the gateway, received at `now_ms`.
    pub fn on_frame(&mut self, frame: &Frame<'_>, now_ms: u64, observer: &mut impl Observer) {
        match *frame {
            Frame::Hello {
                version,
                max_frame,
                boot_nonce,
            } => self.on_peer_hello(version, max_frame, boot_nonce, now_ms, observer),
            Frame::Publish { topic, payload } => self.on_publish(topic, payload, now_ms, observer),
            Frame::Ping { seq } => {
                trace!("ping {=u32}", seq);
                self.outbox.pong = Some(seq);
                observer.on_event(Event::Ping { seq });
            }
            Frame::Pong { .. } | Frame::Subscribe { .. } | Frame::Unsubscribe { .. } => {
                debug!("ignoring a frame the gateway should not send");
            }
        }
    }

    /// Records a frame the decoder rejected.
    pub fn on_corrupt(&mut self, kind: CorruptKind, observer: &mut impl Observer) {
        warn!("dropped a corrupt frame: {}", kind);
        self.stats.bad_frames += 1;
        observer.on_event(Event::Corrupt { kind });
    }

    /// Records a frame too large for the receive buffer.
    pub fn on_oversized(&mut self, observer: &mut impl Observer) {
        warn!("dropped an oversized frame");
        self.stats.bad_frames += 1;
        observer.on_event(Event::Oversized);
    }

    /// Checks the deadline at `now_ms`: when it has passed, queues the re-sends (see the
    /// [module docs](self)), or fails after too many timeouts in a row. Call it whenever the
    /// transport had nothing (or after handling what it had).
    ///
    /// # Errors
    /// [`ClientError::NoReply`] once [`EchoConfig::max_retries`] is exceeded; the session is
    /// then [`Phase::Failed`].
    pub fn on_tick(
        &mut self,
        now_ms: u64,
        observer: &mut impl Observer,
    ) -> Result<(), ClientError> {
        if !matches!(self.phase, Phase::Handshake | Phase::Echo) || now_ms < self.deadline_ms {
            return Ok(());
        }
        self.retries += 1;
        self.stats.timeouts += 1;
        let number = (self.phase == Phase::Echo).then_some(self.current);
        if self
            .config
            .max_retries
            .is_some_and(|max| self.retries > max)
        {
            let e = ClientError::NoReply {
                number,
                timeouts: self.retries,
            };
            error!("giving up: {}", e);
            self.phase = Phase::Failed;
            self.failure = Some(e);
            return Err(e);
        }
        let resubscribe =
            self.phase == Phase::Handshake || !self.subscription_confirmed || self.retries >= 2;
        match number {
            Some(n) => warn!(
                "timeout {=u32} waiting for reply {=u32}; new handshake: {=bool}",
                self.retries, n, resubscribe
            ),
            None => warn!(
                "timeout {=u32} waiting for the gateway's hello",
                self.retries
            ),
        }
        observer.on_event(Event::Timeout {
            number,
            consecutive: self.retries,
            resubscribe,
        });
        if resubscribe {
            self.begin_handshake(observer);
        } else {
            self.outbox.publish = true;
        }
        self.deadline_ms = now_ms.saturating_add(self.config.timeout_ms.into());
        Ok(())
    }

    /// Takes the next queued frame and writes its wire bytes into `buf` (a leading 0x00
    /// delimiter before a `Hello`, flushing whatever half frame the gateway may hold; then the
    /// frame with its delimiter). Returns how many bytes to write, or `None` when nothing is
    /// queued. [`TX_BUF_LEN`] bytes always suffice.
    ///
    /// # Errors
    /// [`ClientError::Encode`] / [`ClientError::Payload`] when `buf` or a configured string is
    /// too long for the buffers; the frame is dropped from the queue.
    pub fn poll_transmit(
        &mut self,
        buf: &mut [u8],
        observer: &mut impl Observer,
    ) -> Result<Option<usize>, ClientError> {
        let topic_of = |s: &'a str| s.as_bytes();
        if self.outbox.hello {
            self.outbox.hello = false;
            let (first, rest) = buf
                .split_first_mut()
                .ok_or(ClientError::Encode(frame::FrameError::BufferTooSmall))?;
            *first = frame::DELIMITER;
            let hello = Frame::hello(self.max_frame, self.config.boot_nonce);
            return Ok(Some(1 + frame::encode(&hello, rest)?));
        }
        if self.outbox.subscribe {
            self.outbox.subscribe = false;
            let subscribe = Frame::Subscribe {
                topic: topic_of(self.config.reply_topic),
            };
            return Ok(Some(frame::encode(&subscribe, buf)?));
        }
        if self.outbox.publish {
            self.outbox.publish = false;
            let mut payload = [0u8; PAYLOAD_CAP];
            let mut map = MapWriter::new(&mut payload, 1)?;
            map.entry(self.config.number_key, &self.current)?;
            let len = map.finish()?;
            let publish = Frame::Publish {
                topic: topic_of(self.config.publish_topic),
                payload: payload.get(..len).unwrap_or_default(),
            };
            let n = frame::encode(&publish, buf)?;
            self.attempt += 1;
            self.stats.sent += 1;
            debug!("send {=u32} (attempt {=u32})", self.current, self.attempt);
            observer.on_event(Event::Sent {
                number: self.current,
                attempt: self.attempt,
            });
            return Ok(Some(n));
        }
        if let Some(seq) = self.outbox.pong.take() {
            return Ok(Some(frame::encode(&Frame::Pong { seq }, buf)?));
        }
        Ok(None)
    }

    /// Queues a `Hello`. With the handshake, the `Subscribe` and the outstanding message wait
    /// for the gateway's answer; without it, they follow at once.
    fn begin_handshake(&mut self, observer: &mut impl Observer) {
        self.outbox.hello = true;
        self.outbox.subscribe = false;
        self.outbox.publish = false;
        self.subscription_confirmed = false;
        debug!("hello");
        observer.on_event(Event::Hello {
            boot_nonce: self.config.boot_nonce,
            max_frame: self.max_frame,
        });
        if self.config.await_peer_hello {
            self.phase = Phase::Handshake;
        } else {
            self.outbox.subscribe = true;
            self.enter_echo(observer);
        }
    }

    fn enter_echo(&mut self, observer: &mut impl Observer) {
        self.phase = Phase::Echo;
        self.outbox.publish = true;
        info!("connected");
        observer.on_event(Event::Connected);
    }

    fn on_peer_hello(
        &mut self,
        version: u8,
        max_frame: u16,
        boot_nonce: u32,
        now_ms: u64,
        observer: &mut impl Observer,
    ) {
        let restarted = self.peer_nonce.is_some_and(|seen| seen != boot_nonce);
        self.peer_nonce = Some(boot_nonce);
        if version != PROTOCOL_VERSION {
            warn!("gateway speaks protocol version {=u8}", version);
        }
        debug!(
            "gateway hello: max_frame {=u16}, nonce {=u32}, restarted {=bool}",
            max_frame, boot_nonce, restarted
        );
        observer.on_event(Event::PeerHello {
            version,
            max_frame,
            boot_nonce,
            restarted,
        });
        match self.phase {
            Phase::Handshake => {
                // The gateway has processed a Hello of ours (its subscriptions for us are
                // reset): subscribe once, then send the outstanding message.
                self.outbox.subscribe = true;
                self.enter_echo(observer);
            }
            Phase::Echo if restarted => self.begin_handshake(observer),
            _ => return,
        }
        self.deadline_ms = now_ms.saturating_add(self.config.timeout_ms.into());
    }

    fn on_publish(
        &mut self,
        topic: &[u8],
        payload: &[u8],
        now_ms: u64,
        observer: &mut impl Observer,
    ) {
        if topic != self.config.reply_topic.as_bytes() || self.phase != Phase::Echo {
            debug!("ignoring a publish outside the echo phase or topic");
            self.unexpected(observer);
            return;
        }
        let number = MapReader::new(payload)
            .ok()
            .and_then(|map| map.get(self.config.number_key))
            .and_then(|value| value.as_u64())
            .and_then(|n| u32::try_from(n).ok());
        match number {
            Some(n) if n == self.current => {
                self.stats.received += 1;
                self.retries = 0;
                self.subscription_confirmed = true;
                info!("reply {=u32}", n);
                observer.on_event(Event::Received {
                    number: n,
                    count: self.stats.received,
                });
                if n == 0 {
                    self.phase = Phase::Done;
                    self.outbox.publish = false;
                    info!(
                        "{=u32} messages sent and received.",
                        self.config.first_number
                    );
                    observer.on_event(Event::Finished {
                        first_number: self.config.first_number,
                        count: self.stats.received,
                    });
                } else {
                    self.current = n - 1;
                    self.attempt = 0;
                    self.outbox.publish = true;
                    self.deadline_ms = now_ms.saturating_add(self.config.timeout_ms.into());
                }
            }
            Some(n) if n > self.current && n <= self.config.first_number => {
                self.stats.duplicates += 1;
                debug!("duplicate reply {=u32}", n);
                observer.on_event(Event::Duplicate { number: n });
            }
            _ => self.unexpected(observer),
        }
    }

    fn unexpected(&mut self, observer: &mut impl Observer) {
        self.stats.unexpected += 1;
        observer.on_event(Event::Unexpected);
    }
}
