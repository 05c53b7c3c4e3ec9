//! The gateway's sans-IO core, frame by frame: subscriptions as an acknowledged set,
//! non-blocking proofs (pings answered and frames read while one is in flight, publishes
//! held in order), resets, limits; and a property test that no byte sequence panics it.
#![cfg(feature = "std")]

use banyan_proto::frame::{FeedResult, Frame, FrameDecoder, encode_to_vec, max_encoded_len};
use banyan_proto::gateway::{Action, GatewayConfig, GatewaySession};
use proptest::prelude::*;

/// A frame the session sent, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Hello(u16),
    Pong(u32),
    Publish(Vec<u8>, Vec<u8>),
    Subscribed(Vec<u8>),
    Unsubscribed(Vec<u8>),
    Declare(u16, Vec<u8>, Vec<u8>),
    Alias(u16, Vec<u8>),
    AliasUnknown(u16),
    AliasRefused(u16),
    Other,
}

/// Everything the session asked for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Did {
    Send(Out),
    Publish(Vec<u8>),
    Subscribe(String),
    Unsubscribe(String),
}

fn decode_all(bytes: &[u8]) -> Vec<Out> {
    let mut decoder = FrameDecoder::<{ max_encoded_len(4096) }>::new();
    let mut out = Vec::new();
    let mut window = bytes;
    while !window.is_empty() {
        window = match decoder.feed(window) {
            FeedResult::Consumed => break,
            FeedResult::Frame { frame, remaining } => {
                out.push(match frame {
                    Frame::Hello { max_frame, .. } => Out::Hello(max_frame),
                    Frame::Pong { seq } => Out::Pong(seq),
                    Frame::Publish { topic, payload } => {
                        Out::Publish(topic.to_vec(), payload.to_vec())
                    }
                    Frame::Subscribed { topic } => Out::Subscribed(topic.to_vec()),
                    Frame::Unsubscribed { topic } => Out::Unsubscribed(topic.to_vec()),
                    Frame::PublishDeclare {
                        alias,
                        topic,
                        payload,
                    } => Out::Declare(alias, topic.to_vec(), payload.to_vec()),
                    Frame::PublishAlias { alias, payload } => Out::Alias(alias, payload.to_vec()),
                    Frame::AliasUnknown { alias } => Out::AliasUnknown(alias),
                    Frame::AliasRefused { alias } => Out::AliasRefused(alias),
                    _ => Out::Other,
                });
                remaining
            }
            FeedResult::Corrupt { .. } => panic!("the session sent a corrupt frame"),
            FeedResult::Oversized { .. } => panic!("the session sent an oversized frame"),
        };
    }
    out
}

/// A `Hello` of a protocol-version-1 MCU (before topic aliases): the gateway must treat it
/// exactly as before.
fn hello_v1(max_frame: u16, boot_nonce: u32) -> Frame<'static> {
    Frame::Hello {
        version: 1,
        max_frame,
        boot_nonce,
    }
}

fn drain<const N: usize, const L: usize>(session: &mut GatewaySession<N, L>) -> Vec<Did> {
    let mut did = Vec::new();
    while let Some(action) = session.poll_action() {
        match action {
            Action::Send(bytes) => did.extend(decode_all(&bytes).into_iter().map(Did::Send)),
            Action::Publish { topic, .. } => did.push(Did::Publish(topic)),
            Action::Subscribe(t) => did.push(Did::Subscribe(t)),
            Action::Unsubscribe(t) => did.push(Did::Unsubscribe(t)),
        }
    }
    did
}

fn feed<const N: usize, const L: usize>(
    session: &mut GatewaySession<N, L>,
    frame: &Frame<'_>,
) -> Vec<Did> {
    session.on_link_bytes(&encode_to_vec(frame).unwrap());
    drain(session)
}

/// A session whose link is open and whose MCU said `Hello`.
fn open_with<const N: usize, const L: usize>(config: GatewayConfig) -> GatewaySession<N, L> {
    let mut session = GatewaySession::new(config);
    session.link_opened();
    assert_eq!(drain(&mut session), [Did::Send(Out::Hello(4096))]);
    assert_eq!(
        feed(&mut session, &hello_v1(512, 1)),
        [Did::Send(Out::Hello(4096))]
    );
    session
}

fn open() -> GatewaySession {
    open_with(GatewayConfig::new(0xAB))
}

