//! The async component against an in-process backplane on loopback (ephemeral ports):
//! proofs, cancel safety, idleness, the stream, handles, limits. Restarts and Python
//! interoperability are tested end to end (`tests/aio.rs`, `banyan-cli/tests/python_aio.rs`).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use super::Component;
use crate::limits::Limits;
use crate::{Backplane, BackplaneConfig, ComponentConfig, Error, Message};

const WAIT: Duration = Duration::from_secs(30);

fn backplane() -> Backplane {
    Backplane::bind(&BackplaneConfig::ephemeral_loopback()).expect("bind a loopback backplane")
}

fn config(backplane: &Backplane, name: &str) -> ComponentConfig {
    ComponentConfig::new(name)
        .backplane(
            backplane.address(),
            backplane.publisher_port(),
            backplane.subscriber_port(),
        )
        .connect_timeout(WAIT)
}

fn numbered(n: u64) -> BTreeMap<&'static str, u64> {
    BTreeMap::from([("n", n)])
}

fn number(message: &Message) -> u64 {
    message.decode::<BTreeMap<String, u64>>().unwrap()["n"]
}

async fn recv(component: &mut Component) -> Message {
    tokio::time::timeout(WAIT, component.recv())
        .await
        .expect("a message within WAIT")
        .unwrap()
}

#[tokio::test]
async fn a_proven_subscription_gets_the_very_first_message() {
    let backplane = backplane();
    // Many fresh pairs: the first message after `subscribe` resolves is never lost.
    for round in 0..20u64 {
        let mut subscriber = Component::connect(config(&backplane, "sub")).await.unwrap();
        subscriber.subscribe("first").await.unwrap();
        let publisher = Component::connect(config(&backplane, "pub")).await.unwrap();
        publisher.publish("first", &numbered(round)).await.unwrap();
        let message = recv(&mut subscriber).await;
        assert_eq!(message.topic, "first");
        assert_eq!(number(&message), round);
    }
}

#[tokio::test]
async fn subscriptions_in_the_config_are_proven_by_connect() {
    let backplane = backplane();
    let mut subscriber = Component::connect(config(&backplane, "sub").subscribe("cfg"))
        .await
        .unwrap();
    let publisher = Component::connect(config(&backplane, "pub")).await.unwrap();
    publisher.publish_raw(b"cfg/x", &[0x80]).await.unwrap();
    let message = recv(&mut subscriber).await;
    assert_eq!(
        (message.topic.as_str(), &message.payload[..]),
        ("cfg/x", &[0x80][..])
    );
}

#[tokio::test]
async fn async_and_blocking_components_talk_both_ways() {
    let backplane = backplane();
    let mut async_side = Component::connect(config(&backplane, "async").subscribe("to_async"))
        .await
        .unwrap();
    let blocking = std::thread::spawn({
        let config = config(&backplane, "blocking").subscribe("to_blocking");
        move || {
            let mut blocking = crate::Component::connect(config).unwrap();
            blocking.publish("to_async", &numbered(1)).unwrap();
            let message = blocking.recv_timeout(WAIT).unwrap().expect("reply");
            number(&message)
        }
    });
    let message = recv(&mut async_side).await;
    assert_eq!(number(&message), 1);
    // The blocking side subscribed before it published: its subscription is proven.
    async_side
        .publish("to_blocking", &numbered(2))
        .await
        .unwrap();
    let got = tokio::task::spawn_blocking(move || blocking.join().unwrap())
        .await
        .unwrap();
    assert_eq!(got, 2);
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    let backplane = backplane();
    let mut subscriber = Component::connect(config(&backplane, "sub").subscribe("c"))
        .await
        .unwrap();
    let publisher = Component::connect(config(&backplane, "pub")).await.unwrap();
    let count = 2000u64;
    let mut got = Vec::new();
    let mut cancelled = 0u32;
    let mut next = 0u64;
    while got.len() < count as usize {
        // Publish in bursts while receives are started and cancelled all the time.
        for _ in 0..10 {
            if next < count {
                publisher.publish("c", &numbered(next)).await.unwrap();
                next += 1;
            }
        }
        loop {
            match tokio::time::timeout(Duration::from_micros(50), subscriber.recv()).await {
                Ok(message) => got.push(number(&message.unwrap())),
                Err(_) => {
                    cancelled += 1;
                    break;
                }
            }
        }
        assert!(cancelled < 1_000_000, "stalled at {}", got.len());
    }
    assert_eq!(
        got,
        (0..count).collect::<Vec<_>>(),
        "each message once, in order"
    );
    assert!(cancelled > 0);
}

