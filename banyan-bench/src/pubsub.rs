//! Pub/sub throughput: a Rust component publishes `{'msg': i}` through a forwarder to a Rust
//! component; the baseline does the same with raw ZeroMQ sockets and pre-encoded frames.
//!
//! Both variants use one ZeroMQ context per side (as two components do), the same
//! high-water marks, and the same forwarder. The clock starts just before the first publish
//! and stops at the last message received; the receiver gives up after a quiet period
//! without messages (the quiet period is not counted). Sender and receiver run on two
//! threads of this process; the forwarder is a [`Backplane`] in this process or the
//! `backplane` binary.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use banyan_host::limits::Limits;
use banyan_host::net::tcp_endpoint;
use banyan_host::{Backplane, ComponentConfig};
use serde::{Deserialize, Serialize};

/// Topic of the throughput messages.
pub const TOPIC: &str = "test";

/// A forwarder to measure through: where components publish and subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Address components connect to.
    pub address: String,
    /// Port components publish to.
    pub publisher_port: u16,
    /// Port components subscribe on.
    pub subscriber_port: u16,
}

impl Endpoints {
    /// The endpoints of an in-process backplane.
    pub fn of(backplane: &Backplane) -> Self {
        Self {
            address: backplane.address().to_owned(),
            publisher_port: backplane.publisher_port(),
            subscriber_port: backplane.subscriber_port(),
        }
    }

    /// A component configuration pointing here.
    pub fn config(&self, name: &str) -> ComponentConfig {
        ComponentConfig::new(name).backplane(
            self.address.clone(),
            self.publisher_port,
            self.subscriber_port,
        )
    }

    /// ZeroMQ endpoint to connect a publishing socket to.
    pub fn publish_endpoint(&self) -> String {
        tcp_endpoint(&self.address, self.publisher_port)
    }

    /// ZeroMQ endpoint to connect a subscribing socket to.
    pub fn subscribe_endpoint(&self) -> String {
        tcp_endpoint(&self.address, self.subscriber_port)
    }
}

/// The payload `{'msg': i}`, byte for byte what Python's benchmark publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numbered {
    /// The message index.
    pub msg: u64,
}

/// What one throughput run saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Messages published.
    pub sent: u64,
    /// Messages received.
    pub received: u64,
    /// From the first publish to the last receive.
    pub elapsed: Duration,
}

impl Throughput {
    /// Received messages per second.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Messages that did not arrive.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
}

/// What a receiver thread hands back: messages counted, time of the last one.
type Received = (u64, Option<Instant>);

fn join_receiver(
    handle: thread::JoinHandle<Result<Received>>,
    sent: u64,
    start: Instant,
) -> Result<Throughput> {
    let (received, last) = handle
        .join()
        .map_err(|_| anyhow!("receiver thread panicked"))??;
    Ok(Throughput {
        sent,
        received,
        elapsed: last.map_or(Duration::ZERO, |last| last.saturating_duration_since(start)),
    })
}

/// How the Banyan receiver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanyanReceive {
    /// `Component::recv_ref_timeout`: the message borrowed, no copy (the fast path).
    Borrowed,
    /// `Component::recv_timeout`: an owned `Message` (a `String` and a `Vec`) per message.
    Owned,
}

/// Banyan: `Component::publish` of `{'msg': i}` for `i in 0..count` (encoded into the
/// component's reused buffer), received with `Component::recv_ref_timeout` by a component
/// subscribed to [`TOPIC`].
pub fn banyan_run(endpoints: &Endpoints, count: u64, quiet: Duration) -> Result<Throughput> {
    banyan_run_with(endpoints, count, quiet, BanyanReceive::Borrowed)
}