fn sub(topic: &[u8]) -> Frame<'_> {
    Frame::Subscribe { topic }
}

fn publish(topic: &[u8]) -> Frame<'_> {
    Frame::Publish {
        topic,
        payload: b"\x80",
    }
}

#[test]
fn hello_resets_subscriptions_and_is_answered() {
    let mut s = open();
    feed(&mut s, &sub(b"a"));
    s.proof_started();
    s.proof_done();
    drain(&mut s);
    let did = feed(&mut s, &hello_v1(64, 9));
    assert_eq!(
        did,
        [Did::Unsubscribe("a".into()), Did::Send(Out::Hello(4096))]
    );
    assert_eq!(s.peer_max_frame(), 64);
    assert_eq!(s.subscriptions().count(), 0);
    assert_eq!(s.stats().hellos, 2);
}

#[test]
fn a_restarted_gateway_greets_an_mcu_that_missed_its_hello() {
    let mut s = GatewaySession::<64, 256>::new(GatewayConfig::new(7));
    s.link_opened();
    drain(&mut s); // the greeting, lost on the way
    // The MCU, still up with the previous gateway, pings: it gets the Hello with the new
    // nonce along with the Pong, and again on each ping until it says Hello.
    for seq in 1..=2 {
        assert_eq!(
            feed(&mut s, &Frame::Ping { seq }),
            [Did::Send(Out::Hello(4096)), Did::Send(Out::Pong(seq))]
        );
    }
    feed(&mut s, &hello_v1(512, 1));
    assert_eq!(
        feed(&mut s, &Frame::Ping { seq: 3 }),
        [Did::Send(Out::Pong(3))]
    );
}

#[test]
fn subscribe_is_acknowledged_only_once_proven() {
    let mut s = open();
    assert_eq!(feed(&mut s, &sub(b"t")), [Did::Subscribe("t".into())]);
    assert!(s.proof_needed());
    s.proof_started();
    assert!(!s.proof_needed());
    assert!(drain(&mut s).is_empty(), "no ack before the proof");
    s.proof_done();
    assert_eq!(drain(&mut s), [Did::Send(Out::Subscribed(b"t".to_vec()))]);
    // Idempotent: a re-sent Subscribe is answered at once and not applied twice.
    assert_eq!(
        feed(&mut s, &sub(b"t")),
        [Did::Send(Out::Subscribed(b"t".to_vec()))]
    );
    assert!(!s.proof_needed());
}

#[test]
fn link_is_served_while_a_proof_is_in_flight() {
    let mut s = open();
    feed(&mut s, &sub(b"reply"));
    s.proof_started();
    // Pings are answered, publishes held (in order), more subscriptions taken.
    assert_eq!(
        feed(&mut s, &Frame::Ping { seq: 5 }),
        [Did::Send(Out::Pong(5))]
    );
    assert!(feed(&mut s, &publish(b"echo1")).is_empty());
    assert_eq!(
        feed(&mut s, &sub(b"other")),
        [Did::Subscribe("other".into())]
    );
    assert!(feed(&mut s, &publish(b"echo2")).is_empty());
    assert_eq!(
        feed(&mut s, &Frame::Ping { seq: 6 }),
        [Did::Send(Out::Pong(6))]
    );
    assert_eq!(s.stats().held, 2);
    // The first proof covers only "reply"; the held publishes wait for "other" too.
    assert!(!s.proof_needed(), "one proof at a time");
    s.proof_done();
    assert_eq!(
        drain(&mut s),
        [Did::Send(Out::Subscribed(b"reply".to_vec()))]
    );
    assert!(s.proof_needed());
    s.proof_started();
    s.proof_done();
    assert_eq!(
        drain(&mut s),
        [
            Did::Send(Out::Subscribed(b"other".to_vec())),
            Did::Publish(b"echo1".to_vec()),
            Did::Publish(b"echo2".to_vec())
        ]
    );
    // Nothing pending: publishes go straight out.
    assert_eq!(
        feed(&mut s, &publish(b"echo3")),
        [Did::Publish(b"echo3".to_vec())]
    );
    assert_eq!(s.stats().published, 3);
}

