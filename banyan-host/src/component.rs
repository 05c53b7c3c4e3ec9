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

pub mod health;
pub mod send_budget;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use banyan_proto::payload::{self, PayloadError, Value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::access::PlainCredentials;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, outward_ipv4, tcp_endpoint};

use crate::monitor::{EVENT_CONNECTED, EVENT_DISCONNECTED, MonitorEvent, read_event};
pub use health::PathState;
use health::{Health, SocketSide};
use send_budget::{SendBudget, SystemLink, zmtp_part};

/// Reserved topic prefix of connection probes. Topics under it are
/// `_banyan_probe/<component name>/<nonce>/<sequence>`.
pub const PROBE_TOPIC_PREFIX: &str = "_banyan_probe/";

/// What a probe message says about itself (the `about` field of its payload).
pub const PROBE_ABOUT: &str =
    "Rust Banyan connection probe: proves a component's path through the backplane; ignore";

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

/// Payload of a probe message.
#[derive(Debug, Serialize, Deserialize)]
struct Probe<'a> {
    about: &'a str,
    component: &'a str,
    probe: u64,
}

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

/// A received message: a UTF-8 topic and the msgpack payload bytes as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic (first frame).
    pub topic: String,
    /// The msgpack payload (second frame), undecoded.
    pub payload: Vec<u8>,
}

impl Message {
    /// This message, borrowed.
    pub fn as_ref(&self) -> MessageRef<'_> {
        MessageRef {
            topic: &self.topic,
            payload: &self.payload,
        }
    }

    /// Decodes the payload into a typed value.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(payload::from_slice(&self.payload)?)
    }

    /// Decodes the payload into a dynamic [`Value`].
    pub fn value(&self) -> Result<Value> {
        Ok(payload::from_slice(&self.payload)?)
    }
}

/// A received message, borrowed from the component until the next receive
/// ([`Component::recv_ref`]): no copy, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// The topic (first frame), UTF-8.
    pub topic: &'a str,
    /// The msgpack payload (second frame), undecoded.
    pub payload: &'a [u8],
}

