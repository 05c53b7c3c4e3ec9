//! No message lost to a subscriber with many topics (issue 18): real pyzmq subscribers (pyzmq
//! defaults, as a new user writes them) and Python Banyan components subscribed to many topics
//! get every message of a burst through the backplane, measured side by side with the raw
//! forwarder Python Banyan's backplane is (`zmq.proxy(SUB(''), PUB)`, the negative control:
//! what a forwarder that loses nothing delivers on this machine).
//!
//! Before the fix the backplane read subscriptions only while forwarding and 63 at a time (its
//! subscriber socket's receive HWM): a subscriber with 500 topics got as few as 63 of a
//! 500-message burst, one with 100 topics lost up to 10 % of 5 000, while the raw forwarder
//! lost none. See README "Subscriptions".
//!
//! The publisher is a Rust PUB socket with HWM 0 whose connection is proven before the burst,
//! so every message sent reaches the forwarder: what is missing was lost after it.
//!
//! Needs a Python with pyzmq and python-banyan (`$BANYAN_PYTHON`); without one the test prints
//! a skip reason and passes, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use banyan_host::{Backplane, BackplaneConfig};
use banyan_testkit::ChildGuard;
use banyan_testkit::python::{banyan_python, python_script};

const WAIT: Duration = Duration::from_secs(60);

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Which forwarder a burst goes through.
enum Forwarder {
    Ours(Backplane),
    /// The raw pyzmq forwarder (kept running by its guard) and its ports.
    Raw {
        _child: ChildGuard,
        publisher: u16,
        subscriber: u16,
    },
}

impl Forwarder {
    fn ours() -> Self {
        Self::Ours(
            Backplane::bind(&BackplaneConfig::ephemeral_loopback()).expect("backplane binds"),
        )
    }

    fn raw(python: &Path) -> Self {
        let mut child = ChildGuard::spawn(
            "raw forwarder",
            python_script(python, &script("raw_forwarder.py")),
        )
        .expect("raw forwarder starts");
        let line = child.wait_line("").expect("raw forwarder prints its ports");
        let mut ports = line.split_whitespace().map(|p| p.parse::<u16>().unwrap());
        let (publisher, subscriber) = (ports.next().unwrap(), ports.next().unwrap());
        Self::Raw {
            _child: child,
            publisher,
            subscriber,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Ours(_) => "backplane",
            Self::Raw { .. } => "raw zmq.proxy",
        }
    }

    fn ports(&self) -> (u16, u16) {
        match self {
            Self::Ours(backplane) => (backplane.publisher_port(), backplane.subscriber_port()),
            Self::Raw {
                publisher,
                subscriber,
                ..
            } => (*publisher, *subscriber),
        }
    }

    fn forwarded(&self) -> Option<u64> {
        match self {
            Self::Ours(backplane) => Some(backplane.forward_stats().forwarded()),
            Self::Raw { .. } => None,
        }
    }
}

/// A publisher whose path through `forwarder` is proven (a `sync` probe came back to a
/// subscriber of it, gone since).
fn publisher(ctx: &zmq::Context, forwarder: &Forwarder) -> zmq::Socket {
    let (publisher_port, subscriber_port) = forwarder.ports();
    let publisher = banyan_testkit::proven_publisher(ctx, publisher_port, subscriber_port);
    // A burst's tail is still delivered when the socket is dropped.
    publisher.set_linger(5000).unwrap();
    publisher
}

/// The kind of subscriber a burst goes to.
#[derive(Clone, Copy, Debug)]
enum Subscriber {
    /// Raw pyzmq, `setsockopt(SUBSCRIBE)` per topic.
    Pyzmq,
    /// A Python Banyan component, `set_subscriber_topic` per topic.
    Banyan,
}

