//! The backplane: a ZeroMQ forwarder that every component publishes into and subscribes from.
//!
//! ```text
//!  component PUB ──connect──▶ SUB (bound on publisher port, 43124, subscribed to "")
//!                                 │  forwarder thread
//!  component SUB ◀──connect── XPUB (bound on subscriber port, 43125; filters as a PUB)
//! ```
//!
//! The shape is Python Banyan's, SUB/PUB and not XSUB/XPUB: with XPUB a new subscription has
//! to travel upstream to the responder's PUB socket, and a reply can overtake it and be lost
//! (measured: 2 lost in 85 echo runs). Here every message reaches the backplane and filtering
//! happens only at the backplane's PUB socket, which has the subscriber's filter as soon as the
//! subscriber's own connection delivered it.
//!
//! # Memory bound
//! Both sockets follow the backplane's [`Limits`]: the receiving socket drops (by closing the
//! sender's connection) any message part over [`Limits::max_message`] before allocating for
//! it, and every queue — one per publisher on the receiving side ([`Limits::hwm`]), one per
//! subscriber on the sending side ([`Limits::send_hwm`]) — is bounded to keep it within
//! [`Limits::queue_budget`]. A subscriber that stops reading fills its own queue and then
//! misses messages; the forwarder and every other subscriber go on at full speed (a PUB socket
//! never blocks); after [`Limits::stall_timeout`] without an answer to the backplane's
//! heartbeats, its connection is closed and its queue freed. Whatever the message sizes, the
//! forwarder also measures the bytes it has queued and evicts a stalled subscriber once they
//! pass the budget ([`crate::budget`]). See [`crate::limits`] and the README for the measured
//! bound.
//!
//! # Subscriptions
//! The subscriber socket is an XPUB (`ZMQ_XPUB_VERBOSER`) that the forwarder polls and reads:
//! libzmq takes a subscription off its connection's queue only while the application calls
//! into that socket, so a forwarder that only sent on it (a PUB never polled) left them
//! waiting, 63 at a time, until it forwarded (measured: 63 of a 500-message burst to a
//! subscriber of 500 topics). Read at once, each is in force before the next message. Each
//! subscription is charged to its connection and a connection past
//! [`SubscriptionLimits`] is closed; a flood watch thread cuts off a connection that sends
//! subscriptions faster than the forwarder can count them (see [`crate::subscriptions`]).
//! Subscriptions are not forwarded upstream: the receiving socket stays `SUB("")`.
//!
//! # Access control
//! With a non-open [`AccessControl`] the sockets carry a ZAP domain and a handler thread
//! checks each peer's address (and PLAIN credentials) at the handshake; see [`crate::access`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::access::{AccessControl, AccessStats, ZapHandler};
use crate::budget::{Budget, SystemProbe};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::monitor::{EVENT_ACCEPTED, EVENT_DISCONNECTED, read_event};
use crate::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, bind_endpoint, endpoint_port};
use crate::subscriptions::{FLOOD_TICK, FloodWatch, Ledger, Over, SubscriptionLimits, Upstream};

/// How to bind a backplane.
#[derive(Debug, Clone)]
pub struct BackplaneConfig {
    /// Address to bind, `0.0.0.0` (all IPv4 interfaces) by default.
    pub bind: String,
    /// Port components publish to; `0` picks a free port.
    pub publisher_port: u16,
    /// Port components subscribe on; `0` picks a free port.
    pub subscriber_port: u16,
    /// Message size limit and queue budget.
    pub limits: Limits,
    /// Who may connect (open by default, as Python Banyan).
    pub access: AccessControl,
    /// What one subscriber connection may subscribe to (see [`crate::subscriptions`]).
    pub subscriptions: SubscriptionLimits,
}

impl Default for BackplaneConfig {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0".into(),
            publisher_port: DEFAULT_PUBLISHER_PORT,
            subscriber_port: DEFAULT_SUBSCRIBER_PORT,
            limits: Limits::default(),
            access: AccessControl::open(),
            subscriptions: SubscriptionLimits::default(),
        }
    }
}

impl BackplaneConfig {
    /// Loopback with OS-chosen ports: what tests and the one-process demo use.
    pub fn ephemeral_loopback() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            publisher_port: 0,
            subscriber_port: 0,
            ..Self::default()
        }
    }
}

