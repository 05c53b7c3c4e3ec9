//! The serial gateway against a real backplane and echo server, driven over an in-memory byte
//! pipe (a Unix socket pair) by a test "MCU" that speaks raw frames
//! ([`banyan_testkit::RawMcu`]).

use std::time::Duration;

use banyan_gateways::serial::GatewayStats;
use banyan_host::Backplane;
use banyan_proto::frame::{Frame, encode_to_vec};
use banyan_testkit::{EchoServer, GatewayThread, RawMcu, Received as Owned, backplane, config};

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(300);
/// msgpack `{'message_number': 5}`.
const FIVE: &[u8] = b"\x81\xaemessage_number\x05";

/// The test side of the link, with asserting helpers.
struct FakeMcu(RawMcu);

impl FakeMcu {
    fn send(&mut self, frame: &Frame<'_>) {
        self.0.send(frame).unwrap();
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.0.send_bytes(bytes).unwrap();
    }

    /// Skips frames until one satisfies `wanted`.
    fn expect(&mut self, what: &str, wanted: impl Fn(&Owned) -> bool) -> Owned {
        match self.0.wait_for(WAIT, |f| {
            assert!(!matches!(f, Owned::Corrupt(_)), "gateway sent {f:?}");
            wanted(f)
        }) {
            Ok(Some(frame)) => frame,
            other => panic!("no {what} from the gateway within {WAIT:?}: {other:?}"),
        }
    }

    fn expect_reply(&mut self) -> Vec<u8> {
        match self.expect(
            "reply",
            |f| matches!(f, Owned::Publish { topic, .. } if topic == b"reply"),
        ) {
            Owned::Publish { payload, .. } => payload,
            _ => unreachable!(),
        }
    }

    /// Asserts that no `reply` arrives for a while (pongs and hellos are fine).
    fn expect_no_reply(&mut self) {
        for frame in self.0.drain(QUIET).unwrap() {
            assert!(
                !matches!(&frame, Owned::Publish { topic, .. } if topic == b"reply"),
                "unexpected reply {frame:?}"
            );
        }
    }
}

/// A running gateway on `backplane` whose links the test offers.
struct Running(GatewayThread);

impl Running {
    fn start(backplane: &Backplane) -> Self {
        Self(GatewayThread::start(backplane))
    }

    /// Offers a fresh link and returns the MCU's end.
    fn link(&self) -> FakeMcu {
        let mut mcu = FakeMcu(RawMcu::new(self.0.link()));
        // The gateway announces itself on every (re)opened link.
        mcu.expect("gateway hello", |f| matches!(f, Owned::Hello { .. }));
        mcu
    }

    fn stop(self) -> GatewayStats {
        self.0.stop()
    }
}

fn hello(nonce: u32) -> Frame<'static> {
    Frame::hello(512, nonce)
}

/// Backplane, echo server and gateway (dropped in that field order: gateway first).
struct EchoRig {
    gateway: Running,
    _server: EchoServer,
    _backplane: Backplane,
}

/// An [`EchoRig`] and an MCU that said Hello and subscribed to `reply`.
fn echo_rig() -> (EchoRig, FakeMcu) {
    let backplane = backplane();
    let server = EchoServer::start(&backplane);
    let gateway = Running::start(&backplane);
    let mut mcu = gateway.link();
    mcu.send(&hello(1));
    mcu.send(&Frame::Subscribe { topic: b"reply" });
    let rig = EchoRig {
        gateway,
        _server: server,
        _backplane: backplane,
    };
    (rig, mcu)
}

#[test]
fn gateway_bridges_publish_and_subscribe_to_the_echo_server() {
    let (rig, mut mcu) = echo_rig();
    let hello = mcu.expect("hello answer", |f| matches!(f, Owned::Hello { .. }));
    assert!(
        matches!(
            hello,
            Owned::Hello {
                max_frame: 4096,
                ..
            }
        ),
        "{hello:?}"
    );
    // No pause: the gateway proves the subscription before it handles the publish.
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    assert_eq!(mcu.expect_reply(), FIVE);
    mcu.send(&Frame::Ping { seq: 42 });
    mcu.expect("pong", |f| *f == Owned::Pong { seq: 42 });

    let stats = rig.gateway.stop();
    assert_eq!(stats.published, 1);
    assert_eq!(stats.delivered, 1);
    assert_eq!(stats.hellos, 1);
    assert_eq!(stats.corrupt, 0);
}