impl<'a> MessageRef<'a> {
    /// Decodes the payload into a typed value (which may borrow from the payload).
    pub fn decode<T: Deserialize<'a>>(&self) -> Result<T> {
        Ok(payload::from_slice(self.payload)?)
    }

    /// Decodes the payload into a dynamic [`Value`].
    pub fn value(&self) -> Result<Value> {
        Ok(payload::from_slice(self.payload)?)
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Message {
        Message {
            topic: self.topic.to_owned(),
            payload: self.payload.to_vec(),
        }
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
}

/// Stops a component's blocking receive from any thread (e.g. a Ctrl-C handler).
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(crate) ctx: zmq::Context,
    pub(crate) endpoint: String,
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl ShutdownHandle {
    /// Makes the component's current or next blocking receive return [`Error::Shutdown`]
    /// (and [`Component::receive_loop`] return `Ok`). Harmless if the component is gone.
    pub fn shutdown(&self) -> Result<()> {
        let socket = self.ctx.socket(zmq::PUSH)?;
        socket.set_linger(100)?;
        socket.set_sndtimeo(100)?;
        socket.connect(&self.endpoint)?;
        match socket.send(&b"stop"[..], 0) {
            Ok(()) | Err(zmq::Error::EAGAIN) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
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
    stop_endpoint: String,
    probe_base: String,
    probe_seq: u64,
    pending: VecDeque<Message>,
    pending_bytes: usize,
    /// The message handed out by `recv_ref` from `pending`.
    current: Option<Message>,
    fast_reads: u32,
    frames: Frames,
    encode: RefCell<Vec<u8>>,
    send: RefCell<SendState>,
    health: Health,
    stats: ComponentStats,
    max_message: Option<usize>,
}

/// The publishing side's byte budget, and the publisher's monitor events the publish path
/// read (for [`Health`], handled at the next wait).
struct SendState {
    budget: Option<SendBudget>,
    backlog: VecDeque<MonitorEvent>,
}

/// Publisher monitor events kept for [`Health`] between two waits; older ones go first (only
/// the latest connection state matters).
const EVENT_BACKLOG: usize = 64;

/// Reads the publisher's monitor events: connections for the byte budget, the rest kept for
/// [`Health`].
fn pump_publisher_events(monitor: &zmq::Socket, send: &mut SendState) -> Result<()> {
    while let Some(event) = read_event(monitor)? {
        let fd = std::os::fd::RawFd::try_from(event.value).unwrap_or(-1);
        if let Some(budget) = send.budget.as_mut() {
            match event.code {
                EVENT_CONNECTED => budget.connected(fd),
                EVENT_DISCONNECTED => budget.disconnected(fd),
                _ => {}
            }
        }
        if event.code != EVENT_CONNECTED {
            if send.backlog.len() == EVENT_BACKLOG {
                send.backlog.pop_front();
            }
            send.backlog.push_back(event);
        }
    }
    Ok(())
}

/// The ZeroMQ messages every read goes into, reused (no allocation per message for small
/// messages: libzmq keeps up to 33 bytes inline).
struct Frames {
    topic: zmq::Message,
    payload: zmq::Message,
    extra: zmq::Message,
}

impl Frames {
    fn new() -> Self {
        Self {
            topic: zmq::Message::new(),
            payload: zmq::Message::new(),
            extra: zmq::Message::new(),
        }
    }

    /// The message in the frames; only after `try_read` returned `Read::Message` (which
    /// checked the topic is UTF-8).
    fn message(&self) -> MessageRef<'_> {
        MessageRef {
            topic: std::str::from_utf8(&self.topic).unwrap_or_default(),
            payload: &self.payload,
        }
    }
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

/// A random number per call (std's `RandomState` keys, mixed with the process id): probe
/// topics and the gateway's boot nonce.
pub(crate) fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Component {
    /// Connects to the backplane and proves the path (see the module docs). Fails with
    /// [`Error::NoBackplane`] when no probe comes back within `config.connect_timeout`.
    pub fn connect(config: ComponentConfig) -> Result<Self> {
        let address = config
            .backplane
            .clone()
            .unwrap_or_else(|| outward_ipv4().to_string());
        let ctx = zmq::Context::new();
        let mut publisher = ctx.socket(zmq::PUB)?;
        config.limits.apply_send(&publisher)?;
        // A backplane that stops reading (frozen, hung, gone without a word) would keep this
        // queue growing: after the stall timeout the connection is closed, its queue freed,
        // and it reconnects by itself.
        config.limits.apply_stall_timeout(&mut publisher)?;
        publisher.set_linger(i32::try_from(config.linger.as_millis()).unwrap_or(i32::MAX))?;
        let subscriber = ctx.socket(zmq::SUB)?;
        // The size limit and the queue bound, as on the backplane's receiving socket: a part
        // over --max-message is refused before libzmq allocates for it, whatever backplane
        // (Python Banyan's forwards any size), so the queue of `hwm()` parts stays within the
        // budget. libzmq ends a *connecting* socket's connection on such a part for good (a
        // protocol error); `Health` connects again on every subscriber loss.
        subscriber.set_maxmsgsize(config.limits.zmq_max_message())?;
        subscriber.set_rcvhwm(config.limits.hwm())?;
        if let Some(plain) = &config.plain {
            plain.apply_client(&publisher)?;
            plain.apply_client(&subscriber)?;
        }
        subscriber.set_linger(0)?;
        let nonce = nonce();
        // Monitors first, so that no connection event is missed.
        let health = Health::new(
            &ctx,
            &publisher,
            &subscriber,
            tcp_endpoint(&address, config.subscriber_port),
            nonce,
        )?;
        let connect = |socket: &zmq::Socket, port: u16| {
            let endpoint = tcp_endpoint(&address, port);
            socket
                .connect(&endpoint)
                .map_err(|reason| Error::Connect { endpoint, reason })
        };
        connect(&publisher, config.publisher_port)?;
        connect(&subscriber, config.subscriber_port)?;

        let stop_endpoint = format!("inproc://banyan-stop-{nonce:016x}");
        let stop = ctx.socket(zmq::PULL)?;
        stop.bind(&stop_endpoint)?;

        let mut component = Self {
            probe_base: format!("{PROBE_TOPIC_PREFIX}{}/{nonce:016x}/", config.name),
            name: config.name,
            address,
            publisher_port: config.publisher_port,
            subscriber_port: config.subscriber_port,
            connect_timeout: config.connect_timeout,
            ctx,
            publisher,
            subscriber,
            stop,
            stop_endpoint,
            probe_seq: 0,
            pending: VecDeque::new(),
            pending_bytes: 0,
            current: None,
            fast_reads: 0,
            frames: Frames::new(),
            encode: RefCell::new(vec![0; ENCODE_BUFFER_START]),
            send: RefCell::new(SendState {
                budget: config.limits.queue_budget.map(SendBudget::new),
                backlog: VecDeque::new(),
            }),
            health,
            stats: ComponentStats::default(),
            max_message: config.limits.max_message,
        };
        for topic in &config.subscriptions {
            component.subscriber.set_subscribe(topic.as_bytes())?;
        }
        component.prove_path()?;
        tracing::debug!(component = %component.name, address = %component.address, "connected");
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
        ShutdownHandle {
            ctx: self.ctx.clone(),
            endpoint: self.stop_endpoint.clone(),
        }
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

    /// Whether a message of these part sizes fits in the publishing queue's byte budget (see
    /// [`send_budget`]); one that does not is counted and dropped, as libzmq drops at its
    /// count bound.
    fn admit(&self, topic: usize, payload: usize) -> Result<bool> {
        let mut send = self.send.borrow_mut();
        let wire = zmtp_part(topic) + zmtp_part(payload);
        if send.budget.as_mut().is_none_or(|budget| budget.fits(wire)) {
            return Ok(true);
        }
        let [publisher_monitor, _] = self.health.monitors();
        pump_publisher_events(publisher_monitor, &mut send)?;
        let Some(budget) = send.budget.as_mut() else {
            return Ok(true);
        };
        let admitted = budget.admit(wire, Instant::now(), &mut SystemLink);
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

    /// Where the path through the backplane stands (see [`health`]).
    pub fn path_state(&self) -> PathState {
        self.health.state()
    }

    /// Counters: drops, disconnections, re-proofs.
    pub fn stats(&self) -> ComponentStats {
        let publish_dropped = self
            .send
            .borrow()
            .budget
            .as_ref()
            .map_or(0, SendBudget::dropped);
        ComponentStats {
            publish_dropped,
            ..self.stats
        }
    }

    /// Blocks until a message arrives. Returns [`Error::Shutdown`] when a
    /// [`ShutdownHandle`] fired.
    pub fn recv(&mut self) -> Result<Message> {
        match self.recv_deadline(Limit::Forever)? {
            Some(message) => Ok(message),
            None => Err(Error::Shutdown),
        }
    }

    /// Waits at most `timeout` for a message; `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        self.recv_deadline(Limit::After(timeout))
    }

    /// [`recv`](Self::recv) without a copy: the message is borrowed from the component until
    /// the next receive. The fastest way to receive.
    pub fn recv_ref(&mut self) -> Result<MessageRef<'_>> {
        match self.recv_ref_deadline(Limit::Forever)? {
            Some(message) => Ok(message),
            None => Err(Error::Shutdown),
        }
    }

    /// [`recv_timeout`](Self::recv_timeout) without a copy (see [`recv_ref`](Self::recv_ref)).
    pub fn recv_ref_timeout(&mut self, timeout: Duration) -> Result<Option<MessageRef<'_>>> {
        self.recv_ref_deadline(Limit::After(timeout))
    }

    /// Receives messages and hands each to `handler` until the handler returns
    /// `ControlFlow::Break`, a [`ShutdownHandle`] fires (both return `Ok`), or an error occurs.
    /// Malformed messages from foreign publishers are logged and skipped.
    pub fn receive_loop<F>(&mut self, mut handler: F) -> Result<()>
    where
        F: FnMut(&mut Self, Message) -> Result<ControlFlow<()>>,
    {
        loop {
            let message = match self.recv() {
                Ok(message) => message,
                Err(Error::Shutdown) => return Ok(()),
                Err(error) => return Err(error),
            };
            if handler(self, message)?.is_break() {
                return Ok(());
            }
        }
    }

    fn recv_deadline(&mut self, limit: Limit) -> Result<Option<Message>> {
        if let Some(message) = self.pop_pending() {
            return Ok(Some(message));
        }
        loop {
            match self.wait_limit(limit, None)? {
                Raw::Frames if self.own_probe() => {}
                Raw::Frames => return Ok(Some(self.frames.message().to_owned())),
                Raw::Timeout => return Ok(None),
                Raw::Stop => return Err(Error::Shutdown),
                Raw::FdReady => {}
            }
        }
    }

    fn recv_ref_deadline(&mut self, limit: Limit) -> Result<Option<MessageRef<'_>>> {
        if let Some(message) = self.pop_pending() {
            return Ok(Some(self.current.insert(message).as_ref()));
        }
        self.current = None;
        loop {
            match self.wait_limit(limit, None)? {
                Raw::Frames if self.own_probe() => {}
                Raw::Frames => return Ok(Some(self.frames.message())),
                Raw::Timeout => return Ok(None),
                Raw::Stop => return Err(Error::Shutdown),
                Raw::FdReady => {}
            }
        }
    }

    fn pop_pending(&mut self) -> Option<Message> {
        let message = self.pending.pop_front()?;
        self.pending_bytes -= message.topic.len() + message.payload.len();
        Some(message)
    }

    /// Keeps the message in the frames for the next receive, within the pending bounds.
    fn keep_pending(&mut self) {
        let message = self.frames.message();
        let size = message.topic.len() + message.payload.len();
        if self.pending.len() >= PENDING_LIMIT_MESSAGES
            || self.pending_bytes + size > PENDING_LIMIT_BYTES
        {
            self.stats.pending_dropped += 1;
            if self.stats.pending_dropped.is_power_of_two() {
                tracing::warn!(
                    component = %self.name,
                    dropped = self.stats.pending_dropped,
                    "pending queue full while proving a subscription: dropping messages"
                );
            }
            return;
        }
        let message = message.to_owned();
        self.pending_bytes += size;
        self.pending.push_back(message);
    }

    /// Whether the message in the frames is one of this component's own probes.
    fn own_probe(&self) -> bool {
        self.frames.topic.starts_with(self.probe_base.as_bytes())
    }

    /// Waits for a message (own probes excluded), the stop signal, the deadline, or — when
    /// `fd` is given — for `fd` to become readable. Lets the serial gateway serve a byte stream
    /// and the backplane from one thread. When `proof` is given, its probe's message is
    /// returned too when it comes back (other own probes are still dropped).
    pub(crate) fn wait_with_fd_proving(
        &mut self,
        deadline: Option<Instant>,
        fd: Option<std::os::fd::RawFd>,
        proof: Option<&Proof>,
    ) -> Result<Incoming> {
        if let Some(message) = self.pop_pending() {
            return Ok(Incoming::Message(message));
        }
        loop {
            match self.wait_event(deadline, fd)? {
                Incoming::Message(message) if message.topic.starts_with(&self.probe_base) => {
                    if proof.is_some_and(|proof| proof.returned_by(&message)) {
                        return Ok(Incoming::Message(message));
                    }
                }
                other => return Ok(other),
            }
        }
    }

    /// [`wait_raw`](Self::wait_raw) with the message copied out.
    fn wait_event(
        &mut self,
        deadline: Option<Instant>,
        fd: Option<std::os::fd::RawFd>,
    ) -> Result<Incoming> {
        Ok(match self.wait_raw(deadline, fd)? {
            Raw::Frames => Incoming::Message(self.frames.message().to_owned()),
            Raw::FdReady => Incoming::FdReady,
            Raw::Timeout => Incoming::Timeout,
            Raw::Stop => Incoming::Stop,
        })
    }

    /// Waits for a message (read into `self.frames`; own probes included), the stop signal,
    /// the deadline or `fd`. Handles connection events and re-proofs on the way.
    fn wait_raw(
        &mut self,
        deadline: Option<Instant>,
        fd: Option<std::os::fd::RawFd>,
    ) -> Result<Raw> {
        self.wait_limit(deadline.map_or(Limit::Forever, Limit::At), fd)
    }

    /// [`wait_raw`](Self::wait_raw) with a limit that may be relative: the clock is read only
    /// when the wait has to poll, never per message of a busy stream.
    fn wait_limit(&mut self, mut limit: Limit, fd: Option<std::os::fd::RawFd>) -> Result<Raw> {
        loop {
            // Fast path: under load a message is usually queued already, and reading it
            // directly costs a fraction of a poll(2). Every FAST_READS messages the poll below
            // runs anyway, so the stop signal, connection events and the gateway's link are
            // never starved.
            if self.fast_reads < FAST_READS {
                match self.try_read()? {
                    Read::Message => {
                        self.fast_reads += 1;
                        if self.own_probe() {
                            self.health.probe_seen(
                                &self.frames.topic,
                                &self.subscriber,
                                &mut self.stats,
                                &self.name,
                            )?;
                        }
                        return Ok(Raw::Frames);
                    }
                    Read::Dropped => {
                        self.fast_reads += 1;
                        continue;
                    }
                    Read::Empty => {}
                }
            }
            self.fast_reads = 0;
            let now = Instant::now();
            if let Limit::After(timeout) = limit {
                limit = Limit::At(now + timeout);
            }
            let deadline = match limit {
                Limit::At(deadline) => Some(deadline),
                Limit::Forever | Limit::After(_) => None,
            };
            let probe_at = self.health.tick(
                now,
                &self.publisher,
                &self.subscriber,
                &mut self.probe_seq,
                &self.probe_base,
                &self.name,
            )?;
            let wake = match (deadline, probe_at) {
                (Some(deadline), Some(probe_at)) => Some(deadline.min(probe_at)),
                (deadline, probe_at) => deadline.or(probe_at),
            };
            let timeout = match wake {
                None => -1,
                Some(wake) => millis(wake.saturating_duration_since(now)),
            };
            let (sub_ready, stop_ready, events_ready, fd_ready) = {
                let [pub_monitor, sub_monitor] = self.health.monitors();
                let mut items = [
                    self.subscriber.as_poll_item(zmq::POLLIN),
                    self.stop.as_poll_item(zmq::POLLIN),
                    pub_monitor.as_poll_item(zmq::POLLIN),
                    sub_monitor.as_poll_item(zmq::POLLIN),
                    zmq::PollItem::from_fd(fd.unwrap_or(-1), zmq::POLLIN),
                ];
                let used = if fd.is_some() { 5 } else { 4 };
                match zmq::poll(&mut items[..used], timeout) {
                    // A signal (e.g. the Ctrl-C that is about to stop us) interrupted the
                    // wait; the stop socket tells whether to return.
                    Err(zmq::Error::EINTR) => continue,
                    other => other?,
                };
                (
                    items[0].is_readable(),
                    items[1].is_readable(),
                    [items[2].is_readable(), items[3].is_readable()],
                    fd.is_some()
                        && items[4]
                            .get_revents()
                            .intersects(zmq::POLLIN | zmq::POLLERR),
                )
            };
            if stop_ready {
                self.stop.recv_bytes(0)?;
                return Ok(Raw::Stop);
            }
            let send = self.send.get_mut();
            if events_ready[0] || !send.backlog.is_empty() {
                let [publisher_monitor, _] = self.health.monitors();
                pump_publisher_events(publisher_monitor, send)?;
                for event in send.backlog.drain(..) {
                    self.health.handle(
                        SocketSide::Publisher,
                        &event,
                        &self.subscriber,
                        &mut self.stats,
                        &self.name,
                    )?;
                }
            }
            if events_ready[1] {
                self.health.drain_events(
                    SocketSide::Subscriber,
                    &self.subscriber,
                    &mut self.stats,
                    &self.name,
                )?;
            }
            if fd_ready {
                return Ok(Raw::FdReady);
            }
            if sub_ready {
                continue; // read by the fast path
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Ok(Raw::Timeout);
            }
        }
    }

    /// Reads one multipart message into `self.frames` without blocking; logs and drops it if
    /// it is not `[utf-8 topic, payload]`.
    fn try_read(&mut self) -> Result<Read> {
        match self.subscriber.recv(&mut self.frames.topic, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(Read::Empty),
            Err(error) => return Err(error.into()),
        }
        // ZeroMQ delivers the parts of a message together: these reads never block.
        let mut frames = 1u64;
        if self.frames.topic.get_more() {
            self.subscriber.recv(&mut self.frames.payload, 0)?;
            frames += 1;
            let mut more = self.frames.payload.get_more();
            while more {
                self.subscriber.recv(&mut self.frames.extra, 0)?;
                frames += 1;
                more = self.frames.extra.get_more();
            }
        }
        let problem = if frames != 2 {
            "dropping a message that is not [topic, payload]"
        } else if std::str::from_utf8(&self.frames.topic).is_err() {
            "dropping a message whose topic is not UTF-8"
        } else {
            return Ok(Read::Message);
        };
        self.stats.malformed_dropped += 1;
        // Logged for the first and then every power of two: a flood cannot flood the log.
        if self.stats.malformed_dropped.is_power_of_two() {
            tracing::warn!(
                component = %self.name,
                frames,
                total = self.stats.malformed_dropped,
                "{problem}"
            );
        }
        Ok(Read::Dropped)
    }

    /// Adds a subscription without proving it (the serial gateway proves subscriptions
    /// itself, without blocking, with [`begin_proof`](Self::begin_proof)).
    pub(crate) fn subscribe_unproven(&mut self, topic: &str) -> Result<()> {
        self.subscriber.set_subscribe(topic.as_bytes())?;
        Ok(())
    }

    /// Starts a non-blocking proof: subscribes to a fresh probe topic and publishes the first
    /// probe. When [`Proof::returned_by`] recognises the probe coming back, every subscription
    /// made before this call is in force. Drive it with [`proof_tick`](Self::proof_tick) and
    /// end it with [`end_proof`](Self::end_proof).
    pub(crate) fn begin_proof(&mut self) -> Result<Proof> {
        self.probe_seq += 1;
        let topic = format!("{}{}", self.probe_base, self.probe_seq);
        let payload = payload::to_vec(&Probe {
            about: PROBE_ABOUT,
            component: &self.name,
            probe: self.probe_seq,
        })?;
        self.subscriber.set_subscribe(topic.as_bytes())?;
        let now = Instant::now();
        let mut proof = Proof {
            topic,
            payload,
            next_send: now,
            interval: Duration::from_millis(1),
            give_up: now + self.connect_timeout,
        };
        self.proof_tick(&mut proof, now)?;
        Ok(proof)
    }

    /// Re-publishes the probe when due (back-off 1 ms … 100 ms). Returns `false` once the
    /// proof has run for `connect_timeout` without returning.
    pub(crate) fn proof_tick(&mut self, proof: &mut Proof, now: Instant) -> Result<bool> {
        if now >= proof.give_up {
            return Ok(false);
        }
        if now >= proof.next_send {
            self.publish_raw(proof.topic.as_bytes(), &proof.payload)?;
            proof.next_send = now + proof.interval;
            proof.interval = (proof.interval * 2).min(Duration::from_millis(100));
        }
        Ok(true)
    }

    /// Ends a proof (returned or given up): drops its probe subscription.
    pub(crate) fn end_proof(&mut self, proof: Proof) -> Result<()> {
        self.subscriber.set_unsubscribe(proof.topic.as_bytes())?;
        Ok(())
    }

    /// The next message without waiting (own probes skipped; connection events and
    /// re-proofs handled as in any receive): lets [`crate::multi::MultiComponent`] serve
    /// several components from one poll.
    pub(crate) fn try_next(&mut self) -> Result<Option<Message>> {
        self.recv_timeout(Duration::ZERO)
    }

    /// Poll items that wake a waiting component: the subscriber and both connection
    /// monitors.
    pub(crate) fn wake_items(&self) -> [zmq::PollItem<'_>; 3] {
        let [pub_monitor, sub_monitor] = self.health.monitors();
        [
            self.subscriber.as_poll_item(zmq::POLLIN),
            pub_monitor.as_poll_item(zmq::POLLIN),
            sub_monitor.as_poll_item(zmq::POLLIN),
        ]
    }

    /// Subscribes to a fresh probe topic and publishes probes on it until one returns.
    fn prove_path(&mut self) -> Result<()> {
        self.probe_seq += 1;
        let topic = format!("{}{}", self.probe_base, self.probe_seq);
        let probe = payload::to_vec(&Probe {
            about: PROBE_ABOUT,
            component: &self.name,
            probe: self.probe_seq,
        })?;
        self.subscriber.set_subscribe(topic.as_bytes())?;
        let started = Instant::now();
        let give_up = started + self.connect_timeout;
        let mut interval = Duration::from_millis(1);
        let result = loop {
            self.publish_raw(topic.as_bytes(), &probe)?;
            let next = (Instant::now() + interval).min(give_up);
            interval = (interval * 2).min(Duration::from_millis(100));
            let mut returned = false;
            loop {
                match self.wait_raw(Some(next), None)? {
                    Raw::Frames if *self.frames.topic == *topic.as_bytes() => returned = true,
                    Raw::Frames if self.own_probe() => {}
                    Raw::Frames => self.keep_pending(),
                    Raw::Timeout => break,
                    Raw::Stop => return Err(Error::Shutdown),
                    Raw::FdReady => {}
                }
                if returned {
                    break;
                }
            }
            if returned {
                break Ok(());
            }
            if Instant::now() >= give_up {
                break Err(Error::NoBackplane {
                    address: self.address.clone(),
                    publisher_port: self.publisher_port,
                    subscriber_port: self.subscriber_port,
                    waited: self.connect_timeout,
                });
            }
        };
        self.subscriber.set_unsubscribe(topic.as_bytes())?;
        if result.is_ok() {
            // This probe proved the path as well as a re-proof would have.
            self.health
                .proven_by_caller(&self.subscriber, &mut self.stats, &self.name)?;
        }
        result
    }
}

/// A subscription proof in flight (see [`Component::begin_proof`]).
#[derive(Debug)]
pub(crate) struct Proof {
    topic: String,
    payload: Vec<u8>,
    next_send: Instant,
    interval: Duration,
    give_up: Instant,
}

impl Proof {
    /// Whether `message` is this proof's probe coming back.
    pub(crate) fn returned_by(&self, message: &Message) -> bool {
        message.topic == self.topic
    }

    /// When the probe is next re-sent or the proof gives up.
    pub(crate) fn next_deadline(&self) -> Instant {
        self.next_send.min(self.give_up)
    }
}

/// Messages read without polling before a poll is forced (see `wait_event`).
const FAST_READS: u32 = 256;

/// Result of a non-blocking read.
enum Read {
    /// A well-formed message is in `Component::frames`.
    Message,
    Dropped,
    Empty,
}

/// How long a wait may last.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Forever,
    At(Instant),
    /// From the first moment the wait has to block.
    After(Duration),
}

/// What `wait_raw` ended with.
enum Raw {
    /// A well-formed message is in `Component::frames` (possibly an own probe).
    Frames,
    FdReady,
    Timeout,
    Stop,
}

/// What a component's wait ended with.
pub(crate) enum Incoming {
    /// A well-formed message.
    Message(Message),
    /// The extra file descriptor is readable (or in error).
    FdReady,
    /// The deadline passed.
    Timeout,
    /// A [`ShutdownHandle`] fired.
    Stop,
}