/// A running backplane. The forwarder runs on its own thread until [`Backplane::shutdown`]
/// (or drop).
pub struct Backplane {
    address: String,
    publisher_port: u16,
    subscriber_port: u16,
    control: zmq::Socket,
    thread: Option<JoinHandle<Result<()>>>,
    access_stats: Arc<AccessStats>,
    forward_stats: Arc<ForwardStats>,
    zap: Option<ZapHandler>,
    /// The flood watch's thread and its stop flag.
    flood_watch: Option<(Arc<std::sync::atomic::AtomicBool>, JoinHandle<()>)>,
}

/// Counters of the forwarder.
#[derive(Debug, Default)]
pub struct ForwardStats {
    forwarded: AtomicU64,
    malformed: AtomicU64,
    oversize: AtomicU64,
    evicted: AtomicU64,
    queued_peak: AtomicU64,
    subscription_closed: AtomicU64,
    subscriptions: AtomicU64,
}

impl ForwardStats {
    /// Messages forwarded to the subscriber socket (each subscriber whose queue was full
    /// missed it).
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// Messages of more than two parts (not Banyan messages), dropped.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// Messages whose topic and payload together exceed the size limit, dropped. (A single
    /// part over the limit never gets this far: libzmq closes that connection.)
    pub fn oversize(&self) -> u64 {
        self.oversize.load(Ordering::Relaxed)
    }

    /// Subscribers disconnected because their queue passed the byte budget while they read
    /// nothing (see [`crate::budget`]).
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// The most bytes found queued (heap in use above the level at start) at a budget check;
    /// 0 where the heap cannot be measured or no check came.
    pub fn queued_peak(&self) -> u64 {
        self.queued_peak.load(Ordering::Relaxed)
    }

    /// Subscriber connections closed because they held more subscriptions than
    /// [`SubscriptionLimits`] allow (see [`crate::subscriptions`]).
    pub fn subscription_closed(&self) -> u64 {
        self.subscription_closed.load(Ordering::Relaxed)
    }

    /// Subscribe and cancel messages read from the subscriber socket (each in force once read;
    /// libzmq's own cancels for a closed connection's topics included).
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions.load(Ordering::Relaxed)
    }
}

/// The byte budget at work in the forwarder: the [`Budget`] decisions and when to look again
/// without traffic.
struct Guard {
    budget: Budget,
    probe: SystemProbe,
    recheck_at: Option<Instant>,
}

impl Guard {
    /// `None` without a budget or where the heap cannot be measured.
    fn start(limits: &Limits) -> Option<Self> {
        let mut probe = SystemProbe;
        let budget = limits
            .queue_budget
            .and_then(|bytes| Budget::new(bytes, &mut probe))?;
        Some(Self {
            budget,
            probe,
            recheck_at: None,
        })
    }

    fn check(&mut self, stats: &ForwardStats) {
        let now = Instant::now();
        let checked = self.budget.check(now, &mut self.probe);
        let queued = checked.queued.unwrap_or(0);
        stats
            .queued_peak
            .fetch_max(queued as u64, Ordering::Relaxed);
        for peer in checked.evicted {
            stats.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                %peer,
                queued,
                subscribers = self.budget.peers(),
                "evicting a stalled subscriber: the queued messages passed the budget \
                 (--max-queue-mib); it reconnects by itself and misses what was queued"
            );
        }
        self.recheck_at = checked.recheck_in.map(|delay| now + delay);
    }

    /// Milliseconds until a re-check is due, as a poll timeout (-1: none pending).
    fn poll_timeout(&self) -> i64 {
        self.recheck_at.map_or(-1, |at| {
            let left = at.saturating_duration_since(Instant::now());
            i64::try_from(left.as_millis()).unwrap_or(i64::MAX).max(1)
        })
    }
}

/// The subscriber side's connections as libzmq's socket monitor reports them, for the byte
/// budget and the subscription ledger.
fn watch_connections(ctx: &zmq::Context, backend: &zmq::Socket) -> Result<zmq::Socket> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let endpoint = format!(
        "inproc://banyan-backplane-monitor-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    backend.monitor(&endpoint, i32::from(EVENT_ACCEPTED | EVENT_DISCONNECTED))?;
    let monitor = ctx.socket(zmq::PAIR)?;
    monitor.connect(&endpoint)?;
    Ok(monitor)
}

/// The peers whose dropped messages were logged: each is logged once, later drops are only
/// counted. Bounded: past [`DropLog::MAX_PEERS`] distinct peers nothing more is logged.
#[derive(Debug, Default)]
struct DropLog {
    logged: std::collections::HashSet<String>,
}

impl DropLog {
    const MAX_PEERS: usize = 1024;