#[test]
fn failed_proof_releases_held_publishes_and_is_retried() {
    let mut s = open();
    feed(&mut s, &sub(b"t"));
    s.proof_started();
    feed(&mut s, &publish(b"p"));
    s.proof_failed();
    assert_eq!(drain(&mut s), [Did::Publish(b"p".to_vec())]);
    assert!(s.proof_needed(), "the subscription waits for another proof");
    s.proof_started();
    s.proof_done();
    assert_eq!(drain(&mut s), [Did::Send(Out::Subscribed(b"t".to_vec()))]);
    assert_eq!(s.stats().proofs_failed, 1);
}

#[test]
fn held_publishes_are_bounded_and_counted() {
    let mut s = open_with::<64, 256>(GatewayConfig {
        max_held: 3,
        ..GatewayConfig::new(1)
    });
    feed(&mut s, &sub(b"t"));
    s.proof_started();
    for _ in 0..5 {
        feed(&mut s, &publish(b"p"));
    }
    assert_eq!(s.stats().held, 3);
    assert_eq!(s.stats().held_dropped, 2);
    s.proof_done();
    let published = drain(&mut s)
        .into_iter()
        .filter(|d| matches!(d, Did::Publish(_)))
        .count();
    assert_eq!(published, 3);
}

#[test]
fn unsubscribe_is_idempotent_and_acknowledged() {
    let mut s = open();
    feed(&mut s, &sub(b"t"));
    s.proof_started();
    s.proof_done();
    drain(&mut s);
    let unsub = Frame::Unsubscribe { topic: b"t" };
    assert_eq!(
        feed(&mut s, &unsub),
        [
            Did::Unsubscribe("t".into()),
            Did::Send(Out::Unsubscribed(b"t".to_vec()))
        ]
    );
    // Again (a duplicate): answered, nothing applied.
    assert_eq!(
        feed(&mut s, &unsub),
        [Did::Send(Out::Unsubscribed(b"t".to_vec()))]
    );
}

#[test]
fn refused_subscriptions_are_answered_unsubscribed() {
    let mut s = open_with::<2, 4>(GatewayConfig::new(1));
    let refused = |topic: &[u8]| vec![Did::Send(Out::Unsubscribed(topic.to_vec()))];
    assert_eq!(feed(&mut s, &sub(b"toolong")), refused(b"toolong"));
    assert_eq!(feed(&mut s, &sub(b"\xff\xfe")), refused(b"\xff\xfe"));
    feed(&mut s, &sub(b"a"));
    feed(&mut s, &sub(b"b"));
    assert_eq!(feed(&mut s, &sub(b"c")), refused(b"c"), "table full");
    assert_eq!(s.stats().refused, 3);
}

#[test]
fn backplane_messages_are_filtered_sized_and_counted() {
    let mut s = open();
    // Link closed: dropped offline.
    s.link_closed();
    assert!(!s.on_backplane(b"t", b"\x80"));
    assert_eq!(s.stats().dropped_offline, 1);
    s.link_opened();
    drain(&mut s);
    feed(&mut s, &hello_v1(40, 1));
    feed(&mut s, &sub(b"t"));
    // Unproven subscriptions already deliver (the backplane applied them).
    assert!(s.on_backplane(b"t1", b"\x80"));
    assert_eq!(
        drain(&mut s),
        [Did::Send(Out::Publish(b"t1".to_vec(), b"\x80".to_vec()))]
    );
    assert!(!s.on_backplane(b"x", b"\x80"), "no subscription matches");
    assert_eq!(s.stats().unmatched, 1);
    assert!(
        !s.on_backplane(b"t", &[0x80; 64]),
        "bigger than the MCU's 40"
    );
    assert_eq!(s.stats().too_big_for_peer, 1);
    assert_eq!(s.stats().delivered, 1);
}

/// A session whose MCU speaks protocol version 2, subscribed (proven) to `t`.
fn open_v2() -> GatewaySession {
    let mut s = GatewaySession::new(GatewayConfig::new(0xAB));
    s.link_opened();
    feed(&mut s, &Frame::hello(512, 1));
    feed(&mut s, &sub(b"t"));
    s.proof_started();
    s.proof_done();
    drain(&mut s);
    s
}

#[test]
fn deliveries_to_a_version_1_mcu_carry_full_topics() {
    let mut s = open();
    feed(&mut s, &sub(b"t"));
    s.proof_started();
    s.proof_done();
    drain(&mut s);
    for _ in 0..3 {
        assert!(s.on_backplane(b"t1", b"\x80"));
        assert_eq!(
            drain(&mut s),
            [Did::Send(Out::Publish(b"t1".to_vec(), b"\x80".to_vec()))]
        );
    }
    assert_eq!(s.peer_version(), 1);
    assert_eq!(s.stats().delivered_aliased, 0);
}

