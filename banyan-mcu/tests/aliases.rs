//! Topic aliases and batched publishes (protocol version 2) between `Client` and the real
//! gateway core, over the simulated link of `common/mod.rs`; and the version-1 fallback.

mod common;

use banyan_mcu::{Client, ClientConfig};
use banyan_proto::frame::{Frame, encode_to_vec};
use banyan_testkit::{number_of, numbered};
use common::{Faults, Got, Host, Sim, pump};

fn up(client: &mut Client, sim: &Sim) {
    pump(client, sim, 10_000, |c, _| c.all_subscribed());
    assert!(client.all_subscribed(), "{:?}", client.stats());
}

fn numbers_on(sim: &Sim, topic: &[u8]) -> Vec<u32> {
    sim.mcu_published()
        .iter()
        .filter(|m| m.topic == topic)
        .map(|m| number_of(&m.payload))
        .collect()
}

#[test]
fn publishes_declare_once_then_batch_in_order() {
    let sim = Sim::clean();
    let mut client: Client = Client::new(ClientConfig::new(1));
    up(&mut client, &sim);
    let mut transport = sim.transport();
    // Ten readings at the same instant: the first goes at once (declaring the alias), the
    // other nine wait in one batch for the window.
    for n in 0..10 {
        assert_eq!(
            client.publish_raw(&mut transport, b"sensor/pico", &numbered(n)),
            Ok(true)
        );
    }
    assert_eq!(numbers_on(&sim, b"sensor/pico"), [0]);
    assert!(client.core().batch_pending());
    pump(&mut client, &sim, 20, |_, _| false);
    assert_eq!(
        numbers_on(&sim, b"sensor/pico"),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(sim.client_sent("PublishBatch"), 1);
    assert_eq!(client.stats().batches, 1);
    assert_eq!(client.stats().published, 10);
    assert_eq!(client.stats().aliased, 9);
    // After an idle window, the next reading goes out at once, as an aliased frame.
    pump(&mut client, &sim, 50, |_, _| false);
    client
        .publish_raw(&mut transport, b"sensor/pico", &numbered(10))
        .unwrap();
    assert_eq!(numbers_on(&sim, b"sensor/pico").last(), Some(&10));
    assert_eq!(client.stats().batches, 1, "not batched");
    assert_eq!(client.stats().aliased, 10);
    assert_eq!(sim.gateway_stats().alias_unknown, 0);
}

#[test]
fn another_topic_flushes_the_batch_first_so_order_holds() {
    let sim = Sim::clean();
    let mut client: Client = Client::new(ClientConfig::new(2));
    up(&mut client, &sim);
    let mut transport = sim.transport();
    for n in 0..4 {
        client
            .publish_raw(&mut transport, b"a", &numbered(n))
            .unwrap();
    }
    // `b` is not declared yet: the batch of `a` goes out before `b`'s declaration.
    client
        .publish_raw(&mut transport, b"b", &numbered(4))
        .unwrap();
    client
        .publish_raw(&mut transport, b"a", &numbered(5))
        .unwrap();
    pump(&mut client, &sim, 20, |_, _| false);
    let order: Vec<(Vec<u8>, u32)> = sim
        .mcu_published()
        .iter()
        .map(|m| (m.topic.clone(), number_of(&m.payload)))
        .collect();
    let expected: Vec<(Vec<u8>, u32)> = [
        (b"a", 0),
        (b"a", 1),
        (b"a", 2),
        (b"a", 3),
        (b"b", 4),
        (b"a", 5),
    ]
    .iter()
    .map(|(t, n)| (t.to_vec(), *n))
    .collect();
    assert_eq!(order, expected);
}

#[test]
fn batching_off_sends_one_aliased_frame_per_publish() {
    let sim = Sim::clean();
    let mut client: Client = Client::new(ClientConfig::new(3).with_batch_window_ms(0));
    up(&mut client, &sim);
    let mut transport = sim.transport();
    for n in 0..5 {
        client
            .publish_raw(&mut transport, b"t", &numbered(n))
            .unwrap();
    }
    assert_eq!(numbers_on(&sim, b"t"), [0, 1, 2, 3, 4]);
    assert_eq!(client.stats().aliased, 4, "one declaration, then aliases");
    assert_eq!(client.stats().batches, 0);
    assert_eq!(sim.gateway_stats().aliases_declared, 1);
}

#[test]
fn deliveries_arrive_with_their_topic_through_aliases() {
    let sim = Sim::clean();
    let mut client: Client = Client::new(ClientConfig::new(4));
    client.subscribe("t").unwrap();
    up(&mut client, &sim);
    for n in 0..3 {
        sim.peer_publish("t1", &numbered(n));
    }
    sim.peer_publish("t2", &numbered(3));
    let got = pump(&mut client, &sim, 200, |_, g| Got::messages(g).len() == 4);
    let messages: Vec<(String, u32)> = Got::messages(&got)
        .into_iter()
        .map(|(t, p)| (t, number_of(&p)))
        .collect();
    assert_eq!(
        messages,
        [
            ("t1".to_owned(), 0),
            ("t1".to_owned(), 1),
            ("t1".to_owned(), 2),
            ("t2".to_owned(), 3)
        ]
    );
    let sent = sim.sent_frames();
    assert!(sent.iter().any(|f| f == "PublishAlias 0"), "{sent:?}");
    assert_eq!(sim.gateway_stats().delivered_aliased, 2);
}

#[test]
fn an_unknown_alias_is_answered_and_the_next_delivery_declares_again() {
    let sim = Sim::clean();
    let mut client: Client = Client::new(ClientConfig::new(5));
    client.subscribe("t").unwrap();
    up(&mut client, &sim);
    // A delivery on an alias the client never saw (its declaration was lost).
    sim.inject_to_client(
        &encode_to_vec(&Frame::PublishAlias {
            alias: 0,
            payload: &numbered(9),
        })
        .unwrap(),
    );
    pump(&mut client, &sim, 20, |_, _| false);
    assert_eq!(client.stats().alias_unknown, 1);
    assert_eq!(sim.client_sent("AliasUnknown 0"), 1);
    sim.peer_publish("t1", &numbered(1));
    let got = pump(&mut client, &sim, 100, |_, g| !Got::messages(g).is_empty());
    assert_eq!(Got::topics(&got), ["t1"]);
}

#[test]
fn without_aliases_the_client_speaks_version_1_both_ways() {
    let sim = Sim::clean();
    let mut client: Client = Client::new(ClientConfig::new(6).without_aliases());
    client.subscribe("t").unwrap();
    up(&mut client, &sim);
    let mut transport = sim.transport();
    for n in 0..3 {
        client
            .publish_raw(&mut transport, b"t", &numbered(n))
            .unwrap();
        sim.peer_publish("t", &numbered(10 + n));
    }
    let got = pump(&mut client, &sim, 100, |_, g| Got::messages(g).len() == 3);
    assert_eq!(Got::messages(&got).len(), 3);
    assert_eq!(sim.client_sent("Publish t"), 3);
    assert!(
        sim.sent_frames()
            .iter()
            .all(|f| !f.starts_with("PublishAlias"))
    );
    assert_eq!(sim.gateway_stats().delivered_aliased, 0);
}

#[test]
fn a_gateway_restart_costs_at_most_the_publishes_before_the_client_notices() {
    let sim = Sim::new(7, Faults::NONE, Faults::NONE, Host::default());
    let mut client: Client = Client::new(ClientConfig::new(7).with_batch_window_ms(0));
    client.subscribe("t").unwrap();
    up(&mut client, &sim);
    let mut transport = sim.transport();
    client
        .publish_raw(&mut transport, b"x", &numbered(0))
        .unwrap();
    client
        .publish_raw(&mut transport, b"x", &numbered(1))
        .unwrap();
    sim.restart_gateway();
    // Before the client has read the new gateway's Hello: its alias is unknown there, the
    // message is dropped and counted (never published on another topic), and answered.
    client
        .publish_raw(&mut transport, b"x", &numbered(2))
        .unwrap();
    assert_eq!(sim.gateway_stats().alias_unknown, 1);
    pump(&mut client, &sim, 500, |c, _| {
        c.stats().gateway_restarts == 1 && c.all_subscribed()
    });
    assert!(client.all_subscribed());
    client
        .publish_raw(&mut transport, b"y", &numbered(3))
        .unwrap();
    client
        .publish_raw(&mut transport, b"x", &numbered(4))
        .unwrap();
    client
        .publish_raw(&mut transport, b"x", &numbered(5))
        .unwrap();
    assert_eq!(numbers_on(&sim, b"x"), [0, 1, 4, 5]);
    assert_eq!(numbers_on(&sim, b"y"), [3]);
    assert_eq!(
        sim.gateway_stats().alias_unknown,
        1,
        "declared again after the restart"
    );
    assert_eq!(sim.gateway_stats().aliases_declared, 2);
}

#[test]
fn a_full_batch_goes_out_at_once_and_a_late_one_before_the_next_publish() {
    let sim = Sim::clean();
    let mut client: Client<4, 32, 256> = Client::new(ClientConfig::new(8));
    pump(&mut client, &sim, 10_000, |c, _| c.is_up());
    let mut transport = sim.transport();
    let big = |n: u32| {
        let mut p = numbered(n);
        p.resize(125, 0);
        p
    };
    client.publish_raw(&mut transport, b"big", &big(0)).unwrap();
    // Joins the batch, which cannot take another entry of this size: written at once.
    client.publish_raw(&mut transport, b"big", &big(1)).unwrap();
    assert_eq!(sim.mcu_published().len(), 2);
    assert_eq!(client.stats().batches, 1);
    // A small reading waits; once its window has passed, the next publish sends it first,
    // even without a poll in between.
    client
        .publish_raw(&mut transport, b"big", &numbered(2))
        .unwrap();
    assert_eq!(sim.mcu_published().len(), 2);
    sim.advance(10);
    pump(&mut client, &sim, 0, |_, _| true);
    let clock_moved = {
        // One poll at the new time without transmitting: the core's clock moves on its tick.
        let mut t = sim.transport();
        let _ = client.poll(&mut t, &sim.clock());
        client.core().batch_pending()
    };
    assert!(!clock_moved, "the poll after the window sent the batch");
    let published = sim.mcu_published();
    assert_eq!(published.len(), 3);
    assert_eq!(published[2].payload, numbered(2));
}
