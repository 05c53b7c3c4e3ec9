//! Bounds on what one subscriber connection may subscribe to: a count of topics and their
//! bytes.
//!
//! libzmq keeps every subscription a subscriber sends in its socket's prefix trie, one node per
//! byte of topic, with no bound of its own: a hostile subscriber that sent 300 000
//! subscriptions of 200 bytes grew the backplane by 198 MiB, whatever `--max-queue-mib` said.
//! NATS bounds this per connection (`max_subscriptions`), mosquitto bounds per-client state;
//! here each subscriber connection may hold at most [`SubscriptionLimits::max_count`] topics
//! of at most [`SubscriptionLimits::max_bytes`] bytes together.
//!
//! # How a connection's subscriptions are known
//! The backplane's subscriber socket is an XPUB with `ZMQ_XPUB_VERBOSER`: libzmq still keeps the
//! trie and filters as a PUB socket does, and also hands the forwarder every subscribe and
//! cancel message it applied, each carrying its connection's metadata. libzmq 4.3 gives every
//! message of a TCP connection the private property `__fd` (the connection's descriptor, what
//! the deprecated `ZMQ_SRCFD` reads), so each message is charged to exactly one connection;
//! the descriptor is the one libzmq's socket monitor reports as `ACCEPTED` and
//! `DISCONNECTED`, which open and close an account here. The `Peer-Address` property (the IP
//! alone, no port) could not tell two components on one machine apart.
//!
//! The account mirrors libzmq's per-connection state exactly: a topic subscribed twice is held
//! once (libzmq's trie stores a set of connections per topic), a cancel removes it, a cancel of
//! a topic not held changes nothing.
//!
//! # Past a bound: the connection is closed
//! The excess cannot be *refused* while the connection stays: libzmq has already put the
//! subscription in its trie when the forwarder hears of it, and `ZMQ_XPUB_MANUAL`, which lets
//! the application decide, keeps a second, full copy of every subscription it is told of
//! (refused or not), so memory would grow all the same. The connection is closed instead
//! (`shutdown(2)` on its descriptor, as a stalled subscriber's): libzmq frees its queue and
//! every trie entry it held. Its peer reconnects by itself and re-sends its subscriptions, so
//! a subscriber that keeps too many is closed again each time: the first closure is logged
//! with the peer's address (once per address), every closure is counted
//! ([`crate::backplane::ForwardStats::subscription_closed`]). A component that needs more
//! raises `--max-subscriptions` / `--max-subscription-kib`.
//!
//! The accounting here is sans-IO: the backplane feeds it the monitor's events and the
//! subscription messages, and acts on what it returns.

use crate::sys::Fd;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

/// Default topics one subscriber connection may hold: 10 000, far above any real component
/// (Python Banyan's components subscribe to a handful of topics).
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 10_000;

/// Default bytes of topics one subscriber connection may hold: 256 KiB (10 000 topics of about
/// 26 bytes). What libzmq's trie costs for them is measured in the README ("Subscriptions").
pub const DEFAULT_MAX_SUBSCRIPTION_BYTES: usize = 256 * 1024;

/// Per-connection bounds on subscriptions; `None` leaves that side unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionLimits {
    /// Topics one connection may hold.
    pub max_count: Option<usize>,
    /// Bytes of topics one connection may hold (the sum of their lengths).
    pub max_bytes: Option<usize>,
}

impl Default for SubscriptionLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl SubscriptionLimits {
    /// [`DEFAULT_MAX_SUBSCRIPTIONS`] topics of [`DEFAULT_MAX_SUBSCRIPTION_BYTES`].
    pub const DEFAULT: Self = Self {
        max_count: Some(DEFAULT_MAX_SUBSCRIPTIONS),
        max_bytes: Some(DEFAULT_MAX_SUBSCRIPTION_BYTES),
    };

    /// No bound (Python Banyan's behaviour).
    pub const UNLIMITED: Self = Self {
        max_count: None,
        max_bytes: None,
    };

