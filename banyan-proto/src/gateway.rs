//! [`GatewaySession`]: the serial gateway's protocol logic, without I/O (feature `std`).
//!
//! One session serves one link to a microcontroller. It is fed the link's bytes and the
//! backplane's messages, and answers with [`Action`]s for its driver — `banyan-host`'s
//! `Gateway` (ZeroMQ + a serial port or TCP stream), or a test that plays backplane and link
//! in memory:
//!
//! ```text
//!   link bytes ──▶ on_link_bytes ─┐                 ┌─▶ Action::Send(wire bytes)    ──▶ link
//!                                 │ GatewaySession  ├─▶ Action::Publish(topic, msg) ──▶ backplane
//!  backplane msg ─▶ on_backplane ─┤  (FrameDecoder, ├─▶ Action::Subscribe(topic)    ──▶ SUB filter
//!  proof result ──▶ proof_done ───┘  subscriptions) └─▶ Action::Unsubscribe(topic)  ──▶ SUB filter
//! ```
//!
//! # Behaviour
//!
//! * `Hello` from the MCU: it (re)started. Its subscriptions are dropped (an `Unsubscribe`
//!   action each), its `max_frame` is recorded and the session answers with its own `Hello`.
//!   The session also greets with a `Hello` each time the driver reports the link (re)opened
//!   ([`link_opened`](GatewaySession::link_opened)); subscriptions survive a reopened link.
//! * `Subscribe` / `Unsubscribe` are idempotent (the link's subscriptions are a set, see
//!   [`crate::frame`]) and answered with the topic's state: `Subscribed` once the subscription
//!   is **proven** in force on the backplane, `Unsubscribed` once it is gone or when it was
//!   refused (more than `N` topics, longer than `L` bytes, not UTF-8).
//! * **Proofs do not stall the link.** A new subscription becomes an
//!   [`Action::Subscribe`]; the driver applies it, and when
//!   [`proof_needed`](GatewaySession::proof_needed) says so it starts a probe round trip
//!   through the backplane ([`proof_started`](GatewaySession::proof_started)) and reports
//!   its end ([`proof_done`](GatewaySession::proof_done) or
//!   [`proof_failed`](GatewaySession::proof_failed)). Meanwhile the link is read as usual:
//!   `Ping`s are answered, more subscriptions are taken (they wait for the next proof), and
//!   **`Publish` frames are held** in a bounded queue, in order, until every subscription
//!   before them is proven — so a reply to a message can never overtake the subscription
//!   sent before it. A proof proves every subscription applied before it started.
//! * `Ping` is answered with `Pong`. Until the MCU's first `Hello`, the session also answers
//!   the MCU's first frame and each of its `Ping`s with a `Hello`: an MCU that was up with a
//!   gateway before this one (which restarted) may have missed the greeting, and learns of the
//!   restart (a new nonce) from the repeated one.
//! * **Topic aliases** (protocol version 2, see [`crate::frame`]): with an MCU whose `Hello`
//!   said version ≥ 2, deliveries declare their topic once ([`Frame::PublishDeclare`]) and
//!   then use its alias (up to [`GATEWAY_ALIASES`] topics, full `Publish` frames beyond, or
//!   beyond what the MCU refused). The MCU's declarations are held in a table of
//!   [`GATEWAY_ALIASES`] slots; its `PublishAlias` and `PublishBatch` entries are published
//!   under the declared topic, in order, held like any publish while a proof is due. An
//!   unknown alias is dropped, counted and answered `AliasUnknown`; an alias beyond the table
//!   is answered `AliasRefused`. A version 1 MCU sees exactly the frames it did before.
//! * Corrupt and oversized frames are counted ([`GatewayStats`]), never fatal. Backplane
//!   messages larger than the MCU's `max_frame`, not matching its subscriptions, or arriving
//!   while the link is closed are dropped and counted. Held publishes beyond the queue's
//!   bounds are dropped and counted.
//!
//! Everything is bounded: `N` subscriptions of at most `L` bytes (a
//! [`SubscriptionSet`]), [`GatewayConfig::max_held`] held publishes, one decoder of
//! `max_encoded_len(max_frame)` bytes. Nothing panics on any input.
//!
//! # Why a `SubscriptionSet` with set semantics
//!
//! The set of held topics is a [`SubscriptionSet<N, L>`] (bounded, prefix matching as ZeroMQ),
//! used with set semantics: a topic is added only when it is not already `contains`-ed, so its
//! count stays 1 and one `Unsubscribe` removes it. Counting duplicates (ZeroMQ's rule) cannot
//! survive a link that duplicates and loses frames; the client keeps its own application's
//! subscriptions instead. Proof state (unproven, being proven) is two short lists of topics
//! that are always members of the set.
//!
//! # Files
//! `gateway.rs` holds the session's state, the link's bytes in and the backplane's messages
//! out; `gateway/frames.rs` what each MCU frame does; `gateway/proof.rs` the subscription
//! proofs and the publishes held meanwhile.

