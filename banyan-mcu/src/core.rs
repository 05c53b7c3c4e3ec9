//! [`ClientCore`]: the general Banyan client as a sans-IO state machine.
//!
//! The core never touches a transport or a clock. A driver ([`Client::poll`](crate::Client::poll),
//! `Client::poll_async` with the `async` feature, or your own) feeds it decoded frames and the
//! time, asks it for the bytes to write, and hands its events to the application:
//!
//! ```text
//!            ┌── poll_transmit(now, buf) ──────────────▶ transport.write_all
//!  ClientCore┤◀─ on_frame(frame, now) ◀── FrameDecoder ◀── transport.read
//!            ├◀─ subscribe / unsubscribe (application)
//!            ├── encode_publish(topic, payload, buf) ──▶ transport.write_all
//!            └── poll_event() ─────────────────────────▶ application (LinkEvent)
//! ```
//!
//! # Protocol
//!
//! 1. **Handshake.** The core sends `Hello` (its boot nonce and the largest frame body it
//!    accepts) every [`ClientConfig::retry_ms`] until the gateway's `Hello` answers. A `Hello`
//!    resets the link's subscriptions at the gateway, so the core then (re-)sends every
//!    subscription. The link is **up** ([`LinkEvent::Up`]).
//! 2. **Subscriptions.** Each topic is sent as `Subscribe` until the gateway confirms it with
//!    `Subscribed` (it is then in force on the backplane), re-sent every `retry_ms` while
//!    unconfirmed. `Unsubscribe` likewise until `Unsubscribed`. On the link subscriptions are
//!    a set (see `banyan_proto::frame`), so re-sends and duplicated frames are harmless, and a
//!    re-subscription never makes the backplane deliver a message twice. An `Unsubscribed`
//!    answer to a `Subscribe` means the gateway refused it ([`SubState::Refused`]); it is
//!    asked again, more slowly (every 8 × `retry_ms`).
//! 3. **Keep-alive.** While up, the core pings every [`ClientConfig::ping_interval_ms`]. When
//!    no `Pong` has come for [`ClientConfig::link_timeout_ms`] the link is **down**
//!    ([`LinkEvent::Down`]) and the core goes back to the handshake. The gateway's `Ping`s are
//!    answered.
//! 4. **Gateway restart.** A gateway `Hello` with a boot nonce other than the one seen before
//!    means the gateway restarted and lost every subscription: [`LinkEvent::GatewayRestarted`],
//!    then a new handshake (so that the gateway learns our frame limit), then `Up` and the
//!    subscriptions again — without the application doing anything.
//! 5. **Delivery.** A `Publish` from the gateway is handed to the application only when one of
//!    the application's current subscriptions is a byte prefix of its topic (ZeroMQ rules, as
//!    the backplane filters), so nothing arrives after `unsubscribe` returned, even while the
//!    gateway still has to confirm it.
//!
//! Nothing in the core allocates or panics; every buffer is fixed: `N` topics of at most `L`
//! bytes, a queue of [`EVENT_QUEUE_LEN`] events (the oldest is dropped and counted when it
//! overflows).

use banyan_proto::frame::{self, ALIAS_VERSION, CorruptKind, Frame, FrameError, PROTOCOL_VERSION};
use banyan_proto::topic;
use heapless::{Deque, Vec};

use crate::ClientError;
use crate::clock::after;

mod publish;

pub use publish::PublishStep;

/// How many [`LinkEvent`]s wait for the application before the oldest is dropped.
pub const EVENT_QUEUE_LEN: usize = 8;

/// Refused subscriptions are asked again after this many `retry_ms`.
const REFUSED_RETRY_FACTOR: u64 = 8;

/// Timing and identity of a client. [`ClientConfig::new`] gives the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientConfig {
    /// Sent in `Hello`: drawn at boot (random, or a boot counter) so that the gateway can tell
    /// that this device restarted.
    pub boot_nonce: u32,
    /// How often `Hello` (while connecting) and unconfirmed `Subscribe`/`Unsubscribe` frames
    /// are re-sent, in ms. Default 500.
    pub retry_ms: u32,
    /// How often the client pings the gateway while the link is up, in ms. Default 1000.
    pub ping_interval_ms: u32,
    /// The link is down when no `Pong` came for this long, in ms. Default 3000: three pings.
    pub link_timeout_ms: u32,
    /// Use topic aliases (protocol version 2) with a gateway that speaks them: a topic is
    /// declared once per link session, later frames carry a 1–3 byte alias. `false`
    /// announces version 1 and behaves exactly as a client before aliases. Default `true`.
    pub aliases: bool,
    /// Coalesce publishes that are ready within this many ms into one `PublishBatch` frame
    /// (one CRC), 0 = never. The first publish after an idle window goes out at once; a
    /// batch goes out when full, when a publish cannot join it, or at the first poll after
    /// its window. Needs `aliases`. Default [`DEFAULT_BATCH_WINDOW_MS`] (2).
    pub batch_window_ms: u32,
}

