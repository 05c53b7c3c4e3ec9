//! [`Bus`]: the bridge between the blocking ZeroMQ side and the async web side.
//!
//! ```text
//!  backplane ──▶ receiving Component (own thread, subscribed to "")
//!                   │ every message: Stats::record; if a client joined its exact topic:
//!                   │ payload → JSON text once, pushed to each such client's DropOldest queue
//!                   ▼
//!        per-client queues (bounded, oldest dropped) ──▶ browser tasks (tokio)
//!  backplane ◀── the same Component, through its Publisher handle (never blocks) ◀── browsers
//! ```
//!
//! The thread never waits for the web side: queue pushes drop instead of blocking, and the
//! statistics lock is held only for a few additions per message (snapshots, taken at a
//! bounded rate, hold it longer). Browsers publish through the receiving component's
//! [`Publisher`] handle: one connection, one proof; a browser's message never waits for the
//! receive loop (the handle's queue is bounded and drops, counted, rather than block; the
//! receive loop sends what it holds as it waits).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::ws::Utf8Bytes;
use banyan_host::{Component, ComponentConfig, Message, Publisher, ShutdownHandle};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::queue::DropOldest;
use crate::session::{self, Timestamps};
use crate::stats::{History, Snapshot, Stats, StatsConfig};

/// The queue of JSON texts waiting for one browser.
pub type ClientQueue = DropOldest<Utf8Bytes>;

/// How the bridge connects and aggregates.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Backplane address, ports and name of the bridge's component.
    pub component: ComponentConfig,
    /// How `timestamp` fields reach browsers.
    pub timestamps: Timestamps,
    /// Limits of the per-topic statistics.
    pub stats: StatsConfig,
}

/// Counters of the bridge, for the monitor's footer and `/api/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BusCounters {
    /// Messages received from the backplane.
    pub received: u64,
    /// Messages queued for browsers (one per browser).
    pub relayed: u64,
    /// Messages dropped from browsers' queues because they read too slowly.
    pub dropped: u64,
    /// Messages published for browsers.
    pub published: u64,
    /// Messages for a browser that could not be converted to JSON (not a msgpack map).
    pub unconvertible: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    relayed: AtomicU64,
    dropped: AtomicU64,
    published: AtomicU64,
    unconvertible: AtomicU64,
}

/// State shared by the receiving thread and the web side.
#[derive(Debug)]
struct Shared {
    routes: Mutex<HashMap<String, Vec<Arc<ClientQueue>>>>,
    stats: Mutex<Stats>,
    start: Instant,
    timestamps: Timestamps,
    counters: Counters,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn deliver(&self, message: Message) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        {
            let routes = lock(&self.routes);
            if let Some(queues) = routes.get(&message.topic) {
                match session::bus_to_client(&message.payload, self.timestamps) {
                    Ok(text) => {
                        let size = text.len();
                        let text = Utf8Bytes::from(text);
                        for queue in queues {
                            let pushed = queue.push(text.clone(), size);
                            if pushed.queued {
                                self.counters.relayed.fetch_add(1, Ordering::Relaxed);
                            }
                            if pushed.dropped > 0 {
                                let total = self
                                    .counters
                                    .dropped
                                    .fetch_add(pushed.dropped, Ordering::Relaxed)
                                    + pushed.dropped;
                                if total.is_power_of_two() {
                                    tracing::warn!(
                                        topic = %message.topic,
                                        dropped_total = total,
                                        "a browser reads too slowly: oldest queued messages dropped"
                                    );
                                }
                            }
                        }
                    }
                    Err(error) => {
                        let total = self.counters.unconvertible.fetch_add(1, Ordering::Relaxed) + 1;
                        if total.is_power_of_two() {
                            tracing::warn!(
                                topic = %message.topic, %error, total,
                                "not relayed to browsers: payload is not a msgpack map"
                            );
                        }
                    }
                }
            }
        }
        let now = self.start.elapsed();
        lock(&self.stats).record(&message.topic, message.payload, now);
    }
}

/// The backplane side of the web gateway (see the module docs).
pub struct Bus {
    shared: Arc<Shared>,
    publisher: Publisher,
    shutdown: ShutdownHandle,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    stopped: Mutex<Option<oneshot::Receiver<banyan_host::Result<()>>>>,
    name: String,
    address: String,
    publisher_port: u16,
    subscriber_port: u16,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("publisher_port", &self.publisher_port)
            .field("subscriber_port", &self.subscriber_port)
            .finish()
    }
}

