//! Subscriptions under attack and in bulk (issue 18): a hostile subscription flood, and a
//! subscriber with many topics that subscribes while the backplane is idle.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use banyan_testkit::zmtp;

use crate::Outcome;
use crate::hostile::BUDGET;
use crate::rig::{BackplaneProc, Bins, mib, two_ports};

/// What a backplane may use beyond the budget (code, libzmq, buffers), as in `hostile`.
const BASELINE: u64 = 32 << 20;

fn endpoint(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// A hostile subscriber sends 300 000 distinct subscriptions of 200 bytes (raw ZMTP, so the
/// attacker keeps no trie itself), reconnecting whenever it is closed, while a publisher sends
/// to a live subscriber. Survives when the backplane stays within its budget (peak RSS), the
/// live subscriber lost nothing, and the backplane logged the closure with the address and
/// counted it in its exit line.
pub fn subscription_flood(bins: &Bins) -> Result<Outcome> {
    const FLOOD: u32 = 300_000;
    const TOPIC: usize = 200;
    if !bins.supports("backplane", "--max-subscriptions") {
        bail!("the backplane has no --max-subscriptions option");
    }
    let ports = two_ports()?;
    let mut backplane = BackplaneProc::start(bins, ports, &[])?;
    let ctx = zmq::Context::new();
    let live = ctx.socket(zmq::SUB)?;
    live.set_rcvhwm(0)?;
    live.set_subscribe(b"live")?;
    live.connect(&endpoint(ports.1))?;
    let publisher = ctx.socket(zmq::PUB)?;
    publisher.set_sndhwm(0)?;
    publisher.connect(&endpoint(ports.0))?;
    // The live subscription in force.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if Instant::now() > deadline {
            bail!("the live subscription never came into force");
        }
        publisher.send_multipart([&b"live"[..], b"\x80"], 0)?;
        if live.poll(zmq::POLLIN, 50)? > 0 {
            break;
        }
    }
    while live.poll(zmq::POLLIN, 100)? > 0 {
        live.recv_multipart(0)?;
    }

    let handshake = zmtp::sub_handshake();
    let (mut sent, mut connections, mut sent_live) = (0u32, 0u32, 0u64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    let mut chunk = Vec::with_capacity(64 * 1024);
    'flood: while sent < FLOOD && Instant::now() < deadline {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", ports.1)) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        connections += 1;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        if stream.write_all(&handshake).is_err() {
            continue;
        }
        while sent < FLOOD && Instant::now() < deadline {
            chunk.clear();
            for _ in 0..256 {
                let mut topic = format!("{sent:09}").into_bytes();
                topic.resize(TOPIC, b'x');
                zmtp::subscription(&topic, &mut chunk);
                sent += 1;
            }
            // Traffic meanwhile: a forwarder that puts subscriptions in force only while it
            // forwards would take the flood in now.
            publisher.send_multipart([&b"live"[..], b"\x80"], 0)?;
            sent_live += 1;
            if stream.write_all(&chunk).is_err() {
                // Closed by the backplane: come back, as libzmq would.
                continue 'flood;
            }
        }
    }
    let flood_time = started.elapsed();
    // The live subscriber still gets everything, and new messages too.
    for _ in 0..100 {
        publisher.send_multipart([&b"live"[..], b"\x80"], 0)?;
        sent_live += 1;
    }
    let mut got = 0u64;
    while got < sent_live && live.poll(zmq::POLLIN, 3000)? > 0 {
        live.recv_multipart(0)?;
        got += 1;
    }
    let peak = backplane.peak_rss();
    let alive = backplane.child.is_running();
    let _ = backplane.child.terminate();
    let logged = backplane
        .child
        .stderr()
        .iter()
        .any(|line| line.contains("closing a subscriber") && line.contains("127.0.0.1:"));
    let closed = backplane
        .child
        .stderr()
        .iter()
        .find_map(|line| {
            let (_, rest) = line.split_once("; closed ")?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    let lost = sent_live.saturating_sub(got);
    let detail = format!(
        "{sent} subscriptions of {TOPIC} bytes over {connections} connections in {flood_time:.1?}: \
         backplane alive={alive}, peak RSS {} (budget {} + {} baseline), closed {closed} \
         (logged with the address={logged}), live subscriber got {got}/{sent_live}",
        mib(peak),
        mib(BUDGET),
        mib(BASELINE)
    );
    Ok(
        if alive && lost == 0 && peak <= BUDGET + BASELINE && closed >= 1 && logged {
            Outcome::survived(detail)
        } else {
            Outcome::failed(
                lost,
                format!(
                    "{detail}; backplane said: {}",
                    backplane.child.stderr_tail()
                ),
            )
        },
    )
}

/// A subscriber with 1 000 topics subscribes while the backplane forwards nothing, then a
/// burst of 10 000 messages over those topics. Survives when every message arrives.
pub fn many_topics_burst(bins: &Bins) -> Result<Outcome> {
    const TOPICS: usize = 1000;
    const BURST: u64 = 10_000;
    let ports = two_ports()?;
    let _backplane = BackplaneProc::start(bins, ports, &[])?;
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB)?;
    publisher.set_sndhwm(0)?;
    publisher.connect(&endpoint(ports.0))?;
    // The publisher's path proven through a short-lived subscriber of `sync`.
    let watch = ctx.socket(zmq::SUB)?;
    watch.set_subscribe(b"sync")?;
    watch.set_linger(0)?;
    watch.connect(&endpoint(ports.1))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if Instant::now() > deadline {
            bail!("the publisher never got through");
        }
        publisher.send_multipart([&b"sync"[..], b"\x80"], 0)?;
        if watch.poll(zmq::POLLIN, 50)? > 0 {
            break;
        }
    }
    drop(watch);
    // Default options, as a new user's subscriber; subscribed while nothing is forwarded.
    let subscriber = ctx.socket(zmq::SUB)?;
    subscriber.connect(&endpoint(ports.1))?;
    let names: Vec<Vec<u8>> = (0..TOPICS)
        .map(|topic| format!("topic{topic:05}").into_bytes())
        .collect();
    for name in &names {
        subscriber.set_subscribe(name)?;
    }
    // Python Banyan's own pause after connecting.
    std::thread::sleep(Duration::from_millis(300));
    for number in 0..BURST {
        let name = &names[usize::try_from(number).unwrap_or(0) % TOPICS];
        publisher.send_multipart([&name[..], b"\x80"], 0)?;
    }
    let mut got = 0u64;
    while got < BURST && subscriber.poll(zmq::POLLIN, 3000)? > 0 {
        subscriber.recv_multipart(0)?;
        got += 1;
    }
    let detail = format!(
        "{TOPICS} topics subscribed on an idle backplane, then a burst of {BURST}: received {got}/{BURST}"
    );
    Ok(if got == BURST {
        Outcome::survived(detail)
    } else {
        Outcome::failed(BURST - got, detail)
    })
}
