//! Echo latency: sequential round trips client → forwarder → echo server → forwarder →
//! client. Banyan uses the seed's echo server and client (`banyan_host::echo`); the baseline
//! does the same round trip with raw ZeroMQ sockets and pre-encoded payloads. Both run
//! through the same forwarder at the same time, on topics that do not overlap, and take
//! turns in blocks, so that a change of machine load hits both alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use banyan_host::echo::{self, ECHO_TOPIC, EchoPayload, REPLY_TOPIC};
use banyan_testkit::ThreadGuard;

use crate::pubsub::{Endpoints, HWM, SYNC_TOPIC, raw_sync};

/// How long a client waits for one reply before the run fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The seed's echo server on its own thread; stopped and joined on drop.
#[derive(Debug)]
pub struct BanyanEchoServer(ThreadGuard<banyan_host::Result<()>>);

impl BanyanEchoServer {
    /// Connects `banyan_host::echo::serve` to the forwarder and starts it.
    pub fn start(endpoints: &Endpoints) -> Result<Self> {
        let mut server = endpoints
            .config("bench-echo-server")
            .subscribe(ECHO_TOPIC)
            .connect()?;
        let stop = server.shutdown_handle();
        Ok(Self(ThreadGuard::spawn(
            "echo server",
            move || {
                let _ = stop.shutdown();
            },
            move || echo::serve(&mut server, |_| {}),
        )))
    }

    /// Stops the server and reports its error, if it had one.
    pub fn stop(self) -> Result<()> {
        Ok(self.0.stop()??)
    }
}

/// The Banyan echo client: a component subscribed to `reply`.
pub struct BanyanEchoClient {
    component: banyan_host::Component,
}

impl std::fmt::Debug for BanyanEchoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BanyanEchoClient").finish_non_exhaustive()
    }
}

impl BanyanEchoClient {
    /// Connects the client.
    pub fn connect(endpoints: &Endpoints) -> Result<Self> {
        let component = endpoints
            .config("bench-echo-client")
            .subscribe(REPLY_TOPIC)
            .connect()?;
        Ok(Self { component })
    }

    /// `count` round trips with `banyan_host::echo::run_client` (which publishes
    /// `{'message_number': n}` and waits for its reply before sending `n - 1`). A round trip
    /// is the time between two consecutive replies (the first: from the start).
    pub fn round_trips(&mut self, count: u32) -> Result<Vec<Duration>> {
        let Some(last) = count.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let mut times = Vec::with_capacity(count as usize);
        let mut previous = Instant::now();
        let report = echo::run_client(&mut self.component, last, REPLY_TIMEOUT, |_| {
            let now = Instant::now();
            times.push(now - previous);
            previous = now;
        })?;
        if report.replies != u64::from(count) {
            bail!("echo client saw {} replies of {count}", report.replies);
        }
        Ok(times)
    }
}

/// Topics of the raw echo: as long as Banyan's `echo` and `reply`, but distinct (matching is
/// case-sensitive), so both echoes can share one forwarder without answering each other.
const RAW_ECHO: &[u8] = b"ECHO";
const RAW_REPLY: &[u8] = b"REPLY";

/// A raw ZeroMQ echo server: SUB(`ECHO`) → PUB(`REPLY`), payload verbatim; stopped and
/// joined on drop.
struct RawEchoServer(ThreadGuard<Result<()>>);