impl ClientConfig {
    /// Defaults: re-send every 500 ms, ping every second, down after 3 s without a `Pong`.
    pub const fn new(boot_nonce: u32) -> Self {
        Self {
            boot_nonce,
            retry_ms: 500,
            ping_interval_ms: 1000,
            link_timeout_ms: 3000,
            aliases: true,
            batch_window_ms: DEFAULT_BATCH_WINDOW_MS,
        }
    }

    /// These settings with topic aliases and batching off: the client speaks protocol
    /// version 1, every publish a full-topic `Publish` frame.
    pub const fn without_aliases(self) -> Self {
        Self {
            aliases: false,
            batch_window_ms: 0,
            ..self
        }
    }

    /// These settings with batches of publishes ready within `ms` (0 = off).
    pub const fn with_batch_window_ms(self, ms: u32) -> Self {
        Self {
            batch_window_ms: ms,
            ..self
        }
    }
}

/// Default [`ClientConfig::batch_window_ms`]: 2 ms. Measured at 115 200 baud with 1 000
/// `{'v': n}` readings/s (BENCHMARKS.md, "serial"): a blocking UART write holds the next
/// batch's readings while it sends, so a batch's cycle is its write time plus the window;
/// 5 ms gave p99 ≈ 50 ms, 2 ms p99 ≈ 13–17 ms at the same throughput headroom. 1 ms is too
/// short for a millisecond clock: readings 1 ms apart then count as "after idle" and each
/// goes out alone (807/s delivered of 1 000 offered).
pub const DEFAULT_BATCH_WINDOW_MS: u32 = 2;

/// State of the link to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkState {
    /// Not started: the driver has not polled yet.
    Idle,
    /// `Hello` sent, waiting for the gateway's answer (at start, after the link went down or
    /// the gateway restarted).
    Connecting,
    /// The gateway answered; pings are answered.
    Up,
}

/// Something the application should know about the link, from
/// [`ClientCore::poll_event`] (the drivers hand them out as [`Incoming::Link`](crate::Incoming)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkEvent {
    /// The gateway answered the handshake; subscriptions are being (re-)established.
    Up {
        /// The gateway's boot nonce.
        gateway_nonce: u32,
    },
    /// The gateway restarted (its `Hello` carries a new boot nonce) and lost every
    /// subscription; the client re-establishes them by itself. `Up` follows.
    GatewayRestarted {
        /// The new boot nonce.
        gateway_nonce: u32,
    },
    /// No `Pong` for [`ClientConfig::link_timeout_ms`]: the client reconnects by itself.
    Down,
    /// Every current subscription is confirmed in force by the gateway (after a subscribe,
    /// or after the link came back).
    Subscribed,
    /// The gateway refused a subscription (its table is full, or the topic too long); see
    /// [`ClientCore::subscription`]. The client asks again from time to time.
    Refused,
}

/// State of one subscription of the application, from [`ClientCore::subscription`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SubState {
    /// Sent (or waiting for the link) and not yet confirmed.
    Pending,
    /// Confirmed: in force on the backplane.
    InForce,
    /// The gateway refused it.
    Refused,
}

/// Counters of a client, from [`ClientCore::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientStats {
    /// Valid frames received.
    pub frames_in: u32,
    /// Frames written (handed to the driver to write).
    pub frames_out: u32,
    /// Messages published.
    pub published: u32,
    /// Publishes dropped because the link was not up.
    pub dropped_offline: u32,
    /// Messages handed to the application.
    pub delivered: u32,
    /// `Publish` frames dropped because no current subscription matches their topic.
    pub unmatched: u32,
    /// Frames dropped as corrupt (COBS, CRC or body errors: line noise, lost bytes).
    pub corrupt: u32,
    /// Frames dropped because they exceed the receive buffer.
    pub oversized: u32,
    /// `Subscribe`/`Unsubscribe` frames sent again because no answer came in time.
    pub resends: u32,
    /// Handshakes started (`Hello` queued after start, link loss or gateway restart).
    pub handshakes: u32,
    /// Times the link went down.
    pub link_downs: u32,
    /// Gateway restarts seen.
    pub gateway_restarts: u32,
    /// Publishes sent with an alias (in `PublishAlias` or batch frames).
    pub aliased: u32,
    /// `PublishBatch` frames sent.
    pub batches: u32,
    /// Deliveries dropped because the gateway used an alias we do not know (answered).
    pub alias_unknown: u32,
    /// Link events dropped because the application did not collect them.
    pub events_dropped: u32,
}