    /// Limits from command-line units, `0` meaning "no limit" for either.
    pub fn from_flags(max_count: u64, max_kib: u64) -> Self {
        let size = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        Self {
            max_count: (max_count > 0).then(|| size(max_count)),
            max_bytes: (max_kib > 0).then(|| size(max_kib).saturating_mul(1024)),
        }
    }

    /// True when neither side is bounded (nothing needs counting).
    pub fn is_unlimited(&self) -> bool {
        self.max_count.is_none() && self.max_bytes.is_none()
    }
}

/// What a message a subscriber sent upstream means (libzmq's XPUB hands over ZMTP 3.1's
/// SUBSCRIBE/CANCEL commands in the 3.0 form: one byte, 1 or 0, then the topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upstream<'a> {
    /// Subscribe to this topic prefix.
    Subscribe(&'a [u8]),
    /// Cancel this topic prefix.
    Cancel(&'a [u8]),
    /// Anything else (a SUB socket sends nothing else; libzmq passes it on from other peers).
    Other,
}

impl<'a> Upstream<'a> {
    /// Reads one upstream message.
    pub fn parse(body: &'a [u8]) -> Self {
        match body.split_first() {
            Some((1, topic)) => Self::Subscribe(topic),
            Some((0, topic)) => Self::Cancel(topic),
            _ => Self::Other,
        }
    }
}

/// A connection that passed a bound: close it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Over {
    /// Its descriptor.
    pub fd: Fd,
    /// Its local and peer address when it was accepted (close it only while they still hold).
    pub addresses: Option<(SocketAddr, SocketAddr)>,
    /// Topics it held, the one that passed the bound included.
    pub count: usize,
    /// Their bytes.
    pub bytes: usize,
}

/// One subscriber connection's subscriptions.
#[derive(Debug, Default)]
struct Account {
    addresses: Option<(SocketAddr, SocketAddr)>,
    topics: HashSet<Box<[u8]>>,
    bytes: usize,
    /// Passed a bound and handed out for closing: what it sends until it is gone is ignored.
    closed: bool,
}

/// The subscriptions of every subscriber connection, against the limits.
#[derive(Debug)]
pub(crate) struct Ledger {
    limits: SubscriptionLimits,
    accounts: HashMap<Fd, Account>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new(limits: SubscriptionLimits) -> Self {
        Self {
            limits,
            accounts: HashMap::new(),
        }
    }

    /// The limits kept.
    pub fn limits(&self) -> &SubscriptionLimits {
        &self.limits
    }

    /// A connection was accepted on `fd`: a new, empty account (a descriptor libzmq closed and
    /// reused starts afresh).
    pub fn accepted(&mut self, fd: Fd, addresses: Option<(SocketAddr, SocketAddr)>) {
        self.accounts.insert(
            fd,
            Account {
                addresses,
                ..Account::default()
            },
        );
    }

    /// The connection on `fd` is gone (libzmq dropped its subscriptions).
    pub fn disconnected(&mut self, fd: Fd) {
        self.accounts.remove(&fd);
    }

    /// True when `fd` has an account (else the caller opens one with [`Ledger::accepted`]
    /// first: a message may be read before the monitor's `ACCEPTED` event).
    pub fn knows(&self, fd: Fd) -> bool {
        self.accounts.contains_key(&fd)
    }

    /// True when the connection on `fd` passed a bound and is being closed.
    pub fn is_closed(&self, fd: Fd) -> bool {
        self.accounts.get(&fd).is_some_and(|account| account.closed)
    }

