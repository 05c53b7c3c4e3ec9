//! The component API: the Rust counterpart of Python Banyan's `BanyanBase`.
//!
//! A [`Component`] owns a PUB socket connected to the backplane's publisher port and a SUB
//! socket connected to its subscriber port. Messages are `[topic, msgpack(map)]`, byte for
//! byte what Python Banyan sends.
//!
//! # Connection proof instead of a sleep
//! Python sleeps 0.3 s after connecting and hopes the connections are up; messages published
//! earlier are lost (ZeroMQ's "slow joiner"). [`Component::connect`] instead *proves* the
//! path: it subscribes to a fresh probe topic under [`PROBE_TOPIC_PREFIX`] and publishes
//! probe messages on it (retrying with a short back-off) until one comes back through the
//! backplane. When it returns, the publish path, the subscribe path and every subscription
//! made before the probe are in place, so the first real message is delivered. The same proof
//! runs after each [`Component::subscribe`]: a subscription and the later probe subscription
//! travel in order on the same connection, so the probe's return shows that the backplane
//! applies the new filter.
//!
//! Probes are ordinary Banyan messages (a msgpack map) so that a Python monitor subscribed to
//! everything prints them instead of crashing. A component drops its own probes; it sees other
//! components' probes only if it subscribed to a prefix of [`PROBE_TOPIC_PREFIX`] (e.g. `""`).
//!
//! # Self-healing after a backplane restart
//! A component goes on working when its backplane is restarted (systemd restart, crash and
//! relaunch on the same ports): see [`health`] for how it notices the restart, re-proves the
//! path and what is (and is not) kept across it. [`Component::path_state`] and
//! [`Component::stats`] tell the application where it stands.
//!
//! # Bounded memory
//! Messages that arrive while a blocking proof waits for its probe ([`Component::subscribe`],
//! [`Component::connect`]) are kept for the next receive, at most [`PENDING_LIMIT_MESSAGES`]
//! messages and [`PENDING_LIMIT_BYTES`] bytes; more are dropped and counted
//! ([`ComponentStats::pending_dropped`]). Receiving reuses the frames of one ZeroMQ message
//! pair; [`Component::recv_ref`] hands them out borrowed, without a copy or an allocation.
//!
//! # Publishing from other threads
//! [`Component::publisher`] gives a cloneable, `Send + Sync` [`Publisher`]: other threads or
//! async tasks publish through this component's connection (no second connection, no second
//! proof); the component sends what they queue while it receives.
//!
//! # Layout
//! - `proof.rs`: `PathProof`, the sans-IO "publish a probe, wait for it to come back"
//!   machine behind every proof (connect, subscribe, gateway, re-proof).
//! - [`health`]: `Health`, the sans-IO connection state and re-proof after a restart.
//! - `events.rs`: `Monitors::pump`, the one reader of each socket monitor, handing every
//!   event to its consumers (`Watch`: health and the send budget).
//! - [`send_budget`]: the publishing queue's byte budget.
//! - `receive.rs`: the receive API (`recv`, `recv_timeout`, `recv_ref`, `receive_loop`).
//! - `wait.rs`: the one poll loop under it, which drives all of the above.
//! - `readiness.rs`: what a wait knows of the sockets' `ZMQ_FD`s, and their one `poll(2)`.
//! - `inbox.rs`: the reused receive frames, the pending queue, malformed-message drops.
//! - `publisher.rs`: [`Publisher`], the cloneable handle that publishes from other threads.
//! - `message.rs`: [`Message`], [`MessageRef`].
//! - `stop.rs`: [`ShutdownHandle`] and the stop socket it fires (also the
//!   [`MultiComponent`](crate::MultiComponent)'s and the ZAP handler's).

mod events;
pub mod health;
mod inbox;
mod message;
mod nonce;
mod proof;
mod publisher;
mod readiness;
mod receive;
pub mod send_budget;
mod stop;
pub(crate) mod wait;

use std::cell::RefCell;
use std::time::Duration;

use banyan_proto::payload::{self, PayloadError};
use serde::Serialize;

use crate::access::PlainCredentials;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, outward_ipv4, tcp_endpoint};

use events::{Monitors, Watch};
pub use health::PathState;
use health::{ProbeTopics, SocketSide};
use inbox::Inbox;
pub use message::{Message, MessageRef};
pub use nonce::nonce;
use proof::PathProof;
pub use proof::{PROBE_ABOUT, PROBE_TOPIC_PREFIX};
use publisher::Outbox;
pub use publisher::{HANDLE_QUEUE_BYTES, HANDLE_QUEUE_MESSAGES, Publisher};
use send_budget::{SendBudget, SystemLink, zmtp_part};
pub use stop::ShutdownHandle;
pub(crate) use stop::stop_socket;
pub use wait::{Incoming, PollFd};