/// What the application wants for a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Want {
    Subscribed,
    /// Unsubscribed by the application; kept until the gateway confirms.
    Leaving,
}

#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Entry<const L: usize> {
    topic: Vec<u8, L>,
    want: Want,
    /// The gateway's answer matches `want`.
    confirmed: bool,
    /// The gateway answered a `Subscribe` with `Unsubscribed`.
    refused: bool,
    /// To be written at the next `poll_transmit`.
    send: bool,
}

/// Frames waiting to be written (besides the subscription frames flagged per entry).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Outbox {
    hello: bool,
    ping: Option<u32>,
    pong: Option<u32>,
    alias_unknown: Option<u16>,
    alias_refused: Option<u16>,
}

/// A topic this client declared (or will declare) to the gateway.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct TxAlias<const L: usize> {
    topic: Vec<u8, L>,
    /// A `PublishDeclare` went out since the last reset or `AliasUnknown`.
    declared: bool,
}

/// The general client's protocol logic, without I/O: `N` topics of at most `L` bytes, `A`
/// topic aliases per direction (default 4), a batch buffer of `Q` bytes (default 128). See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct ClientCore<const N: usize, const L: usize, const A: usize = 4, const Q: usize = 128> {
    config: ClientConfig,
    /// Largest frame body we accept (announced in `Hello`).
    max_frame: u16,
    state: LinkState,
    /// Nonce of the gateway we last talked to.
    gateway_nonce: Option<u32>,
    /// Largest body the gateway accepts.
    peer_max_frame: u16,
    entries: Vec<Entry<L>, N>,
    outbox: Outbox,
    /// Next `Hello` while connecting / next round of subscription re-sends while up.
    retry_at: u64,
    /// Next refused-subscription retry.
    refused_retry_at: u64,
    next_ping_at: u64,
    last_pong_at: u64,
    ping_seq: u32,
    /// Every entry was confirmed at the last check (to emit `Subscribed` once per change).
    all_confirmed: bool,
    events: Deque<LinkEvent, EVENT_QUEUE_LEN>,
    stats: ClientStats,
    /// Protocol version of the gateway's last `Hello` (0 before).
    gateway_version: u8,
    /// Our topics by alias (index = alias).
    tx_aliases: Vec<TxAlias<L>, A>,
    /// The gateway refused aliases from here on.
    tx_alias_limit: usize,
    /// The gateway's topics by alias (index = alias; `None` = not declared).
    rx_aliases: Vec<Option<Vec<u8, L>>, A>,
    /// Entries of the batch being collected: `batch[..batch_len]`.
    batch: [u8; Q],
    batch_len: usize,
    batch_entries: u16,
    /// When the batch must go out (its first entry's time + the window).
    batch_due_at: u64,
    /// The time of the last `on_tick`/`start`: the clock publishes use.
    now_ms: u64,
    /// When the last publish was handed out (for "first after idle").
    last_publish_at: Option<u64>,
}

impl<const N: usize, const L: usize, const A: usize, const Q: usize> ClientCore<N, L, A, Q> {
    /// Maximum number of topics (`N`), including unsubscribed ones still waiting for the
    /// gateway's confirmation.
    pub const MAX_TOPICS: usize = N;
    /// Maximum topic length in bytes (`L`).
    pub const MAX_TOPIC_LEN: usize = L;