    /// Charges one upstream message of the connection on `fd`. `Some` the first time the
    /// connection holds more than a limit allows: the caller closes it.
    pub fn upstream(&mut self, fd: Fd, message: Upstream<'_>) -> Option<Over> {
        let account = self.accounts.entry(fd).or_default();
        if account.closed {
            return None;
        }
        match message {
            Upstream::Subscribe(topic) => {
                if !account.topics.contains(topic) {
                    account.topics.insert(topic.into());
                    account.bytes = account.bytes.saturating_add(topic.len());
                }
            }
            Upstream::Cancel(topic) => {
                if account.topics.remove(topic) {
                    account.bytes = account.bytes.saturating_sub(topic.len());
                }
            }
            Upstream::Other => return None,
        }
        let count = account.topics.len();
        let over = self.limits.max_count.is_some_and(|max| count > max)
            || self.limits.max_bytes.is_some_and(|max| account.bytes > max);
        if !over {
            return None;
        }
        // What it held is freed by libzmq when the connection closes; the account keeps only
        // the mark until the monitor says it is gone.
        account.closed = true;
        let bytes = account.bytes;
        account.topics = HashSet::new();
        account.bytes = 0;
        Some(Over {
            fd,
            addresses: account.addresses,
            count,
            bytes,
        })
    }

    /// Topics held over all connections, and their bytes.
    #[cfg(test)]
    pub fn totals(&self) -> (usize, usize) {
        self.accounts
            .values()
            .fold((0, 0), |(count, bytes), account| {
                (count + account.topics.len(), bytes + account.bytes)
            })
    }
}

/// Bytes beyond the whole allowed subscription set a subscriber connection may send upstream
/// at once: handshake, heartbeat answers, slack.
pub const FLOOD_SLACK: u64 = 64 * 1024;

/// The rate at which a connection's allowance refills, bytes per second: a component that
/// changes its subscriptions now and then never runs dry.
pub const FLOOD_REFILL: u64 = 64 * 1024;

/// How often the flood watch looks at the subscriber connections.
pub const FLOOD_TICK: std::time::Duration = std::time::Duration::from_millis(10);

/// The safety net under the [`Ledger`]: each subscriber connection may send upstream at once
/// what its whole allowed subscription set costs on the wire plus [`FLOOD_SLACK`], and
/// [`FLOOD_REFILL`] bytes per second more (a token bucket); one that sends more is flooding and
/// is aborted.
///
/// Why the ledger alone does not bound memory: libzmq's XPUB reads a connection's queue in a
/// loop until it finds it empty, and applies each subscription to its trie as it reads, on the
/// forwarder's own thread; its I/O thread refills the queue from the socket as fast as the
/// loop empties it, so against a flood (even one written in Python) that loop never ended: the
/// forwarder saw none of it while the trie grew by hundreds of MiB. The watch runs on its own
/// thread and reads only the kernel's byte count of each connection (`tcpi_bytes_received`:
/// what a SUB connection sends is its handshake, its subscriptions and cancellations, and
/// heartbeat answers), so it cuts a flood off whatever the forwarder is doing.
#[derive(Debug)]
pub(crate) struct FloodWatch {
    capacity: u64,
    buckets: HashMap<(Fd, SocketAddr), Bucket>,
}

/// One connection's allowance.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Bytes received when last looked at.
    received: u64,
    /// Bytes it may still send.
    tokens: f64,
    at: std::time::Instant,
}

impl FloodWatch {
    /// The watch for `limits`; `None` when they bound nothing.
    pub fn new(limits: &SubscriptionLimits) -> Option<Self> {
        let count = limits.max_count.map(|count| count as u64);
        let bytes = limits.max_bytes.map(|bytes| bytes as u64);
        // A subscription costs its topic plus at most 10 bytes of framing on the wire (flags,
        // a length of up to 8 bytes, the subscribe byte); a topic is at most 255 bytes in a
        // short frame, and distinct topics within `bytes` are at most `bytes + 1`.
        let wire = match (count, bytes) {
            (Some(count), Some(bytes)) => bytes.saturating_add(count.saturating_mul(10)),
            (Some(count), None) => count.saturating_mul(265),
            (None, Some(bytes)) => bytes.saturating_add((bytes + 1).saturating_mul(10)),
            (None, None) => return None,
        };
        Some(Self {
            capacity: wire.saturating_add(FLOOD_SLACK),
            buckets: HashMap::new(),
        })
    }