/// Default time [`Component::connect`] waits for a backplane.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Most messages kept for the next receive while a blocking proof waits (see the module docs).
pub const PENDING_LIMIT_MESSAGES: usize = 65_536;

/// Most payload and topic bytes kept for the next receive while a blocking proof waits.
pub const PENDING_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// Size of the reused encode buffer of [`Component::publish`] at start; it grows (doubling) up
/// to [`ENCODE_BUFFER_MAX`] for bigger payloads.
const ENCODE_BUFFER_START: usize = 256;

/// Largest encode buffer [`Component::publish`] keeps; bigger payloads are encoded into a
/// fresh vector (their copy costs more than the allocation).
const ENCODE_BUFFER_MAX: usize = 64 * 1024;

/// How to reach a backplane.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    /// Name printed in logs and put in probe topics (Python's `process_name`).
    pub name: String,
    /// Backplane address; `None` detects the machine's outward address as Python does
    /// ([`outward_ipv4`]), falling back to `127.0.0.1`.
    pub backplane: Option<String>,
    /// Backplane port this component publishes to (Python's `publisher_port`, 43124).
    pub publisher_port: u16,
    /// Backplane port this component subscribes on (Python's `subscriber_port`, 43125).
    pub subscriber_port: u16,
    /// How long [`Component::connect`] and [`Component::subscribe`] wait for their probe.
    pub connect_timeout: Duration,
    /// Message size limit and queue budget of both sockets (see [`crate::limits`]).
    pub limits: Limits,
    /// PLAIN credentials for a backplane that requires them (Rust backplanes with
    /// `--plain-user`); `None` speaks the NULL mechanism as Python Banyan does.
    pub plain: Option<PlainCredentials>,
    /// How long unsent messages may hold up closing the component.
    pub linger: Duration,
    /// Topics subscribed before the connection proof, so they are in force on return.
    pub subscriptions: Vec<String>,
}

impl Default for ComponentConfig {
    fn default() -> Self {
        Self {
            name: "component".into(),
            backplane: None,
            publisher_port: DEFAULT_PUBLISHER_PORT,
            subscriber_port: DEFAULT_SUBSCRIBER_PORT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            limits: Limits::default(),
            plain: None,
            linger: Duration::from_secs(2),
            subscriptions: Vec::new(),
        }
    }
}

impl ComponentConfig {
    /// A configuration named `name` with Python Banyan's defaults.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the backplane address and ports.
    pub fn backplane(
        mut self,
        address: impl Into<String>,
        publisher_port: u16,
        subscriber_port: u16,
    ) -> Self {
        self.backplane = Some(address.into());
        self.publisher_port = publisher_port;
        self.subscriber_port = subscriber_port;
        self
    }

    /// Adds a topic subscribed before the connection proof.
    pub fn subscribe(mut self, topic: impl Into<String>) -> Self {
        self.subscriptions.push(topic.into());
        self
    }

    /// Sets the connection timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connects; see [`Component::connect`].
    pub fn connect(self) -> Result<Component> {
        Component::connect(self)
    }
}

/// Counters of a component's life (see [`Component::stats`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ComponentStats {
    /// Messages dropped because the pending queue of a blocking proof was full
    /// ([`PENDING_LIMIT_MESSAGES`], [`PENDING_LIMIT_BYTES`]).
    pub pending_dropped: u64,
    /// Received messages dropped as not `[UTF-8 topic, payload]`.
    pub malformed_dropped: u64,
    /// Times the connection to the backplane was lost (either socket disconnected).
    pub disconnects: u64,
    /// Times the path was proven again after a loss: subscriptions in force, publishing
    /// delivered. Grows by one per backplane restart survived.
    pub reproofs: u64,
    /// Publishes dropped because the publishing queue was over its byte budget (the
    /// backplane took messages more slowly than they were published; see [`send_budget`]).
    pub publish_dropped: u64,
    /// Publishes of [`Publisher`] handles dropped because the handles' queue was full
    /// ([`HANDLE_QUEUE_MESSAGES`], [`HANDLE_QUEUE_BYTES`]).
    pub handle_dropped: u64,
}