#[test]
fn deliveries_declare_a_topic_once_then_use_its_alias() {
    let mut s = open_v2();
    assert!(s.on_backplane(b"t1", b"\x80"));
    assert!(s.on_backplane(b"t1", b"\x81"));
    assert!(s.on_backplane(b"t2", b"\x82"));
    assert!(s.on_backplane(b"t1", b"\x83"));
    assert_eq!(
        drain(&mut s),
        [
            Did::Send(Out::Declare(0, b"t1".to_vec(), b"\x80".to_vec())),
            Did::Send(Out::Alias(0, b"\x81".to_vec())),
            Did::Send(Out::Declare(1, b"t2".to_vec(), b"\x82".to_vec())),
            Did::Send(Out::Alias(0, b"\x83".to_vec())),
        ]
    );
    // The MCU lost the declaration of 0: it is declared again with the next delivery.
    feed(&mut s, &Frame::AliasUnknown { alias: 0 });
    s.on_backplane(b"t1", b"\x84");
    s.on_backplane(b"t1", b"\x85");
    assert_eq!(
        drain(&mut s),
        [
            Did::Send(Out::Declare(0, b"t1".to_vec(), b"\x84".to_vec())),
            Did::Send(Out::Alias(0, b"\x85".to_vec())),
        ]
    );
    // The MCU holds one alias only: t2 and later topics go with full topics.
    feed(&mut s, &Frame::AliasRefused { alias: 1 });
    s.on_backplane(b"t2", b"\x86");
    s.on_backplane(b"t3", b"\x87");
    s.on_backplane(b"t1", b"\x88");
    assert_eq!(
        drain(&mut s),
        [
            Did::Send(Out::Publish(b"t2".to_vec(), b"\x86".to_vec())),
            Did::Send(Out::Publish(b"t3".to_vec(), b"\x87".to_vec())),
            Did::Send(Out::Alias(0, b"\x88".to_vec())),
        ]
    );
    // A new Hello: a new session, declared again.
    feed(&mut s, &Frame::hello(512, 2));
    feed(&mut s, &sub(b"t"));
    s.proof_started();
    s.proof_done();
    drain(&mut s);
    s.on_backplane(b"t1", b"\x89");
    assert_eq!(
        drain(&mut s),
        [Did::Send(Out::Declare(0, b"t1".to_vec(), b"\x89".to_vec()))]
    );
}

#[test]
fn mcu_aliases_publish_in_order_and_unknown_ones_are_answered() {
    let mut s = open_v2();
    let declare = Frame::PublishDeclare {
        alias: 2,
        topic: b"sensor/pico",
        payload: b"\x80",
    };
    assert_eq!(
        feed(&mut s, &declare),
        [Did::Publish(b"sensor/pico".to_vec())]
    );
    let aliased = Frame::PublishAlias {
        alias: 2,
        payload: b"\x81",
    };
    assert_eq!(
        feed(&mut s, &aliased),
        [Did::Publish(b"sensor/pico".to_vec())]
    );
    // Unknown alias: nothing published, the MCU is told to declare it again.
    let unknown = Frame::PublishAlias {
        alias: 5,
        payload: b"\x82",
    };
    assert_eq!(feed(&mut s, &unknown), [Did::Send(Out::AliasUnknown(5))]);
    assert_eq!(s.stats().alias_unknown, 1);
    // Beyond the table: published, and refused.
    let far = Frame::PublishDeclare {
        alias: 64,
        topic: b"far",
        payload: b"\x83",
    };
    assert_eq!(
        feed(&mut s, &far),
        [
            Did::Send(Out::AliasRefused(64)),
            Did::Publish(b"far".to_vec())
        ]
    );
    // A batch: each entry in order, an unknown one dropped and answered.
    let mut entries = [0u8; 32];
    let mut writer = banyan_proto::frame::BatchWriter::new(&mut entries);
    writer.push(2, b"\x90").unwrap();
    writer.push(7, b"\x91").unwrap();
    writer.push(2, b"\x92").unwrap();
    let batch = Frame::PublishBatch {
        batch: writer.batch(),
    };
    assert_eq!(
        feed(&mut s, &batch),
        [
            Did::Publish(b"sensor/pico".to_vec()),
            Did::Send(Out::AliasUnknown(7)),
            Did::Publish(b"sensor/pico".to_vec()),
        ]
    );
    assert_eq!(s.stats().batches, 1);
    // The MCU restarted: its aliases are gone with its Hello.
    feed(&mut s, &Frame::hello(512, 2));
    assert_eq!(feed(&mut s, &aliased), [Did::Send(Out::AliasUnknown(2))]);
}