    /// Bytes a connection may send at once.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// One look, at `now`, at every subscriber connection open: its descriptor, peer and bytes
    /// received so far. Returns those that sent more than their allowance (and how much they
    /// sent since the last look): abort them.
    pub fn tick(
        &mut self,
        now: std::time::Instant,
        connections: &[(Fd, SocketAddr, u64)],
    ) -> Vec<(Fd, SocketAddr, u64)> {
        let mut buckets = HashMap::with_capacity(connections.len());
        let mut flooding = Vec::new();
        for &(fd, peer, received) in connections {
            let mut bucket = self.buckets.get(&(fd, peer)).copied().unwrap_or(Bucket {
                received: 0,
                tokens: self.capacity as f64,
                at: now,
            });
            let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
            let sent = received.saturating_sub(bucket.received);
            bucket.tokens = (bucket.tokens + elapsed * FLOOD_REFILL as f64)
                .min(self.capacity as f64)
                - sent as f64;
            bucket.received = received;
            bucket.at = now;
            if bucket.tokens < 0.0 {
                flooding.push((fd, peer, sent));
            }
            buckets.insert((fd, peer), bucket);
        }
        self.buckets = buckets;
        flooding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> Option<(SocketAddr, SocketAddr)> {
        Some((
            SocketAddr::from(([127, 0, 0, 1], 43125)),
            SocketAddr::from(([127, 0, 0, 1], port)),
        ))
    }

    fn ledger(count: usize, bytes: usize) -> Ledger {
        Ledger::new(SubscriptionLimits {
            max_count: Some(count),
            max_bytes: Some(bytes),
        })
    }

    #[test]
    fn upstream_messages_parse_as_libzmq_hands_them_over() {
        assert_eq!(Upstream::parse(b"\x01echo"), Upstream::Subscribe(b"echo"));
        assert_eq!(Upstream::parse(b"\x01"), Upstream::Subscribe(b""));
        assert_eq!(Upstream::parse(b"\x00echo"), Upstream::Cancel(b"echo"));
        assert_eq!(Upstream::parse(b""), Upstream::Other);
        assert_eq!(Upstream::parse(b"\x02x"), Upstream::Other);
    }

    #[test]
    fn the_count_bound_closes_the_connection_that_passes_it_once() {
        let mut ledger = ledger(3, 1 << 20);
        ledger.accepted(7, address(50007));
        ledger.accepted(8, address(50008));
        for topic in [&b"a"[..], b"b", b"c"] {
            assert_eq!(ledger.upstream(7, Upstream::Subscribe(topic)), None);
            assert_eq!(ledger.upstream(8, Upstream::Subscribe(topic)), None);
        }
        let over = ledger.upstream(7, Upstream::Subscribe(b"d")).unwrap();
        assert_eq!(
            over,
            Over {
                fd: 7,
                addresses: address(50007),
                count: 4,
                bytes: 4
            }
        );
        // Closed: what it sends until it is gone is not charged again.
        assert!(ledger.is_closed(7));
        assert_eq!(ledger.upstream(7, Upstream::Subscribe(b"e")), None);
        // The other connection is unaffected.
        assert_eq!(ledger.totals(), (3, 3));
        ledger.disconnected(7);
        ledger.accepted(7, address(50009));
        assert_eq!(ledger.upstream(7, Upstream::Subscribe(b"a")), None);
        assert_eq!(ledger.totals(), (4, 4));
    }

    #[test]
    fn the_byte_bound_counts_topic_lengths() {
        let mut ledger = ledger(100, 10);
        ledger.accepted(7, address(50007));
        assert_eq!(ledger.upstream(7, Upstream::Subscribe(b"12345")), None);
        assert_eq!(ledger.upstream(7, Upstream::Subscribe(b"67890")), None);
        let over = ledger.upstream(7, Upstream::Subscribe(b"x")).unwrap();
        assert_eq!((over.count, over.bytes), (3, 11));
    }

    #[test]
    fn duplicates_and_cancels_mirror_libzmq() {
        let mut ledger = ledger(2, 1 << 20);
        ledger.accepted(7, address(50007));
        for _ in 0..10 {
            assert_eq!(ledger.upstream(7, Upstream::Subscribe(b"same")), None);
        }
        assert_eq!(ledger.totals(), (1, 4));
        // A cancel of a topic not held changes nothing; one held frees its room.
        assert_eq!(ledger.upstream(7, Upstream::Cancel(b"other")), None);
        assert_eq!(ledger.upstream(7, Upstream::Cancel(b"same")), None);
        assert_eq!(ledger.totals(), (0, 0));
        // Subscribing and cancelling for ever never passes the bound.
        for round in 0..1000u32 {
            let topic = round.to_be_bytes();
            assert_eq!(ledger.upstream(7, Upstream::Subscribe(&topic)), None);
            assert_eq!(ledger.upstream(7, Upstream::Cancel(&topic)), None);
        }
        assert_eq!(ledger.upstream(7, Upstream::Other), None);
        assert_eq!(ledger.totals(), (0, 0));
    }

    #[test]
    fn a_message_before_the_accepted_event_opens_an_account() {
        let mut ledger = ledger(1, 1 << 20);
        assert!(!ledger.knows(9));
        assert_eq!(ledger.upstream(9, Upstream::Subscribe(b"a")), None);
        assert!(ledger.knows(9));
        let over = ledger.upstream(9, Upstream::Subscribe(b"b")).unwrap();
        assert_eq!(over.addresses, None);
    }

    #[test]
    fn the_flood_watch_cuts_a_connection_that_sends_more_than_its_allowance() {
        let watch = FloodWatch::new(&SubscriptionLimits::DEFAULT).unwrap();
        assert_eq!(watch.capacity(), 256 * 1024 + 10_000 * 10 + FLOOD_SLACK);
        assert!(FloodWatch::new(&SubscriptionLimits::UNLIMITED).is_none());
        let mut watch = FloodWatch::new(&SubscriptionLimits {
            max_count: Some(10),
            max_bytes: Some(100),
        })
        .unwrap();
        let capacity = watch.capacity();
        let peer = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let start = std::time::Instant::now();
        let at = |millis| start + std::time::Duration::from_millis(millis);
        // A whole allowed set at once is fine.
        assert!(watch.tick(at(0), &[(7, peer(1), capacity)]).is_empty());
        // Then the refill: 64 KiB per second.
        assert!(
            watch
                .tick(at(1000), &[(7, peer(1), capacity + FLOOD_REFILL)])
                .is_empty()
        );
        // More than that: cut; the other connection is not.
        assert_eq!(
            watch.tick(
                at(1010),
                &[
                    (7, peer(1), capacity + FLOOD_REFILL + 1000),
                    (8, peer(2), 10)
                ]
            ),
            vec![(7, peer(1), 1000)]
        );
        // A descriptor reused by another connection starts with a full allowance.
        assert!(watch.tick(at(1020), &[(7, peer(3), capacity)]).is_empty());
        assert_eq!(
            watch.tick(at(1030), &[(7, peer(3), capacity + 2000)]),
            vec![(7, peer(3), 2000)]
        );
    }

    #[test]
    fn unlimited_never_closes_and_flags_map_zero_to_none() {
        let mut ledger = Ledger::new(SubscriptionLimits::UNLIMITED);
        for topic in 0..20_000u32 {
            assert_eq!(
                ledger.upstream(1, Upstream::Subscribe(&topic.to_be_bytes())),
                None
            );
        }
        assert_eq!(
            SubscriptionLimits::from_flags(0, 0),
            SubscriptionLimits::UNLIMITED
        );
        assert!(SubscriptionLimits::UNLIMITED.is_unlimited());
        assert_eq!(
            SubscriptionLimits::from_flags(10_000, 256),
            SubscriptionLimits::DEFAULT
        );
    }
}
