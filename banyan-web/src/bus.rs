//! [`Bus`]: the bridge between the backplane and the async web side.
//!
//! ```text
//!  backplane ──▶ receiving aio::Component (a tokio task, subscribed to "")
//!                   │ every message: Stats::record; if a client joined its exact topic:
//!                   │ payload → JSON text once, pushed to each such client's DropOldest queue
//!                   ▼
//!        per-client queues (bounded, oldest dropped) ──▶ browser tasks (tokio)
//!  backplane ◀── the same Component, through its Publisher handle (never blocks) ◀── browsers
//! ```
//!
//! The component is `banyan_host::aio`'s: it runs as one task on the web server's runtime,
//! with no thread of its own (no blocking bridge). The task never waits for the web side:
//! queue pushes drop instead of blocking, and the statistics lock is held only for a few
//! additions per message (snapshots, taken at a bounded rate, hold it longer). Browsers publish through the receiving component's
//! [`Publisher`] handle: one connection, one proof; a browser's message never waits for the
//! receive loop (the handle's queue is bounded and drops, counted, rather than block; the
//! receive loop sends what it holds as it waits).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::ws::Utf8Bytes;
use banyan_host::aio::Component;
use banyan_host::{ComponentConfig, Message, Publisher, ShutdownHandle};
use serde::Serialize;
use tokio::task::JoinHandle;

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

/// State shared by the receiving task and the web side.
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
    task: Mutex<Option<JoinHandle<banyan_host::Result<()>>>>,
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
    /// [`banyan_host::Error::NoBackplane`] when none answers) and starts the receiving task
    /// on the current tokio runtime.
    pub async fn connect(config: BusConfig) -> Result<Arc<Self>> {
        let mut receive_config = config.component.clone();
        receive_config.subscriptions = vec![String::new()];
        let mut receiver = Component::connect(receive_config).await?;
        let publisher = receiver.publisher()?;

        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::new(config.stats)),
            start: Instant::now(),
            timestamps: config.timestamps,
            counters: Counters::default(),
        });
        let shutdown = receiver.shutdown_handle();
        let bus = Self {
            name: receiver.name().to_owned(),
            address: receiver.backplane_address().to_owned(),
            publisher_port: receiver.publisher_port(),
            subscriber_port: receiver.subscriber_port(),
            shared: shared.clone(),
            publisher,
            shutdown,
            task: Mutex::new(None),
        };
        let task = tokio::spawn(async move {
            let result = receive(receiver, &shared).await;
            if let Err(error) = &result {
                tracing::error!(%error, "backplane receive loop stopped");
            }
            result
        });
        *lock(&bus.task) = Some(task);
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

    /// Resolves when the receiving task ends: `Ok` after [`stop`](Self::stop), an error
    /// when ZeroMQ failed. Only the first caller waits; later calls resolve at once.
    pub async fn stopped(&self) -> Result<()> {
        let task = lock(&self.task).take();
        match task {
            Some(task) => match task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(Error::BridgeStopped(error)),
                // Aborted with its runtime: stopped.
                Err(error) if error.is_cancelled() => Ok(()),
                Err(_) => Err(Error::BridgePanicked),
            },
            None => Ok(()),
        }
    }

    /// Stops the receiving task (it ends at its next wake-up; [`stopped`](Self::stopped)
    /// resolves then). Never blocks.
    pub fn stop(&self) {
        if let Err(error) = self.shutdown.shutdown() {
            tracing::warn!(%error, "cannot signal the receive loop");
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The receiving task's loop: messages as they come, the statistics swept every second.
async fn receive(mut receiver: Component, shared: &Shared) -> banyan_host::Result<()> {
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // `recv` is cancel-safe: a sweep never loses a message.
            received = receiver.recv() => match received {
                Ok(message) => shared.deliver(message),
                Err(banyan_host::Error::Shutdown) => return Ok(()),
                Err(error) => return Err(error),
            },
            _ = sweep.tick() => {
                let now = shared.start.elapsed();
                lock(&shared.stats).sweep(now);
            }
        }
    }
}
