//! ZeroMQ prefix matching and the fixed-capacity subscription set.

use banyan_proto::topic::{SubscriptionSet, TopicError, matches};

/// (subscription, topic, matches?) — the rule is "subscription is a byte prefix of topic".
const MATCH_TABLE: &[(&[u8], &[u8], bool)] = &[
    // empty subscription matches everything, even the empty topic
    (b"", b"", true),
    (b"", b"echo", true),
    (b"", b"\x00\xff", true),
    // exact
    (b"echo", b"echo", true),
    (b"reply", b"reply", true),
    // prefix
    (b"echo", b"echo_reply", true),
    (b"echo", b"echo/1", true),
    (b"e", b"echo", true),
    (b"sensor/", b"sensor/temperature", true),
    // not a prefix
    (b"echo", b"reply", false),
    (b"echo", b"xecho", false),
    (b"reply", b"echo_reply", false),
    (b"echo", b"Echo", false), // case-sensitive
    (b"echo ", b"echo", false),
    (b"sensor/", b"sensor", false),
    // subscription longer than the topic
    (b"echo", b"ech", false),
    (b"echo_reply", b"echo", false),
    (b"x", b"", false),
    // no wildcards: MQTT-looking characters are plain bytes
    (b"sensor/+", b"sensor/1", false),
    (b"#", b"anything", false),
    (b"sensor/#", b"sensor/#/x", true),
    // UTF-8: "é" is c3 a9, "€" is e2 82 ac
    ("café".as_bytes(), "café au lait".as_bytes(), true),
    ("café".as_bytes(), "cafe".as_bytes(), false),
    ("caf".as_bytes(), "café".as_bytes(), true),
    // a prefix may stop inside a multi-byte character, as in ZeroMQ
    (b"caf\xc3", "café".as_bytes(), true),
    (b"\xe2\x82", "€uro".as_bytes(), true),
    (b"\xe2\x82\xad", "€uro".as_bytes(), false),
    ("温度".as_bytes(), "温度/室内".as_bytes(), true),
    ("温".as_bytes(), "湿度".as_bytes(), false),
    // bytes beyond ASCII and invalid UTF-8
    (b"\xff", b"\xff\xfe", true),
    (b"\xff\xfe", b"\xff", false),
    (b"\x80", b"\x80abc", true),
    (b"\xc3(", b"\xc3(invalid", true),
    (b"\xc3", b"\xc4", false),
    // NUL bytes are ordinary bytes
    (b"a\x00", b"a\x00b", true),
    (b"a\x00", b"a", false),
    (b"\x00", b"\x00", true),
];

#[test]
fn prefix_matching_table() {
    for &(sub, topic, expected) in MATCH_TABLE {
        assert_eq!(matches(sub, topic), expected, "{sub:02x?} vs {topic:02x?}");
    }
}

#[test]
fn set_with_one_subscription_agrees_with_the_table() {
    for &(sub, topic, expected) in MATCH_TABLE {
        let mut set: SubscriptionSet<2, 16> = SubscriptionSet::new();
        assert_eq!(set.add(sub), Ok(true));
        assert_eq!(set.matches(topic), expected, "{sub:02x?} vs {topic:02x?}");
    }
}

#[test]
fn empty_set_matches_nothing() {
    let set: SubscriptionSet<4, 8> = SubscriptionSet::new();
    assert!(set.is_empty());
    assert!(!set.matches(b""));
    assert!(!set.matches(b"echo"));
    assert_eq!(set.iter().count(), 0);
}

#[test]
fn any_of_several_subscriptions_matches() {
    let mut set: SubscriptionSet<4, 8> = SubscriptionSet::new();
    set.add(b"echo").unwrap();
    set.add(b"sensor/").unwrap();
    assert!(set.matches(b"echo"));
    assert!(set.matches(b"sensor/1"));
    assert!(!set.matches(b"reply"));
    assert!(!set.matches(b"sensor"));
    set.add(b"").unwrap();
    assert!(set.matches(b"reply"));
    assert!(set.matches(b""));
}

#[test]
fn duplicates_are_reference_counted() {
    let mut set: SubscriptionSet<2, 8> = SubscriptionSet::new();
    assert_eq!(set.add(b"echo"), Ok(true));
    assert_eq!(set.add(b"echo"), Ok(false));
    assert_eq!(set.add(b"echo"), Ok(false));
    assert_eq!(set.len(), 1);
    assert_eq!(set.count(b"echo"), 3);
    assert_eq!(set.remove(b"echo"), Ok(false));
    assert_eq!(set.remove(b"echo"), Ok(false));
    assert!(set.matches(b"echo"));
    assert_eq!(set.remove(b"echo"), Ok(true));
    assert!(!set.matches(b"echo"));
    assert_eq!(set.count(b"echo"), 0);
    assert_eq!(set.remove(b"echo"), Err(TopicError::NotSubscribed));
}

#[test]
fn remove_needs_the_exact_topic() {
    let mut set: SubscriptionSet<2, 8> = SubscriptionSet::new();
    set.add(b"echo").unwrap();
    assert_eq!(set.remove(b"ech"), Err(TopicError::NotSubscribed));
    assert_eq!(set.remove(b"echo_r"), Err(TopicError::NotSubscribed));
    assert_eq!(set.remove(b""), Err(TopicError::NotSubscribed));
    assert!(set.contains(b"echo"));
    assert!(!set.contains(b"echo_r"));
}