/// [`banyan_run`] with a choice of receive call.
pub fn banyan_run_with(
    endpoints: &Endpoints,
    count: u64,
    quiet: Duration,
    receive: BanyanReceive,
) -> Result<Throughput> {
    let mut receiver = ComponentConfig {
        limits: THROUGHPUT_LIMITS,
        ..endpoints.config("bench-subscriber")
    }
    .subscribe(TOPIC)
    .connect()
    .context("connect subscriber")?;
    let publisher = ComponentConfig {
        limits: THROUGHPUT_LIMITS,
        ..endpoints.config("bench-publisher")
    }
    .connect()
    .context("connect publisher")?;
    let handle = thread::spawn(move || -> Result<Received> {
        let mut received = 0u64;
        let mut last = None;
        // One decode of the last message proves the payloads are the real ones, at no cost
        // per message.
        let check_last = |payload: &[u8]| -> Result<()> {
            let Numbered { msg } = banyan_proto::payload::from_slice(payload)?;
            if msg != count - 1 {
                bail!("last message was {{'msg': {msg}}}, expected {}", count - 1);
            }
            Ok(())
        };
        while received < count {
            match receive {
                BanyanReceive::Borrowed => {
                    let Some(message) = receiver.recv_ref_timeout(quiet)? else {
                        break;
                    };
                    if message.topic == TOPIC {
                        received += 1;
                        last = Some(Instant::now());
                        if received == count {
                            check_last(message.payload)?;
                        }
                    }
                }
                BanyanReceive::Owned => {
                    let Some(message) = receiver.recv_timeout(quiet)? else {
                        break;
                    };
                    if message.topic == TOPIC {
                        received += 1;
                        last = Some(Instant::now());
                        if received == count {
                            check_last(&message.payload)?;
                        }
                    }
                }
            }
        }
        Ok((received, last))
    });
    let start = Instant::now();
    for msg in 0..count {
        publisher.publish(TOPIC, &Numbered { msg })?;
    }
    let result = join_receiver(handle, count, start);
    drop(publisher);
    result
}

/// Raw ZeroMQ sockets as a component sets them up: own context, HWM, linger.
fn raw_socket(kind: zmq::SocketType, hwm: i32) -> Result<(zmq::Context, zmq::Socket)> {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(kind)?;
    socket.set_sndhwm(hwm)?;
    socket.set_rcvhwm(hwm)?;
    socket.set_linger(2000)?;
    Ok((ctx, socket))
}

/// Topic of the raw variants' synchronisation messages.
pub(crate) const SYNC_TOPIC: &[u8] = b"sync";

/// Publishes sync messages on `publisher` until `subscriber` (subscribed to [`SYNC_TOPIC`])
/// receives one: then both connections and the subscription are in place, as after
/// `Component::connect`. Leaves the sync subscription in place; callers drop late syncs by
/// topic.
pub(crate) fn raw_sync(publisher: &zmq::Socket, subscriber: &zmq::Socket) -> Result<()> {
    let give_up = Instant::now() + Duration::from_secs(5);
    while Instant::now() < give_up {
        publisher.send(SYNC_TOPIC, zmq::SNDMORE)?;
        publisher.send(&b"sync"[..], 0)?;
        if subscriber.poll(zmq::POLLIN, 5)? > 0 {
            let _ = subscriber.recv_multipart(0)?;
            return Ok(());
        }
    }
    bail!("raw sockets: no sync message came back through the forwarder within 5 s")
}

/// How the raw receiver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawReceive {
    /// Blocking `recv` of both frames into reused messages: the baseline.
    Blocking,
    /// What `Component::recv` does per message: `zmq::poll` on the SUB socket and a second
    /// (stop) socket, then `recv_multipart(DONTWAIT)` into new vectors. A diagnostic: it
    /// shows how much of Banyan's gap to the baseline that receive pattern explains.
    PollEach,
}

/// Baseline: raw PUB → the same forwarder → raw SUB, sending one pre-encoded payload of the
/// size Banyan's messages have (`{'msg': 1000000}`, 10 bytes), with `hwm` on both sockets.
pub fn raw_run(endpoints: &Endpoints, count: u64, quiet: Duration, hwm: i32) -> Result<Throughput> {
    raw_run_with(endpoints, count, quiet, hwm, RawReceive::Blocking)
}