impl RawEchoServer {
    fn start(endpoints: &Endpoints) -> Result<Self> {
        let ctx = zmq::Context::new();
        let subscriber = ctx.socket(zmq::SUB)?;
        subscriber.set_rcvhwm(HWM)?;
        subscriber.set_subscribe(RAW_ECHO)?;
        subscriber.set_rcvtimeo(100)?;
        subscriber.connect(&endpoints.subscribe_endpoint())?;
        let publisher = ctx.socket(zmq::PUB)?;
        publisher.set_sndhwm(HWM)?;
        publisher.set_linger(0)?;
        publisher.connect(&endpoints.publish_endpoint())?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let body = move || -> Result<()> {
            let _ctx = ctx;
            let (mut topic, mut body) = (zmq::Message::new(), zmq::Message::new());
            while !stopping.load(Ordering::Relaxed) {
                match subscriber.recv(&mut topic, 0) {
                    Ok(()) => {}
                    Err(zmq::Error::EAGAIN) => continue,
                    Err(error) => return Err(error.into()),
                }
                if !topic.get_more() {
                    continue;
                }
                subscriber.recv(&mut body, 0)?;
                publisher.send(RAW_REPLY, zmq::SNDMORE)?;
                publisher.send(&body[..], 0)?;
            }
            Ok(())
        };
        Ok(Self(ThreadGuard::spawn(
            "raw echo server",
            move || stop.store(true, Ordering::Relaxed),
            body,
        )))
    }

    fn stop(self) -> Result<()> {
        self.0.stop()?
    }
}

/// The baseline: a raw echo server and a raw client, doing the same round trips as Banyan
/// through the same forwarder with payloads `{'message_number': n}` encoded before the
/// clock starts; a reply counts when its bytes equal the request's.
pub struct RawEcho {
    server: RawEchoServer,
    _ctx: zmq::Context,
    publisher: zmq::Socket,
    subscriber: zmq::Socket,
    payloads: Vec<Vec<u8>>,
    topic: zmq::Message,
    body: zmq::Message,
}

impl std::fmt::Debug for RawEcho {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawEcho").finish_non_exhaustive()
    }
}

impl RawEcho {
    /// Starts the raw server, connects the raw client and proves the whole loop.
    pub fn start(endpoints: &Endpoints) -> Result<Self> {
        let server = RawEchoServer::start(endpoints)?;
        let ctx = zmq::Context::new();
        let subscriber = ctx.socket(zmq::SUB)?;
        subscriber.set_rcvhwm(HWM)?;
        subscriber.set_subscribe(RAW_REPLY)?;
        subscriber.set_subscribe(SYNC_TOPIC)?;
        subscriber.connect(&endpoints.subscribe_endpoint())?;
        let publisher = ctx.socket(zmq::PUB)?;
        publisher.set_sndhwm(HWM)?;
        publisher.set_linger(0)?;
        publisher.connect(&endpoints.publish_endpoint())?;
        // Client paths first (sync on our own topic), then the whole loop through the server.
        raw_sync(&publisher, &subscriber)?;
        subscriber.set_unsubscribe(SYNC_TOPIC)?;
        let probe = banyan_proto::payload::to_vec(&EchoPayload { message_number: -1 })?;
        let give_up = Instant::now() + REPLY_TIMEOUT;
        'proof: loop {
            publisher.send(RAW_ECHO, zmq::SNDMORE)?;
            publisher.send(&probe[..], 0)?;
            while subscriber.poll(zmq::POLLIN, 5)? > 0 {
                let parts = subscriber.recv_multipart(0)?;
                if parts.last().is_some_and(|body| *body == probe) {
                    break 'proof;
                }
            }
            if Instant::now() > give_up {
                bail!("raw echo server unreachable through the forwarder");
            }
        }
        let timeout = i32::try_from(REPLY_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
        subscriber.set_rcvtimeo(timeout)?;
        Ok(Self {
            server,
            _ctx: ctx,
            publisher,
            subscriber,
            payloads: Vec::new(),
            topic: zmq::Message::new(),
            body: zmq::Message::new(),
        })
    }