impl Bus {
    /// Connects the component (it proves its path through the backplane, failing with
    /// [`banyan_host::Error::NoBackplane`] when none answers) and starts the receiving thread.
    pub fn connect(config: BusConfig) -> Result<Arc<Self>> {
        let mut receive_config = config.component.clone();
        receive_config.subscriptions = vec![String::new()];
        let mut receiver = Component::connect(receive_config)?;
        let publisher = receiver.publisher()?;

        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::new(config.stats)),
            start: Instant::now(),
            timestamps: config.timestamps,
            counters: Counters::default(),
        });
        let (done_tx, done_rx) = oneshot::channel();
        let shutdown = receiver.shutdown_handle();
        let bus = Self {
            name: receiver.name().to_owned(),
            address: receiver.backplane_address().to_owned(),
            publisher_port: receiver.publisher_port(),
            subscriber_port: receiver.subscriber_port(),
            shared: shared.clone(),
            publisher,
            shutdown,
            thread: Mutex::new(None),
            stopped: Mutex::new(Some(done_rx)),
        };
        let thread = std::thread::Builder::new()
            .name("banyan-web-bus".into())
            .spawn(move || {
                let result = receive(receiver, &shared);
                if let Err(error) = &result {
                    tracing::error!(%error, "backplane receive loop stopped");
                }
                let _ = done_tx.send(result);
            })?;
        *lock(&bus.thread) = Some(thread);
        Ok(Arc::new(bus))
    }

    /// The component name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backplane address in use.
    pub fn backplane_address(&self) -> &str {
        &self.address
    }

    /// The backplane port published to.
    pub fn publisher_port(&self) -> u16 {
        self.publisher_port
    }

    /// The backplane port subscribed on.
    pub fn subscriber_port(&self) -> u16 {
        self.subscriber_port
    }

    /// Publishes an encoded payload on `topic`. Never blocks: the component's publishing
    /// handle drops (and counts) rather than wait.
    pub fn publish(&self, topic: &str, payload: &[u8]) -> Result<()> {
        self.publisher.publish_raw(topic.as_bytes(), payload)?;
        self.shared
            .counters
            .published
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Sends every later message whose topic equals `topic` to `queue`.
    pub fn join(&self, topic: &str, queue: Arc<ClientQueue>) {
        lock(&self.shared.routes)
            .entry(topic.to_owned())
            .or_default()
            .push(queue);
    }

    /// Undoes [`join`](Self::join).
    pub fn leave(&self, topic: &str, queue: &Arc<ClientQueue>) {
        let mut routes = lock(&self.shared.routes);
        if let Some(queues) = routes.get_mut(topic) {
            queues.retain(|q| !Arc::ptr_eq(q, queue));
            if queues.is_empty() {
                routes.remove(topic);
            }
        }
    }

    /// The statistics now.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.shared.start.elapsed();
        lock(&self.shared.stats).snapshot(now, SystemTime::now())
    }

    /// The per-second history of one topic.
    pub fn history(&self, topic: &str) -> Option<History> {
        let now = self.shared.start.elapsed();
        lock(&self.shared.stats).history(topic, now)
    }

    /// The bridge's counters now.
    pub fn counters(&self) -> BusCounters {
        let c = &self.shared.counters;
        BusCounters {
            received: c.received.load(Ordering::Relaxed),
            relayed: c.relayed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
            unconvertible: c.unconvertible.load(Ordering::Relaxed),
        }
    }

    /// Resolves when the receiving thread ends: `Ok` after [`stop`](Self::stop), an error
    /// when ZeroMQ failed. Only the first caller waits; later calls resolve at once.
    pub async fn stopped(&self) -> Result<()> {
        let receiver = lock(&self.stopped).take();
        match receiver {
            Some(receiver) => match receiver.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(Error::BridgeStopped(error)),
                Err(_) => Err(Error::BridgePanicked),
            },
            None => Ok(()),
        }
    }

    /// Stops the receiving thread and waits for it.
    pub fn stop(&self) {
        if let Err(error) = self.shutdown.shutdown() {
            tracing::warn!(%error, "cannot signal the receive loop");
        }
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The receiving thread's loop.
fn receive(mut receiver: Component, shared: &Shared) -> banyan_host::Result<()> {
    let mut last_sweep = Instant::now();
    loop {
        match receiver.recv_timeout(Duration::from_millis(500)) {
            Ok(Some(message)) => shared.deliver(message),
            Ok(None) => {}
            Err(banyan_host::Error::Shutdown) => return Ok(()),
            Err(error) => return Err(error),
        }
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            last_sweep = Instant::now();
            let now = shared.start.elapsed();
            lock(&shared.stats).sweep(now);
        }
    }
}