    /// A core that announces `max_frame` (the largest frame body its receiver takes) in its
    /// `Hello`.
    pub const fn new(config: ClientConfig, max_frame: u16) -> Self {
        Self {
            config,
            max_frame,
            state: LinkState::Idle,
            gateway_nonce: None,
            peer_max_frame: frame::DEFAULT_MAX_FRAME as u16,
            entries: Vec::new(),
            outbox: Outbox {
                hello: false,
                ping: None,
                pong: None,
                alias_unknown: None,
                alias_refused: None,
            },
            retry_at: 0,
            refused_retry_at: 0,
            next_ping_at: 0,
            last_pong_at: 0,
            ping_seq: 0,
            all_confirmed: true,
            events: Deque::new(),
            stats: ClientStats {
                frames_in: 0,
                frames_out: 0,
                published: 0,
                dropped_offline: 0,
                delivered: 0,
                unmatched: 0,
                corrupt: 0,
                oversized: 0,
                resends: 0,
                handshakes: 0,
                link_downs: 0,
                gateway_restarts: 0,
                aliased: 0,
                batches: 0,
                alias_unknown: 0,
                events_dropped: 0,
            },
            gateway_version: 0,
            tx_aliases: Vec::new(),
            tx_alias_limit: A,
            rx_aliases: Vec::new(),
            batch: [0; Q],
            batch_len: 0,
            batch_entries: 0,
            batch_due_at: 0,
            now_ms: 0,
            last_publish_at: None,
        }
    }

    /// `true` when publishes go out with aliases: enabled, and the gateway speaks them.
    pub fn aliases_in_use(&self) -> bool {
        A > 0 && self.config.aliases && self.gateway_version >= ALIAS_VERSION
    }

    /// The topic the gateway declared for `alias`, if any.
    pub fn rx_alias_topic(&self, alias: u16) -> Option<&[u8]> {
        self.rx_aliases
            .get(usize::from(alias))?
            .as_ref()
            .map(Vec::as_slice)
    }

