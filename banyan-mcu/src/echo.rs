//! [`EchoClient`]: the seed's echo client as a small application of [`Client`].
//!
//! # Behaviour
//!
//! 1. Subscribe to `reply_topic` and wait until the gateway confirms it is in force
//!    ([`LinkEvent::Subscribed`]): the handshake, re-sends and re-subscriptions are the
//!    [`Client`]'s business.
//! 2. Publish `{number_key: n}` on `publish_topic`, starting at `first_number`, and wait for the
//!    same number on `reply_topic`. Count it, then send `n - 1`; after the reply to 0 the run
//!    is finished (`first_number + 1` messages, as the seed's client).
//! 3. A reply for a number already counted (greater than the outstanding one) is a
//!    **duplicate** and is not counted again; anything else on the reply topic is ignored.
//! 4. When no reply comes within `timeout_ms`, the outstanding message is re-sent. When the
//!    link goes down or the gateway restarts, the client re-subscribes by itself and the
//!    outstanding message is sent again once the subscription is back in force.
//! 5. After [`EchoConfig::max_retries`] consecutive timeouts without a counted reply the run
//!    fails with [`ClientError::NoReply`].
//!
//! Several echo clients on one backplane share the seed's `echo`/`reply` topics and would
//! count each other's replies; give each its own `reply_topic` (and an echo server that
//! answers on it) if that matters.

use banyan_proto::payload::MapWriter;

use embedded_io::Error as _;

use crate::client::{Incoming, write_flush};
use crate::clock::after;
use crate::core::{ClientConfig, LinkEvent, PublishStep};
use crate::{Client, ClientError, Clock, Event, Observer};

/// Longest `publish_topic` / `reply_topic`.
pub const MAX_TOPIC_LEN: usize = 64;

/// Longest `number_key`.
pub const MAX_KEY_LEN: usize = 32;

/// Payload buffer: map header (1) + key (str 8 header 2 + key) + u32 (up to 5).
pub(crate) const PAYLOAD_CAP: usize = 1 + 2 + MAX_KEY_LEN + 5;

/// Default buffer size of the echo client's [`Client`] (each direction): frames of up to 122
/// body bytes, enough for the longest topics and key.
pub const ECHO_BUF_LEN: usize = 128;

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
    /// How long to wait for a reply (or for the link and subscription) before re-sending or
    /// counting a timeout, in ms.
    pub timeout_ms: u32,
    /// Consecutive timeouts tolerated before the run fails with
    /// [`ClientError::NoReply`]; `None` retries forever (a device waiting for its gateway).
    pub max_retries: Option<u32>,
    /// The [`Client`]'s configuration (boot nonce, re-send and keep-alive timing).
    pub client: ClientConfig,
}

impl EchoConfig<'static> {
    /// The seed's client: `{"message_number": 10}` on `"echo"`, replies on `"reply"`, counting
    /// down to 0; 1 s timeout, at most 20 consecutive timeouts.
    pub const fn seed(boot_nonce: u32) -> Self {
        Self {
            publish_topic: "echo",
            reply_topic: "reply",
            number_key: "message_number",
            first_number: 10,
            timeout_ms: 1000,
            max_retries: Some(20),
            client: ClientConfig::new(boot_nonce),
        }
    }
}

/// Where an echo run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// Not started.
    Idle,
    /// Waiting for the link and the reply subscription.
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
    /// Deadlines that passed without progress.
    pub timeouts: u32,
    /// Frames dropped because they were corrupt or oversized.
    pub bad_frames: u32,
    /// Messages on the reply topic that were not replies of this run.
    pub unexpected: u32,
}

/// The seed's echo client on a [`Client`] whose buffers are `B` bytes each way.
#[derive(Debug, Clone)]
pub struct EchoClient<'a, const B: usize = ECHO_BUF_LEN> {
    pub(crate) client: Client<1, MAX_TOPIC_LEN, B, 0>,
    pub(crate) config: EchoConfig<'a>,
    phase: Phase,
    /// The outstanding message number.
    current: u32,
    /// Transmissions of `current` so far.
    attempt: u32,
    /// Consecutive timeouts without progress.
    retries: u32,
    deadline_ms: u64,
    /// `current` must be (re-)sent.
    pub(crate) send: bool,
    stats: EchoSummary,
    failure: Option<ClientError>,
}