#[tokio::test]
async fn a_cancelled_subscribe_stays_subscribed_and_leaks_no_probe() {
    let backplane = backplane();
    let mut subscriber = Component::connect(config(&backplane, "sub")).await.unwrap();
    // Cancelled after its first poll (unless its probe came back within that poll).
    let _ = tokio::time::timeout(Duration::ZERO, subscriber.subscribe("early")).await;
    // A later proof covers the earlier subscription too (same connection, in order).
    subscriber.subscribe("late").await.unwrap();
    let publisher = Component::connect(config(&backplane, "pub")).await.unwrap();
    publisher.publish("early", &numbered(1)).await.unwrap();
    publisher.publish("late", &numbered(2)).await.unwrap();
    let a = recv(&mut subscriber).await;
    let b = recv(&mut subscriber).await;
    assert_eq!((a.topic.as_str(), b.topic.as_str()), ("early", "late"));
    // Nothing else comes: no probe of either proof reaches the application.
    let more = tokio::time::timeout(Duration::from_millis(300), subscriber.recv()).await;
    assert!(more.is_err(), "unexpected {more:?}");
}

#[tokio::test]
async fn messages_during_a_subscribe_are_kept_for_recv() {
    let backplane = backplane();
    let mut subscriber = Component::connect(config(&backplane, "sub").subscribe("keep"))
        .await
        .unwrap();
    let publisher = Component::connect(config(&backplane, "pub")).await.unwrap();
    for n in 0..100 {
        publisher.publish("keep", &numbered(n)).await.unwrap();
    }
    // The proof reads (and keeps) what arrived before its probe.
    subscriber.subscribe("other").await.unwrap();
    for n in 0..100 {
        assert_eq!(number(&recv(&mut subscriber).await), n);
    }
}

#[tokio::test]
async fn an_idle_component_does_not_wake_up() {
    let backplane = backplane();
    let mut idle = Component::connect(config(&backplane, "idle").subscribe("nothing"))
        .await
        .unwrap();
    // Let late duplicate probes of the proof arrive and be dropped.
    let _ = tokio::time::timeout(Duration::from_millis(200), idle.recv()).await;
    let before = idle.wakeups();
    // A second of waiting for a message that never comes: a busy poll would wake up
    // thousands of times; a sleeping component not at all (a stale readiness of each
    // socket at most).
    let got = tokio::time::timeout(Duration::from_secs(1), idle.recv()).await;
    assert!(got.is_err(), "unexpected {got:?}");
    let idle_wakeups = idle.wakeups() - before;
    assert!(idle_wakeups <= 5, "{idle_wakeups} wake-ups while idle");

    // The counter does count: traffic wakes it.
    let publisher = Component::connect(config(&backplane, "pub")).await.unwrap();
    for n in 0..5 {
        publisher.publish("nothing", &numbered(n)).await.unwrap();
        recv(&mut idle).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(idle.wakeups() > before, "traffic woke it up");
}

/// `StreamExt::next`, without the `futures` crate.
fn next(component: &mut Component) -> impl Future<Output = Option<crate::Result<Message>>> + '_ {
    std::future::poll_fn(move |cx| futures_core::Stream::poll_next(Pin::new(&mut *component), cx))
}