/// A Banyan component connected to a backplane.
pub struct Component {
    name: String,
    address: String,
    publisher_port: u16,
    subscriber_port: u16,
    connect_timeout: Duration,
    ctx: zmq::Context,
    publisher: zmq::Socket,
    subscriber: zmq::Socket,
    stop: zmq::Socket,
    stop_handle: ShutdownHandle,
    topics: ProbeTopics,
    /// The proof a caller started (connect, subscribe, the gateway), if one runs.
    proof: Option<PathProof>,
    inbox: Inbox,
    /// What the waits' poll knows of the sockets' notification descriptors.
    readiness: readiness::Readiness,
    /// The subscriber lost its connection: connect it again at the next safe point (see
    /// [`wait`]'s `turn`).
    reconnect_due: bool,
    encode: RefCell<Vec<u8>>,
    monitors: Monitors,
    /// Health and send budget, the monitors' consumers: borrowed by `publish` (the budget
    /// may read the publisher's monitor) and by waits; never re-entered.
    watch: RefCell<Watch>,
    /// The pipe of [`Publisher`] handles, from the first [`Component::publisher`] on.
    outbox: Option<Outbox>,
    max_message: Option<usize>,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("publisher_port", &self.publisher_port)
            .field("subscriber_port", &self.subscriber_port)
            .finish()
    }
}

/// Receive-side socket options, all in one place: the SUB socket's queue bound and linger.
fn apply_receive_options(subscriber: &zmq::Socket, limits: &Limits) -> Result<()> {
    // The size limit and the queue bound, as on the backplane's receiving socket: a part
    // over --max-message is refused before libzmq allocates for it, whatever backplane
    // (Python Banyan's forwards any size), so the queue of `hwm()` parts stays within the
    // budget. libzmq ends a *connecting* socket's connection on such a part for good (a
    // protocol error); the component connects again on every subscriber loss
    // ([`reconnect_subscriber`]).
    subscriber.set_maxmsgsize(limits.zmq_max_message())?;
    subscriber.set_rcvhwm(limits.hwm())?;
    subscriber.set_linger(0)?;
    Ok(())
}

/// Connects the subscriber again after a loss of its connection. The subscriber refuses parts
/// over the size limit itself (ZMQ_MAXMSGSIZE, [`apply_receive_options`]), and libzmq ends a
/// *connecting* socket's connection that receives one for good (a protocol error: no
/// reconnect). Connecting again here makes every loss, that one included, end in a reconnect,
/// which re-sends the subscriptions; for an ordinary loss it only replaces libzmq's own retry.
pub(crate) fn reconnect_subscriber(subscriber: &zmq::Socket, endpoint: &str) -> Result<()> {
    let _ = subscriber.disconnect(endpoint);
    subscriber
        .connect(endpoint)
        .map_err(|reason| Error::Connect {
            endpoint: endpoint.to_owned(),
            reason,
        })
}

impl Component {
    /// Connects to the backplane and proves the path (see the module docs). Fails with
    /// [`Error::NoBackplane`] when no probe comes back within `config.connect_timeout`.
    pub fn connect(config: ComponentConfig) -> Result<Self> {
        let mut component = Self::open(config, zmq::Context::new())?;
        component.prove_path()?;
        tracing::debug!(component = %component.name, address = %component.address, "connected");
        Ok(component)
    }

    /// Connects without waiting for a backplane: the component starts as after a lost
    /// backplane ([`PathState::Lost`]) and proves the path by itself once both connections
    /// are up (see [`health`]), while it receives. For callers that must not fail when no
    /// backplane runs yet, as Python Banyan's `BanyanBase` given an address (the
    /// `rust_banyan` Python package); [`Component::connect`] is the proven start.
    pub fn connect_in_background(config: ComponentConfig) -> Result<Self> {
        let component = Self::open(config, zmq::Context::new())?;
        component.watch.borrow_mut().health = health::Health::lost();
        Ok(component)
    }