use std::collections::VecDeque;
use std::string::String;
use std::vec::Vec;

use crate::frame::{
    self, ALIAS_VERSION, FeedResult, Frame, FrameDecoder, encode_to_vec, max_encoded_len,
};
use crate::topic::SubscriptionSet;

mod frames;
mod proof;

use frames::Owned;

/// Largest frame body the gateway accepts and announces in its `Hello`.
pub const GATEWAY_MAX_FRAME: usize = 4096;

/// `max_frame` assumed for an MCU until its `Hello` says otherwise.
pub const ASSUMED_PEER_MAX_FRAME: usize = frame::DEFAULT_MAX_FRAME;

/// Topic aliases the gateway holds per direction: aliases `0..GATEWAY_ALIASES` the MCU may
/// declare, and at most this many topics it declares towards the MCU. Bounded: 64 topics of
/// at most [`GATEWAY_MAX_FRAME`] bytes, in practice a few KiB.
pub const GATEWAY_ALIASES: usize = 64;

/// Size of the session's receive buffer.
const RX_LEN: usize = max_encoded_len(GATEWAY_MAX_FRAME);

/// Settings of a [`GatewaySession`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Sent in every `Hello`: drawn once per gateway process, so that the MCU notices a
    /// gateway restart and subscribes again.
    pub boot_nonce: u32,
    /// Most `Publish` frames held while a subscription proof is in flight (default 256).
    pub max_held: usize,
    /// Most payload + topic bytes held (default 256 KiB).
    pub max_held_bytes: usize,
}

impl GatewayConfig {
    /// Defaults with this boot nonce.
    pub const fn new(boot_nonce: u32) -> Self {
        Self {
            boot_nonce,
            max_held: 256,
            max_held_bytes: 256 * 1024,
        }
    }
}

/// What the driver must do, from [`GatewaySession::poll_action`], in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes (one or more complete frames) to the link.
    Send(Vec<u8>),
    /// Publish `[topic, payload]` on the backplane, verbatim.
    Publish {
        /// Topic bytes, as the MCU sent them.
        topic: Vec<u8>,
        /// msgpack payload, as the MCU sent it.
        payload: Vec<u8>,
    },
    /// Add a backplane subscription (ZeroMQ `SUBSCRIBE`), without waiting for it.
    Subscribe(String),
    /// Remove a backplane subscription.
    Unsubscribe(String),
}

/// Counters of a gateway session.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GatewayStats {
    /// Valid frames received from the MCU.
    pub frames_in: u64,
    /// Frames written to the MCU.
    pub frames_out: u64,
    /// MCU messages published to the backplane.
    pub published: u64,
    /// Backplane messages delivered to the MCU.
    pub delivered: u64,
    /// Frames dropped as corrupt (COBS, CRC or body errors).
    pub corrupt: u64,
    /// Frames dropped because they exceeded the gateway's buffer.
    pub oversized: u64,
    /// Backplane messages dropped because they exceed the MCU's `max_frame`.
    pub too_big_for_peer: u64,
    /// Backplane messages dropped while the link was down.
    pub dropped_offline: u64,
    /// Backplane messages dropped because no subscription of the MCU matches them (they
    /// matched a subscription being removed, or a probe).
    pub unmatched: u64,
    /// `Hello` frames received (MCU starts and restarts).
    pub hellos: u64,
    /// Subscriptions refused (table full, topic too long or not UTF-8).
    pub refused: u64,
    /// Subscription proofs completed.
    pub proofs: u64,
    /// Subscription proofs that timed out (retried).
    pub proofs_failed: u64,
    /// MCU publishes held back while a proof was in flight.
    pub held: u64,
    /// Held publishes dropped because the queue was full.
    pub held_dropped: u64,
    /// Times the link was opened.
    pub link_opens: u64,
    /// Failed attempts to open the link.
    pub link_failures: u64,
    /// Aliases the MCU declared (`PublishDeclare` frames received, re-declarations included).
    pub aliases_declared: u64,
    /// MCU publishes dropped because their alias was unknown (answered `AliasUnknown`).
    pub alias_unknown: u64,
    /// MCU aliases refused (beyond [`GATEWAY_ALIASES`]; answered `AliasRefused`).
    pub aliases_refused: u64,
    /// `PublishBatch` frames received.
    pub batches: u64,
    /// Deliveries to the MCU sent with an alias (`PublishAlias`).
    pub delivered_aliased: u64,
}