#[test]
fn gateway_fed_garbage_keeps_running_and_counts_it() {
    let (rig, mut mcu) = echo_rig();

    // Garbage between delimiters, a valid frame with a flipped bit, an oversized run.
    let mut corrupted = encode_to_vec(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    })
    .unwrap();
    corrupted[3] ^= 0x10;
    mcu.send_bytes(b"\x00\x17\x99\xfe\x01\x02\x00");
    mcu.send_bytes(&corrupted);
    mcu.send_bytes(&vec![0x55; 20_000]);
    mcu.send_bytes(b"\x00");
    let mut seed = 0x1234_5678u32;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect();
    mcu.send_bytes(&noise);
    mcu.send_bytes(b"\x00");

    // Still alive and exact afterwards.
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    assert_eq!(mcu.expect_reply(), FIVE);
    let stats = rig.gateway.stop();
    assert!(stats.corrupt >= 2, "{stats:?}");
    assert!(stats.oversized >= 1, "{stats:?}");
    assert_eq!(
        stats.published, 1,
        "the corrupted publish must not reach the backplane"
    );
}

#[test]
fn second_hello_resets_the_mcu_subscriptions() {
    let (rig, mut mcu) = echo_rig();
    mcu.send(&Frame::Subscribe { topic: b"reply" });
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    assert_eq!(mcu.expect_reply(), FIVE);

    // The MCU reboots: its subscription (sent twice, held once) must be gone.
    mcu.send(&hello(2));
    mcu.expect("hello answer", |f| matches!(f, Owned::Hello { .. }));
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    mcu.expect_no_reply();

    // After subscribing again it works as on first boot.
    mcu.send(&Frame::Subscribe { topic: b"reply" });
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    assert_eq!(mcu.expect_reply(), FIVE);
    assert_eq!(rig.gateway.stop().hellos, 2);
}

#[test]
fn gateway_reopens_a_closed_link_and_resumes() {
    let (rig, mut mcu) = echo_rig();
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    assert_eq!(mcu.expect_reply(), FIVE);

    // The peer goes away (cable pulled, QEMU stopped) and comes back without rebooting.
    drop(mcu);
    let mut mcu = rig.gateway.link();
    // Subscriptions survive a reopened link (only a Hello resets them).
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    assert_eq!(mcu.expect_reply(), FIVE);
    let stats = rig.gateway.stop();
    assert_eq!(stats.link_opens, 2);
    assert_eq!(stats.published, 2);
}

#[test]
fn messages_larger_than_the_mcu_accepts_are_dropped_not_sent() {
    let backplane = backplane();
    let gateway = Running::start(&backplane);
    let mut mcu = gateway.link();
    mcu.send(&Frame::hello(64, 1));
    mcu.send(&Frame::Subscribe { topic: b"big" });
    mcu.send(&Frame::Ping { seq: 1 });
    mcu.expect("pong", |f| *f == Owned::Pong { seq: 1 });
    let publisher = config(&backplane, "pub").connect().unwrap();
    publisher.publish_raw(b"big", &[0xc4; 200]).unwrap(); // too big for 64
    publisher.publish_raw(b"big", FIVE).unwrap();
    match mcu.expect("small publish", |f| matches!(f, Owned::Publish { .. })) {
        Owned::Publish { payload, .. } => assert_eq!(payload, FIVE),
        _ => unreachable!(),
    }
    assert_eq!(gateway.stop().too_big_for_peer, 1);
}

/// With the backplane gone a subscription's proof cannot complete, and its timeout is ten
/// minutes; the link is served all the same: pings are answered and a publish that follows
/// the subscription is held (counted, not published ahead of it), not blocking anything.
#[test]
fn link_is_served_while_a_subscription_proof_is_in_flight() {
    let backplane = backplane();
    let running = Running(GatewayThread::with_config(
        config(&backplane, "Gateway").connect_timeout(Duration::from_secs(600)),
    ));
    let mut mcu = running.link();
    mcu.send(&hello(1));
    mcu.expect("hello answer", |f| matches!(f, Owned::Hello { .. }));
    // Probes vanish from now on.
    drop(backplane);
    mcu.send(&Frame::Subscribe { topic: b"never" });
    mcu.send(&Frame::Publish {
        topic: b"echo",
        payload: FIVE,
    });
    for seq in 1..=3 {
        mcu.send(&Frame::Ping { seq });
        let pong = mcu.expect("pong", |f| matches!(f, Owned::Pong { .. }));
        assert_eq!(pong, Owned::Pong { seq });
    }
    let stats = running.stop();
    assert_eq!(stats.held, 1, "{stats:?}");
    assert_eq!(stats.published, 0, "{stats:?}");
    assert_eq!(stats.proofs, 0, "{stats:?}");
}