    /// The protocol version this client announces.
    fn version(&self) -> u8 {
        if A > 0 && self.config.aliases {
            PROTOCOL_VERSION
        } else {
            1
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The link state.
    pub fn link(&self) -> LinkState {
        self.state
    }

    /// `true` while the link is up.
    pub fn is_up(&self) -> bool {
        self.state == LinkState::Up
    }

    /// The gateway's boot nonce, once a `Hello` from it arrived.
    pub fn gateway_nonce(&self) -> Option<u32> {
        self.gateway_nonce
    }

    /// Largest frame body the gateway accepts (from its `Hello`; 512 before).
    pub fn peer_max_frame(&self) -> u16 {
        self.peer_max_frame
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// The state of the application's subscription to exactly `topic`, `None` when it is not
    /// subscribed.
    pub fn subscription(&self, topic: &str) -> Option<SubState> {
        let entry = self.find(topic.as_bytes())?;
        match (entry.want, entry.confirmed, entry.refused) {
            (Want::Leaving, _, _) => None,
            (Want::Subscribed, true, _) => Some(SubState::InForce),
            (Want::Subscribed, false, true) => Some(SubState::Refused),
            (Want::Subscribed, false, false) => Some(SubState::Pending),
        }
    }

    /// `true` when the link is up and every subscription is confirmed in force.
    pub fn all_subscribed(&self) -> bool {
        self.is_up()
            && self
                .entries
                .iter()
                .all(|e| e.want == Want::Leaving || e.confirmed)
    }

    /// The application's subscribed topics (not those being unsubscribed).
    pub fn topics(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.entries
            .iter()
            .filter(|e| e.want == Want::Subscribed)
            .map(|e| e.topic.as_slice())
    }

    /// Subscribes to every topic starting with `topic` (ZeroMQ prefix rules; `""` = all). The
    /// `Subscribe` goes out with the next transmission and is re-sent until the gateway
    /// confirms it ([`SubState::InForce`], [`LinkEvent::Subscribed`]). Subscribing a topic
    /// already subscribed does nothing: subscriptions are a set, not counted.
    ///
    /// # Errors
    /// [`ClientError::TopicTooLong`] (more than `L` bytes), [`ClientError::TooManyTopics`]
    /// (`N` topics held; an unsubscribed topic frees its slot once the gateway confirmed).
    pub fn subscribe(&mut self, topic: &str) -> Result<(), ClientError> {
        let bytes = topic.as_bytes();
        if bytes.len() > L {
            return Err(ClientError::TopicTooLong);
        }
        let up = self.is_up();
        if let Some(entry) = self.find_mut(bytes) {
            if entry.want == Want::Leaving {
                entry.want = Want::Subscribed;
                entry.confirmed = false;
                entry.refused = false;
                entry.send = up;
                self.all_confirmed = false;
            }
            return Ok(());
        }
        let topic = Vec::from_slice(bytes).map_err(|_| ClientError::TopicTooLong)?;
        self.entries
            .push(Entry {
                topic,
                want: Want::Subscribed,
                confirmed: false,
                refused: false,
                send: up,
            })
            .map_err(|_| ClientError::TooManyTopics)?;
        self.all_confirmed = false;
        Ok(())
    }

    /// Unsubscribes from exactly `topic`. Messages on it are no longer delivered from now on;
    /// the `Unsubscribe` is re-sent until the gateway confirms it, and the slot is free then.
    ///
    /// # Errors
    /// [`ClientError::NotSubscribed`] when `topic` is not subscribed.
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError> {
        let up = self.is_up();
        let index = self
            .entries
            .iter()
            .position(|e| e.topic.as_slice() == topic.as_bytes() && e.want == Want::Subscribed)
            .ok_or(ClientError::NotSubscribed)?;
        if up {
            if let Some(entry) = self.entries.get_mut(index) {
                entry.want = Want::Leaving;
                entry.confirmed = false;
                entry.refused = false;
                entry.send = true;
            }
        } else {
            // Not connected: the next handshake resets the gateway's side anyway.
            self.remove_entry(index);
        }
        Ok(())
    }

    /// Whether a message on `topic` is for the application: one of its subscriptions is a
    /// byte prefix of it.
    pub fn accepts(&self, topic: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.want == Want::Subscribed && topic::matches(&e.topic, topic))
    }

    /// Starts the client at `now_ms`: queues the first `Hello`. Does nothing once started.
    pub fn start(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        if self.state == LinkState::Idle {
            self.begin_handshake(now_ms);
        }
    }

    /// Handles one valid frame from the gateway, received at `now_ms`. Returns `true` when it
    /// is a `Publish` the application should get (see [`accepts`](Self::accepts)); the
    /// driver hands it out.
    pub fn on_frame(&mut self, frame: &Frame<'_>, now_ms: u64) -> bool {
        self.stats.frames_in = self.stats.frames_in.wrapping_add(1);
        match *frame {
            Frame::Hello {
                version,
                max_frame,
                boot_nonce,
            } => self.on_hello(version, max_frame, boot_nonce, now_ms),
            Frame::Publish { topic, .. } => return self.deliver(topic),
            // A client without alias tables (`A = 0`) announced version 1: a gateway never
            // sends it these, and the code folds away.
            Frame::PublishDeclare { alias, topic, .. } => {
                if A > 0 {
                    self.bind_rx_alias(alias, topic);
                }
                return self.deliver(topic);
            }
            Frame::PublishAlias { alias, .. } if A > 0 => {
                // Borrow the topic in place: no copy of it.
                let accepted = self
                    .rx_aliases
                    .get(usize::from(alias))
                    .and_then(|t| t.as_ref())
                    .map(|topic| self.accepts(topic));
                match accepted {
                    Some(true) => {
                        self.stats.delivered = self.stats.delivered.wrapping_add(1);
                        return true;
                    }
                    Some(false) => self.stats.unmatched = self.stats.unmatched.wrapping_add(1),
                    None => {
                        warn!("delivery on unknown alias {=u16}", alias);
                        self.stats.alias_unknown = self.stats.alias_unknown.wrapping_add(1);
                        self.outbox.alias_unknown = Some(alias);
                    }
                }
            }
            Frame::PublishAlias { .. } => {
                self.stats.unmatched = self.stats.unmatched.wrapping_add(1);
            }
            Frame::AliasUnknown { alias } => {
                if A > 0
                    && let Some(entry) = self.tx_aliases.get_mut(usize::from(alias))
                {
                    entry.declared = false;
                }
            }
            Frame::AliasRefused { alias } => {
                if A > 0 {
                    let limit = usize::from(alias);
                    self.tx_alias_limit = self.tx_alias_limit.min(limit);
                    self.tx_aliases.truncate(limit);
                }
            }
            Frame::PublishBatch { .. } => {
                debug!("ignoring a batch: the gateway does not batch deliveries");
            }
            Frame::Ping { seq } => self.outbox.pong = Some(seq),
            Frame::Pong { .. } => self.last_pong_at = now_ms,
            Frame::Subscribed { topic } => self.on_answer(topic, Want::Subscribed),
            Frame::Unsubscribed { topic } => self.on_answer(topic, Want::Leaving),
            Frame::Subscribe { .. } | Frame::Unsubscribe { .. } => {
                debug!("ignoring a frame the gateway should not send");
            }
        }
        false
    }

    fn deliver(&mut self, topic: &[u8]) -> bool {
        if self.accepts(topic) {
            self.stats.delivered = self.stats.delivered.wrapping_add(1);
            return true;
        }
        self.stats.unmatched = self.stats.unmatched.wrapping_add(1);
        false
    }

    /// Records a frame the decoder rejected.
    pub fn on_corrupt(&mut self, kind: CorruptKind) {
        warn!("dropped a corrupt frame: {}", kind);
        self.stats.corrupt = self.stats.corrupt.wrapping_add(1);
    }

    /// Records a frame too large for the receive buffer.
    pub fn on_oversized(&mut self) {
        warn!("dropped an oversized frame");
        self.stats.oversized = self.stats.oversized.wrapping_add(1);
    }

    /// Runs the timers at `now_ms`: `Hello` and subscription re-sends, pings, link loss. Call
    /// it on every turn of the driver.
    pub fn on_tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        match self.state {
            LinkState::Idle => {}
            LinkState::Connecting => {
                if now_ms >= self.retry_at {
                    self.begin_handshake(now_ms);
                }
            }
            LinkState::Up => {
                let silent = now_ms.saturating_sub(self.last_pong_at);
                if silent > u64::from(self.config.link_timeout_ms) {
                    warn!("link down: no pong for {=u64} ms", silent);
                    self.stats.link_downs = self.stats.link_downs.wrapping_add(1);
                    self.push_event(LinkEvent::Down);
                    self.begin_handshake(now_ms);
                    return;
                }
                if now_ms >= self.next_ping_at {
                    self.ping_seq = self.ping_seq.wrapping_add(1);
                    self.outbox.ping = Some(self.ping_seq);
                    self.next_ping_at = after(now_ms, self.config.ping_interval_ms);
                }
                if now_ms >= self.retry_at {
                    self.retry_at = after(now_ms, self.config.retry_ms);
                    let refused_too = now_ms >= self.refused_retry_at;
                    if refused_too {
                        self.refused_retry_at = now_ms
                            .saturating_add(u64::from(self.config.retry_ms) * REFUSED_RETRY_FACTOR);
                    }
                    for entry in self.entries.iter_mut() {
                        if !entry.confirmed && !entry.send && (!entry.refused || refused_too) {
                            entry.send = true;
                            self.stats.resends = self.stats.resends.wrapping_add(1);
                        }
                    }
                }
                self.check_all_confirmed();
            }
        }
    }

    /// When [`on_tick`](Self::on_tick) next has something to do, in the clock's ms; `None`
    /// before the start. For drivers that sleep.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        match self.state {
            LinkState::Idle => None,
            LinkState::Connecting => Some(self.retry_at),
            LinkState::Up => {
                let down_at = self
                    .last_pong_at
                    .saturating_add(self.config.link_timeout_ms.into())
                    .saturating_add(1);
                let mut next = down_at.min(self.next_ping_at);
                if self.entries.iter().any(|e| !e.confirmed) {
                    next = next.min(self.retry_at);
                }
                if self.batch_len != 0 {
                    next = next.min(self.batch_due_at);
                }
                Some(next)
            }
        }
    }

    /// `true` when [`poll_event`](Self::poll_event) has something.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next link event for the application, oldest first.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// Writes the next queued frame's wire bytes into `buf` and returns their length, or
    /// `None` when nothing is queued. A `Hello` is preceded by one 0x00, which flushes
    /// whatever half frame the gateway may hold. `buf` needs
    /// `1 + max_encoded_len(1 + 2 + L + ...)`: [`control_buf_len`] bytes always suffice.
    ///
    /// # Errors
    /// [`ClientError::Encode`] when `buf` is too small; the frame stays queued.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ClientError> {
        if self.outbox.hello {
            let (first, rest) = buf
                .split_first_mut()
                .ok_or(ClientError::Encode(FrameError::BufferTooSmall))?;
            *first = frame::DELIMITER;
            let hello = Frame::Hello {
                version: self.version(),
                max_frame: self.max_frame,
                boot_nonce: self.config.boot_nonce,
            };
            let n = frame::encode(&hello, rest)?;
            self.outbox.hello = false;
            return Ok(Some(self.count_out(1 + n)));
        }
        if let Some(seq) = self.outbox.pong {
            let n = frame::encode(&Frame::Pong { seq }, buf)?;
            self.outbox.pong = None;
            return Ok(Some(self.count_out(n)));
        }
        if let Some(seq) = self.outbox.ping {
            let n = frame::encode(&Frame::Ping { seq }, buf)?;
            self.outbox.ping = None;
            return Ok(Some(self.count_out(n)));
        }
        if self.state != LinkState::Up {
            return Ok(None);
        }
        if A > 0
            && let Some(alias) = self.outbox.alias_unknown
        {
            let n = frame::encode(&Frame::AliasUnknown { alias }, buf)?;
            self.outbox.alias_unknown = None;
            return Ok(Some(self.count_out(n)));
        }
        if A > 0
            && let Some(alias) = self.outbox.alias_refused
        {
            let n = frame::encode(&Frame::AliasRefused { alias }, buf)?;
            self.outbox.alias_refused = None;
            return Ok(Some(self.count_out(n)));
        }
        if A > 0 && self.batch_len != 0 && self.now_ms >= self.batch_due_at {
            return self.encode_batch(buf).map(Some);
        }
        if let Some(entry) = self.entries.iter_mut().find(|e| e.send) {
            let topic = entry.topic.as_slice();
            let frame = match entry.want {
                Want::Subscribed => Frame::Subscribe { topic },
                Want::Leaving => Frame::Unsubscribe { topic },
            };
            let n = frame::encode(&frame, buf)?;
            entry.send = false;
            return Ok(Some(self.count_out(n)));
        }
        Ok(None)
    }

    fn count_out(&mut self, n: usize) -> usize {
        self.stats.frames_out = self.stats.frames_out.wrapping_add(1);
        n
    }

    fn find(&self, topic: &[u8]) -> Option<&Entry<L>> {
        self.entries.iter().find(|e| e.topic.as_slice() == topic)
    }

    fn find_mut(&mut self, topic: &[u8]) -> Option<&mut Entry<L>> {
        self.entries
            .iter_mut()
            .find(|e| e.topic.as_slice() == topic)
    }

    fn push_event(&mut self, event: LinkEvent) {
        if self.events.is_full() {
            self.events.pop_front();
            self.stats.events_dropped = self.stats.events_dropped.wrapping_add(1);
        }
        // Room was just made.
        let _ = self.events.push_back(event);
    }

    /// Queues a `Hello`; the link is down until the gateway answers. Every subscription must
    /// be sent again afterwards (the gateway resets them on our `Hello`); unsubscribed topics
    /// are gone with that reset.
    fn begin_handshake(&mut self, now_ms: u64) {
        debug!("hello");
        self.state = LinkState::Connecting;
        self.outbox.hello = true;
        self.outbox.ping = None;
        self.outbox.alias_unknown = None;
        self.outbox.alias_refused = None;
        // Our Hello starts a new link session: both alias tables start empty, and a batch
        // collected for the old session is dropped with it (counted as offline).
        self.tx_aliases.clear();
        self.tx_alias_limit = A;
        self.rx_aliases.clear();
        self.stats.dropped_offline = self
            .stats
            .dropped_offline
            .wrapping_add(u32::from(self.batch_entries));
        self.batch_len = 0;
        self.batch_entries = 0;
        self.stats.handshakes = self.stats.handshakes.wrapping_add(1);
        self.retry_at = after(now_ms, self.config.retry_ms);
        self.entries.retain(|e| e.want == Want::Subscribed);
        for entry in self.entries.iter_mut() {
            entry.confirmed = false;
            entry.refused = false;
            entry.send = false;
        }
        self.all_confirmed = self.entries.is_empty();
    }

    fn on_hello(&mut self, version: u8, max_frame: u16, boot_nonce: u32, now_ms: u64) {
        if version == 0 || version > PROTOCOL_VERSION {
            warn!("gateway speaks protocol version {=u8}", version);
        }
        self.gateway_version = version;
        let restarted = self.gateway_nonce.is_some_and(|seen| seen != boot_nonce);
        self.gateway_nonce = Some(boot_nonce);
        self.peer_max_frame = max_frame;
        if restarted {
            info!("gateway restarted (nonce {=u32})", boot_nonce);
            self.stats.gateway_restarts = self.stats.gateway_restarts.wrapping_add(1);
            self.push_event(LinkEvent::GatewayRestarted {
                gateway_nonce: boot_nonce,
            });
            // Handshake again so that the new gateway learns our frame limit.
            self.begin_handshake(now_ms);
            return;
        }
        match self.state {
            // The gateway answered (it has processed a Hello of ours and reset our
            // subscriptions), or greeted us on opening the link after our Hello was sent:
            // either way, every frame we send from now on follows our Hello.
            LinkState::Connecting => {
                info!("link up");
                self.state = LinkState::Up;
                self.last_pong_at = now_ms;
                self.next_ping_at = after(now_ms, self.config.ping_interval_ms);
                self.retry_at = after(now_ms, self.config.retry_ms);
                self.refused_retry_at = self.retry_at;
                for entry in self.entries.iter_mut() {
                    entry.send = true;
                }
                self.push_event(LinkEvent::Up {
                    gateway_nonce: boot_nonce,
                });
                self.all_confirmed = false;
                self.check_all_confirmed();
            }
            // A duplicate answer, or the gateway re-opened the link without restarting: it
            // kept our subscriptions.
            LinkState::Up | LinkState::Idle => {}
        }
    }

    fn on_answer(&mut self, topic: &[u8], state: Want) {
        if self.state != LinkState::Up {
            return;
        }
        let Some(index) = self
            .entries
            .iter()
            .position(|e| e.topic.as_slice() == topic)
        else {
            debug!("answer for a topic we do not hold");
            return;
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        let mut refused = false;
        match (entry.want, state) {
            (Want::Subscribed, Want::Subscribed) => {
                entry.confirmed = true;
                entry.refused = false;
            }
            (Want::Subscribed, Want::Leaving) => {
                if !entry.confirmed && !entry.refused {
                    warn!("the gateway refused a subscription");
                    entry.refused = true;
                    refused = true;
                }
                // A confirmed entry got a stale answer to an earlier unsubscribe: ask again.
                if entry.confirmed {
                    entry.confirmed = false;
                    entry.send = true;
                }
            }
            (Want::Leaving, Want::Leaving) => {
                self.remove_entry(index);
            }
            // A stale answer to the subscription before the unsubscribe: keep asking.
            (Want::Leaving, Want::Subscribed) => {}
        }
        if refused {
            self.push_event(LinkEvent::Refused);
        }
        self.check_all_confirmed();
    }

    /// Removes entry `index`, keeping the order of the others ([`remove_in_order`]).
    fn remove_entry(&mut self, index: usize) {
        remove_in_order(&mut self.entries, index);
    }

    fn check_all_confirmed(&mut self) {
        let all = self.all_subscribed();
        if all && !self.all_confirmed {
            info!("subscriptions in force");
            self.push_event(LinkEvent::Subscribed);
        }
        self.all_confirmed = all;
    }
}

