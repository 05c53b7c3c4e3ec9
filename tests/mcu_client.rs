//! `banyan_mcu::Client` (the code firmware runs) through the real serial gateway (its
//! `GatewaySession` core driven by `Gateway`), a real backplane and a Rust component, over
//! clean and seeded faulty links (1 % corrupted bytes, 1 % lost frames, duplicates); gateway
//! restart and MCU reboot mid-run.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use banyan_host::{Backplane, Component};
use banyan_mcu::{Client, ClientConfig, Incoming, LinkEvent, StdClock};
use banyan_proto::payload;
use banyan_testkit::{
    AllKinds, FaultInjector, Faults, GatewayThread, Uart, backplane, config, number_of, numbered,
};

/// Generous deadline for conditions on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);
/// How long one `read` of the MCU's link may block.
const READ_POLL: Duration = Duration::from_millis(5);

/// The MCU's UART: never ends (a dead peer just stays silent), can be re-plugged into a new
/// gateway, and injects seeded faults frame by frame in both directions.
type McuLink = FaultInjector<Uart<UnixStream>>;

/// The MCU's end of a new link to `gateway`, damaged by `up` (MCU → gateway) and `down`.
fn mcu_link(gateway: &GatewayThread, seed: u64, up: Faults, down: Faults) -> McuLink {
    let uart = Uart::unix(gateway.link(), READ_POLL).expect("read timeout");
    FaultInjector::new(uart, seed, up, down)
}

fn clean_link(gateway: &GatewayThread) -> McuLink {
    mcu_link(gateway, 1, Faults::NONE, Faults::NONE)
}

/// What the client produced, owned.
type Got = banyan_testkit::Got<LinkEvent>;

/// Polls the client until `done` or [`WAIT`]; panics on a client error.
fn pump<const N: usize, const L: usize, const B: usize>(
    client: &mut Client<N, L, B>,
    link: &mut McuLink,
    clock: &StdClock,
    got: &mut Vec<Got>,
    mut done: impl FnMut(&Client<N, L, B>, &[Got]) -> bool,
) -> bool {
    let polled =
        banyan_testkit::poll_until(Instant::now() + WAIT, "the client's condition", || {
            if done(client, got) {
                return true;
            }
            match client.poll(link, clock) {
                Ok(Some(Incoming::Message(m))) => got.push(Got::Message(
                    m.topic_str().expect("utf-8 topic").to_owned(),
                    m.payload.to_vec(),
                )),
                Ok(Some(Incoming::Link(event))) => got.push(Got::Link(event)),
                Ok(None) => {}
                Err(e) => panic!("client error: {e}"),
            }
            false
        });
    polled.is_ok() || done(client, got)
}

/// Polls for `time` regardless.
fn pump_for<const N: usize, const L: usize, const B: usize>(
    client: &mut Client<N, L, B>,
    link: &mut McuLink,
    clock: &StdClock,
    got: &mut Vec<Got>,
    time: Duration,
) {
    let end = Instant::now() + time;
    pump(client, link, clock, got, |_, _| Instant::now() >= end);
}

fn messages_on(got: &[Got], prefix: &str) -> Vec<Vec<u8>> {
    Got::payloads_on(got, prefix)
}

fn links(got: &[Got]) -> Vec<LinkEvent> {
    Got::links(got)
}

/// A Rust component on the backplane, subscribed to what the MCU publishes.
fn component(backplane: &Backplane) -> Component {
    config(backplane, "RustPeer")
        .subscribe("mcu/")
        .connect()
        .expect("component connects")
}

/// Receives everything the component gets for `time`.
fn drain(component: &mut Component, time: Duration) -> Vec<(String, Vec<u8>)> {
    let end = Instant::now() + time;
    let mut out = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match component.recv_timeout(left).expect("receive") {
            Some(m) => out.push((m.topic, m.payload)),
            None => break,
        }
    }
    out
}

#[test]
fn typed_round_trips_of_every_msgpack_kind_through_the_real_gateway() {
    let backplane = backplane();
    let gateway = GatewayThread::start(&backplane);
    let mut peer = component(&backplane);
    let mut link = clean_link(&gateway);
    let clock = StdClock::new();
    let mut client: Client<4, 32, 512> = Client::new(ClientConfig::new(0xC1));
    client.subscribe("to_mcu").unwrap();
    let mut got = Vec::new();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |c, _| c
        .all_subscribed()));
    assert_eq!(
        links(&got)[..2],
        [
            LinkEvent::Up {
                gateway_nonce: client.core().gateway_nonce().unwrap()
            },
            LinkEvent::Subscribed
        ]
    );

    // Component → MCU: in force means delivered, with no slow-joiner loss.
    let value = AllKinds::sample();
    peer.publish("to_mcu", &value).expect("publish");
    assert!(pump(&mut client, &mut link, &clock, &mut got, |_, g| {
        !messages_on(g, "to_mcu").is_empty()
    }));
    let bytes = &messages_on(&got, "to_mcu")[0];
    assert_eq!(payload::from_slice::<AllKinds>(bytes), Ok(value.clone()));

    // MCU → component: byte-identical to the host encoder (golden-tested against Python).
    assert_eq!(client.publish(&mut link, "mcu/kinds", &value), Ok(true));
    let received = drain(&mut peer, Duration::from_secs(5));
    let (topic, bytes) = received
        .first()
        .expect("the component got the MCU's message");
    assert_eq!(topic, "mcu/kinds");
    assert_eq!(*bytes, payload::to_vec(&value).unwrap());

    let stats = gateway.stop();
    assert_eq!(stats.corrupt, 0);
    assert!(stats.proofs >= 1, "{stats:?}");
}

