//! Serial gateway: a simulated MCU speaks frames over an in-memory pipe (a Unix socket pair)
//! to a [`Gateway`], which bridges them onto a backplane where a Rust echo server answers.
//!
//! ```text
//!  MCU (this code)  ══ UnixStream pair ══  Gateway ── backplane ── echo server
//!   Hello, Subscribe "reply", Publish "echo" ──▶ ──▶ ──▶
//!   ◀── Publish "reply" (payload verbatim)  ◀── ◀── ◀──
//! ```
//!
//! The echo server republishes any `echo` payload verbatim on `reply`, so payloads of any
//! size (`{'d': bytes}` carrying a sequence number) can be used.

use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use banyan_gateways::serial::{Gateway, GatewayStats};
use banyan_proto::frame::{FeedResult, Frame, FrameDecoder, encode, max_encoded_len};
use banyan_testkit::{ThreadGuard, offered_links};

use crate::codec::{payload_seq, sized_payload};
use crate::pubsub::Endpoints;

const ECHO: &str = "echo";
const REPLY: &str = "reply";
/// `max_frame` the simulated MCU announces.
const MCU_MAX_FRAME: u16 = 1024;
/// How long the MCU waits for one frame before the run fails.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// A service thread (the gateway, the echo server): told to stop through its shutdown handle
/// and joined, also on drop.
type Service<T> = ThreadGuard<banyan_host::Result<T>>;

/// Stops `service` and returns what it returned.
fn finish<T: Send + 'static>(service: Service<T>) -> Result<T> {
    Ok(service.stop()??)
}

/// An echo server that republishes every `echo` payload verbatim on `reply`.
fn verbatim_echo(endpoints: &Endpoints) -> Result<Service<()>> {
    let mut component = endpoints
        .config("bench-verbatim-echo")
        .subscribe(ECHO)
        .connect()?;
    let stop = component.shutdown_handle();
    Ok(ThreadGuard::spawn(
        "verbatim echo",
        move || {
            let _ = stop.shutdown();
        },
        move || {
            component.receive_loop(|component, message| {
                if message.topic == ECHO {
                    component.publish_raw(REPLY.as_bytes(), &message.payload)?;
                }
                Ok(ControlFlow::Continue(()))
            })
        },
    ))
}

/// The MCU side of the pipe.
struct Mcu {
    stream: UnixStream,
    decoder: Box<FrameDecoder<{ max_encoded_len(4096) }>>,
    /// Bytes read from the pipe; `pending[pos..]` are not yet fed to the decoder.
    pending: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
}

impl Mcu {
    fn new(stream: UnixStream) -> Self {
        Self {
            stream,
            decoder: Box::new(FrameDecoder::new()),
            pending: Vec::with_capacity(8192),
            pos: 0,
            out: vec![0; max_encoded_len(4096)],
        }
    }

    fn send(&mut self, frame: &Frame<'_>) -> Result<()> {
        let n = encode(frame, &mut self.out).map_err(|e| anyhow!("encode: {e}"))?;
        self.stream.write_all(&self.out[..n])?;
        Ok(())
    }