impl<'a, const B: usize> EchoClient<'a, B> {
    /// A client for `config`.
    pub const fn new(config: EchoConfig<'a>) -> Self {
        Self {
            client: Client::new(config.client),
            current: config.first_number,
            config,
            phase: Phase::Idle,
            attempt: 0,
            retries: 0,
            deadline_ms: 0,
            send: false,
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

    /// The underlying [`Client`] (link state, counters).
    pub fn client(&self) -> &Client<1, MAX_TOPIC_LEN, B, 0> {
        &self.client
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Counters so far.
    pub fn stats(&self) -> EchoSummary {
        let client = self.client.stats();
        EchoSummary {
            bad_frames: client.corrupt.saturating_add(client.oversized),
            ..self.stats
        }
    }

    /// `None` while the run goes on; the summary when it completed, or why it failed.
    pub fn outcome(&self) -> Option<Result<EchoSummary, ClientError>> {
        match (self.phase, self.failure) {
            (Phase::Done, _) => Some(Ok(self.stats())),
            (Phase::Failed, Some(e)) => Some(Err(e)),
            _ => None,
        }
    }

    /// Runs the echo over a blocking transport until it completes or fails (the transport
    /// contract of [`Client::poll`]). A finished client returns its outcome again.
    ///
    /// # Errors
    /// [`ClientError::NoReply`] after too many timeouts, [`ClientError::Closed`] when `read`
    /// returns 0, [`ClientError::Transport`] for any other transport error, configuration
    /// errors (a topic longer than [`MAX_TOPIC_LEN`], a key longer than [`MAX_KEY_LEN`]).
    pub fn run<T, C, O>(
        &mut self,
        transport: &mut T,
        clock: &C,
        observer: &mut O,
    ) -> Result<EchoSummary, ClientError>
    where
        T: embedded_io::Read + embedded_io::Write + ?Sized,
        C: Clock + ?Sized,
        O: Observer,
    {
        self.start(clock.now_ms())?;
        loop {
            match self.turn(clock.now_ms(), observer)? {
                Io::Done(outcome) => return outcome,
                Io::Write { len, publish } => {
                    write_flush(transport, self.client.tx.get(..len).unwrap_or_default())?;
                    if publish {
                        self.on_sent(true, clock.now_ms(), observer);
                    }
                }
                Io::Read { .. } => {
                    let read = transport.read(&mut self.client.chunk);
                    self.client.on_read(read.map_err(|e| e.kind()))?;
                }
            }
        }
    }

    /// The sans-IO turn both drivers share: runs everything that needs no transport at
    /// `now_ms` (the client's timers, the bytes already read, the echo's own steps) and says
    /// what the transport must do next. A driver does it ([`Io::Write`]: then
    /// [`on_sent`](Self::on_sent) for the echo message; [`Io::Read`]: into the client's
    /// chunk, [`Client::on_read`]) and calls `turn` again.
    pub(crate) fn turn(
        &mut self,
        now_ms: u64,
        observer: &mut impl Observer,
    ) -> Result<Io, ClientError> {
        loop {
            if let Some(outcome) = self.outcome() {
                return Ok(Io::Done(outcome));
            }
            let core = &mut self.client.core;
            core.start(now_ms);
            core.on_tick(now_ms);
            if let Some(len) = core.poll_transmit(&mut self.client.tx)? {
                return Ok(Io::Write {
                    len,
                    publish: false,
                });
            }
            // Input now may queue answers (a `Pong`): then this turn goes round again.
            let had_input = self.client.pos < self.client.len || self.client.core.has_events();
            let (reply_topic, key) = (self.config.reply_topic, self.config.number_key);
            let step = match self.client.core.poll_event() {
                Some(event) => Some(Step::Link(event)),
                None => self
                    .client
                    .process(now_ms)
                    .map(|incoming| Step::of(&incoming, reply_topic, key)),
            };
            if let Some(step) = step {
                self.on_step(step, now_ms, observer);
            }
            if self.send
                && let Some(io) = self.publish_io(now_ms, observer)?
            {
                return Ok(io);
            }
            self.on_tick(now_ms, observer)?;
            if !had_input {
                // Nothing left to do without input: wait for bytes or the next deadline.
                let deadline = self
                    .client
                    .core
                    .next_deadline_ms()
                    .map_or(self.deadline_ms, |at| at.min(self.deadline_ms));
                return Ok(Io::Read {
                    wait_ms: deadline.saturating_sub(now_ms),
                });
            }
        }
    }

    /// Encodes the outstanding message (or the batch that must go before it).
    fn publish_io(
        &mut self,
        now_ms: u64,
        observer: &mut impl Observer,
    ) -> Result<Option<Io>, ClientError> {
        let mut payload = [0u8; PAYLOAD_CAP];
        let len = self.payload(&mut payload)?;
        let topic = self.config.publish_topic.as_bytes();
        let payload = payload.get(..len).unwrap_or_default();
        let client = &mut self.client;
        Ok(
            match client.core.publish_step(topic, payload, &mut client.tx)? {
                PublishStep::Offline => {
                    self.on_sent(false, now_ms, observer);
                    None
                }
                PublishStep::Batched => {
                    self.on_sent(true, now_ms, observer);
                    None
                }
                PublishStep::Written(len) => Some(Io::Write { len, publish: true }),
                PublishStep::BatchedFull => Some(Io::Write {
                    len: client.core.encode_batch(&mut client.tx)?,
                    publish: true,
                }),
                PublishStep::FlushFirst => Some(Io::Write {
                    len: client.core.encode_batch(&mut client.tx)?,
                    publish: false,
                }),
            },
        )
    }

    /// Subscribes to the reply topic (once).
    pub(crate) fn start(&mut self, now_ms: u64) -> Result<(), ClientError> {
        if self.phase != Phase::Idle {
            return Ok(());
        }
        if self.config.publish_topic.len() > MAX_TOPIC_LEN {
            return Err(ClientError::TopicTooLong);
        }
        self.client.subscribe(self.config.reply_topic)?;
        info!(
            "echo client: {=u32} messages on {=str}, replies on {=str}",
            self.config.first_number.saturating_add(1),
            self.config.publish_topic,
            self.config.reply_topic
        );
        self.phase = Phase::Handshake;
        self.deadline_ms = after(now_ms, self.config.timeout_ms);
        Ok(())
    }

    /// The payload of the outstanding message.
    pub(crate) fn payload(&self, buf: &mut [u8; PAYLOAD_CAP]) -> Result<usize, ClientError> {
        let mut map = MapWriter::new(buf, 1)?;
        map.entry(self.config.number_key, &self.current)?;
        Ok(map.finish()?)
    }

    pub(crate) fn on_sent(&mut self, sent: bool, now_ms: u64, observer: &mut impl Observer) {
        if !sent {
            // The link went down under us: the message goes out when it is back.
            return;
        }
        self.send = false;
        self.attempt = self.attempt.saturating_add(1);
        self.stats.sent = self.stats.sent.saturating_add(1);
        self.deadline_ms = after(now_ms, self.config.timeout_ms);
        debug!("send {=u32} (attempt {=u32})", self.current, self.attempt);
        observer.on_event(Event::Sent {
            number: self.current,
            attempt: self.attempt,
        });
    }

    pub(crate) fn on_step(&mut self, step: Step, now_ms: u64, observer: &mut impl Observer) {
        match step {
            Step::Link(event) => {
                observer.on_event(Event::Link(event));
                match event {
                    LinkEvent::Subscribed if self.phase == Phase::Handshake => {
                        info!("connected");
                        observer.on_event(Event::Connected);
                        self.phase = Phase::Echo;
                        self.send = true;
                        self.deadline_ms = after(now_ms, self.config.timeout_ms);
                    }
                    LinkEvent::Down | LinkEvent::GatewayRestarted { .. }
                        if self.phase == Phase::Echo =>
                    {
                        // The reply subscription is being re-established; resume when it is.
                        self.phase = Phase::Handshake;
                        self.send = false;
                    }
                    _ => {}
                }
            }
            Step::Reply(number) => self.on_reply(number, now_ms, observer),
            Step::Other => {
                self.stats.unexpected = self.stats.unexpected.saturating_add(1);
                observer.on_event(Event::Unexpected);
            }
        }
    }

    fn on_reply(&mut self, number: Option<u32>, now_ms: u64, observer: &mut impl Observer) {
        match number {
            Some(n) if n == self.current && self.phase == Phase::Echo => {
                self.stats.received = self.stats.received.saturating_add(1);
                self.retries = 0;
                info!("reply {=u32}", n);
                observer.on_event(Event::Received {
                    number: n,
                    count: self.stats.received,
                });
                if n == 0 {
                    self.phase = Phase::Done;
                    self.send = false;
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
                    self.send = true;
                    self.deadline_ms = after(now_ms, self.config.timeout_ms);
                }
            }
            Some(n) if n > self.current && n <= self.config.first_number => {
                self.stats.duplicates = self.stats.duplicates.saturating_add(1);
                debug!("duplicate reply {=u32}", n);
                observer.on_event(Event::Duplicate { number: n });
            }
            _ => {
                self.stats.unexpected = self.stats.unexpected.saturating_add(1);
                observer.on_event(Event::Unexpected);
            }
        }
    }

    /// Checks the deadline: re-send, or fail after too many timeouts in a row.
    pub(crate) fn on_tick(
        &mut self,
        now_ms: u64,
        observer: &mut impl Observer,
    ) -> Result<(), ClientError> {
        if !matches!(self.phase, Phase::Handshake | Phase::Echo) || now_ms < self.deadline_ms {
            return Ok(());
        }
        self.retries = self.retries.saturating_add(1);
        self.stats.timeouts = self.stats.timeouts.saturating_add(1);
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
            error!("giving up after {=u32} timeouts", self.retries);
            self.phase = Phase::Failed;
            self.failure = Some(e);
            return Err(e);
        }
        warn!("timeout {=u32}", self.retries);
        observer.on_event(Event::Timeout {
            number,
            consecutive: self.retries,
        });
        if self.phase == Phase::Echo {
            self.send = true;
        }
        self.deadline_ms = after(now_ms, self.config.timeout_ms);
        Ok(())
    }
}

/// What an [`EchoClient`]'s transport must do next ([`EchoClient::turn`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Io {
    /// Write and flush the first `len` bytes of the client's transmit buffer; `publish`: it
    /// is the outstanding echo message.
    Write { len: usize, publish: bool },
    /// Nothing to do until bytes arrive or `wait_ms` pass (a hint for drivers that can wait
    /// on both; a blocking read returns within its own timeout).
    Read {
        #[cfg_attr(not(feature = "async"), allow(dead_code))]
        wait_ms: u64,
    },
    /// The run is over, with this outcome.
    Done(Result<EchoSummary, ClientError>),
}

/// What one poll gave the echo, without borrowing the client.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    Link(LinkEvent),
    /// A message on the reply topic, with the number it carries if any.
    Reply(Option<u32>),
    /// A message on another topic matched by the subscription prefix.
    Other,
}

impl Step {
    pub(crate) fn of(incoming: &Incoming<'_>, reply_topic: &str, key: &str) -> Self {
        match incoming {
            Incoming::Link(event) => Step::Link(*event),
            Incoming::Message(m) if m.topic == reply_topic.as_bytes() => Step::Reply(
                m.map()
                    .ok()
                    .and_then(|map| map.get(key))
                    .and_then(|v| v.as_u64())
                    .and_then(|n| u32::try_from(n).ok()),
            ),
            Incoming::Message(_) => Step::Other,
        }
    }
}