    /// Creates the sockets in `ctx`, connects them and subscribes `config.subscriptions`,
    /// without proving the path: the blocking [`connect`](Self::connect) and the async
    /// component (`crate::aio`) prove it each their way.
    pub(crate) fn open(config: ComponentConfig, ctx: zmq::Context) -> Result<Self> {
        let address = config
            .backplane
            .clone()
            .unwrap_or_else(|| outward_ipv4().to_string());
        let mut publisher = ctx.socket(zmq::PUB)?;
        config.limits.apply_send(&publisher)?;
        // A backplane that stops reading (frozen, hung, gone without a word) would keep this
        // queue growing: after the stall timeout the connection is closed, its queue freed,
        // and it reconnects by itself.
        config.limits.apply_stall_timeout(&mut publisher)?;
        publisher.set_linger(i32::try_from(config.linger.as_millis()).unwrap_or(i32::MAX))?;
        let subscriber = ctx.socket(zmq::SUB)?;
        apply_receive_options(&subscriber, &config.limits)?;
        if let Some(plain) = &config.plain {
            plain.apply_client(&publisher)?;
            plain.apply_client(&subscriber)?;
        }
        let nonce = nonce();
        // Monitors first, so that no connection event is missed.
        let monitors = Monitors::new(&ctx, &publisher, &subscriber, nonce)?;
        let watch = Watch {
            health: health::Health::new(),
            // Only where the kernel reports the connection's progress (always on Linux): without
            // it the estimate could only grow and would drop everything once past the budget.
            budget: config
                .limits
                .queue_budget
                .filter(|_| crate::sys::tcp_probes_work())
                .map(SendBudget::new),
        };
        let connect = |socket: &zmq::Socket, port: u16| {
            let endpoint = tcp_endpoint(&address, port);
            socket
                .connect(&endpoint)
                .map_err(|reason| Error::Connect { endpoint, reason })
        };
        connect(&publisher, config.publisher_port)?;
        connect(&subscriber, config.subscriber_port)?;

        let (stop, stop_handle) = stop_socket(&ctx, "component")?;

        let component = Self {
            topics: ProbeTopics {
                base: format!("{PROBE_TOPIC_PREFIX}{}/{nonce:016x}/", config.name),
                name: config.name.clone(),
                sequence: 0,
            },
            name: config.name,
            address,
            publisher_port: config.publisher_port,
            subscriber_port: config.subscriber_port,
            connect_timeout: config.connect_timeout,
            ctx,
            publisher,
            subscriber,
            stop,
            stop_handle,
            proof: None,
            inbox: Inbox::new(),
            readiness: readiness::Readiness::new(),
            reconnect_due: false,
            encode: RefCell::new(vec![0; ENCODE_BUFFER_START]),
            monitors,
            watch: RefCell::new(watch),
            outbox: None,
            max_message: config.limits.max_message,
        };
        for topic in &config.subscriptions {
            component.subscriber.set_subscribe(topic.as_bytes())?;
        }
        Ok(component)
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backplane address in use.
    pub fn backplane_address(&self) -> &str {
        &self.address
    }

    /// The backplane port this component publishes to.
    pub fn publisher_port(&self) -> u16 {
        self.publisher_port
    }

    /// The backplane port this component subscribes on.
    pub fn subscriber_port(&self) -> u16 {
        self.subscriber_port
    }

    /// A handle that stops blocking receives from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop_handle.clone()
    }

    /// A cloneable, `Send + Sync` handle that publishes through this component's connection
    /// from any thread or task; the component sends what handles queue while it receives
    /// (see [`Publisher`] for the bounds and what is dropped).
    pub fn publisher(&mut self) -> Result<Publisher> {
        if self.outbox.is_none() {
            let endpoint = format!("inproc://banyan-outbox-{:016x}", nonce());
            self.outbox = Some(Outbox::new(&self.ctx, &endpoint, self.max_message)?);
            // A new socket to poll: the next poll asks it (see `wait::Readiness`).
            self.readiness.forget();
        }
        Ok(self
            .outbox
            .as_ref()
            .map(Outbox::handle)
            .expect("created above"))
    }

    /// Subscribes to every topic starting with `topic` (ZeroMQ prefix matching; `""` = all)
    /// and waits until the backplane applies it (a probe round trip), so a message published
    /// after this returns is received. Subscribing twice needs unsubscribing twice.
    pub fn subscribe(&mut self, topic: &str) -> Result<()> {
        self.subscriber.set_subscribe(topic.as_bytes())?;
        self.prove_path()
    }

    /// Removes one subscription to `topic`.
    pub fn unsubscribe(&mut self, topic: &str) -> Result<()> {
        self.subscriber.set_unsubscribe(topic.as_bytes())?;
        Ok(())
    }

    /// Adds a subscription without proving it (a gateway has it proven without blocking,
    /// with [`start_proof`](Self::start_proof), while it keeps serving its device link; a
    /// component whose path is not proven yet, see
    /// [`connect_in_background`](Self::connect_in_background), has it proven with the path).
    pub fn subscribe_unproven(&mut self, topic: &str) -> Result<()> {
        self.subscriber.set_subscribe(topic.as_bytes())?;
        Ok(())
    }

