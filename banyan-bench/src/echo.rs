//! Echo latency: sequential round trips client → forwarder → echo server → forwarder →
//! client. Banyan uses the seed's echo server and client (`banyan_host::echo`), blocking and
//! async (`banyan_host::aio::echo`, on tokio); the baseline does the same round trip with raw
//! ZeroMQ sockets and pre-encoded payloads. They run through the same forwarder, the raw pair
//! all along, on topics that do not overlap (the two Banyan pairs share `echo`/`reply`, so
//! they take turns), and take turns in blocks, so that a change of machine load hits all
//! alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use banyan_host::aio;
use banyan_host::echo::{self, ClientOptions, ECHO_TOPIC, EchoPayload, REPLY_TOPIC};
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

/// The async pair: `aio::echo::serve` on a current-thread tokio runtime of its own thread,
/// `aio::echo::run_client` on a current-thread runtime of the measuring thread — the blocking
/// pair's layout (server thread, client on the caller), on tokio.
pub struct AsyncEcho {
    server: ThreadGuard<Result<()>>,
    runtime: tokio::runtime::Runtime,
    client: aio::Component,
}

impl std::fmt::Debug for AsyncEcho {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncEcho").finish_non_exhaustive()
    }
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")
}

impl AsyncEcho {
    /// Starts the server (its `echo` subscription proven) and connects the client.
    pub fn start(endpoints: &Endpoints) -> Result<Self> {
        let config = endpoints
            .config("bench-async-echo-server")
            .subscribe(ECHO_TOPIC);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = ThreadGuard::spawn(
            "async echo server",
            move || {
                let _ = stop_tx.send(());
            },
            move || -> Result<()> {
                let runtime = current_thread_runtime()?;
                runtime.block_on(async move {
                    // The component registers with this thread's runtime, which drives it.
                    let mut server = match aio::Component::connect(config).await {
                        Ok(server) => server,
                        Err(error) => {
                            let _ = ready_tx.send(Err(anyhow!("async echo server: {error}")));
                            return Ok(());
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    tokio::select! {
                        served = aio::echo::serve(&mut server, |_| {}) => Ok(served?),
                        _ = stop_rx => Ok(()),
                    }
                })
            },
        );
        ready_rx
            .recv_timeout(REPLY_TIMEOUT)
            .map_err(|_| anyhow!("async echo server did not connect"))??;
        let runtime = current_thread_runtime()?;
        let client = runtime.block_on(aio::Component::connect(
            endpoints
                .config("bench-async-echo-client")
                .subscribe(REPLY_TOPIC),
        ))?;
        Ok(Self {
            server,
            runtime,
            client,
        })
    }

    /// `count` round trips with `aio::echo::run_client`, timed as
    /// [`BanyanEchoClient::round_trips`] times the blocking client.
    pub fn round_trips(&mut self, count: u32) -> Result<Vec<Duration>> {
        let Some(last) = count.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let mut times = Vec::with_capacity(count as usize);
        let mut previous = Instant::now();
        let options = ClientOptions::new(last, REPLY_TIMEOUT);
        let report =
            self.runtime
                .block_on(aio::echo::run_client(&mut self.client, &options, |_| {
                    let now = Instant::now();
                    times.push(now - previous);
                    previous = now;
                }))?;
        if report.replies != u64::from(count) {
            bail!(
                "async echo client saw {} replies of {count}",
                report.replies
            );
        }
        Ok(times)
    }

    /// Stops the server and reports its error, if it had one.
    pub fn stop(self) -> Result<()> {
        drop(self.client);
        self.server.stop()?
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

/// The round trips of one block of an echo run, measured in alternating turns on pairs
/// connected side by side: the blocking Banyan pair beside raw, then the async Banyan pair
/// beside the same raw pair.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// The blocking Banyan pair (`echo::run_client` ⇄ `echo::serve`).
    pub banyan: Vec<Duration>,
    /// Raw round trips measured in turns with `banyan` (its baseline).
    pub raw: Vec<Duration>,
    /// The async Banyan pair (`aio::echo::run_client` ⇄ `aio::echo::serve`).
    pub asynchronous: Vec<Duration>,
    /// Raw round trips measured in turns with `asynchronous` (its baseline).
    pub raw_async: Vec<Duration>,
}

/// Measures `count` round trips of `a` and of `b` in alternating turns of [`TURN`], `a`
/// first in even turns when `a_first`, else `b`.
fn alternate(
    count: u32,
    a_first: bool,
    mut a: impl FnMut(u32) -> Result<Vec<Duration>>,
    mut b: impl FnMut(u32) -> Result<Vec<Duration>>,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let (mut a_times, mut b_times) = (Vec::new(), Vec::new());
    let (mut left, mut turn) = (count, 0u32);
    while left > 0 {
        let n = left.min(TURN);
        if (turn + u32::from(!a_first)) % 2 == 0 {
            a_times.extend(a(n)?);
            b_times.extend(b(n)?);
        } else {
            b_times.extend(b(n)?);
            a_times.extend(a(n)?);
        }
        left -= n;
        turn += 1;
    }
    Ok((a_times, b_times))
}

/// One echo run: `count` round trips of each kind in `blocks` blocks. Each block connects a
/// fresh Banyan pair (server and client) and a fresh raw pair through `endpoints` at once
/// (distinct topics), warms both up with `warmup` round trips, then measures them in turns of
/// [`TURN`] round trips, alternating which kind goes first from turn to turn and which pair
/// is started first from block to block. Then the blocking pair makes way for a fresh async
/// pair (the two Banyan pairs share `echo`/`reply`), measured the same way beside the same raw
/// pair. Fresh threads per block re-draw where the kernel puts them on the CPUs, which
/// otherwise decides a run's latency more than the code does; short alternating turns give
/// both kinds the same machine load.
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
        let mut raw = RawEcho::start(endpoints)?;
        let server = BanyanEchoServer::start(endpoints)?;
        let mut banyan = BanyanEchoClient::connect(endpoints)?;
        banyan.round_trips(warmup)?;
        raw.round_trips(warmup)?;
        let mut times = Block::default();
        (times.banyan, times.raw) = alternate(
            size,
            banyan_first,
            |n| banyan.round_trips(n),
            |n| raw.round_trips(n),
        )?;
        server.stop()?;
        drop(banyan);
        // The async pair answers on the same `echo`/`reply` topics: it starts once the
        // blocking pair is gone; the raw pair stays.
        let mut asynchronous = AsyncEcho::start(endpoints)?;
        asynchronous.round_trips(warmup)?;
        (times.asynchronous, times.raw_async) = alternate(
            size,
            !banyan_first,
            |n| asynchronous.round_trips(n),
            |n| raw.round_trips(n),
        )?;
        asynchronous.stop()?;
        raw.stop()?;
        out.push(times);
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
        let asynchronous: Vec<Duration> =
            blocks.iter().flat_map(|b| b.asynchronous.clone()).collect();
        let raw_async: Vec<Duration> = blocks.iter().flat_map(|b| b.raw_async.clone()).collect();
        let lens = (banyan.len(), raw.len(), asynchronous.len(), raw_async.len());
        assert_eq!(lens, (125, 125, 125, 125));
        assert!(
            raw.iter()
                .chain(&banyan)
                .chain(&asynchronous)
                .chain(&raw_async)
                .all(|t| *t > Duration::ZERO)
        );
    }
}