    /// The sender's address (libzmq's `Peer-Address` of the message) if nothing from it was
    /// logged yet; `None` otherwise.
    fn first_from(&mut self, part: &mut zmq::Message) -> Option<String> {
        let peer = part.gets("Peer-Address").unwrap_or("unknown").to_owned();
        self.first(peer)
    }

    /// `peer` if it was not logged yet.
    fn first(&mut self, peer: String) -> Option<String> {
        if self.logged.len() >= Self::MAX_PEERS {
            return None;
        }
        self.logged.insert(peer.clone()).then_some(peer)
    }
}

/// The kernel receive buffer of each subscriber connection (`SO_RCVBUF`), which carries only
/// subscriptions and heartbeats.
const SUBSCRIBER_RCVBUF: i32 = 64 * 1024;

/// Messages moved without polling before the control socket is checked.
const BATCH: usize = 1024;

/// The forwarder's state besides its sockets.
struct Forwarder<'a> {
    limits: Limits,
    stats: &'a ForwardStats,
    /// The subscriber side's connection events (with a budget or subscription limits).
    monitor: Option<zmq::Socket>,
    guard: Option<Guard>,
    ledger: Option<Ledger>,
    drops: DropLog,
    closures: DropLog,
}

impl Forwarder<'_> {
    /// Reads the monitor's pending events: subscriber connections accepted and gone.
    fn events(&mut self) -> Result<()> {
        let Some(monitor) = &self.monitor else {
            return Ok(());
        };
        while let Some(event) = read_event(monitor)? {
            let fd = std::os::fd::RawFd::try_from(event.value).unwrap_or(-1);
            match event.code {
                EVENT_ACCEPTED => {
                    tracing::debug!(fd, "subscriber accepted");
                    if let Some(guard) = self.guard.as_mut() {
                        guard.budget.accepted(fd, &mut guard.probe);
                    }
                    if let Some(ledger) = self.ledger.as_mut() {
                        ledger.accepted(fd, crate::sys::addresses(fd));
                    }
                }
                EVENT_DISCONNECTED => {
                    tracing::debug!(fd, "subscriber gone");
                    if let Some(guard) = self.guard.as_mut() {
                        guard.budget.disconnected(fd);
                    }
                    if let Some(ledger) = self.ledger.as_mut() {
                        ledger.disconnected(fd);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Takes the (un)subscriptions the subscriber socket applied since the last call (at most
    /// [`BATCH`], so that a flood of them does not starve forwarding: the poll finds the rest)
    /// and charges each to its connection. Reading the socket also makes libzmq process its
    /// pending commands, which is what puts a subscription that arrived in force (see the
    /// README, "Subscriptions").
    fn upstream(&mut self, backend: &zmq::Socket) -> Result<()> {
        // Connections accepted before these messages were read are known first.
        self.events()?;
        let mut message = zmq::Message::new();
        for _ in 0..BATCH {
            match backend.recv(&mut message, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => return Ok(()),
                Err(zmq::Error::EINTR) => continue,
                Err(error) => return Err(error.into()),
            }
            if matches!(Upstream::parse(&message), Upstream::Other) {
                continue;
            }
            self.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
            if self.ledger.is_none() {
                continue;
            }
            // libzmq's private per-connection property (what ZMQ_SRCFD reads); absent on the
            // cancellations libzmq generates itself when a connection goes.
            let Some(fd) = message
                .gets("__fd")
                .and_then(|fd| fd.parse::<std::os::fd::RawFd>().ok())
            else {
                continue;
            };
            // A descriptor not known, or closed by us, may carry a new connection by now:
            // the monitor says so (its ACCEPTED event opens a fresh account).
            if self
                .ledger
                .as_ref()
                .is_some_and(|ledger| !ledger.knows(fd) || ledger.is_closed(fd))
            {
                self.events()?;
            }
            let Some(ledger) = self.ledger.as_mut() else {
                continue;
            };
            if !ledger.knows(fd) {
                ledger.accepted(fd, crate::sys::addresses(fd));
            }
            if let Some(over) = ledger.upstream(fd, Upstream::parse(&message)) {
                self.close(over);
            }
        }
        Ok(())
    }

    /// Closes a subscriber connection that passed its subscription limits.
    fn close(&mut self, over: Over) {
        // Act on the descriptor only while it still carries the connection accepted there.
        let current = crate::sys::addresses(over.fd);
        let Some((_, peer)) = over
            .addresses
            .filter(|&addresses| current == Some(addresses))
        else {
            tracing::debug!(fd = over.fd, accepted = ?over.addresses, ?current, "not closing: the descriptor carries another connection");
            return;
        };
        if let Err(error) = crate::sys::abort(over.fd) {
            tracing::warn!(%error, %peer, "cannot close a subscriber over its subscription limits");
            return;
        }
        self.stats
            .subscription_closed
            .fetch_add(1, Ordering::Relaxed);
        if self.closures.first(peer.ip().to_string()).is_some() {
            tracing::warn!(
                %peer,
                topics = over.count,
                bytes = over.bytes,
                max_subscriptions = ?self.ledger.as_ref().map(Ledger::limits).and_then(|l| l.max_count),
                max_bytes = ?self.ledger.as_ref().map(Ledger::limits).and_then(|l| l.max_bytes),
                "closing a subscriber that holds more subscriptions than allowed \
                 (--max-subscriptions, --max-subscription-kib); it reconnects by itself and is \
                 closed again while it keeps them; further closures from this address are only \
                 counted"
            );
        }
    }
}

/// The flood watch's loop (see [`FloodWatch`]): every [`FLOOD_TICK`], the byte counts of the
/// connections accepted on `subscriber_port`; those that flood are aborted, logged once per
/// address and counted with the subscription closures.
fn watch_floods(
    mut watch: FloodWatch,
    subscriber_port: u16,
    stats: &ForwardStats,
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut logged = DropLog::default();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(FLOOD_TICK);
        let connections: Vec<_> = crate::sys::open_descriptors()
            .into_iter()
            .filter_map(|fd| {
                let (local, peer) = crate::sys::addresses(fd)?;
                (local.port() == subscriber_port)
                    .then(|| Some((fd, peer, crate::sys::tcp_bytes_received(fd)?)))?
            })
            .collect();
        for (fd, peer, sent) in watch.tick(Instant::now(), &connections) {
            // Only while the descriptor still carries that connection.
            if crate::sys::addresses(fd).map(|(_, current)| current) != Some(peer)
                || crate::sys::abort(fd).is_err()
            {
                continue;
            }
            stats.subscription_closed.fetch_add(1, Ordering::Relaxed);
            if logged.first(peer.ip().to_string()).is_some() {
                tracing::warn!(
                    %peer,
                    sent,
                    allowance = watch.capacity(),
                    "closing a subscriber that floods the backplane with subscriptions (it sent \
                     more than its whole allowed set, --max-subscriptions and \
                     --max-subscription-kib, plus 64 KiB/s); further closures from this \
                     address are only counted"
                );
            }
        }
    }
}

/// The forwarder loop: moves `[topic, payload]` messages from `frontend` to `backend`,
/// dropping those over the size limit (see [`crate::limits`]), keeping the queues within the
/// byte budget (see [`crate::budget`]) and the subscriptions within their limits (see
/// [`crate::subscriptions`]), until "TERMINATE" arrives on `control`.
fn forward(
    frontend: &zmq::Socket,
    backend: &zmq::Socket,
    control: &zmq::Socket,
    state: &mut Forwarder<'_>,
) -> Result<()> {
    let limits = state.limits;
    let stats = state.stats;
    loop {
        for _ in 0..BATCH {
            let mut topic = zmq::Message::new();
            match frontend.recv(&mut topic, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => break,
                Err(zmq::Error::EINTR) => continue,
                Err(error) => return Err(error.into()),
            }
            // The parts of a message arrive together: these reads do not block.
            let payload = if topic.get_more() {
                let mut payload = zmq::Message::new();
                frontend.recv(&mut payload, 0)?;
                if payload.get_more() {
                    let mut rest = zmq::Message::new();
                    let mut parts = 2u64;
                    while frontend.get_rcvmore()? {
                        frontend.recv(&mut rest, 0)?;
                        parts += 1;
                    }
                    stats.malformed.fetch_add(1, Ordering::Relaxed);
                    if let Some(peer) = state.drops.first_from(&mut topic) {
                        tracing::warn!(
                            %peer,
                            parts,
                            "dropping a message of more than two parts (not Banyan); further ones \
                             from this peer are only counted"
                        );
                    }
                    continue;
                }
                Some(payload)
            } else {
                None
            };
            let len = topic.len() + payload.as_ref().map_or(0, |payload| payload.len());
            if limits.max_message.is_some_and(|limit| len > limit) {
                stats.oversize.fetch_add(1, Ordering::Relaxed);
                if let Some(peer) = state.drops.first_from(&mut topic) {
                    tracing::warn!(
                        %peer,
                        len,
                        limit = limits.max_message,
                        "dropping a message whose topic and payload exceed --max-message; further \
                         ones from this peer are only counted"
                    );
                }
                continue;
            }
            match payload {
                Some(payload) => {
                    backend.send(topic, zmq::SNDMORE)?;
                    backend.send(payload, 0)?;
                }
                None => backend.send(topic, 0)?,
            }
            stats.forwarded.fetch_add(1, Ordering::Relaxed);
            if let Some(guard) = state.guard.as_mut()
                && guard.budget.forwarded(len)
            {
                state.events()?;
                if let Some(guard) = state.guard.as_mut() {
                    guard.check(stats);
                }
            }
        }
        // Subscriptions that came in meanwhile are in force before the next batch.
        state.upstream(backend)?;
        let (stop, events) = {
            let timeout = state.guard.as_ref().map_or(-1, Guard::poll_timeout);
            // The subscriber socket is polled too: its subscriptions are read (and put in
            // force) as soon as they arrive, also while nothing is forwarded. Without a
            // monitor the fourth item repeats the control socket and is not polled.
            let mut items = [
                frontend.as_poll_item(zmq::POLLIN),
                control.as_poll_item(zmq::POLLIN),
                backend.as_poll_item(zmq::POLLIN),
                state
                    .monitor
                    .as_ref()
                    .unwrap_or(control)
                    .as_poll_item(zmq::POLLIN),
            ];
            let used = if state.monitor.is_some() { 4 } else { 3 };
            match zmq::poll(&mut items[..used], timeout) {
                // A signal delivered to this thread interrupted the wait: resume.
                Err(zmq::Error::EINTR) => continue,
                other => other?,
            };
            let events = used == 4 && items[3].is_readable();
            (items[1].is_readable(), events)
        };
        if events {
            state.events()?;
        }
        if let Some(guard) = state.guard.as_mut()
            && guard.recheck_at.is_some_and(|at| at <= Instant::now())
        {
            guard.check(stats);
        }
        if stop {
            let command = control.recv_bytes(0)?;
            if command == b"TERMINATE" {
                return Ok(());
            }
        }
    }
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane")
            .field("address", &self.address)
            .field("publisher_port", &self.publisher_port)
            .field("subscriber_port", &self.subscriber_port)
            .finish()
    }
}

fn bind(socket: &zmq::Socket, address: &str, port: u16) -> Result<u16> {
    let endpoint = bind_endpoint(address, port);
    socket.bind(&endpoint).map_err(|source| match source {
        zmq::Error::EADDRINUSE => Error::PortInUse {
            address: address.to_owned(),
            port,
        },
        reason => Error::Bind { endpoint, reason },
    })?;
    let last = socket
        .get_last_endpoint()?
        .map_err(|bytes| Error::Endpoint {
            endpoint: String::from_utf8_lossy(&bytes).into_owned(),
        })?;
    endpoint_port(&last).ok_or(Error::Endpoint { endpoint: last })
}

impl Backplane {
    /// Binds both sockets (so a busy port is reported here, as [`Error::PortInUse`]) and starts
    /// the forwarder thread.
    pub fn bind(config: &BackplaneConfig) -> Result<Self> {
        let ctx = zmq::Context::new();
        let access_stats = Arc::new(AccessStats::default());
        // The handler must listen before any socket of this context accepts a connection.
        let zap = if config.access.is_open() {
            None
        } else {
            Some(ZapHandler::start(
                &ctx,
                config.access.clone(),
                access_stats.clone(),
            )?)
        };
        let frontend = ctx.socket(zmq::SUB)?;
        config.limits.apply_receive(&frontend)?;
        config.limits.apply_send(&frontend)?;
        config.access.apply_server(&frontend)?;
        frontend.set_linger(0)?;
        frontend.set_subscribe(b"")?;
        // An XPUB, not a PUB: it filters the same way and also hands every (un)subscription
        // to the forwarder, which counts them per connection (crate::subscriptions) and, by
        // reading the socket, makes libzmq put them in force promptly.
        let mut backend = ctx.socket(zmq::XPUB)?;
        crate::limits::set_int_option(&mut backend, zmq_sys::ZMQ_XPUB_VERBOSER, 1)?;
        config.limits.apply_send(&backend)?;
        // Subscribers send only subscriptions upstream; they too are size-limited.
        config
            .limits
            .apply_subscriptions(&backend, &config.subscriptions)?;
        // What a subscriber sends is only its subscriptions: a small kernel receive buffer
        // bounds how many more a closed connection still delivers (a shut-down socket's
        // buffered bytes are still read; with loopback's autotuned megabytes that was tens of
        // thousands of subscriptions past the bound). Sending is not affected.
        backend.set_rcvbuf(SUBSCRIBER_RCVBUF)?;
        config.limits.apply_stall_timeout(&mut backend)?;
        config.access.apply_server(&backend)?;
        backend.set_linger(0)?;
        let guard = Guard::start(&config.limits);
        let ledger =
            (!config.subscriptions.is_unlimited()).then(|| Ledger::new(config.subscriptions));
        let monitor = if guard.is_some() || ledger.is_some() {
            Some(watch_connections(&ctx, &backend)?)
        } else {
            None
        };
        let publisher_port = bind(&frontend, &config.bind, config.publisher_port)?;
        let subscriber_port = bind(&backend, &config.bind, config.subscriber_port)?;

        // A PAIR over inproc stops the forwarder: "TERMINATE" makes it return.
        let endpoint = format!("inproc://banyan-backplane-{publisher_port}-{subscriber_port}");
        let proxy_control = ctx.socket(zmq::PAIR)?;
        proxy_control.bind(&endpoint)?;
        let control = ctx.socket(zmq::PAIR)?;
        control.connect(&endpoint)?;

        let limits = config.limits;
        let forward_stats = Arc::new(ForwardStats::default());
        let flood_watch = match FloodWatch::new(&config.subscriptions) {
            Some(watch) => {
                let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let (thread_stop, stats) = (stop.clone(), forward_stats.clone());
                let thread = std::thread::Builder::new()
                    .name("banyan-flood-watch".into())
                    .spawn(move || watch_floods(watch, subscriber_port, &stats, &thread_stop))?;
                Some((stop, thread))
            }
            None => None,
        };
        let thread_stats = forward_stats.clone();
        let thread = std::thread::Builder::new()
            .name("banyan-backplane".into())
            .spawn(move || {
                let mut state = Forwarder {
                    limits,
                    stats: &thread_stats,
                    monitor,
                    guard,
                    ledger,
                    drops: DropLog::default(),
                    closures: DropLog::default(),
                };
                let result = forward(&frontend, &backend, &proxy_control, &mut state);
                drop(state);
                drop((frontend, backend, proxy_control));
                drop(ctx);
                result
            })?;
        tracing::info!(
            address = %config.bind,
            publisher_port,
            subscriber_port,
            receive_hwm = config.limits.hwm(),
            send_hwm = config.limits.send_hwm(),
            stall_timeout = ?config.limits.stall_timeout,
            max_message = ?config.limits.max_message,
            max_subscriptions = ?config.subscriptions.max_count,
            max_subscription_bytes = ?config.subscriptions.max_bytes,
            allow = ?config.access.allow,
            plain_users = config.access.plain.len(),
            "backplane forwarding"
        );
        Ok(Self {
            address: config.bind.clone(),
            publisher_port,
            subscriber_port,
            control,
            thread: Some(thread),
            access_stats,
            forward_stats,
            zap,
            flood_watch,
        })
    }

    /// The address the sockets are bound to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The port components publish to (bound SUB socket).
    pub fn publisher_port(&self) -> u16 {
        self.publisher_port
    }

    /// The port components subscribe on (bound PUB socket).
    pub fn subscriber_port(&self) -> u16 {
        self.subscriber_port
    }

    /// Counters of the access control (refused and accepted handshakes); all zero when the
    /// backplane is open.
    pub fn access_stats(&self) -> &AccessStats {
        &self.access_stats
    }

    /// Counters of the forwarder.
    pub fn forward_stats(&self) -> &ForwardStats {
        &self.forward_stats
    }

    /// Stops the forwarder, closes both sockets and waits for the thread.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        if !thread.is_finished() {
            self.control.set_sndtimeo(1000)?;
            if let Err(error) = self.control.send("TERMINATE", 0) {
                tracing::warn!(%error, "cannot reach the forwarder thread");
            }
        }
        let result = match thread.join() {
            Ok(result) => result,
            Err(_) => Err(Error::ThreadPanicked {
                thread: "banyan-backplane",
            }),
        };
        // Stops and joins the ZAP handler (its sockets keep the context alive until then).
        self.zap = None;
        if let Some((stop, thread)) = self.flood_watch.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
        result
    }
}

impl Drop for Backplane {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(%error, "backplane shutdown");
        }
    }
}
