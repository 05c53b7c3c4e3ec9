//! Hostile input to the backplane: garbage connections, a stalled subscriber under a flood (of
//! small and of big messages), a
//! 256 MiB message, malformed messages, a connection from a denied address.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use banyan_testkit::{ChildGuard, Rng, ThreadGuard};

use crate::Outcome;
use crate::rig::{BackplaneProc, Bins, component_flags, echo_round, mib, two_ports};

/// The memory budget the design promises for queued messages (issue 11: default 64 MiB).
pub const BUDGET: u64 = 64 << 20;
/// What a backplane may use beyond the budget (code, libzmq, buffers).
const BASELINE: u64 = 32 << 20;

/// `tcp://127.0.0.1:PORT`.
fn endpoint(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// A counting SUB socket on a thread: how many messages (and bytes) with `topic` arrived.
struct Counter {
    count: Arc<AtomicU64>,
    largest: Arc<AtomicU64>,
    _thread: ThreadGuard<()>,
}

impl Counter {
    fn start(ctx: &zmq::Context, port: u16, topic: &[u8]) -> Result<Self> {
        let sub = ctx.socket(zmq::SUB)?;
        sub.set_rcvhwm(0)?;
        sub.set_subscribe(topic)?;
        sub.set_rcvtimeo(50)?;
        sub.connect(&endpoint(port))?;
        let count = Arc::new(AtomicU64::new(0));
        let largest = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, l, s) = (count.clone(), largest.clone(), stop.clone());
        let thread = ThreadGuard::spawn(
            "counter",
            move || stop.store(true, Ordering::SeqCst),
            move || {
                while !s.load(Ordering::SeqCst) {
                    if let Ok(parts) = sub.recv_multipart(0) {
                        let size = parts.iter().map(Vec::len).sum::<usize>() as u64;
                        l.fetch_max(size, Ordering::SeqCst);
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                }
            },
        );
        Ok(Self {
            count,
            largest,
            _thread: thread,
        })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn largest(&self) -> u64 {
        self.largest.load(Ordering::SeqCst)
    }
}

/// Publishes `marker` on `topic` every 50 ms until `counter` saw one (the subscription is in
/// force), or fails at the deadline.
fn until_seen(publisher: &zmq::Socket, counter: &Counter, topic: &[u8]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter.count() == 0 {
        if Instant::now() > deadline {
            bail!(
                "the subscription to {:?} never came into force",
                String::from_utf8_lossy(topic)
            );
        }
        publisher.send_multipart([topic, b"\x80".as_slice()], 0)?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// 1000 TCP connections to each backplane port, each sending random bytes (some after a
/// valid ZMTP greeting); then an echo run through the same backplane.
pub fn garbage_connections(bins: &Bins) -> Result<Outcome> {
    let ports = two_ports()?;
    let mut backplane = BackplaneProc::start(bins, ports, &[])?;
    let mut rng = Rng::new(0x6A5B);
    let mut opened = 0u32;
    for port in [ports.0, ports.1] {
        for _wave in 0..10 {
            let mut wave = Vec::new();
            for i in 0..100 {
                let mut stream = TcpStream::connect(("127.0.0.1", port))
                    .with_context(|| format!("connection {opened} to {port}"))?;
                opened += 1;
                let len = 64 + rng.below(4096) as usize;
                let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                if i % 3 == 0 {
                    // A valid ZMTP 3 greeting start, then nonsense.
                    bytes.splice(0..0, *b"\xff\0\0\0\0\0\0\0\x01\x7f\x03\x00NULL");
                }
                let _ = stream.write_all(&bytes);
                wave.push(stream);
            }
            std::thread::sleep(Duration::from_millis(20));
            drop(wave);
        }
    }
    if !backplane.child.is_running() {
        return Ok(Outcome::failed(
            0,
            format!("the backplane died after {opened} garbage connections"),
        ));
    }
    let rss = backplane.peak_rss();
    match echo_round(bins, ports, 10) {
        Ok(()) => Ok(Outcome::survived(format!(
            "{opened} garbage connections; backplane alive (peak RSS {}), echo through it afterwards complete",
            mib(rss)
        ))),
        Err(error) => Ok(Outcome::failed(
            11,
            format!("echo after {opened} garbage connections failed: {error:#}"),
        )),
    }
}

/// A subscriber that stops reading (SIGSTOP) while 1 KiB messages flood the backplane; a
/// second subscriber keeps up. Survives when the backplane's peak RSS stays within the budget
/// (plus baseline) and the live subscriber lost nothing.
pub fn stalled_subscriber(bins: &Bins) -> Result<Outcome> {
    stalled_under_flood(bins, 1024, 200_000)
}

/// The same with 256 KiB messages, 300 MiB in all: the count bound alone would let the frozen
/// subscriber's queue hold all of it; the byte budget evicts it instead. The publisher stays
/// at most 8 MiB ahead of the live subscriber, which must not lose a message.
pub fn stalled_subscriber_big(bins: &Bins) -> Result<Outcome> {
    stalled_under_flood(bins, 256 * 1024, 1200)
}

fn stalled_under_flood(bins: &Bins, size: usize, count: u64) -> Result<Outcome> {
    /// Bytes the publisher may run ahead of the live subscriber with big messages.
    const AHEAD_BYTES: u64 = 8 << 20;
    let ahead = (AHEAD_BYTES / size as u64).max(1);
    let paced = count * size as u64 > BUDGET;
    let ports = two_ports()?;
    let budget_flag = bins.supports("backplane", "--max-queue-mib");
    let extra: &[&str] = if budget_flag {
        &["--max-queue-mib", "64"]
    } else {
        &[]
    };
    let backplane = BackplaneProc::start(bins, ports, extra)?;
    // The stalled one: a monitor process (it subscribes to everything), frozen.
    let mut command = bins.command("monitor")?;
    command
        .args(component_flags(ports))
        .args(["--connect-timeout", "30"]);
    let mut stalled = ChildGuard::spawn("stalled monitor", command)?;
    stalled.set_deadline(Instant::now() + Duration::from_secs(30));
    stalled.wait_line("****")?;
    stalled.wait_line("****")?;
    stalled.suspend()?;

    let ctx = zmq::Context::new();
    let live = Counter::start(&ctx, ports.1, b"flood")?;
    let publisher = ctx.socket(zmq::PUB)?;
    publisher.set_sndhwm(0)?;
    publisher.connect(&endpoint(ports.0))?;
    until_seen(&publisher, &live, b"flood")?;
    let base = live.count();
    let payload = vec![0xa5u8; size];
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    for sent in 0..count {
        while paced && sent >= live.count() - base + ahead && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        publisher.send_multipart([b"flood".as_slice(), &payload], 0)?;
    }
    while live.count() < base + count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
    let got = live.count() - base;
    let peak = backplane.peak_rss();
    let _ = stalled.resume();
    let lost = count.saturating_sub(got);
    let within = peak <= BUDGET + BASELINE;
    let detail = format!(
        "{count} x {} KiB with one subscriber frozen: backplane peak RSS {} (budget {} + {} baseline{}), live subscriber got {got}/{count} in {:.1?}",
        size / 1024,
        mib(peak),
        mib(BUDGET),
        mib(BASELINE),
        if budget_flag {
            ""
        } else {
            "; backplane has no --max-queue-mib"
        },
        elapsed
    );
    Ok(if within && lost == 0 {
        Outcome::survived(detail)
    } else {
        Outcome::failed(lost, detail)
    })
}

/// One 256 MiB message published to the backplane. Survives when the backplane stays up
/// without allocating for it (peak RSS within the budget), no subscriber receives it, and
/// other publishers keep getting through.
pub fn huge_message(bins: &Bins) -> Result<Outcome> {
    let ports = two_ports()?;
    let mut backplane = BackplaneProc::start(bins, ports, &[])?;
    let ctx = zmq::Context::new();
    let live = Counter::start(&ctx, ports.1, b"")?;
    let probe = ctx.socket(zmq::PUB)?;
    probe.connect(&endpoint(ports.0))?;
    until_seen(&probe, &live, b"probe")?;
    let attacker = ctx.socket(zmq::PUB)?;
    attacker.set_sndhwm(0)?;
    attacker.set_linger(0)?;
    attacker.connect(&endpoint(ports.0))?;
    std::thread::sleep(Duration::from_millis(300));
    let huge = vec![0x5au8; 256 << 20];
    attacker.send_multipart([b"huge".as_slice(), &huge], 0)?;
    drop(huge);
    // Give the backplane time to take it (or refuse it), then check it still forwards.
    std::thread::sleep(Duration::from_secs(3));
    let before = live.count();
    for _ in 0..20 {
        probe.send_multipart([b"after".as_slice(), b"\x80".as_slice()], 0)?;
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while live.count() < before + 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let alive = backplane.child.is_running();
    let peak = backplane.peak_rss();
    let delivered_huge = live.largest() >= 256 << 20;
    let after = live.count() - before;
    let detail = format!(
        "backplane alive={alive}, peak RSS {} (budget {}), 256 MiB message delivered to a subscriber={delivered_huge}, {after}/20 later messages through",
        mib(peak),
        mib(BUDGET)
    );
    Ok(
        if alive && !delivered_huge && peak <= BUDGET + BASELINE && after >= 20 {
            Outcome::survived(detail)
        } else {
            Outcome::failed(20u64.saturating_sub(after), detail)
        },
    )
}

/// Malformed msgpack and wrong frame counts from a raw PUB socket, to an echo server and a
/// monitor; then an echo run must still complete and both must still run.
pub fn malformed_input(bins: &Bins) -> Result<Outcome> {
    let ports = two_ports()?;
    let _backplane = BackplaneProc::start(bins, ports, &[])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut server = crate::rig::echo_server(bins, ports, deadline)?;
    let mut command = bins.command("monitor")?;
    command
        .args(component_flags(ports))
        .args(["--connect-timeout", "30"]);
    let mut monitor = ChildGuard::spawn("monitor", command)?;
    monitor.set_deadline(deadline);
    monitor.wait_line("****")?;
    monitor.wait_line("****")?;

    let ctx = zmq::Context::new();
    let raw = ctx.socket(zmq::PUB)?;
    raw.connect(&endpoint(ports.0))?;
    std::thread::sleep(Duration::from_millis(500));
    let bad: Vec<Vec<&[u8]>> = vec![
        vec![b"echo"],                                      // one frame
        vec![b"echo", b"\x81\xaemessage_number\x05", b"x"], // three frames
        vec![b"", b""],                                     // empty topic and payload
        vec![b"echo", b"\xc1"],                             // never-used marker
        vec![b"echo", b"\x81\xaemessage_num"],              // truncated
        vec![b"echo", b"\xdb\xff\xff\xff\xff"],             // str32 claiming 4 GiB
        vec![b"echo", b"\xdd\xff\xff\xff\xff"],             // array32 claiming 4 G items
        vec![b"echo", b"\xdf\xff\xff\xff\xff"],             // map32 claiming 4 G entries
        vec![b"echo", b"\x92\x01\x02"],                     // not a map
        vec![b"echo", b"\x81\xaemessage_number\xa3abc"],    // number of the wrong type
        vec![b"echo", &[0x91; 4096]],                       // deep nesting
        vec![b"\xff\xfe\xfd", b"\x80"],                     // topic not UTF-8
    ];
    for _round in 0..5 {
        for message in &bad {
            raw.send_multipart(message.iter().copied(), 0)?;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut dead = Vec::new();
    if !server.is_running() {
        dead.push(format!("echo server ({})", server.stderr_tail()));
    }
    if !monitor.is_running() {
        dead.push(format!("monitor ({})", monitor.stderr_tail()));
    }
    if !dead.is_empty() {
        return Ok(Outcome::failed(
            0,
            format!("died on malformed input: {}", dead.join(", ")),
        ));
    }
    // The same server must still answer: a client against it.
    let mut client = crate::rig::echo_client(bins, ports, 10, deadline)?;
    let done = client.wait_success().is_ok();
    Ok(if done && server.is_running() && monitor.is_running() {
        Outcome::survived(format!(
            "{} malformed messages (bad msgpack, 1 and 3 frames, huge declared lengths, deep nesting); echo server and monitor alive, echo afterwards complete",
            bad.len() * 5
        ))
    } else {
        Outcome::failed(
            11,
            format!(
                "echo after malformed input failed: {}",
                client.stderr_tail()
            ),
        )
    })
}

/// A publisher connecting from 127.0.0.2 to a backplane that allows only 127.0.0.1/32.
pub fn denied_address(bins: &Bins) -> Result<Outcome> {
    if !bins.supports("backplane", "--allow") {
        bail!("the backplane has no --allow option");
    }
    let ports = two_ports()?;
    let backplane = BackplaneProc::start(bins, ports, &["--allow", "127.0.0.1/32"])?;
    let ctx = zmq::Context::new();
    let intruders = Counter::start(&ctx, ports.1, b"intruder")?;
    let legit = Counter::start(&ctx, ports.1, b"legit")?;
    let allowed = ctx.socket(zmq::PUB)?;
    allowed.connect(&endpoint(ports.0))?;
    until_seen(&allowed, &legit, b"legit")?;
    let denied = ctx.socket(zmq::PUB)?;
    denied.set_linger(0)?;
    denied.connect(&format!("tcp://127.0.0.2:0;127.0.0.1:{}", ports.0))?;
    for _ in 0..40 {
        denied.send_multipart([b"intruder".as_slice(), b"\x80".as_slice()], 0)?;
        std::thread::sleep(Duration::from_millis(50));
    }
    let got_before = legit.count();
    for _ in 0..10 {
        allowed.send_multipart([b"legit".as_slice(), b"\x80".as_slice()], 0)?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while legit.count() < got_before + 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let leaked = intruders.count();
    let through = legit.count() - got_before;
    let logged = backplane
        .child
        .stderr()
        .iter()
        .chain(backplane.child.stdout().iter())
        .any(|l| l.contains("127.0.0.2"));
    let detail = format!(
        "{leaked}/40 messages from 127.0.0.2 got through, {through}/10 allowed messages delivered, refusal logged with the address={logged}"
    );
    Ok(if leaked == 0 && through == 10 && logged {
        Outcome::survived(detail)
    } else {
        Outcome::failed(10 - through, detail)
    })
}
