//! The forwarder thread's driver: moves messages from the publishers' socket to the
//! subscribers' and applies the verdicts of the sans-IO rules — [`ForwardPolicy`] per message
//! (`policy.rs`), the byte budget's [`Budget`] (evictions), the subscription [`Ledger`] and
//! [`FloodWatch`] (closures) — counting each in [`ForwardStats`] and logging once per peer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::ForwardStats;
use super::policy::{ForwardPolicy, PeerLog, Verdict};
use crate::backplane::budget::{Budget, SystemProbe};
use crate::backplane::subscriptions::{FLOOD_TICK, FloodWatch, Ledger, Over, Upstream};
use crate::error::Result;
use crate::limits::Limits;
use crate::monitor::{EVENT_ACCEPTED, EVENT_DISCONNECTED, read_event};
use crate::shape::{Shape, recv_rest};

impl ForwardStats {
    /// Counts a drop verdict (nothing for [`Verdict::Forward`]).
    fn dropped(&self, verdict: Verdict) {
        let counter = match verdict {
            Verdict::Forward { .. } => return,
            Verdict::Malformed { .. } => &self.malformed,
            Verdict::Oversize { .. } => &self.oversize,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The byte budget at work in the forwarder: the [`Budget`] decisions and when to look again
/// without traffic.
pub(super) struct Guard {
    budget: Budget,
    probe: SystemProbe,
    recheck_at: Option<Instant>,
}

impl Guard {
    /// `None` without a budget or where the heap cannot be measured.
    pub(super) fn start(limits: &Limits) -> Option<Self> {
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
pub(super) fn watch_connections(ctx: &zmq::Context, backend: &zmq::Socket) -> Result<zmq::Socket> {
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

/// Messages moved without polling before the control socket is checked.
const BATCH: usize = 1024;

/// The forwarder's state besides its sockets.
pub(super) struct Forwarder<'a> {
    /// The per-message rules.
    pub policy: ForwardPolicy,
    pub stats: &'a ForwardStats,
    /// The subscriber side's connection events (with a budget or subscription limits).
    pub monitor: Option<zmq::Socket>,
    pub guard: Option<Guard>,
    pub ledger: Option<Ledger>,
    /// Peers whose dropped messages were logged.
    pub drops: PeerLog,
    /// Addresses whose subscription closures were logged.
    pub closures: PeerLog,
}

impl Forwarder<'_> {
    /// Reads the monitor's pending events: subscriber connections accepted and gone.
    fn events(&mut self) -> Result<()> {
        let Some(monitor) = &self.monitor else {
            return Ok(());
        };
        while let Some(event) = read_event(monitor)? {
            let fd = crate::sys::fd_from_event(event.value);
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
                .and_then(|fd| fd.parse::<crate::sys::Fd>().ok())
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
        if self.closures.first(&peer.ip().to_string()) {
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
pub(super) fn watch_floods(
    mut watch: FloodWatch,
    subscriber_port: u16,
    stats: &ForwardStats,
    stop: &std::sync::atomic::AtomicBool,
) {
    let mut logged = PeerLog::default();
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
            if logged.first(&peer.ip().to_string()) {
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
/// byte budget (see [`crate::backplane::budget`]) and the subscriptions within their limits (see
/// [`crate::backplane::subscriptions`]), until "TERMINATE" arrives on `control`.
pub(super) fn forward(
    frontend: &zmq::Socket,
    backend: &zmq::Socket,
    control: &zmq::Socket,
    state: &mut Forwarder<'_>,
) -> Result<()> {
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
            let mut payload = zmq::Message::new();
            let shape = recv_rest(frontend, &topic, &mut payload)?;
            let payload_len = match shape {
                Shape::TopicOnly => 0,
                _ => payload.len(),
            };
            let verdict = state.policy.judge(shape, topic.len(), payload_len);
            let Verdict::Forward { len } = verdict else {
                stats.dropped(verdict);
                // libzmq's `Peer-Address` of the message: the sender's IP address.
                let peer = topic.gets("Peer-Address").unwrap_or("unknown");
                if state.drops.first(peer) {
                    verdict.warn(peer);
                }
                continue;
            };
            if shape == Shape::TopicOnly {
                backend.send(topic, 0)?;
            } else {
                backend.send(topic, zmq::SNDMORE)?;
                backend.send(payload, 0)?;
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