#[test]
fn batched_publishes_wait_for_a_proof_in_order() {
    let mut s = open_v2();
    feed(
        &mut s,
        &Frame::PublishDeclare {
            alias: 0,
            topic: b"a",
            payload: b"\x80",
        },
    );
    feed(&mut s, &sub(b"reply"));
    let mut entries = [0u8; 16];
    let mut writer = banyan_proto::frame::BatchWriter::new(&mut entries);
    writer.push(0, b"\x81").unwrap();
    writer.push(0, b"\x82").unwrap();
    let batch = Frame::PublishBatch {
        batch: writer.batch(),
    };
    assert_eq!(feed(&mut s, &batch), [], "held behind the subscription");
    s.proof_started();
    s.proof_done();
    assert_eq!(
        drain(&mut s),
        [
            Did::Send(Out::Subscribed(b"reply".to_vec())),
            Did::Publish(b"a".to_vec()),
            Did::Publish(b"a".to_vec()),
        ]
    );
}

#[test]
fn garbage_is_counted_and_the_session_goes_on() {
    let mut s = open();
    s.on_link_bytes(&[1, 2, 3, 0, 0xff, 0x10, 0]);
    s.on_link_bytes(&[7u8; 6000]);
    s.on_link_bytes(&[0]);
    assert!(s.stats().corrupt >= 1);
    assert_eq!(s.stats().oversized, 1);
    assert_eq!(
        feed(&mut s, &Frame::Ping { seq: 1 }),
        [Did::Send(Out::Pong(1))]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No byte sequence from the link panics the gateway core, whatever proofs and backplane
    /// messages happen in between; every frame it sends decodes.
    #[test]
    fn no_link_bytes_panic_the_gateway_core(
        chunks in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..300),
                // Valid frames, so that deeper states are reached.
                (0u8..14, prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(kind, bytes)| {
                    let alias = u16::from(bytes.first().copied().unwrap_or(0) % 70);
                    let mut entries = vec![0u8; 64];
                    let mut writer = banyan_proto::frame::BatchWriter::new(&mut entries);
                    for chunk in bytes.chunks(5) {
                        let _ = writer.push(u16::from(chunk[0] % 4), chunk);
                    }
                    let batch = writer.batch();
                    let frame = match kind {
                        0 => Frame::hello(u16::from(bytes.first().copied().unwrap_or(0)), 1),
                        8 => Frame::PublishDeclare { alias, topic: &bytes, payload: &bytes },
                        9 => Frame::PublishAlias { alias, payload: &bytes },
                        10 => Frame::AliasUnknown { alias },
                        11 => Frame::AliasRefused { alias },
                        12 => Frame::PublishBatch { batch },
                        1 => Frame::Publish { topic: &bytes, payload: &bytes },
                        2 | 6 => Frame::Subscribe { topic: &bytes },
                        3 => Frame::Unsubscribe { topic: &bytes },
                        4 => Frame::Ping { seq: 1 },
                        5 => Frame::Pong { seq: 1 },
                        _ => Frame::Subscribed { topic: &bytes },
                    };
                    encode_to_vec(&frame).unwrap()
                }),
            ],
            0..40,
        ),
        events in prop::collection::vec(0u8..6, 0..40),
    ) {
        let mut s = GatewaySession::<4, 8>::new(GatewayConfig { max_held: 4, ..GatewayConfig::new(3) });
        s.link_opened();
        for (i, chunk) in chunks.iter().enumerate() {
            s.on_link_bytes(chunk);
            match events.get(i).copied().unwrap_or(0) {
                1 if s.proof_needed() => s.proof_started(),
                2 if s.proof_in_flight() => s.proof_done(),
                3 if s.proof_in_flight() => s.proof_failed(),
                4 => { s.on_backplane(chunk, chunk); }
                5 => { s.link_closed(); s.link_opened(); }
                _ => {}
            }
            drain(&mut s);
            prop_assert!(s.subscriptions().count() <= 4);
        }
    }
}