    /// `count` sequential round trips, counting down like the Banyan client.
    pub fn round_trips(&mut self, count: u32) -> Result<Vec<Duration>> {
        while self.payloads.len() < count as usize {
            let n = i64::try_from(self.payloads.len())?;
            self.payloads
                .push(banyan_proto::payload::to_vec(&EchoPayload {
                    message_number: n,
                })?);
        }
        let mut times = Vec::with_capacity(count as usize);
        for n in (0..count as usize).rev() {
            let payload = &self.payloads[n];
            let start = Instant::now();
            self.publisher.send(RAW_ECHO, zmq::SNDMORE)?;
            self.publisher.send(&payload[..], 0)?;
            loop {
                match self.subscriber.recv(&mut self.topic, 0) {
                    Ok(()) => {}
                    Err(zmq::Error::EAGAIN) => bail!("raw echo: no reply to {n} within 5 s"),
                    Err(error) => return Err(error.into()),
                }
                if !self.topic.get_more() {
                    continue;
                }
                self.subscriber.recv(&mut self.body, 0)?;
                if self.body[..] == payload[..] {
                    break;
                }
            }
            times.push(start.elapsed());
        }
        Ok(times)
    }

    /// Stops the raw server.
    pub fn stop(self) -> Result<()> {
        self.server.stop()
    }
}

/// Round trips of one kind measured in a row before the other kind takes its turn (see
/// [`interleaved_run`]): about 5–10 ms, short against the machine's load changes.
pub const TURN: u32 = 50;

/// The round trips of one block of an echo run: Banyan's and raw's, measured in alternating
/// turns on pairs connected side by side.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Banyan round-trip times.
    pub banyan: Vec<Duration>,
    /// Raw round-trip times.
    pub raw: Vec<Duration>,
}

/// One echo run: `count` round trips of each kind in `blocks` blocks. Each block connects a
/// fresh Banyan pair (server and client) and a fresh raw pair through `endpoints` at once
/// (distinct topics), warms both up with `warmup` round trips, then measures them in turns of
/// [`TURN`] round trips, alternating which kind goes first from turn to turn and which pair
/// is started first from block to block. Fresh threads per block re-draw where the kernel
/// puts them on the CPUs, which otherwise decides a run's latency more than the code does;
/// short alternating turns give both kinds the same machine load.
pub fn interleaved_run(
    endpoints: &Endpoints,
    warmup: u32,
    count: u32,
    blocks: u32,
) -> Result<Vec<Block>> {
    let blocks = blocks.clamp(1, count.max(1));
    let mut out = Vec::new();
    for block in 0..blocks {
        let size = count / blocks + u32::from(block < count % blocks);
        let banyan_first = block % 2 == 0;
        let mut raw = if banyan_first {
            None
        } else {
            Some(RawEcho::start(endpoints)?)
        };
        let server = BanyanEchoServer::start(endpoints)?;
        let mut banyan = BanyanEchoClient::connect(endpoints)?;
        let mut raw = match raw.take() {
            Some(raw) => raw,
            None => RawEcho::start(endpoints)?,
        };
        banyan.round_trips(warmup)?;
        raw.round_trips(warmup)?;
        let mut times = Block::default();
        let (mut left, mut turn) = (size, 0u32);
        while left > 0 {
            let n = left.min(TURN);
            if (turn + u32::from(!banyan_first)) % 2 == 0 {
                times.banyan.extend(banyan.round_trips(n)?);
                times.raw.extend(raw.round_trips(n)?);
            } else {
                times.raw.extend(raw.round_trips(n)?);
                times.banyan.extend(banyan.round_trips(n)?);
            }
            left -= n;
            turn += 1;
        }
        out.push(times);
        raw.stop()?;
        server.stop()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_host::{Backplane, BackplaneConfig};

    #[test]
    fn both_echoes_round_trip() {
        let backplane = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let endpoints = Endpoints::of(&backplane);
        let blocks = interleaved_run(&endpoints, 3, 125, 2).unwrap();
        assert_eq!(blocks.len(), 2);
        let banyan: Vec<Duration> = blocks.iter().flat_map(|b| b.banyan.clone()).collect();
        let raw: Vec<Duration> = blocks.iter().flat_map(|b| b.raw.clone()).collect();
        assert_eq!((banyan.len(), raw.len()), (125, 125));
        assert!(raw.iter().chain(&banyan).all(|t| *t > Duration::ZERO));
    }
}
