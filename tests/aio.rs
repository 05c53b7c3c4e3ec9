//! The async component (`banyan_host::aio`) through backplane restarts, as the blocking
//! component's `tests/self_healing.rs`: an in-process backplane restarted on the same ports
//! (the test kit's `restart_backplane`), loopback, ephemeral ports, generous deadlines.

use std::collections::BTreeMap;
use std::sync::mpsc::channel;
use std::time::Duration;

use banyan_host::component::PathState;
use banyan_host::echo::{ClientOptions, ECHO_TOPIC, REPLY_TOPIC};
use banyan_host::{Component, aio};
use banyan_testkit::{
    EchoServer, WAIT, backplane, config, replies_until, restart_backplane, spawn_echo_client,
};

/// Publishes `{'n': i}` on `topic` until `subscriber` receives one (or panics after WAIT).
async fn publish_until_received(
    publisher: &Component,
    subscriber: &mut aio::Component,
    topic: &str,
) {
    let received = async {
        let mut i = 0u64;
        loop {
            i += 1;
            publisher
                .publish(topic, &BTreeMap::from([("n", i)]))
                .unwrap();
            if let Ok(message) =
                tokio::time::timeout(Duration::from_millis(50), subscriber.recv()).await
            {
                assert_eq!(message.unwrap().topic, topic);
                return;
            }
        }
    };
    // The deadline is tokio's (the kit's `wait_until` is for blocking tests).
    if tokio::time::timeout(WAIT, received).await.is_err() {
        panic!("no message on {topic} within {WAIT:?}");
    }
}

/// Waits (receiving, which drives the re-proof) until `component` proved its path again.
async fn wait_proven(component: &mut aio::Component, reproofs: u64) {
    let proven = async {
        while component.stats().reproofs < reproofs || component.path_state() != PathState::Proven {
            let _ = tokio::time::timeout(Duration::from_millis(50), component.recv()).await;
        }
    };
    if tokio::time::timeout(WAIT, proven).await.is_err() {
        panic!("not re-proven within {WAIT:?}: {:?}", component.stats());
    }
}

#[tokio::test]
async fn async_subscriber_receives_again_after_backplane_restarts() {
    let mut backplane = backplane();
    let mut subscriber =
        aio::Component::connect(config(&backplane, "subscriber").subscribe("sensor"))
            .await
            .unwrap();
    let publisher = config(&backplane, "publisher").connect().unwrap();
    publish_until_received(&publisher, &mut subscriber, "sensor/1").await;

    for round in 1..=2u64 {
        backplane = restart_backplane(backplane);
        // It notices the restart (monitor events through its ZMQ_FDs) and proves its
        // re-sent subscription again (probes timed by tokio's timer).
        wait_proven(&mut subscriber, round).await;
        let stats = subscriber.stats();
        assert_eq!(stats.disconnects, round, "{stats:?}");
        assert_eq!(stats.reproofs, round, "{stats:?}");
        // Messages flow again, with no new subscribe call.
        publish_until_received(&publisher, &mut subscriber, "sensor/2").await;
        assert_eq!(subscriber.path_state(), PathState::Proven);
    }
    drop(backplane);
}

#[test]
fn async_echo_client_finishes_through_backplane_restarts() {
    let count = 300u32;
    let mut backplane = backplane();
    let server = EchoServer::start(&backplane);
    let config = config(&backplane, "AsyncEchoClient").subscribe(REPLY_TOPIC);
    let (tx, rx) = channel();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.spawn(async move {
        let mut client = aio::Component::connect(config).await.unwrap();
        let options = ClientOptions {
            count,
            resend_after: Duration::from_millis(300),
            give_up_after: WAIT,
        };
        let report = aio::echo::run_client(&mut client, &options, |n| {
            let _ = tx.send(n);
        })
        .await;
        (report, client.stats())
    });
    let mut replies = replies_until(&rx, 250);
    backplane = restart_backplane(backplane);
    replies.extend(replies_until(&rx, 150));
    backplane = restart_backplane(backplane);
    replies.extend(rx.iter());
    let (report, stats) = runtime.block_on(client).unwrap();
    let report = report.expect("client completes");
    let expected: Vec<i64> = (0..=i64::from(count)).rev().collect();
    assert_eq!(
        replies, expected,
        "each reply counted exactly once, in order"
    );
    assert_eq!(report.replies, u64::from(count) + 1);
    assert_eq!(report.sent, u64::from(count) + 1 + report.resent);
    // At least one: a second restart during the first re-proof is covered by it (see
    // tests/self_healing.rs, echo_client_finishes_through_backplane_restarts).
    assert!(stats.reproofs >= 1, "{stats:?}");
    server.stop();
    drop(backplane);
}

#[test]
fn async_echo_server_serves_through_backplane_restarts() {
    let count = 200u32;
    let mut backplane = backplane();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut server = runtime
        .block_on(aio::Component::connect(
            config(&backplane, "AsyncEchoServer").subscribe(ECHO_TOPIC),
        ))
        .unwrap();
    let stop = server.shutdown_handle();
    let served = runtime.spawn(async move {
        let mut served = Vec::new();
        aio::echo::serve(&mut server, |n| served.push(n))
            .await
            .unwrap();
        (served, server.stats())
    });
    let client = config(&backplane, "EchoClient")
        .subscribe(REPLY_TOPIC)
        .connect()
        .unwrap();
    let (rx, thread) = spawn_echo_client(client, count);
    let mut replies = replies_until(&rx, 150);
    backplane = restart_backplane(backplane);
    replies.extend(replies_until(&rx, 50));
    backplane = restart_backplane(backplane);
    replies.extend(rx.iter());
    let (report, _client) = thread.join().unwrap();
    report.expect("client completes");
    let expected: Vec<i64> = (0..=i64::from(count)).rev().collect();
    assert_eq!(replies, expected);
    stop.shutdown().unwrap();
    let (mut served, stats) = runtime.block_on(served).unwrap();
    // At least one: a second restart during the first re-proof is covered by it.
    assert!(
        stats.reproofs >= 1,
        "the server re-proved its path: {stats:?}"
    );
    served.sort_unstable();
    served.dedup();
    assert_eq!(served.len(), count as usize + 1, "every number served");
    drop(backplane);
}