    /// Publishes `payload` (any `Serialize` value; structs and maps become msgpack maps, byte
    /// for byte as Python's `msgpack.packb(payload, use_bin_type=True)`) on `topic`.
    ///
    /// The payload is encoded into a buffer the component reuses: no allocation per message.
    pub fn publish<T: Serialize + ?Sized>(&self, topic: &str, payload: &T) -> Result<()> {
        // `publish` never re-enters itself, so the borrow cannot fail.
        let mut buf = self.encode.borrow_mut();
        loop {
            match payload::to_slice(payload, &mut buf[..]) {
                Ok(len) => return self.publish_raw(topic.as_bytes(), &buf[..len]),
                Err(PayloadError::BufferFull) if buf.len() < ENCODE_BUFFER_MAX => {
                    let bigger = buf.len() * 2;
                    buf.resize(bigger, 0);
                }
                Err(PayloadError::BufferFull) => {
                    drop(buf);
                    let bytes = payload::to_vec(payload)?;
                    return self.publish_raw(topic.as_bytes(), &bytes);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Publishes already-encoded payload bytes on `topic`, verbatim.
    pub fn publish_raw(&self, topic: &[u8], payload: &[u8]) -> Result<()> {
        // The backplane drops a message whose topic and payload together exceed its limit.
        let size = topic.len().saturating_add(payload.len());
        if let Some(limit) = self.max_message.filter(|&limit| size > limit) {
            return Err(Error::MessageTooLarge { size, limit });
        }
        if !self.admit(topic.len(), payload.len())? {
            return Ok(());
        }
        self.publisher.send(topic, zmq::SNDMORE)?;
        self.publisher.send(payload, 0)?;
        Ok(())
    }

    /// Sends a message a [`Publisher`] handle queued (already size-checked), through the
    /// byte budget.
    fn publish_frames(&self, topic: zmq::Message, payload: zmq::Message) -> Result<()> {
        if self.admit(topic.len(), payload.len())? {
            self.publisher.send(topic, zmq::SNDMORE)?;
            self.publisher.send(payload, 0)?;
        }
        Ok(())
    }

    /// Whether a message of these part sizes fits in the publishing queue's byte budget (see
    /// [`send_budget`]); one that does not is counted and dropped, as libzmq drops at its
    /// count bound.
    fn admit(&self, topic: usize, payload: usize) -> Result<bool> {
        let mut watch = self.watch.borrow_mut();
        let wire = zmtp_part(topic) + zmtp_part(payload);
        if watch.budget.as_mut().is_none_or(|budget| budget.fits(wire)) {
            return Ok(true);
        }
        // The budget needs the connection's current descriptor: read the publisher's
        // monitor now (its events go to health as well).
        // (A publisher's loss needs no action here: libzmq reconnects it by itself.)
        self.monitors
            .pump(SocketSide::Publisher, &mut watch, &self.name)?;
        let Some(budget) = watch.budget.as_mut() else {
            return Ok(true);
        };
        let admitted = budget.admit(wire, std::time::Instant::now(), &mut SystemLink);
        if !admitted && budget.dropped().is_power_of_two() {
            tracing::warn!(
                component = %self.name,
                dropped = budget.dropped(),
                "publishing queue over its byte budget (the backplane takes messages more \
                 slowly than they are published): dropping"
            );
        }
        Ok(admitted)
    }

    /// Makes closing drop what the publishing queue still holds instead of waiting up to
    /// the linger for it (the async component's failed or cancelled connect: only probes).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn discard_unsent(&self) {
        let _ = self.publisher.set_linger(0);
    }

    /// Where the path through the backplane stands (see [`health`]).
    pub fn path_state(&self) -> PathState {
        self.watch.borrow().health.state()
    }

    /// Counters: drops, disconnections, re-proofs.
    pub fn stats(&self) -> ComponentStats {
        let watch = self.watch.borrow();
        ComponentStats {
            pending_dropped: self.inbox.pending_dropped,
            malformed_dropped: self.inbox.malformed_dropped,
            disconnects: watch.health.disconnects(),
            reproofs: watch.health.reproofs(),
            publish_dropped: watch.budget.as_ref().map_or(0, SendBudget::dropped),
            handle_dropped: self.outbox.as_ref().map_or(0, Outbox::dropped),
        }
    }
}
