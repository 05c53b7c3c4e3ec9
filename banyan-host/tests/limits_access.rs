//! The backplane's message size limit, allowlist and PLAIN credentials, with real sockets on
//! loopback. A denied address is made with libzmq's source-address syntax
//! (`tcp://127.0.0.2:0;127.0.0.1:PORT` connects from 127.0.0.2), loopback only.
// The test kit is Unix-only (banyan-host/Cargo.toml).
#![cfg(unix)]

use std::time::{Duration, Instant};

use banyan_host::access::{AccessControl, PlainCredentials};
use banyan_host::limits::Limits;
use banyan_host::{Backplane, ComponentConfig, Error};

use banyan_testkit::{WAIT, config, frozen_subscriber, limited_backplane};

fn raw_publisher(ctx: &zmq::Context, endpoint: &str) -> zmq::Socket {
    let socket = ctx.socket(zmq::PUB).unwrap();
    socket.set_linger(0).unwrap();
    socket.connect(endpoint).unwrap();
    socket
}

/// Waits [`WAIT`] for `condition`; a test failure naming `what` after that.
fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    banyan_testkit::wait_until(Instant::now() + WAIT, what, condition).unwrap();
}

/// A backplane limited to 1 KiB messages, a component subscribed to `t` and a raw publisher.
fn limited_rig() -> (
    Limits,
    Backplane,
    banyan_host::Component,
    zmq::Context,
    zmq::Socket,
) {
    let limits = Limits {
        max_message: Some(1024),
        ..Limits::default()
    };
    let backplane = limited_backplane(limits, AccessControl::open());
    let subscriber = config(&backplane, "sub").subscribe("t").connect().unwrap();
    let ctx = zmq::Context::new();
    let publisher = raw_publisher(
        &ctx,
        &format!("tcp://127.0.0.1:{}", backplane.publisher_port()),
    );
    (limits, backplane, subscriber, ctx, publisher)
}