/// Seeded faulty links: subscriptions end in force, nothing is delivered twice by the
/// client's re-subscriptions, and messages flow both ways.
#[test]
fn client_over_faulty_links_through_the_real_gateway() {
    let backplane = backplane();
    let gateway = GatewayThread::start(&backplane);
    let mut peer = component(&backplane);
    for seed in 1..=3u64 {
        // Duplicated frames from the MCU (re-sent subscriptions, duplicated Subscribe), none
        // towards it: every duplicate the client could deliver would be its own doing.
        let down = Faults {
            duplicate: 0,
            ..Faults::ISSUE
        };
        let mut link = mcu_link(&gateway, seed, Faults::ISSUE, down);
        let clock = StdClock::new();
        let config = ClientConfig {
            retry_ms: 100,
            ..ClientConfig::new(seed as u32)
        };
        let mut client: Client<4, 32, 256> = Client::new(config);
        for topic in ["cmd/a", "cmd/b", "cmd/", "other"] {
            client.subscribe(topic).unwrap();
        }
        let mut got = Vec::new();
        assert!(
            pump(&mut client, &mut link, &clock, &mut got, |c, _| c
                .all_subscribed()),
            "seed {seed}: not in force: {:?}",
            client.stats()
        );
        let mut sent = 0;
        for n in 0..40 {
            let topic = if n % 2 == 0 { "cmd/a" } else { "cmd/b" };
            peer.publish_raw(topic.as_bytes(), &numbered(n)).unwrap();
            if client
                .publish(&mut link, "mcu/reading", &BTreeMap::from([("n", n)]))
                .unwrap()
            {
                sent += 1;
            }
            pump_for(
                &mut client,
                &mut link,
                &clock,
                &mut got,
                Duration::from_millis(20),
            );
        }
        pump_for(
            &mut client,
            &mut link,
            &clock,
            &mut got,
            Duration::from_millis(500),
        );
        let mut numbers: Vec<u32> = messages_on(&got, "cmd/")
            .iter()
            .map(|p| number_of(p))
            .collect();
        let delivered = numbers.len();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), delivered, "seed {seed}: delivered twice");
        assert!(delivered >= 20, "seed {seed}: only {delivered} of 40");
        let readings = drain(&mut peer, Duration::from_secs(2));
        assert!(
            readings.len() >= sent / 2,
            "seed {seed}: {} of {sent}",
            readings.len()
        );
    }
    let stats = gateway.stop();
    assert!(
        stats.corrupt > 0,
        "the faults reached the gateway: {stats:?}"
    );
}

#[test]
fn gateway_restart_and_mcu_reboot_mid_run() {
    let backplane = backplane();
    let first = GatewayThread::start(&backplane);
    let peer = component(&backplane);
    let mut link = clean_link(&first);
    let clock = StdClock::new();
    let mut client: Client = Client::new(ClientConfig::new(0xAA));
    client.subscribe("cmd").unwrap();
    let mut got = Vec::new();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |c, _| c
        .all_subscribed()));
    let first_nonce = client.core().gateway_nonce().unwrap();

    // The gateway process restarts; the UART is now served by the new one.
    first.stop();
    let second = GatewayThread::start(&backplane);
    link.get_mut()
        .replug_unix(second.link(), READ_POLL)
        .expect("read timeout");
    got.clear();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |_, g| {
        links(g).contains(&LinkEvent::Subscribed)
    }));
    let events = links(&got);
    assert!(
        matches!(events[0], LinkEvent::GatewayRestarted { gateway_nonce } if gateway_nonce != first_nonce),
        "{events:?}"
    );
    peer.publish_raw(b"cmd", &numbered(1)).unwrap();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |_, g| {
        !messages_on(g, "cmd").is_empty()
    }));

    // The MCU reboots with other subscriptions: the old one is gone at the gateway.
    let mut rebooted: Client = Client::new(ClientConfig::new(0xBB));
    rebooted.subscribe("new").unwrap();
    let mut got = Vec::new();
    assert!(pump(&mut rebooted, &mut link, &clock, &mut got, |c, _| c
        .all_subscribed()));
    peer.publish_raw(b"cmd", &numbered(2)).unwrap();
    peer.publish_raw(b"new", &numbered(3)).unwrap();
    assert!(pump(&mut rebooted, &mut link, &clock, &mut got, |_, g| {
        !messages_on(g, "new").is_empty()
    }));
    pump_for(
        &mut rebooted,
        &mut link,
        &clock,
        &mut got,
        Duration::from_millis(300),
    );
    assert!(messages_on(&got, "cmd").is_empty(), "{got:?}");
    let stats = second.stop();
    assert_eq!(stats.hellos, 2, "{stats:?}");
}