/// The gateway's protocol logic for one link; see the [module docs](self). `N` topics of at
/// most `L` bytes.
pub struct GatewaySession<const N: usize = 64, const L: usize = 256> {
    config: GatewayConfig,
    decoder: Box<FrameDecoder<RX_LEN>>,
    subscriptions: SubscriptionSet<N, L>,
    /// Applied to the backplane, not yet covered by a proof.
    unproven: Vec<Vec<u8>>,
    /// Covered by the proof in flight.
    proving: Vec<Vec<u8>>,
    proof_in_flight: bool,
    /// MCU publishes waiting for the proofs to end, and their byte count.
    held: VecDeque<(Vec<u8>, Vec<u8>)>,
    held_bytes: usize,
    peer_max_frame: usize,
    /// Protocol version from the MCU's `Hello` (0 before it): aliases only from 2 on.
    peer_version: u8,
    /// Topics the MCU declared, by alias (`None`: not declared).
    rx_aliases: Vec<Option<Vec<u8>>>,
    /// Topics the gateway declared towards the MCU, by alias, and whether the declaration
    /// is believed to have arrived.
    tx_aliases: Vec<(Vec<u8>, bool)>,
    /// Aliases at or above this the MCU refused.
    tx_alias_limit: usize,
    /// A `Hello` from the MCU arrived since this session started.
    peer_greeted: bool,
    link_open: bool,
    actions: VecDeque<Action>,
    stats: GatewayStats,
}

