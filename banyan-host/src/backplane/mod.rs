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
//! pass the budget ([`crate::backplane::budget`]). See [`crate::limits`] and the README for the measured
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
//! subscriptions faster than the forwarder can count them (see [`crate::backplane::subscriptions`]).
//! Subscriptions are not forwarded upstream: the receiving socket stays `SUB("")`.
//!
//! # Access control
//! With a non-open [`AccessControl`] the sockets carry a ZAP domain and a handler thread
//! checks each peer's address (and PLAIN credentials) at the handshake; see [`crate::access`].
//!
//! # Layout
//! Judge, then apply: the rules are sans-IO and the driver only moves bytes and applies their
//! verdicts.
//! - `policy.rs`: the forwarder's per-message rules (`ForwardPolicy`: part count via
//!   `crate::shape`, the size limit) and the once-per-peer drop log (`PeerLog`), unit-tested
//!   without sockets.
//! - `forward.rs`: the forwarder thread (receive, judge, send or count and log), the byte
//!   budget's driver (`Guard` over [`crate::backplane::budget`]), the subscription ledger's and flood
//!   watch's drivers (closures, see [`crate::backplane::subscriptions`]).
//! - [`budget`]: the byte budget of the subscriber queues, whatever the message sizes
//!   (sans-IO; its system probes in `crate::sys`).
//! - [`subscriptions`]: per-connection subscription bounds (count and bytes), a sans-IO
//!   ledger, and the flood watch.
//! - `config.rs`: [`BackplaneConfig`]. This file: [`Backplane`] (binding, the threads,
//!   shutdown) and [`ForwardStats`].

pub mod budget;
mod config;
mod forward;
mod policy;
pub mod subscriptions;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

pub use config::BackplaneConfig;

use crate::access::{AccessStats, ZapHandler};
use crate::error::{Error, Result};
use crate::net::{bind_endpoint, endpoint_port};
#[cfg(doc)]
use crate::{access::AccessControl, backplane::subscriptions::SubscriptionLimits, limits::Limits};
use forward::{Forwarder, Guard, watch_connections, watch_floods};
use policy::{ForwardPolicy, PeerLog};
use subscriptions::{FloodWatch, Ledger};

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
    /// nothing (see [`crate::backplane::budget`]).
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// The most bytes found queued (heap in use above the level at start) at a budget check;
    /// 0 where the heap cannot be measured or no check came.
    pub fn queued_peak(&self) -> u64 {
        self.queued_peak.load(Ordering::Relaxed)
    }

    /// Subscriber connections closed because they held more subscriptions than
    /// [`SubscriptionLimits`] allow (see [`crate::backplane::subscriptions`]).
    pub fn subscription_closed(&self) -> u64 {
        self.subscription_closed.load(Ordering::Relaxed)
    }

    /// Subscribe and cancel messages read from the subscriber socket (each in force once read;
    /// libzmq's own cancels for a closed connection's topics included).
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions.load(Ordering::Relaxed)
    }
}

/// The kernel receive buffer of each subscriber connection (`SO_RCVBUF`), which carries only
/// subscriptions and heartbeats.
const SUBSCRIBER_RCVBUF: i32 = 64 * 1024;

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
        // to the forwarder, which counts them per connection (crate::backplane::subscriptions) and, by
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

        let policy = ForwardPolicy::new(&config.limits);
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
                    policy,
                    stats: &thread_stats,
                    monitor,
                    guard,
                    ledger,
                    drops: PeerLog::default(),
                    closures: PeerLog::default(),
                };
                let result = forward::forward(&frontend, &backend, &proxy_control, &mut state);
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
