//! Echo latency: sequential round trips client → forwarder → echo server → forwarder →
//! client. Banyan uses the seed's echo server and client (`banyan_host::echo`); the baseline
//! does the same round trip with raw ZeroMQ sockets and pre-encoded payloads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use banyan_host::ShutdownHandle;
use banyan_host::echo::{self, ECHO_TOPIC, EchoPayload, REPLY_TOPIC};

use crate::pubsub::{Endpoints, HWM, SYNC_TOPIC, raw_sync};

/// How long a client waits for one reply before the run fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The seed's echo server on its own thread; stopped and joined on drop.
pub struct BanyanEchoServer {
    stop: ShutdownHandle,
    thread: Option<JoinHandle<banyan_host::Result<()>>>,
}

impl std::fmt::Debug for BanyanEchoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BanyanEchoServer").finish_non_exhaustive()
    }
}

impl BanyanEchoServer {
    /// Connects `banyan_host::echo::serve` to the forwarder and starts it.
    pub fn start(endpoints: &Endpoints) -> Result<Self> {
        let mut server = endpoints
            .config("bench-echo-server")
            .subscribe(ECHO_TOPIC)
            .connect()?;
        let stop = server.shutdown_handle();
        let thread = thread::spawn(move || echo::serve(&mut server, |_| {}));
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the server and reports its error, if it had one.
    pub fn stop(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.stop.shutdown()?;
        thread
            .join()
            .map_err(|_| anyhow!("echo server panicked"))??;
        Ok(())
    }
}

impl Drop for BanyanEchoServer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// `warmup` round trips, then `count` measured ones, with `banyan_host::echo::run_client`
/// (which publishes `{'message_number': n}` and waits for its reply before sending `n - 1`).
/// A round trip is the time between two consecutive replies (the first: from the start).
pub fn banyan_round_trips(endpoints: &Endpoints, warmup: u32, count: u32) -> Result<Vec<Duration>> {
    let mut client = endpoints
        .config("bench-echo-client")
        .subscribe(REPLY_TOPIC)
        .connect()?;
    if warmup > 0 {
        echo::run_client(&mut client, warmup - 1, REPLY_TIMEOUT, |_| {})?;
    }
    let Some(last) = count.checked_sub(1) else {
        return Ok(Vec::new());
    };
    let mut times = Vec::with_capacity(count as usize);
    let mut previous = Instant::now();
    let report = echo::run_client(&mut client, last, REPLY_TIMEOUT, |_| {
        let now = Instant::now();
        times.push(now - previous);
        previous = now;
    })?;
    if report.replies.len() != count as usize {
        bail!(
            "echo client saw {} replies of {count}",
            report.replies.len()
        );
    }
    Ok(times)
}

/// A raw ZeroMQ echo server: SUB(`echo`) → PUB(`reply`), payload verbatim.
struct RawEchoServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl RawEchoServer {
    fn start(endpoints: &Endpoints) -> Result<Self> {
        let ctx = zmq::Context::new();
        let subscriber = ctx.socket(zmq::SUB)?;
        subscriber.set_rcvhwm(HWM)?;
        subscriber.set_subscribe(ECHO_TOPIC.as_bytes())?;
        subscriber.set_rcvtimeo(100)?;
        subscriber.connect(&endpoints.subscribe_endpoint())?;
        let publisher = ctx.socket(zmq::PUB)?;
        publisher.set_sndhwm(HWM)?;
        publisher.set_linger(0)?;
        publisher.connect(&endpoints.publish_endpoint())?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || -> Result<()> {
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
                publisher.send(REPLY_TOPIC.as_bytes(), zmq::SNDMORE)?;
                publisher.send(&body[..], 0)?;
            }
            Ok(())
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow!("raw echo server panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for RawEchoServer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Baseline: the same round trips with raw sockets through the same forwarder. Payloads
/// `{'message_number': n}` are encoded before the clock starts; a reply counts when its
/// bytes equal the request's.
pub fn raw_round_trips(endpoints: &Endpoints, warmup: u32, count: u32) -> Result<Vec<Duration>> {
    let mut server = RawEchoServer::start(endpoints)?;
    let ctx = zmq::Context::new();
    let subscriber = ctx.socket(zmq::SUB)?;
    subscriber.set_rcvhwm(HWM)?;
    subscriber.set_subscribe(REPLY_TOPIC.as_bytes())?;
    subscriber.set_subscribe(SYNC_TOPIC)?;
    subscriber.connect(&endpoints.subscribe_endpoint())?;
    let publisher = ctx.socket(zmq::PUB)?;
    publisher.set_sndhwm(HWM)?;
    publisher.set_linger(0)?;
    publisher.connect(&endpoints.publish_endpoint())?;
    // Client paths first (sync on our own topic), then the whole loop through the server.
    raw_sync(&publisher, &subscriber)?;
    subscriber.set_unsubscribe(SYNC_TOPIC)?;
    let payloads = (0..warmup + count)
        .map(|n| {
            banyan_proto::payload::to_vec(&EchoPayload {
                message_number: i64::from(n),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let probe = banyan_proto::payload::to_vec(&EchoPayload { message_number: -1 })?;
    let give_up = Instant::now() + REPLY_TIMEOUT;
    'proof: loop {
        publisher.send(ECHO_TOPIC.as_bytes(), zmq::SNDMORE)?;
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

    let (mut topic, mut body) = (zmq::Message::new(), zmq::Message::new());
    let timeout = i32::try_from(REPLY_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
    subscriber.set_rcvtimeo(timeout)?;
    let mut times = Vec::with_capacity(count as usize);
    for (n, payload) in payloads.iter().enumerate() {
        let start = Instant::now();
        publisher.send(ECHO_TOPIC.as_bytes(), zmq::SNDMORE)?;
        publisher.send(&payload[..], 0)?;
        loop {
            match subscriber.recv(&mut topic, 0) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => bail!("raw echo: no reply to {n} within 5 s"),
                Err(error) => return Err(error.into()),
            }
            if !topic.get_more() {
                continue;
            }
            subscriber.recv(&mut body, 0)?;
            if body[..] == payload[..] {
                break;
            }
        }
        if n >= warmup as usize {
            times.push(start.elapsed());
        }
    }
    server.finish()?;
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_host::{Backplane, BackplaneConfig};

    #[test]
    fn both_echoes_round_trip() {
        let backplane = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let endpoints = Endpoints::of(&backplane);
        let server = BanyanEchoServer::start(&endpoints).unwrap();
        let times = banyan_round_trips(&endpoints, 3, 20).unwrap();
        assert_eq!(times.len(), 20);
        server.stop().unwrap();
        let raw = raw_round_trips(&endpoints, 3, 20).unwrap();
        assert_eq!(raw.len(), 20);
        assert!(raw.iter().all(|t| *t > Duration::ZERO));
    }
}