impl<const N: usize, const L: usize> std::fmt::Debug for GatewaySession<N, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewaySession")
            .field("config", &self.config)
            .field("subscriptions", &self.subscriptions.len())
            .field("unproven", &self.unproven.len())
            .field("proving", &self.proving.len())
            .field("held", &self.held.len())
            .field("link_open", &self.link_open)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<const N: usize, const L: usize> GatewaySession<N, L> {
    /// A session with no link yet.
    pub fn new(config: GatewayConfig) -> Self {
        Self {
            config,
            decoder: Box::new(FrameDecoder::new()),
            subscriptions: SubscriptionSet::new(),
            unproven: Vec::new(),
            proving: Vec::new(),
            proof_in_flight: false,
            held: VecDeque::new(),
            held_bytes: 0,
            peer_max_frame: ASSUMED_PEER_MAX_FRAME,
            peer_version: 0,
            rx_aliases: Vec::new(),
            tx_aliases: Vec::new(),
            tx_alias_limit: GATEWAY_ALIASES,
            peer_greeted: false,
            link_open: false,
            actions: VecDeque::new(),
            stats: GatewayStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> GatewayStats {
        self.stats
    }

    /// The MCU's subscriptions (distinct topics, in order of subscription).
    pub fn subscriptions(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.subscriptions.iter()
    }

    /// Largest frame body the MCU accepts (from its `Hello`).
    pub fn peer_max_frame(&self) -> usize {
        self.peer_max_frame
    }

    /// The protocol version the MCU announced in its `Hello` (0 before it).
    pub fn peer_version(&self) -> u8 {
        self.peer_version
    }

    /// Whether the link is open.
    pub fn link_is_open(&self) -> bool {
        self.link_open
    }

    /// The driver opened (or reopened) the link: greet the MCU with a `Hello`. Subscriptions
    /// are kept: the MCU may not have restarted.
    pub fn link_opened(&mut self) {
        self.stats.link_opens += 1;
        self.link_open = true;
        self.decoder.reset();
        // The MCU behind the reopened link may have restarted: declare again before using
        // an alias (its table may be empty; ours for its aliases stays until its Hello).
        for (_, declared) in &mut self.tx_aliases {
            *declared = false;
        }
        self.send(&self.hello());
    }

    /// The driver could not open the link.
    pub fn link_failed(&mut self) {
        self.stats.link_failures += 1;
    }

    /// The link closed (device gone, TCP peer closed). Frames queued for it are dropped.
    pub fn link_closed(&mut self) {
        self.link_open = false;
        self.decoder.reset();
        self.actions.retain(|a| !matches!(a, Action::Send(_)));
    }

    /// Feeds bytes read from the link; the frames they complete produce actions.
    pub fn on_link_bytes(&mut self, bytes: &[u8]) {
        let mut window = bytes;
        while !window.is_empty() {
            // Copy what a frame says before acting on it: it borrows the decoder.
            let (owned, rest) = match self.decoder.feed(window) {
                FeedResult::Consumed => break,
                FeedResult::Frame { frame, remaining } => (Some(Owned::from(frame)), remaining),
                FeedResult::Corrupt { kind, remaining } => {
                    self.stats.corrupt += 1;
                    tracing::warn!("dropped a corrupt frame: {kind}");
                    (None, remaining)
                }
                FeedResult::Oversized { remaining } => {
                    self.stats.oversized += 1;
                    tracing::warn!("dropped an oversized frame");
                    (None, remaining)
                }
            };
            window = rest;
            if let Some(frame) = owned {
                self.stats.frames_in += 1;
                self.handle(frame);
            }
        }
    }

    /// A message from the backplane: framed for the MCU when the link is open, one of its
    /// subscriptions matches and it fits the MCU's `max_frame`; otherwise dropped and
    /// counted. Returns whether it was queued for the link.
    pub fn on_backplane(&mut self, topic: &[u8], payload: &[u8]) -> bool {
        if !self.link_open {
            self.stats.dropped_offline += 1;
            return false;
        }
        if !self.subscriptions.matches(topic) {
            self.stats.unmatched += 1;
            return false;
        }
        let alias = self.tx_alias(topic);
        let frame = match alias {
            Some((alias, true)) => Frame::PublishAlias { alias, payload },
            Some((alias, false)) => Frame::PublishDeclare {
                alias,
                topic,
                payload,
            },
            None => Frame::Publish { topic, payload },
        };
        if frame::body_len(&frame) > self.peer_max_frame {
            self.stats.too_big_for_peer += 1;
            return false;
        }
        self.send(&frame);
        match alias {
            Some((_, true)) => self.stats.delivered_aliased += 1,
            Some((alias, false)) => {
                if let Some(entry) = self.tx_aliases.get_mut(usize::from(alias)) {
                    entry.1 = true;
                }
            }
            None => {}
        }
        self.stats.delivered += 1;
        true
    }

    /// The alias for a delivery on `topic` and whether it is declared, assigning the next
    /// free one; `None` when the MCU takes no aliases or the table is full.
    fn tx_alias(&mut self, topic: &[u8]) -> Option<(u16, bool)> {
        if self.peer_version < ALIAS_VERSION {
            return None;
        }
        if let Some(index) = self.tx_aliases.iter().position(|(t, _)| t == topic) {
            let declared = self.tx_aliases[index].1;
            return u16::try_from(index).ok().map(|alias| (alias, declared));
        }
        if self.tx_aliases.len() >= self.tx_alias_limit.min(GATEWAY_ALIASES) {
            return None;
        }
        self.tx_aliases.push((topic.to_vec(), false));
        u16::try_from(self.tx_aliases.len() - 1)
            .ok()
            .map(|alias| (alias, false))
    }

    /// The next thing for the driver to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn hello(&self) -> Frame<'static> {
        Frame::hello(GATEWAY_MAX_FRAME as u16, self.config.boot_nonce)
    }

    fn send(&mut self, frame: &Frame<'_>) {
        if !self.link_open {
            return;
        }
        match encode_to_vec(frame) {
            Ok(bytes) => {
                self.stats.frames_out += 1;
                self.actions.push_back(Action::Send(bytes));
            }
            Err(error) => tracing::warn!("cannot encode a frame: {error}"),
        }
    }
}
