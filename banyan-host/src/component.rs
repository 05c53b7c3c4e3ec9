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

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use banyan_proto::payload::{self, Value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::backplane::DEFAULT_HWM;
use crate::error::{Error, Result};
use crate::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, outward_ipv4, tcp_endpoint};

/// Reserved topic prefix of connection probes. Topics under it are
/// `_banyan_probe/<component name>/<nonce>/<sequence>`.
pub const PROBE_TOPIC_PREFIX: &str = "_banyan_probe/";

/// What a probe message says about itself (the `about` field of its payload).
pub const PROBE_ABOUT: &str =
    "Rust Banyan connection probe: proves a component's path through the backplane; ignore";

/// Default time [`Component::connect`] waits for a backplane.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// High-water mark of both sockets, in messages (`0` = unbounded).
    pub hwm: i32,
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
            hwm: DEFAULT_HWM,
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
    /// Decodes the payload into a typed value.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(payload::from_slice(&self.payload)?)
    }

    /// Decodes the payload into a dynamic [`Value`].
    pub fn value(&self) -> Result<Value> {
        Ok(payload::from_slice(&self.payload)?)
    }
}

/// Stops a component's blocking receive from any thread (e.g. a Ctrl-C handler).
#[derive(Clone)]
pub struct ShutdownHandle {
    ctx: zmq::Context,
    endpoint: String,
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
    fast_reads: u32,
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
        let publisher = ctx.socket(zmq::PUB)?;
        publisher.set_sndhwm(config.hwm)?;
        publisher.set_linger(i32::try_from(config.linger.as_millis()).unwrap_or(i32::MAX))?;
        let subscriber = ctx.socket(zmq::SUB)?;
        subscriber.set_rcvhwm(config.hwm)?;
        subscriber.set_linger(0)?;
        let connect = |socket: &zmq::Socket, port: u16| {
            let endpoint = tcp_endpoint(&address, port);
            socket
                .connect(&endpoint)
                .map_err(|reason| Error::Connect { endpoint, reason })
        };
        connect(&publisher, config.publisher_port)?;
        connect(&subscriber, config.subscriber_port)?;

        let nonce = nonce();
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
            fast_reads: 0,
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
    pub fn publish<T: Serialize + ?Sized>(&self, topic: &str, payload: &T) -> Result<()> {
        let bytes = payload::to_vec(payload)?;
        self.publish_raw(topic.as_bytes(), &bytes)
    }

    /// Publishes already-encoded payload bytes on `topic`, verbatim.
    pub fn publish_raw(&self, topic: &[u8], payload: &[u8]) -> Result<()> {
        self.publisher.send(topic, zmq::SNDMORE)?;
        self.publisher.send(payload, 0)?;
        Ok(())
    }

    /// Blocks until a message arrives. Returns [`Error::Shutdown`] when a
    /// [`ShutdownHandle`] fired.
    pub fn recv(&mut self) -> Result<Message> {
        match self.recv_deadline(None)? {
            Some(message) => Ok(message),
            None => Err(Error::Shutdown),
        }
    }

    /// Waits at most `timeout` for a message; `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        self.recv_deadline(Some(Instant::now() + timeout))
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

    fn recv_deadline(&mut self, deadline: Option<Instant>) -> Result<Option<Message>> {
        if let Some(message) = self.pending.pop_front() {
            return Ok(Some(message));
        }
        loop {
            match self.wait_message(deadline)? {
                Incoming::Message(message) if message.topic.starts_with(&self.probe_base) => {}
                Incoming::Message(message) => return Ok(Some(message)),
                Incoming::Timeout => return Ok(None),
                Incoming::Stop => return Err(Error::Shutdown),
                Incoming::FdReady => {}
            }
        }
    }

    /// Waits for one well-formed message, the stop signal or the deadline.
    fn wait_message(&mut self, deadline: Option<Instant>) -> Result<Incoming> {
        self.wait_event(deadline, None)
    }

