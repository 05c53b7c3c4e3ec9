//! Subscriptions on the backplane's subscriber side: in force before the next message even on
//! an idle backplane, and bounded per connection (see `banyan_host::backplane::subscriptions`).
// The test kit is Unix-only (banyan-host/Cargo.toml).
#![cfg(unix)]

use std::time::{Duration, Instant};

use banyan_testkit::{WAIT, wait_until, zmtp};

use banyan_host::access::AccessControl;
use banyan_host::backplane::subscriptions::SubscriptionLimits;
use banyan_host::limits::Limits;
use banyan_host::{Backplane, BackplaneConfig};

fn backplane(subscriptions: SubscriptionLimits) -> Backplane {
    Backplane::bind(&BackplaneConfig {
        limits: Limits::default(),
        access: AccessControl::open(),
        subscriptions,
        ..BackplaneConfig::ephemeral_loopback()
    })
    .expect("backplane binds")
}

fn endpoint(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// A publisher whose connection to the backplane is proven (see
/// [`banyan_testkit::proven_publisher`]).
fn publisher(ctx: &zmq::Context, backplane: &Backplane) -> zmq::Socket {
    banyan_testkit::proven_publisher(ctx, backplane.publisher_port(), backplane.subscriber_port())
}

fn subscriber(ctx: &zmq::Context, backplane: &Backplane, topics: usize) -> zmq::Socket {
    let subscriber = ctx.socket(zmq::SUB).unwrap();
    subscriber.set_linger(0).unwrap();
    subscriber
        .connect(&endpoint(backplane.subscriber_port()))
        .unwrap();
    for topic in 0..topics {
        subscriber
            .set_subscribe(format!("topic{topic:05}").as_bytes())
            .unwrap();
    }
    subscriber
}

/// The forwarded count once it stopped changing (unchanged for 200 ms); fails after [`WAIT`]
/// if it never settles (a publisher that keeps sending).
fn settled_forwarded(backplane: &Backplane) -> u64 {
    let mut last = backplane.forward_stats().forwarded();
    banyan_testkit::wait_for(
        Instant::now() + WAIT,
        "the forwarded count to settle",
        || {
            std::thread::sleep(Duration::from_millis(200));
            let now = backplane.forward_stats().forwarded();
            let settled = (now == last).then_some(now);
            last = now;
            settled
        },
    )
    .unwrap()
}

/// Waits until the forwarder has read `count` more subscribe/cancel messages than `before`.
fn wait_subscriptions(
    backplane: &Backplane,
    before: u64,
    count: u64,
) -> banyan_testkit::Result<()> {
    wait_until(
        Instant::now() + WAIT,
        "the forwarder to read the subscriptions",
        || backplane.forward_stats().subscriptions() >= before + count,
    )
}

/// Before the fix the backplane's PUB socket read subscriptions only when it forwarded (and
/// 63 at a time, its receive HWM): 1 000 subscriptions sent to an idle backplane were not in
/// force for the next message.
#[test]
fn subscriptions_sent_to_an_idle_backplane_are_in_force_for_the_next_message() {
    let backplane = backplane(SubscriptionLimits::default());
    let ctx = zmq::Context::new();
    let publisher = publisher(&ctx, &backplane);
    for round in 0..3u64 {
        // The publisher's last sync probes may still be on their way: nothing in flight.
        let forwarded = settled_forwarded(&backplane);
        let before = backplane.forward_stats().subscriptions();
        let subscriber = subscriber(&ctx, &backplane, 1000);
        // Nothing is forwarded meanwhile: the forwarder reads them by itself.
        if let Err(error) = wait_subscriptions(&backplane, before, 1000) {
            panic!(
                "round {round}: the idle forwarder read {} of 1000 subscriptions: {error}",
                backplane.forward_stats().subscriptions() - before
            );
        }
        assert_eq!(backplane.forward_stats().forwarded(), forwarded);
        // One message, on the last topic subscribed.
        publisher
            .send_multipart([&b"topic00999"[..], b"\x81\xa1n\x01"], 0)
            .unwrap();
        assert!(
            subscriber.poll(zmq::POLLIN, 5000).unwrap() > 0,
            "round {round}: the message on the 1000th topic was not delivered"
        );
        let parts = subscriber.recv_multipart(0).unwrap();
        assert_eq!(parts[0], b"topic00999");
    }
}

#[test]
fn a_connection_over_its_subscription_count_is_closed_and_the_others_served() {
    let backplane = backplane(SubscriptionLimits {
        max_count: Some(100),
        max_bytes: None,
    });
    let ctx = zmq::Context::new();
    let publisher = publisher(&ctx, &backplane);
    // Within the bound: 100 topics.
    let modest = subscriber(&ctx, &backplane, 100);
    let before = backplane.forward_stats().subscriptions();
    // Over it: 101, then it stays connected (libzmq reconnects it) and is closed again.
    let greedy = subscriber(&ctx, &backplane, 101);
    wait_until(
        Instant::now() + WAIT,
        "the greedy subscriber closed twice",
        || {
            // Its socket re-sends its subscriptions on reconnecting only when it is used.
            let _ = greedy.poll(zmq::POLLIN, 10);
            backplane.forward_stats().subscription_closed() >= 2
        },
    )
    .unwrap();
    assert!(backplane.forward_stats().subscriptions() > before);
    // The modest one keeps all its subscriptions.
    publisher
        .send_multipart([&b"topic00099"[..], b"\x80"], 0)
        .unwrap();
    assert!(
        modest.poll(zmq::POLLIN, 5000).unwrap() > 0,
        "the subscriber within the bound lost its subscriptions"
    );
}

#[test]
fn a_connection_over_its_subscription_bytes_is_closed_once_per_connection() {
    let backplane = backplane(SubscriptionLimits {
        max_count: None,
        max_bytes: Some(4096),
    });
    let ctx = zmq::Context::new();
    let _publisher = publisher(&ctx, &backplane);
    let flood = ctx.socket(zmq::SUB).unwrap();
    flood.set_linger(0).unwrap();
    flood
        .connect(&endpoint(backplane.subscriber_port()))
        .unwrap();
    // 100 topics of 100 bytes: 10 000 bytes, over the 4 096 allowed.
    for topic in 0..100 {
        let mut long = format!("{topic:05}").into_bytes();
        long.resize(100, b'x');
        flood.set_subscribe(&long).unwrap();
    }
    wait_until(Instant::now() + WAIT, "the flood closed", || {
        backplane.forward_stats().subscription_closed() >= 1
    })
    .unwrap();
    // Unused, its socket does not reconnect-and-resend: the one closure stays one.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(backplane.forward_stats().subscription_closed(), 1);
}

/// A flood faster than the forwarder can count (raw ZMTP: 100 000 distinct subscriptions of
/// 200 bytes on one connection) is cut off by the flood watch, and the backplane keeps serving
/// a subscriber within its bounds.
#[test]
fn a_subscription_flood_is_cut_off_and_the_backplane_keeps_serving() {
    use std::io::Write;
    let backplane = backplane(SubscriptionLimits::default());
    let ctx = zmq::Context::new();
    let publisher = publisher(&ctx, &backplane);
    let modest = subscriber(&ctx, &backplane, 10);
    // As a real flooder, it comes back whenever its connection ends (libzmq itself sometimes
    // drops a raw peer that sends everything at once, before the handshake is through).
    let mut chunk = Vec::new();
    let mut sent = 0u32;
    let cut = || backplane.forward_stats().subscription_closed() >= 1;
    wait_until(Instant::now() + WAIT, "the flood cut off", || {
        let Ok(mut flood) =
            std::net::TcpStream::connect(("127.0.0.1", backplane.subscriber_port()))
        else {
            return cut();
        };
        flood
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if flood.write_all(&zmtp::sub_handshake()).is_err() {
            return cut();
        }
        for _ in 0..400 {
            chunk.clear();
            for _ in 0..250 {
                let mut topic = format!("{sent:09}").into_bytes();
                topic.resize(200, b'x');
                zmtp::subscription(&topic, &mut chunk);
                sent += 1;
            }
            if flood.write_all(&chunk).is_err() {
                break;
            }
        }
        // Wait for the cut, or for this connection to end otherwise (then connect again).
        wait_until(Instant::now() + Duration::from_secs(2), "the cut", cut).is_ok()
    })
    .unwrap();
    publisher
        .send_multipart([&b"topic00009"[..], b"\x80"], 0)
        .unwrap();
    assert!(
        modest.poll(zmq::POLLIN, 5000).unwrap() > 0,
        "the backplane stopped serving after the flood"
    );
}