#[test]
fn capacity_limits() {
    let mut set: SubscriptionSet<2, 4> = SubscriptionSet::new();
    assert_eq!(SubscriptionSet::<2, 4>::CAPACITY, 2);
    assert_eq!(SubscriptionSet::<2, 4>::MAX_TOPIC_LEN, 4);
    // L bytes fit, L + 1 do not, counting bytes rather than characters.
    assert_eq!(set.add(b"abcde"), Err(TopicError::TooLong));
    assert_eq!(set.add("été".as_bytes()), Err(TopicError::TooLong)); // 5 bytes, 3 chars
    assert_eq!(set.add(b"abcd"), Ok(true));
    assert_eq!(set.add(b""), Ok(true));
    assert!(set.is_full());
    assert_eq!(set.add(b"x"), Err(TopicError::Full));
    // A duplicate of a held topic still counts when full.
    assert_eq!(set.add(b"abcd"), Ok(false));
    // Errors change nothing.
    assert_eq!(set.len(), 2);
    assert_eq!(set.iter().collect::<Vec<_>>(), [&b"abcd"[..], b""]);
    // Removing frees a slot.
    assert_eq!(set.remove(b""), Ok(true));
    assert_eq!(set.add(b"x"), Ok(true));
    // Too long is checked before fullness and before lookup.
    assert_eq!(set.add(b"abcdef"), Err(TopicError::TooLong));
}

#[test]
fn zero_length_limit_allows_only_the_empty_topic() {
    let mut set: SubscriptionSet<1, 0> = SubscriptionSet::new();
    assert_eq!(set.add(b"a"), Err(TopicError::TooLong));
    assert_eq!(set.add(b""), Ok(true));
    assert!(set.matches(b"anything"));
}

#[test]
fn zero_capacity_set_is_always_full() {
    let mut set: SubscriptionSet<0, 8> = SubscriptionSet::new();
    assert_eq!(set.add(b"a"), Err(TopicError::Full));
    assert!(!set.matches(b"a"));
}

#[test]
fn reference_count_overflow_is_an_error() {
    let mut set: SubscriptionSet<1, 4> = SubscriptionSet::new();
    for _ in 0..u16::MAX {
        set.add(b"t").unwrap();
    }
    assert_eq!(set.count(b"t"), u16::MAX);
    assert_eq!(set.add(b"t"), Err(TopicError::RefCountOverflow));
    assert_eq!(set.count(b"t"), u16::MAX);
}

#[test]
fn iter_yields_distinct_topics_in_subscription_order() {
    let mut set: SubscriptionSet<4, 8> = SubscriptionSet::new();
    for t in [&b"b"[..], b"a", b"b", b"c", b"a"] {
        set.add(t).unwrap();
    }
    assert_eq!(set.iter().len(), 3);
    assert_eq!(set.iter().collect::<Vec<_>>(), [&b"b"[..], b"a", b"c"]);
    set.remove(b"b").unwrap(); // still there once
    set.remove(b"b").unwrap();
    assert_eq!(set.iter().collect::<Vec<_>>(), [&b"a"[..], b"c"]);
}

#[test]
fn clear_drops_every_count() {
    let mut set: SubscriptionSet<4, 8> = SubscriptionSet::default();
    set.add(b"a").unwrap();
    set.add(b"a").unwrap();
    set.add(b"b").unwrap();
    set.clear();
    assert!(set.is_empty());
    assert_eq!(set.len(), 0);
    assert!(!set.matches(b"a"));
    assert_eq!(set.remove(b"a"), Err(TopicError::NotSubscribed));
}

#[test]
fn errors_display() {
    assert_eq!(TopicError::Full.to_string(), "subscription set is full");
    assert_eq!(
        TopicError::NotSubscribed.to_string(),
        "topic is not subscribed"
    );
    let e: &dyn core::error::Error = &TopicError::TooLong;
    assert!(e.to_string().contains("longer"));
}

mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Clear,
    }

    fn topic() -> impl Strategy<Value = Vec<u8>> {
        // A small alphabet so that duplicates and prefixes are frequent.
        prop::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(0xC3), Just(0xFF)],
            0..5,
        )
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => topic().prop_map(Op::Add),
            3 => topic().prop_map(Op::Remove),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// The set behaves like a list of (topic, count) with the documented limits.
        #[test]
        fn set_agrees_with_a_vec_model(ops in prop::collection::vec(op(), 0..40), probe in topic()) {
            let mut set: SubscriptionSet<3, 3> = SubscriptionSet::new();
            let mut model: Vec<(Vec<u8>, u16)> = Vec::new();
            for op in ops {
                match op {
                    Op::Add(t) => {
                        let expected = if t.len() > 3 {
                            Err(TopicError::TooLong)
                        } else if let Some(e) = model.iter_mut().find(|e| e.0 == t) {
                            e.1 += 1;
                            Ok(false)
                        } else if model.len() == 3 {
                            Err(TopicError::Full)
                        } else {
                            model.push((t.clone(), 1));
                            Ok(true)
                        };
                        prop_assert_eq!(set.add(&t), expected);
                    }
                    Op::Remove(t) => {
                        let expected = match model.iter().position(|e| e.0 == t) {
                            None => Err(TopicError::NotSubscribed),
                            Some(i) if model[i].1 > 1 => {
                                model[i].1 -= 1;
                                Ok(false)
                            }
                            Some(i) => {
                                model.remove(i);
                                Ok(true)
                            }
                        };
                        prop_assert_eq!(set.remove(&t), expected);
                    }
                    Op::Clear => {
                        model.clear();
                        set.clear();
                    }
                }
                prop_assert_eq!(set.len(), model.len());
                let listed: Vec<&[u8]> = set.iter().collect();
                let expected: Vec<&[u8]> = model.iter().map(|e| e.0.as_slice()).collect();
                prop_assert_eq!(listed, expected);
                prop_assert_eq!(
                    set.matches(&probe),
                    model.iter().any(|e| probe.starts_with(&e.0))
                );
            }
        }
    }
}
