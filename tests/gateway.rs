//! The serial gateway against a real backplane and echo server, driven over an in-memory byte
//! pipe (a Unix socket pair) by a test "MCU" that speaks raw frames.

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use banyan_host::gateway::{Connector, Gateway, GatewayStats, Link};
use banyan_host::{Backplane, Result, ShutdownHandle};
use banyan_proto::frame::{FeedResult, Frame, FrameDecoder, encode_to_vec, max_encoded_len};
use common::{EchoServer, backplane, config};

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(300);
/// msgpack `{'message_number': 5}`.
const FIVE: &[u8] = b"\x81\xaemessage_number\x05";

/// Hands the gateway one end of each socket pair the test sends it.
struct PipeConnector(Receiver<UnixStream>);

impl Connector for PipeConnector {
    fn open(&mut self) -> std::io::Result<Box<dyn Link>> {
        match self.0.try_recv() {
            Ok(stream) => Ok(Box::new(stream)),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no link offered yet",
            )),
        }
    }

    fn describe(&self) -> String {
        "test pipe".into()
    }
}

/// A frame with owned bytes, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Hello { max_frame: u16 },
    Publish { topic: Vec<u8>, payload: Vec<u8> },
    Pong { seq: u32 },
    Other(String),
}

/// The test side of the link.
struct FakeMcu {
    stream: UnixStream,
    decoder: Box<FrameDecoder<{ max_encoded_len(4096) }>>,
    received: VecDeque<Owned>,
}

impl FakeMcu {
    fn new(stream: UnixStream) -> Self {
        Self {
            stream,
            decoder: Box::new(FrameDecoder::new()),
            received: VecDeque::new(),
        }
    }

    fn send(&mut self, frame: &Frame<'_>) {
        self.stream
            .write_all(&encode_to_vec(frame).unwrap())
            .unwrap();
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next frame from the gateway, or `None` after `timeout`.
    fn recv(&mut self, timeout: Duration) -> Option<Owned> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1024];
        while self.received.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(error) => panic!("read: {error}"),
            };
            let mut window = &buf[..n];
            while !window.is_empty() {
                window = match self.decoder.feed(window) {
                    FeedResult::Consumed => break,
                    FeedResult::Frame { frame, remaining } => {
                        self.received.push_back(match frame {
                            Frame::Hello { max_frame, .. } => Owned::Hello { max_frame },
                            Frame::Publish { topic, payload } => Owned::Publish {
                                topic: topic.to_vec(),
                                payload: payload.to_vec(),
                            },
                            Frame::Pong { seq } => Owned::Pong { seq },
                            other => Owned::Other(format!("{other:?}")),
                        });
                        remaining
                    }
                    FeedResult::Corrupt { kind, .. } => {
                        panic!("gateway sent a corrupt frame: {kind}")
                    }
                    FeedResult::Oversized { .. } => panic!("gateway sent an oversized frame"),
                };
            }
        }
        self.received.pop_front()
    }

    /// Skips frames until one satisfies `wanted`.
    fn expect(&mut self, what: &str, wanted: impl Fn(&Owned) -> bool) -> Owned {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(frame) if wanted(&frame) => return frame,
                Some(_) => {}
                None => panic!("no {what} from the gateway within {WAIT:?}"),
            }
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
        while let Some(frame) = self.recv(QUIET) {
            assert!(
                !matches!(&frame, Owned::Publish { topic, .. } if topic == b"reply"),
                "unexpected reply {frame:?}"
            );
        }
    }
}

/// A running gateway on `backplane` with a link offer channel.
struct Running {
    links: Sender<UnixStream>,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<Result<GatewayStats>>>,
}

impl Running {
    fn start(backplane: &Backplane) -> Self {
        let (links, offered) = channel();
        let component = config(backplane, "Gateway").connect().unwrap();
        let gateway = Gateway::new(component, PipeConnector(offered));
        let stop = gateway.shutdown_handle();
        let thread = std::thread::spawn(move || gateway.run());
        Self {
            links,
            stop,
            thread: Some(thread),
        }
    }

    /// Offers a fresh link and returns the MCU's end.
    fn link(&self) -> FakeMcu {
        let (mcu, gateway) = UnixStream::pair().unwrap();
        self.links.send(gateway).unwrap();
        let mut mcu = FakeMcu::new(mcu);
        // The gateway announces itself on every (re)opened link.
        mcu.expect("gateway hello", |f| matches!(f, Owned::Hello { .. }));
        mcu
    }

    fn stop(mut self) -> GatewayStats {
        self.stop.shutdown().unwrap();
        self.thread.take().unwrap().join().unwrap().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.stop.shutdown();
            let _ = thread.join();
        }
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
    assert_eq!(
        mcu.expect("hello answer", |f| matches!(f, Owned::Hello { .. })),
        Owned::Hello { max_frame: 4096 }
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
    let (links, offered) = channel();
    let component = config(&backplane, "Gateway")
        .connect_timeout(Duration::from_secs(600))
        .connect()
        .unwrap();
    let gateway = Gateway::new(component, PipeConnector(offered));
    let running = Running {
        links,
        stop: gateway.shutdown_handle(),
        thread: Some(std::thread::spawn(move || gateway.run())),
    };
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