/// Removes entry `index`, keeping the order of the others (subscriptions are re-sent in the
/// order they were made). Adjacent swaps instead of `Vec::remove`: `remove` shifts with
/// `ptr::copy`, which pulls compiler-builtins' 1.3 KB `memmove` into the firmware (measured on
/// the Pico's `echo_uart`), for a set of a few entries.
fn remove_in_order<T, const N: usize>(entries: &mut Vec<T, N>, index: usize) {
    if index < entries.len() {
        for i in index..entries.len() - 1 {
            entries.swap(i, i + 1);
        }
        entries.pop();
    }
}

/// A transmit buffer size that holds every control frame of a client with topics of up to
/// `topic_len` bytes (`Hello` with its leading 0x00, `Ping`, `Pong`, `Subscribe`,
/// `Unsubscribe`).
pub const fn control_buf_len(topic_len: usize) -> usize {
    // Tag 1, topic length varint up to 3, the topic; Hello is at most 1 + 1 + 3 + 5 = 10.
    let body = if topic_len + 4 > 10 {
        topic_len + 4
    } else {
        10
    };
    1 + frame::max_encoded_len(body)
}

#[cfg(test)]
mod remove_tests {
    use super::remove_in_order;
    use heapless::Vec;

    #[test]
    fn remove_in_order_keeps_the_others_in_order() {
        let mut v: Vec<u8, 4> = Vec::new();
        for x in [1, 2, 3, 4] {
            assert!(v.push(x).is_ok());
        }
        remove_in_order(&mut v, 1);
        assert_eq!(v.as_slice(), &[1, 3, 4]);
        remove_in_order(&mut v, 2);
        assert_eq!(v.as_slice(), &[1, 3]);
        remove_in_order(&mut v, 5); // out of range: nothing happens
        assert_eq!(v.as_slice(), &[1, 3]);
        remove_in_order(&mut v, 0);
        remove_in_order(&mut v, 0);
        assert!(v.is_empty());
    }
}
