//! Self-healing components: the backplane (an in-process `Backplane` on the same ports) and the
//! echo server restarted mid-run. Loopback, ephemeral ports; waits have generous deadlines.

use std::time::{Duration, Instant};

use banyan_host::Component;
use banyan_host::component::{PENDING_LIMIT_MESSAGES, PathState};
use banyan_host::echo::REPLY_TOPIC;
use banyan_testkit::{
    EchoServer, WAIT, backplane, config, replies_until, restart_backplane as restart,
    spawn_echo_client, wait_for, wait_until,
};

/// Publishes `{'n': i}` on `topic` until `subscriber` receives one (or panics after WAIT).
fn publish_until_received(publisher: &Component, subscriber: &mut Component, topic: &str) -> u64 {
    let mut i = 0u64;
    let what = format!("a message on {topic}");
    wait_for(Instant::now() + WAIT, &what, || {
        i += 1;
        publisher
            .publish(topic, &std::collections::BTreeMap::from([("n", i)]))
            .unwrap();
        let message = subscriber
            .recv_timeout(Duration::from_millis(50))
            .unwrap()?;
        assert_eq!(message.topic, topic);
        Some(i)
    })
    .unwrap_or_else(|error| panic!("{error}"))
}

/// Waits until `component` proved its path again (it must be receiving for that; messages
/// that arrive meanwhile are returned).
fn wait_proven(component: &mut Component, reproofs: u64) -> Vec<String> {
    let mut seen = Vec::new();
    let proven = wait_until(Instant::now() + WAIT, "the path re-proven", || {
        if component.stats().reproofs >= reproofs && component.path_state() == PathState::Proven {
            return true;
        }
        if let Some(message) = component.recv_timeout(Duration::from_millis(50)).unwrap() {
            seen.push(message.topic);
        }
        false
    });
    if let Err(error) = proven {
        panic!("{error}: {:?}", component.stats());
    }
    seen
}

#[test]
fn subscriber_receives_again_after_backplane_restarts() {
    let mut backplane = backplane();
    let mut subscriber = config(&backplane, "subscriber")
        .subscribe("sensor")
        .connect()
        .unwrap();
    let publisher = config(&backplane, "publisher").connect().unwrap();
    publish_until_received(&publisher, &mut subscriber, "sensor/1");

    for round in 1..=2u64 {
        backplane = restart(backplane);
        // The subscriber notices the restart and proves its (re-sent) subscription again.
        wait_proven(&mut subscriber, round);
        let stats = subscriber.stats();
        assert_eq!(stats.disconnects, round, "{stats:?}");
        assert_eq!(stats.reproofs, round, "{stats:?}");
        // And messages flow again, with no new subscribe call.
        publish_until_received(&publisher, &mut subscriber, "sensor/2");
        assert_eq!(subscriber.path_state(), PathState::Proven);
    }
    drop(backplane);
}

fn assert_complete_countdown(replies: &[i64], count: u32) {
    let expected: Vec<i64> = (0..=i64::from(count)).rev().collect();
    assert_eq!(
        replies, expected,
        "each reply counted exactly once, in order"
    );
}

#[test]
fn echo_client_finishes_through_backplane_restarts() {
    let count = 300;
    let mut backplane = backplane();
    let server = EchoServer::start(&backplane);
    let client = config(&backplane, "EchoClient")
        .subscribe(REPLY_TOPIC)
        .connect()
        .unwrap();
    let (rx, thread) = spawn_echo_client(client, count);
    let mut replies = replies_until(&rx, 250);
    backplane = restart(backplane);
    replies.extend(replies_until(&rx, 150));
    backplane = restart(backplane);
    replies.extend(rx.iter());
    let (report, client) = thread.join().unwrap();
    let report = report.expect("client completes");
    assert_complete_countdown(&replies, count);
    assert_eq!(report.replies, u64::from(count) + 1);
    assert_eq!(report.sent, u64::from(count) + 1 + report.resent);
    // At least one re-proof: replies flow again before a re-proof has finished, so the second
    // restart may come while the client still proves its path after the first, and one
    // re-proof then covers both (a loss is counted once per proven path). Each restart counted
    // on its own is `subscriber_receives_again_after_backplane_restarts`, which waits for the
    // proof between restarts.
    assert!(client.stats().reproofs >= 1, "{:?}", client.stats());
    server.stop();
    drop(backplane);
}