    /// Waits for a message (own probes excluded), the stop signal, the deadline, or — when
    /// `fd` is given — for `fd` to become readable. Lets the serial gateway serve a byte stream
    /// and the backplane from one thread.
    pub(crate) fn wait_with_fd(
        &mut self,
        deadline: Option<Instant>,
        fd: Option<std::os::fd::RawFd>,
    ) -> Result<Incoming> {
        if let Some(message) = self.pending.pop_front() {
            return Ok(Incoming::Message(message));
        }
        loop {
            match self.wait_event(deadline, fd)? {
                Incoming::Message(message) if message.topic.starts_with(&self.probe_base) => {}
                other => return Ok(other),
            }
        }
    }

    fn wait_event(
        &mut self,
        deadline: Option<Instant>,
        fd: Option<std::os::fd::RawFd>,
    ) -> Result<Incoming> {
        loop {
            // Fast path: under load a message is usually queued already, and reading it
            // directly costs a fraction of a poll(2). Every FAST_READS messages the poll below
            // runs anyway, so the stop signal and the gateway's link are never starved.
            if self.fast_reads < FAST_READS {
                match self.try_read()? {
                    Read::Message(message) => {
                        self.fast_reads += 1;
                        return Ok(Incoming::Message(message));
                    }
                    Read::Dropped => {
                        self.fast_reads += 1;
                        continue;
                    }
                    Read::Empty => {}
                }
            }
            self.fast_reads = 0;
            let timeout = match deadline {
                None => -1,
                Some(deadline) => millis(deadline.saturating_duration_since(Instant::now())),
            };
            let (sub_ready, stop_ready, fd_ready) = {
                let mut items = [
                    self.subscriber.as_poll_item(zmq::POLLIN),
                    self.stop.as_poll_item(zmq::POLLIN),
                    zmq::PollItem::from_fd(fd.unwrap_or(-1), zmq::POLLIN),
                ];
                let used = if fd.is_some() { 3 } else { 2 };
                match zmq::poll(&mut items[..used], timeout) {
                    // A signal (e.g. the Ctrl-C that is about to stop us) interrupted the
                    // wait; the stop socket tells whether to return.
                    Err(zmq::Error::EINTR) => continue,
                    other => other?,
                };
                (
                    items[0].is_readable(),
                    items[1].is_readable(),
                    fd.is_some()
                        && items[2]
                            .get_revents()
                            .intersects(zmq::POLLIN | zmq::POLLERR),
                )
            };
            if stop_ready {
                self.stop.recv_bytes(0)?;
                return Ok(Incoming::Stop);
            }
            if fd_ready {
                return Ok(Incoming::FdReady);
            }
            if sub_ready {
                continue; // read by the fast path
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Ok(Incoming::Timeout);
            }
        }
    }

    /// Reads one multipart message without blocking; logs and drops it if it is not
    /// `[utf-8 topic, payload]`.
    fn try_read(&mut self) -> Result<Read> {
        let topic = match self.subscriber.recv_bytes(zmq::DONTWAIT) {
            Ok(topic) => topic,
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(Read::Empty),
            Err(error) => return Err(error.into()),
        };
        // ZeroMQ delivers the parts of a message together: these reads never block.
        let mut frames = 1;
        let mut payload = Vec::new();
        while self.subscriber.get_rcvmore()? {
            let part = self.subscriber.recv_bytes(0)?;
            frames += 1;
            if frames == 2 {
                payload = part;
            }
        }
        if frames != 2 {
            tracing::warn!(
                component = %self.name,
                frames,
                "dropping a message that is not [topic, payload]"
            );
            return Ok(Read::Dropped);
        }
        match String::from_utf8(topic) {
            Ok(topic) => Ok(Read::Message(Message { topic, payload })),
            Err(error) => {
                tracing::warn!(component = %self.name, %error, "dropping a message whose topic is not UTF-8");
                Ok(Read::Dropped)
            }
        }
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
                match self.wait_message(Some(next))? {
                    Incoming::Message(message) if message.topic == topic => returned = true,
                    Incoming::Message(message) if message.topic.starts_with(&self.probe_base) => {}
                    Incoming::Message(message) => self.pending.push_back(message),
                    Incoming::Timeout => break,
                    Incoming::Stop => return Err(Error::Shutdown),
                    Incoming::FdReady => {}
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
        result
    }
}

/// Messages read without polling before a poll is forced (see `wait_event`).
const FAST_READS: u32 = 256;

/// Result of a non-blocking read.
enum Read {
    Message(Message),
    Dropped,
    Empty,
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