/// [`raw_run`] with a choice of receive pattern.
pub fn raw_run_with(
    endpoints: &Endpoints,
    count: u64,
    quiet: Duration,
    hwm: i32,
    receive: RawReceive,
) -> Result<Throughput> {
    let (sub_ctx, subscriber) = raw_socket(zmq::SUB, hwm)?;
    let stop = sub_ctx.socket(zmq::PULL)?;
    // Inproc names are per context, and this context is ours alone.
    stop.bind("inproc://bench-stop")?;
    subscriber.set_subscribe(TOPIC.as_bytes())?;
    subscriber.set_subscribe(SYNC_TOPIC)?;
    subscriber.connect(&endpoints.subscribe_endpoint())?;
    let (_pub_ctx, publisher) = raw_socket(zmq::PUB, hwm)?;
    publisher.connect(&endpoints.publish_endpoint())?;
    raw_sync(&publisher, &subscriber)?;
    subscriber.set_rcvtimeo(i32::try_from(quiet.as_millis()).unwrap_or(i32::MAX))?;

    let quiet_ms = i64::try_from(quiet.as_millis()).unwrap_or(i64::MAX);
    let handle = thread::spawn(move || -> Result<Received> {
        let _ctx = sub_ctx;
        let (mut topic, mut body) = (zmq::Message::new(), zmq::Message::new());
        let mut received = 0u64;
        let mut last = None;
        while received < count && receive == RawReceive::PollEach {
            let mut items = [
                subscriber.as_poll_item(zmq::POLLIN),
                stop.as_poll_item(zmq::POLLIN),
            ];
            zmq::poll(&mut items, quiet_ms)?;
            if !items[0].is_readable() {
                break;
            }
            let parts = subscriber.recv_multipart(zmq::DONTWAIT)?;
            if parts.len() == 2 && parts[0] == TOPIC.as_bytes() {
                received += 1;
                last = Some(Instant::now());
            }
        }
        while received < count && receive == RawReceive::Blocking {
            match subscriber.recv(&mut topic, 0) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => break,
                Err(error) => return Err(error.into()),
            }
            if !topic.get_more() {
                continue;
            }
            subscriber.recv(&mut body, 0)?;
            if &topic[..] == TOPIC.as_bytes() {
                received += 1;
                last = Some(Instant::now());
            }
        }
        Ok((received, last))
    });
    let payload = banyan_proto::payload::to_vec(&Numbered { msg: 1_000_000 })?;
    let start = Instant::now();
    for _ in 0..count {
        publisher.send(TOPIC.as_bytes(), zmq::SNDMORE)?;
        publisher.send(&payload[..], 0)?;
    }
    let result = join_receiver(handle, count, start);
    drop(publisher);
    result
}

/// The limits of the throughput runs (backplane and components): a 2 GiB queue budget, so
/// that a burst of a million messages, which the subscriber cannot drain as fast as the
/// publisher sends, is queued rather than dropped, and the rates compare delivered work. The
/// default 64 MiB budget (43 690 small messages per queue) drops most of such a burst, the
/// raw baseline with the same HWM as much as Banyan: see README "Memory bound".
pub const THROUGHPUT_LIMITS: Limits = Limits {
    max_message: Some(banyan_host::limits::DEFAULT_MAX_MESSAGE),
    queue_budget: Some(2 << 30),
    stall_timeout: None,
};

/// The HWM the throughput runs' sending sockets use, so that the raw baseline matches them.
pub const HWM: i32 = THROUGHPUT_LIMITS.send_hwm();

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_host::BackplaneConfig;

    #[test]
    fn payload_sizes_match() {
        let banyan = banyan_proto::payload::to_vec(&Numbered { msg: 999_999 }).unwrap();
        let raw = banyan_proto::payload::to_vec(&Numbered { msg: 1_000_000 }).unwrap();
        assert_eq!(banyan.len(), raw.len());
        assert_eq!(&banyan[..5], b"\x81\xa3msg");
    }

    #[test]
    fn small_runs_deliver_everything() {
        let backplane = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let endpoints = Endpoints::of(&backplane);
        let quiet = Duration::from_secs(2);
        let banyan = banyan_run(&endpoints, 2000, quiet).unwrap();
        assert_eq!(
            (banyan.sent, banyan.received, banyan.lost()),
            (2000, 2000, 0)
        );
        assert!(banyan.rate() > 0.0);
        let raw = raw_run(&endpoints, 2000, quiet, HWM).unwrap();
        assert_eq!((raw.sent, raw.received), (2000, 2000));
        let polled = raw_run_with(&endpoints, 2000, quiet, HWM, RawReceive::PollEach).unwrap();
        assert_eq!((polled.sent, polled.received), (2000, 2000));
        let owned = banyan_run_with(&endpoints, 2000, quiet, BanyanReceive::Owned).unwrap();
        assert_eq!((owned.sent, owned.received), (2000, 2000));
    }
}