/// Sends `messages` messages over `topics` topics (round robin) through `forwarder` to a fresh
/// subscriber of those topics; what it received and what the forwarder forwarded meanwhile.
fn burst(
    python: &Path,
    forwarder: &Forwarder,
    kind: Subscriber,
    topics: usize,
    messages: usize,
) -> (usize, Option<u64>) {
    let ctx = zmq::Context::new();
    let publisher = publisher(&ctx, forwarder);
    let (publisher_port, subscriber_port) = forwarder.ports();
    let command = match kind {
        Subscriber::Pyzmq => {
            let mut command = python_script(python, &script("many_topics_sub.py"));
            command.args([subscriber_port.to_string(), topics.to_string()]);
            command
        }
        Subscriber::Banyan => {
            let mut command = python_script(python, &script("banyan_topics_sub.py"));
            command.args([
                subscriber_port.to_string(),
                publisher_port.to_string(),
                topics.to_string(),
            ]);
            command
        }
    };
    let mut command = command;
    command.arg(messages.to_string());
    let mut subscriber = ChildGuard::spawn("subscriber", command).expect("subscriber starts");
    subscriber.set_deadline(Instant::now() + WAIT);
    subscriber.wait_line("ready").expect("subscriber ready");
    let before = forwarder.forwarded();
    let names: Vec<Vec<u8>> = (0..topics)
        .map(|topic| format!("topic{topic:05}").into_bytes())
        .collect();
    for number in 0..messages {
        // {'n': number % 128}
        let payload = [0x81, 0xa1, b'n', (number % 128) as u8];
        publisher
            .send_multipart([&names[number % topics][..], &payload[..]], 0)
            .unwrap();
    }
    let received: usize = subscriber
        .wait_line("received")
        .expect("subscriber reports")
        .parse()
        .unwrap();
    let _ = subscriber.wait_exit();
    let forwarded = forwarder
        .forwarded()
        .zip(before)
        .map(|(after, before)| after - before);
    (received, forwarded)
}

#[test]
fn every_message_of_a_burst_reaches_subscribers_with_many_topics_as_through_the_raw_forwarder() {
    let Some(python) = banyan_python("many_topics") else {
        return;
    };
    let cases: &[(Subscriber, usize, usize)] = &[
        (Subscriber::Pyzmq, 1, 100_000),
        (Subscriber::Pyzmq, 100, 5_000),
        (Subscriber::Pyzmq, 500, 500),
        (Subscriber::Pyzmq, 1000, 10_000),
        (Subscriber::Banyan, 5, 5_000),
        (Subscriber::Banyan, 200, 2_000),
    ];
    let ours = Forwarder::ours();
    let raw = Forwarder::raw(&python);
    let mut failures = Vec::new();
    for &(kind, topics, messages) in cases {
        for forwarder in [&ours, &raw] {
            let (received, forwarded) = burst(&python, forwarder, kind, topics, messages);
            eprintln!(
                "{:>14} → {kind:?} with {topics:>4} topics: received {received:>6} of {messages:>6} \
                 (forwarded {forwarded:?})",
                forwarder.name()
            );
            if let Forwarder::Ours(_) = forwarder {
                if forwarded != Some(messages as u64) {
                    failures.push(format!(
                        "{kind:?}/{topics}: the backplane forwarded {forwarded:?} of {messages}"
                    ));
                }
                if received != messages {
                    failures.push(format!(
                        "{kind:?}/{topics}: received {received} of {messages} through the backplane"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Issue 18 item 4: behind a forwarder that checks nothing (Python Banyan's), a Rust
/// component's receiving socket refuses a part over its --max-message itself (never stored,
/// never delivered) and keeps receiving after it.
#[test]
fn a_component_behind_a_raw_forwarder_refuses_oversized_parts_and_keeps_receiving() {
    use banyan_host::limits::Limits;
    use banyan_host::{Component, ComponentConfig};
    let Some(python) = banyan_python("many_topics") else {
        return;
    };
    const LIMIT: usize = 64 * 1024;
    let raw = Forwarder::raw(&python);
    let (publisher_port, subscriber_port) = raw.ports();
    let config = ComponentConfig {
        limits: Limits {
            max_message: Some(LIMIT),
            ..Limits::default()
        },
        ..ComponentConfig::new("bounded")
            .backplane("127.0.0.1", publisher_port, subscriber_port)
            .connect_timeout(WAIT)
            .subscribe("data")
    };
    let mut component = Component::connect(config).expect("component connects");
    let ctx = zmq::Context::new();
    let publisher = publisher(&ctx, &raw);
    let huge = vec![0x5au8; 1 << 20];
    publisher
        .send_multipart([&b"data"[..], &huge[..]], 0)
        .unwrap();
    // Small messages after it, until one arrives: the component reconnected by itself.
    let mut after = 0;
    banyan_testkit::wait_until(
        Instant::now() + WAIT,
        "five messages after the oversized part",
        || {
            publisher
                .send_multipart([&b"data"[..], b"\x81\xa1n\x01"], 0)
                .unwrap();
            if let Some(message) = component
                .recv_timeout(Duration::from_millis(50))
                .expect("receive")
            {
                assert!(
                    message.payload.len() <= LIMIT,
                    "a part of {} bytes over the {LIMIT}-byte limit was delivered",
                    message.payload.len()
                );
                after += 1;
            }
            after >= 5
        },
    )
    .unwrap();
}
