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
//!
//! # Files
//! `core.rs` holds the state and the frame/transmit turn (`on_frame`, `poll_transmit`);
//! `core/link.rs` the handshake, keep-alive and timers; `core/subscriptions.rs` the
//! subscription set and its answers; `core/publish.rs` publishing, aliases and batches;
//! `core/config.rs` and `core/state.rs` the public types ([`ClientConfig`]; [`LinkState`],
//! [`LinkEvent`], [`SubState`], [`ClientStats`]).

use banyan_proto::frame::{self, ALIAS_VERSION, CorruptKind, Frame, FrameError, PROTOCOL_VERSION};
use heapless::{Deque, Vec};

use crate::ClientError;

mod config;
mod link;
mod publish;
mod state;
mod subscriptions;

pub use config::{ClientConfig, DEFAULT_BATCH_WINDOW_MS};
pub use publish::PublishStep;
pub use state::{ClientStats, LinkEvent, LinkState, SubState};
use subscriptions::{Entry, Want};

/// How many [`LinkEvent`]s wait for the application before the oldest is dropped.
pub const EVENT_QUEUE_LEN: usize = 8;

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

    fn push_event(&mut self, event: LinkEvent) {
        if self.events.is_full() {
            self.events.pop_front();
            self.stats.events_dropped = self.stats.events_dropped.wrapping_add(1);
        }
        // Room was just made.
        let _ = self.events.push_back(event);
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