#[test]
fn echo_client_finishes_through_echo_server_restarts() {
    let count = 200;
    let backplane = backplane();
    let server = EchoServer::start(&backplane);
    let client = config(&backplane, "EchoClient")
        .subscribe(REPLY_TOPIC)
        .connect()
        .unwrap();
    let (rx, thread) = spawn_echo_client(client, count);
    let mut replies = replies_until(&rx, 150);
    let served_first = server.stop();
    // No server for a while: the client keeps re-sending and counts nothing new. Replies the
    // stopped server sent just before may still be on their way (a loaded machine delays
    // them): those count, and must be for numbers it served.
    while let Ok(late) = rx.recv_timeout(Duration::from_millis(500)) {
        assert!(
            served_first.contains(&late),
            "reply {late} with no server running"
        );
        replies.push(late);
    }
    let server = EchoServer::start(&backplane);
    replies.extend(replies_until(&rx, 50));
    let served_second = server.stop();
    let server = EchoServer::start(&backplane);
    replies.extend(rx.iter());
    let (report, _client) = thread.join().unwrap();
    let report = report.expect("client completes");
    assert_complete_countdown(&replies, count);
    assert!(report.resent >= 1, "{report:?}");
    let served_third = server.stop();
    // Between them, the servers answered every number (some more than once: re-sends).
    let mut served: Vec<i64> = [served_first, served_second, served_third].concat();
    served.sort_unstable();
    served.dedup();
    assert_eq!(served.len(), count as usize + 1);
}

#[test]
fn pending_queue_of_a_proof_is_bounded_and_counts_drops() {
    let backplane = backplane();
    let mut component = config(&backplane, "flooded")
        .subscribe("flood")
        .connect()
        .unwrap();
    // The component floods itself: the messages travel before the probe of the subscribe
    // below on the same connection, so all of them arrive while that proof waits.
    let flood = PENDING_LIMIT_MESSAGES as u64 + 5_000;
    for i in 0..flood {
        component
            .publish("flood", &std::collections::BTreeMap::from([("i", i)]))
            .unwrap();
    }
    component.subscribe("other").unwrap();
    let stats = component.stats();
    assert_eq!(stats.pending_dropped, 5_000, "{stats:?}");
    // The kept messages come first, in order, then nothing else.
    let mut received = 0u64;
    while let Some(message) = component.recv_timeout(Duration::from_millis(500)).unwrap() {
        let value = message.value().unwrap();
        assert_eq!(value.get("i").and_then(|v| v.as_u64()), Some(received));
        received += 1;
    }
    assert_eq!(received, PENDING_LIMIT_MESSAGES as u64);
}

mod gateway {
    //! The serial gateway through a backplane restart, with a test "MCU" (the kit's `RawMcu`)
    //! on a socket pair.

    use std::time::{Duration, Instant};

    use banyan_proto::frame::Frame;
    use banyan_testkit::{GatewayThread, RawMcu};

    use super::{WAIT, backplane, config, restart, wait_until};

    #[test]
    fn gateway_keeps_the_mcu_subscriptions_through_a_backplane_restart() {
        let mut backplane = backplane();
        let gateway = GatewayThread::start(&backplane);
        let mut mcu = RawMcu::new(gateway.link());
        mcu.send(&Frame::hello(512, 7)).unwrap();
        mcu.send(&Frame::Subscribe { topic: b"to_mcu" }).unwrap();
        let publisher = config(&backplane, "publisher").connect().unwrap();
        let mut listener = config(&backplane, "listener")
            .subscribe("from_mcu")
            .connect()
            .unwrap();
        let payload = b"\x81\xa1n\x01";

        for round in 0..2 {
            // Backplane → MCU: the subscription made once, before any restart.
            let what = format!("round {round}: a message at the MCU");
            wait_until(Instant::now() + WAIT, &what, || {
                publisher.publish_raw(b"to_mcu", payload).unwrap();
                mcu.wait_publish(b"to_mcu", Duration::from_millis(100))
                    .unwrap()
                    .is_some()
            })
            .unwrap();
            // MCU → backplane: publishing resumes.
            let what = format!("round {round}: a message from the MCU");
            wait_until(Instant::now() + WAIT, &what, || {
                mcu.send(&Frame::Publish {
                    topic: b"from_mcu",
                    payload,
                })
                .unwrap();
                let Some(message) = listener.recv_timeout(Duration::from_millis(100)).unwrap()
                else {
                    return false;
                };
                assert_eq!(message.payload, payload);
                true
            })
            .unwrap();
            backplane = restart(backplane);
        }
        let stats = gateway.stop();
        assert_eq!(
            stats.hellos, 1,
            "the MCU never had to greet again: {stats:?}"
        );
    }
}