    /// Reads frames until `pick` accepts one (returns `Some`); `None` at `deadline`.
    fn recv<T>(
        &mut self,
        deadline: Instant,
        mut pick: impl FnMut(&Frame<'_>) -> Option<T>,
    ) -> Result<Option<T>> {
        loop {
            while self.pos < self.pending.len() {
                let input = &self.pending[self.pos..];
                match self.decoder.feed(input) {
                    FeedResult::Consumed => self.pos = self.pending.len(),
                    FeedResult::Frame { frame, remaining } => {
                        self.pos += input.len() - remaining.len();
                        if let Some(value) = pick(&frame) {
                            return Ok(Some(value));
                        }
                    }
                    FeedResult::Corrupt { kind, .. } => {
                        bail!("gateway sent a corrupt frame: {kind}")
                    }
                    FeedResult::Oversized { .. } => bail!("gateway sent an oversized frame"),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            self.pending.resize(8192, 0);
            self.pos = 0;
            match self.stream.read(&mut self.pending) {
                Ok(0) => bail!("gateway closed the link"),
                Ok(n) => self.pending.truncate(n),
                Err(e) => {
                    self.pending.clear();
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        return Ok(None);
                    }
                    return Err(e.into());
                }
            }
        }
    }

    fn expect_hello(&mut self) -> Result<()> {
        let deadline = Instant::now() + FRAME_TIMEOUT;
        self.recv(deadline, |frame| {
            matches!(frame, Frame::Hello { .. }).then_some(())
        })?
        .ok_or_else(|| anyhow!("no Hello from the gateway"))
    }

    /// The sequence number of a `Publish` on `reply`, if `frame` is one.
    fn reply_seq(frame: &Frame<'_>) -> Option<u32> {
        match frame {
            Frame::Publish { topic, payload } if *topic == REPLY.as_bytes() => payload_seq(payload),
            _ => None,
        }
    }

    /// One round trip of a `len`-byte payload carrying `seq`.
    fn round_trip(&mut self, len: usize, seq: u32) -> Result<Duration> {
        let payload = sized_payload(len, seq);
        let start = Instant::now();
        self.send(&Frame::Publish {
            topic: ECHO.as_bytes(),
            payload: &payload,
        })?;
        let deadline = start + FRAME_TIMEOUT;
        match self.recv(deadline, |frame| {
            (Self::reply_seq(frame) == Some(seq)).then_some(())
        })? {
            Some(()) => Ok(start.elapsed()),
            None => bail!("no echo of frame {seq} within {FRAME_TIMEOUT:?}"),
        }
    }
}

/// Sizes and repetitions of one gateway measurement.
#[derive(Debug, Clone, Copy)]
pub struct GatewayPlan {
    /// msgpack payload size in bytes.
    pub payload_len: usize,
    /// Round trips before measuring.
    pub warmup: u32,
    /// Sequential round trips per run.
    pub round_trips: u32,
    /// Frames per pipelined burst.
    pub burst: u32,
    /// Runs of each kind.
    pub runs: usize,
    /// Quiet period that ends a burst with losses.
    pub quiet: Duration,
}

/// One pipelined burst: echoes received and the time from the first write to the last echo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    /// Frames written.
    pub sent: u32,
    /// Echo frames received.
    pub received: u32,
    /// First write to last echo.
    pub elapsed: Duration,
}

impl Burst {
    /// Echoed frames per second.
    pub fn rate(&self) -> f64 {
        f64::from(self.received) / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Everything one [`measure`] call saw.
#[derive(Debug, Clone)]
pub struct GatewayRuns {
    /// Round-trip times of each latency run.
    pub round_trips: Vec<Vec<Duration>>,
    /// Each burst.
    pub bursts: Vec<Burst>,
    /// The gateway's counters at the end.
    pub stats: GatewayStats,
}

/// Starts an echo server and a gateway on `endpoints`, connects the simulated MCU (Hello,
/// Subscribe `reply`), then runs `plan.runs` latency runs and `plan.runs` bursts.
pub fn measure(endpoints: &Endpoints, plan: GatewayPlan) -> Result<GatewayRuns> {
    let echo = verbatim_echo(endpoints)?;
    let (mcu_end, gateway_end) = UnixStream::pair()?;
    let component = endpoints.config("bench-gateway").connect()?;
    // The gateway gets its end of the pipe once; later opens fail (it retries them with
    // back-off, which only happens if the link breaks).
    let (offers, connector) = offered_links("in-memory pipe (UnixStream pair)");
    offers.offer(Box::new(gateway_end));
    let gateway = Gateway::new(component, connector);
    let stop = gateway.shutdown_handle();
    let service: Service<GatewayStats> = ThreadGuard::spawn(
        "gateway",
        move || {
            let _ = stop.shutdown();
        },
        move || gateway.run(),
    );
    let mut mcu = Mcu::new(mcu_end);
    mcu.expect_hello().context("gateway hello on open")?;
    // Protocol version 1 (full-topic frames), as this section has always measured; the
    // serial section measures aliases and batches.
    mcu.send(&Frame::Hello {
        version: 1,
        max_frame: MCU_MAX_FRAME,
        boot_nonce: 1,
    })?;
    mcu.expect_hello().context("gateway hello answering ours")?;
    mcu.send(&Frame::Subscribe {
        topic: REPLY.as_bytes(),
    })?;

    let mut seq = 0u32;
    for _ in 0..plan.warmup {
        mcu.round_trip(plan.payload_len, seq)?;
        seq += 1;
    }
    let mut round_trips = Vec::new();
    for _ in 0..plan.runs {
        let mut times = Vec::with_capacity(plan.round_trips as usize);
        for _ in 0..plan.round_trips {
            times.push(mcu.round_trip(plan.payload_len, seq)?);
            seq += 1;
        }
        round_trips.push(times);
    }
    let mut bursts = Vec::new();
    for _ in 0..plan.runs {
        bursts.push(burst(&mut mcu, plan, seq)?);
        seq += plan.burst;
    }
    let stats = finish(service)?;
    finish(echo)?;
    Ok(GatewayRuns {
        round_trips,
        bursts,
        stats,
    })
}

/// Writes `plan.burst` frames from a second thread while counting their echoes here.
fn burst(mcu: &mut Mcu, plan: GatewayPlan, first: u32) -> Result<Burst> {
    let mut writer = mcu.stream.try_clone()?;
    let (len, count) = (plan.payload_len, plan.burst);
    let start = Instant::now();
    let sender = thread::spawn(move || -> Result<()> {
        let mut out = vec![0; max_encoded_len(4096)];
        for seq in first..first + count {
            let payload = sized_payload(len, seq);
            let frame = Frame::Publish {
                topic: ECHO.as_bytes(),
                payload: &payload,
            };
            let n = encode(&frame, &mut out).map_err(|e| anyhow!("encode: {e}"))?;
            writer.write_all(&out[..n])?;
        }
        Ok(())
    });
    let range = first..first + count;
    let mut received = 0;
    let mut last = start;
    while received < count {
        let got = mcu.recv(Instant::now() + plan.quiet, |frame| {
            Mcu::reply_seq(frame).filter(|seq| range.contains(seq))
        })?;
        if got.is_none() {
            break;
        }
        received += 1;
        last = Instant::now();
    }
    sender.join().map_err(|_| anyhow!("writer panicked"))??;
    Ok(Burst {
        sent: count,
        received,
        elapsed: last - start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_host::{Backplane, BackplaneConfig};

    #[test]
    fn gateway_echoes_through_the_pipe() {
        let backplane = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let plan = GatewayPlan {
            payload_len: 256,
            warmup: 2,
            round_trips: 10,
            burst: 200,
            runs: 2,
            quiet: Duration::from_secs(2),
        };
        let runs = measure(&Endpoints::of(&backplane), plan).unwrap();
        assert_eq!(runs.round_trips.len(), 2);
        assert!(runs.round_trips.iter().all(|r| r.len() == 10));
        assert_eq!(runs.bursts.len(), 2);
        assert!(
            runs.bursts
                .iter()
                .all(|b| b.received == 200 && b.sent == 200)
        );
        assert_eq!(runs.stats.published, 2 + 20 + 400);
        assert_eq!(runs.stats.delivered, 2 + 20 + 400);
        assert_eq!(runs.stats.corrupt, 0);
    }
}