#[tokio::test]
async fn the_stream_yields_messages_and_ends_on_shutdown() {
    let backplane = backplane();
    let mut subscriber = Component::connect(config(&backplane, "sub").subscribe("s"))
        .await
        .unwrap();
    let publisher = Component::connect(config(&backplane, "pub")).await.unwrap();
    for n in 0..3 {
        publisher.publish("s", &numbered(n)).await.unwrap();
    }
    for n in 0..3 {
        let item = tokio::time::timeout(WAIT, next(&mut subscriber))
            .await
            .unwrap();
        assert_eq!(number(&item.expect("an item").unwrap()), n);
    }
    let stop = subscriber.shutdown_handle();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.shutdown().unwrap();
    });
    let end = tokio::time::timeout(WAIT, next(&mut subscriber))
        .await
        .unwrap();
    assert!(end.is_none(), "the stream ends on shutdown");
    stopper.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_publish_from_other_tasks_while_the_owner_receives() {
    let backplane = backplane();
    let mut owner = Component::connect(config(&backplane, "owner").subscribe("back"))
        .await
        .unwrap();
    let mut watcher = Component::connect(config(&backplane, "watcher").subscribe("from_task"))
        .await
        .unwrap();
    let handle = owner.publisher().unwrap();
    let task = tokio::spawn(async move {
        for n in 0..50 {
            handle.publish("from_task", &numbered(n)).unwrap();
            tokio::task::yield_now().await;
        }
    });
    // The owner's pending receive sends what the handle queues.
    let owner_task = tokio::spawn(async move {
        let message = owner.recv().await;
        (owner, message)
    });
    for n in 0..50 {
        assert_eq!(number(&recv(&mut watcher).await), n);
    }
    task.await.unwrap();
    watcher.publish("back", &numbered(99)).await.unwrap();
    let (owner, message) = tokio::time::timeout(WAIT, owner_task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(number(&message.unwrap()), 99);
    assert_eq!(owner.stats().handle_dropped, 0);
}

#[tokio::test]
async fn no_backplane_is_an_error_not_a_hang() {
    // Ports of a backplane that is gone.
    let (publisher_port, subscriber_port) = {
        let gone = backplane();
        (gone.publisher_port(), gone.subscriber_port())
    };
    let config = ComponentConfig::new("lonely")
        .backplane("127.0.0.1", publisher_port, subscriber_port)
        .connect_timeout(Duration::from_millis(300));
    let result = Component::connect(config).await;
    assert!(
        matches!(result, Err(Error::NoBackplane { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_size_limit_is_enforced_as_in_the_blocking_component() {
    let backplane = backplane();
    let mut config = config(&backplane, "limited");
    config.limits = Limits {
        max_message: Some(4096),
        ..Limits::default()
    };
    let component = Component::connect(config).await.unwrap();
    let result = component.publish_raw(b"t", &[0; 4096]).await;
    assert!(
        matches!(
            result,
            Err(Error::MessageTooLarge {
                size: 4097,
                limit: 4096
            })
        ),
        "{result:?}"
    );
}

/// Tasks that own a component and await its methods can be spawned on a multi-threaded
/// runtime (the component is `Send`; publishing borrows nothing across an await).
#[test]
fn futures_are_send() {
    async fn task(mut component: Component) {
        let message = component.recv().await.unwrap();
        component.publish("t", &message.topic).await.unwrap();
        component.subscribe("x").await.unwrap();
    }
    /// Compiles only for a `Send` future (the check is the compilation).
    fn spawnable<F: Future + Send>(_: fn(Component) -> F) -> bool {
        true
    }
    assert!(spawnable(task));
    async fn connect(config: ComponentConfig) {
        let _ = Component::connect(config).await;
    }
    fn spawnable_connect<F: Future + Send>(_: fn(ComponentConfig) -> F) -> bool {
        true
    }
    assert!(spawnable_connect(connect));
}

/// The lost wake-up `ZMQ_FD` invites: each receive here is woken by exactly one message (a
/// ping-pong, no re-sends), and the socket operations in between (publishing, subscribing,
/// a cancelled receive) make libzmq process commands, which can swallow the signal of a
/// message that arrived meanwhile. A wake-up lost once stalls the exchange: the 10 s
/// timeout per receive fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_pong_never_loses_a_wake_up() {
    let backplane = backplane();
    let mut server = Component::connect(config(&backplane, "pong").subscribe("ping"))
        .await
        .unwrap();
    let mut client = Component::connect(config(&backplane, "ping").subscribe("pong"))
        .await
        .unwrap();
    let rounds = 2000u64;
    let server = tokio::spawn(async move {
        for n in 0..rounds {
            let message = tokio::time::timeout(Duration::from_secs(10), server.recv())
                .await
                .unwrap_or_else(|_| panic!("server stalled at {n}"))
                .unwrap();
            assert_eq!(number(&message), n);
            server.publish("pong", &numbered(n)).await.unwrap();
            if n % 100 == 0 {
                // Touches the subscriber between messages (and proves it).
                server.subscribe(&format!("other/{n}")).await.unwrap();
            }
        }
    });
    for n in 0..rounds {
        client.publish("ping", &numbered(n)).await.unwrap();
        // Every 7th reply through a receive first cancelled at once (before the reply can be
        // there, mostly: if it is, that receive returns it).
        let early = if n % 7 == 0 {
            tokio::time::timeout(Duration::ZERO, client.recv())
                .await
                .ok()
        } else {
            None
        };
        let message = match early {
            Some(message) => message,
            None => tokio::time::timeout(Duration::from_secs(10), client.recv())
                .await
                .unwrap_or_else(|_| panic!("client stalled at {n}")),
        }
        .unwrap();
        assert_eq!(number(&message), n);
    }
    server.await.unwrap();
}

/// A failed connect does not wait for the linger: its queued probes are discarded when the
/// half-made component drops. Against a "backplane" that accepts TCP and never speaks (the
/// probes stay queued), with a linger of 10 minutes: without the discard, dropping waits
/// until libzmq gives up the handshake (30 s). The bound, 10 s, is 30 times the connect
/// timeout: a behaviour check, not a speed claim.
#[tokio::test]
async fn a_failed_connect_does_not_wait_for_the_linger() {
    let publisher = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let subscriber = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = ComponentConfig::new("frozen")
        .backplane(
            "127.0.0.1",
            publisher.local_addr().unwrap().port(),
            subscriber.local_addr().unwrap().port(),
        )
        .connect_timeout(Duration::from_millis(300));
    config.linger = Duration::from_secs(600);
    let start = std::time::Instant::now();
    let result = Component::connect(config).await;
    assert!(
        matches!(result, Err(Error::NoBackplane { .. })),
        "{result:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the failed connect waited {:?}",
        start.elapsed()
    );
}