#[test]
fn oversized_messages_are_dropped_and_forwarding_goes_on() {
    let (limits, backplane, mut subscriber, _ctx, publisher) = limited_rig();
    let big = vec![0xa5u8; 4096];
    let small = [0x80u8]; // an empty msgpack map
    // Send a big message, then small ones until one arrives (the big one made the backplane
    // drop the publisher's connection; libzmq reconnects it by itself).
    let mut sent_big = 0;
    let mut small_seen = 0;
    wait_until("three small messages after the big one", || {
        if sent_big < 3 {
            publisher.send("t/big", zmq::SNDMORE).unwrap();
            publisher.send(&big[..], 0).unwrap();
            sent_big += 1;
        }
        publisher.send("t/small", zmq::SNDMORE).unwrap();
        publisher.send(&small[..], 0).unwrap();
        while let Some(message) = subscriber.recv_timeout(Duration::from_millis(50)).unwrap() {
            assert_ne!(
                message.topic, "t/big",
                "a message over the limit was forwarded"
            );
            assert!(message.payload.len() <= 1024);
            small_seen += 1;
        }
        small_seen >= 3
    });
    // A component refuses to publish what a backplane would drop.
    let sender = ComponentConfig {
        limits,
        ..config(&backplane, "sender")
    }
    .connect()
    .unwrap();
    match sender.publish_raw(b"t/big", &big) {
        Err(Error::MessageTooLarge {
            size: 4101,
            limit: 1024,
        }) => {}
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
}

/// Two parts each under the limit but together over it: libzmq cannot see that (its limit
/// is per part), so the forwarder drops the message itself and counts it.
#[test]
fn messages_over_the_limit_in_total_are_dropped_and_counted() {
    let (_limits, backplane, mut subscriber, _ctx, publisher) = limited_rig();
    let topic = format!("t/{}", "x".repeat(600));
    let payload = vec![0xa5u8; 600];
    let mut small_seen = 0;
    wait_until("a drop counted and three small messages", || {
        publisher.send(topic.as_bytes(), zmq::SNDMORE).unwrap();
        publisher.send(&payload[..], 0).unwrap();
        publisher.send("t/small", zmq::SNDMORE).unwrap();
        publisher.send(&[0x80u8][..], 0).unwrap();
        while let Some(message) = subscriber.recv_timeout(Duration::from_millis(50)).unwrap() {
            assert_eq!(
                message.topic, "t/small",
                "a message over the limit was forwarded"
            );
            small_seen += 1;
        }
        small_seen >= 3 && backplane.forward_stats().oversize() > 0
    });
    assert!(backplane.forward_stats().oversize() >= 1);
}

/// A subscriber that stops reading answers none of the backplane's heartbeats (libzmq stops
/// reading its TCP stream once its queue is full): after the stall timeout the backplane
/// closes its connection, freeing its queue, while a live subscriber goes on.
#[test]
fn a_stalled_subscriber_is_disconnected_after_the_stall_timeout() {
    let limits = Limits::default().with_stall_timeout(Duration::from_secs(2));
    let backplane = limited_backplane(limits, AccessControl::open());
    let ctx = zmq::Context::new();
    let stalled = frozen_subscriber(&ctx);
    stalled
        .monitor(
            "inproc://stalled-monitor",
            zmq::SocketEvent::DISCONNECTED as i32,
        )
        .unwrap();
    let events = ctx.socket(zmq::PAIR).unwrap();
    events.connect("inproc://stalled-monitor").unwrap();
    stalled
        .connect(&format!("tcp://127.0.0.1:{}", backplane.subscriber_port()))
        .unwrap();
    let mut live = config(&backplane, "live")
        .subscribe("flood")
        .connect()
        .unwrap();
    let publisher = config(&backplane, "flooder").connect().unwrap();
    let payload = vec![0x5au8; 1024];
    // Flood for three stall timeouts while `stalled` reads nothing.
    let flood_until = Instant::now() + Duration::from_secs(6);
    let mut sent = 0u64;
    let mut received = 0u64;
    while Instant::now() < flood_until {
        for _ in 0..100 {
            publisher.publish_raw(b"flood", &payload).unwrap();
            sent += 1;
        }
        while live.recv_ref_timeout(Duration::ZERO).unwrap().is_some() {
            received += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // The backplane closed the stalled connection; `stalled` notices when it reads again
    // (what its kernel buffered, then the reset).
    wait_until("the stalled subscriber disconnected", || {
        while stalled.recv_bytes(zmq::DONTWAIT).is_ok() {}
        if events.poll(zmq::POLLIN, 10).unwrap() == 0 {
            return false;
        }
        let event = events.recv_multipart(0).unwrap();
        let id = u16::from_le_bytes([event[0][0], event[0][1]]);
        assert_eq!(id, zmq::SocketEvent::DISCONNECTED as u16);
        true
    });
    // The live subscriber still gets what is published after the eviction.
    while live
        .recv_ref_timeout(Duration::from_millis(200))
        .unwrap()
        .is_some()
    {
        received += 1;
    }
    publisher.publish_raw(b"flood/last", &payload).unwrap();
    let last = loop {
        let message = live
            .recv_timeout(WAIT)
            .unwrap()
            .expect("the live subscriber goes on");
        received += 1;
        if message.topic == "flood/last" {
            break message;
        }
    };
    assert_eq!(last.payload, payload);
    assert!(received > 0 && sent > 0);
}

#[test]
fn allowlist_refuses_other_addresses_and_counts_them() {
    let access = AccessControl {
        allow: vec![AccessControl::parse_network("127.0.0.1/32").unwrap()],
        plain: Vec::new(),
    };
    let backplane = limited_backplane(Limits::default(), access);
    // An allowed component works as usual (its connection proof passes through the handler).
    let mut allowed = config(&backplane, "allowed")
        .subscribe("t")
        .connect()
        .unwrap();
    assert_eq!(backplane.access_stats().refused(), 0);
    assert!(backplane.access_stats().accepted() >= 2);

    // A publisher from 127.0.0.2 is refused at the handshake.
    let ctx = zmq::Context::new();
    let denied = raw_publisher(
        &ctx,
        &format!("tcp://127.0.0.2:0;127.0.0.1:{}", backplane.publisher_port()),
    );
    wait_until("a refusal", || backplane.access_stats().refused() >= 1);
    for _ in 0..100 {
        denied.send("t/denied", zmq::SNDMORE).unwrap();
        denied.send(&[0x80u8][..], 0).unwrap();
    }
    // A subscriber from 127.0.0.2 is refused too.
    let denied_sub = ctx.socket(zmq::SUB).unwrap();
    denied_sub.set_subscribe(b"").unwrap();
    denied_sub
        .connect(&format!(
            "tcp://127.0.0.2:0;127.0.0.1:{}",
            backplane.subscriber_port()
        ))
        .unwrap();
    wait_until("two refusals", || backplane.access_stats().refused() >= 2);

    // Allowed traffic still flows, and nothing from the denied publisher arrived.
    allowed.publish_raw(b"t/marker", &[0x80]).unwrap();
    wait_until("the marker", || {
        let Some(message) = allowed.recv_timeout(Duration::from_millis(100)).unwrap() else {
            allowed.publish_raw(b"t/marker", &[0x80]).unwrap();
            return false;
        };
        assert_ne!(message.topic, "t/denied", "a denied publisher got through");
        message.topic == "t/marker"
    });
    assert_eq!(
        denied_sub.poll(zmq::POLLIN, 0).unwrap(),
        0,
        "a denied subscriber received a message"
    );
}

#[test]
fn plain_credentials_are_required_when_configured() {
    let access = AccessControl {
        allow: Vec::new(),
        plain: vec![PlainCredentials::new("robot", "s3cret")],
    };
    let backplane = limited_backplane(Limits::default(), access);
    let good = ComponentConfig {
        plain: Some(PlainCredentials::new("robot", "s3cret")),
        ..config(&backplane, "good").subscribe("t")
    };
    let mut good = good.connect().expect("right credentials connect");
    good.publish_raw(b"t/x", &[0x80]).unwrap();

    for (name, plain) in [
        ("wrong", Some(PlainCredentials::new("robot", "guess"))),
        ("none", None),
    ] {
        let config = ComponentConfig {
            plain,
            ..config(&backplane, name).connect_timeout(Duration::from_secs(1))
        };
        match config.connect() {
            Err(Error::NoBackplane { .. }) => {}
            other => panic!("{name}: expected NoBackplane, got {other:?}"),
        }
    }
    assert!(backplane.access_stats().refused() >= 1);
    // The authenticated component is unaffected.
    wait_until("the authenticated component's message", || {
        matches!(good.recv_timeout(Duration::from_millis(50)), Ok(Some(m)) if m.topic == "t/x") || {
            good.publish_raw(b"t/x", &[0x80]).unwrap();
            false
        }
    });
}
