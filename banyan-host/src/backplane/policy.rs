//! The forwarder's rules as a sans-IO policy: [`ForwardPolicy::judge`] looks at one message
//! (its [`Shape`] and part sizes) and returns a [`Verdict`]; [`PeerLog`] says whether a drop from
//! a peer is logged or only counted. The forwarder loop (`forward.rs`) only moves bytes and
//! applies the verdicts: it counts them in [`ForwardStats`](super::ForwardStats), logs with
//! [`Verdict::warn`] and charges forwarded bytes to the byte budget.
//!
//! The order of the checks is the contract: the parts first (a message of more than two parts
//! is malformed whatever its size), then the size of topic and payload together. The topic is
//! not checked for UTF-8: forwarding is ZeroMQ's byte-prefix matching, and a component drops
//! such a message itself ([`Shape::receivable`]). A one-part message is forwarded (Python
//! Banyan's forwarder moves it too).
//!
//! Nothing here allocates per message: judging is arithmetic, and [`PeerLog`] allocates only
//! the first time it sees a peer, for at most [`PeerLog::MAX_PEERS`] peers.

use std::collections::HashSet;

use crate::limits::Limits;
use crate::shape::Shape;

/// What the forwarder does with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it on; `len` bytes of topic and payload, what the byte budget is charged.
    Forward {
        /// Topic and payload bytes.
        len: usize,
    },
    /// Drop it: more than two parts, not a Banyan message (counted as malformed).
    Malformed {
        /// How many parts it had.
        parts: u64,
    },
    /// Drop it: topic and payload together exceed the size limit (counted as oversize).
    Oversize {
        /// Topic and payload bytes.
        len: usize,
        /// The limit (`--max-message`).
        limit: usize,
    },
}

impl Verdict {
    /// Logs a dropped message from `peer` (the first one of that peer; see [`PeerLog`]).
    /// Nothing for [`Verdict::Forward`].
    pub(crate) fn warn(self, peer: &str) {
        match self {
            Self::Forward { .. } => {}
            Self::Malformed { parts } => tracing::warn!(
                %peer,
                parts,
                "dropping a message of more than two parts (not Banyan); further ones \
                 from this peer are only counted"
            ),
            Self::Oversize { len, limit } => tracing::warn!(
                %peer,
                len,
                limit,
                "dropping a message whose topic and payload exceed --max-message; further \
                 ones from this peer are only counted"
            ),
        }
    }
}

/// The forwarder's per-message rules (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForwardPolicy {
    max_message: Option<usize>,
}

impl ForwardPolicy {
    /// The rules for `limits` (only [`Limits::max_message`] concerns a single message).
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            max_message: limits.max_message,
        }
    }

    /// The verdict on a message of `shape` whose topic has `topic` bytes and whose payload
    /// `payload` bytes (0 for a one-part message).
    pub(crate) fn judge(&self, shape: Shape, topic: usize, payload: usize) -> Verdict {
        if let Shape::TooManyParts(parts) = shape {
            return Verdict::Malformed { parts };
        }
        let len = topic + payload;
        match self.max_message {
            Some(limit) if len > limit => Verdict::Oversize { len, limit },
            _ => Verdict::Forward { len },
        }
    }
}

/// The peers whose drops (or closures) were logged: each is logged once, later ones are only
/// counted. Bounded: past [`PeerLog::MAX_PEERS`] distinct peers nothing more is logged.
#[derive(Debug, Default)]
pub(crate) struct PeerLog {
    logged: HashSet<String>,
}

impl PeerLog {
    /// The most peers remembered (and logged).
    pub(crate) const MAX_PEERS: usize = 1024;

    /// Whether `peer` is to be logged: true the first time, while fewer than
    /// [`PeerLog::MAX_PEERS`] peers were logged.
    pub(crate) fn first(&mut self, peer: &str) -> bool {
        if self.logged.len() >= Self::MAX_PEERS || self.logged.contains(peer) {
            return false;
        }
        self.logged.insert(peer.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_message: Option<usize>) -> ForwardPolicy {
        ForwardPolicy::new(&Limits {
            max_message,
            ..Limits::default()
        })
    }

    #[test]
    fn topic_payload_within_the_limit_is_forwarded_with_its_length() {
        let policy = policy(Some(100));
        assert_eq!(
            policy.judge(Shape::TopicPayload, 10, 90),
            Verdict::Forward { len: 100 }
        );
        assert_eq!(
            policy.judge(Shape::TopicPayload, 0, 0),
            Verdict::Forward { len: 0 }
        );
    }

    #[test]
    fn a_one_part_message_is_forwarded_and_sized_by_its_topic() {
        let policy = policy(Some(100));
        assert_eq!(
            policy.judge(Shape::TopicOnly, 100, 0),
            Verdict::Forward { len: 100 }
        );
        assert_eq!(
            policy.judge(Shape::TopicOnly, 101, 0),
            Verdict::Oversize {
                len: 101,
                limit: 100
            }
        );
    }

    #[test]
    fn more_than_two_parts_is_malformed_before_any_size_check() {
        let policy = policy(Some(10));
        assert_eq!(
            policy.judge(Shape::TooManyParts(3), 1, 1),
            Verdict::Malformed { parts: 3 }
        );
        // Oversized too: the parts rule comes first.
        assert_eq!(
            policy.judge(Shape::TooManyParts(7), 1000, 1000),
            Verdict::Malformed { parts: 7 }
        );
    }

    #[test]
    fn topic_and_payload_count_together_against_the_limit() {
        let policy = policy(Some(100));
        // Neither alone is over; together they are.
        assert_eq!(
            policy.judge(Shape::TopicPayload, 60, 41),
            Verdict::Oversize {
                len: 101,
                limit: 100
            }
        );
        // An oversized topic or payload alone.
        assert!(matches!(
            policy.judge(Shape::TopicPayload, 101, 0),
            Verdict::Oversize { len: 101, .. }
        ));
        assert!(matches!(
            policy.judge(Shape::TopicPayload, 1, 5000),
            Verdict::Oversize { len: 5001, .. }
        ));
    }

    #[test]
    fn without_a_limit_any_size_is_forwarded() {
        let policy = policy(None);
        assert_eq!(
            policy.judge(Shape::TopicPayload, 1 << 30, 1 << 30),
            Verdict::Forward { len: 1 << 31 }
        );
        assert_eq!(
            policy.judge(Shape::TooManyParts(4), 1, 1),
            Verdict::Malformed { parts: 4 }
        );
    }

    /// The topic's bytes are not the forwarder's business: a non-UTF-8 topic is forwarded (the
    /// policy sees only lengths) while a component drops it.
    #[test]
    fn a_non_utf8_topic_is_forwarded() {
        let topic = b"\xff\xfebad";
        assert_eq!(
            policy(Some(100)).judge(Shape::TopicPayload, topic.len(), 3),
            Verdict::Forward { len: 8 }
        );
        assert!(Shape::TopicPayload.receivable(topic).is_err());
    }

    #[test]
    fn each_peer_is_logged_once() {
        let mut log = PeerLog::default();
        assert!(log.first("10.0.0.1"));
        assert!(!log.first("10.0.0.1"));
        assert!(log.first("10.0.0.2"));
        assert!(!log.first("10.0.0.2"));
        assert!(!log.first("10.0.0.1"));
        assert!(log.first("unknown"));
    }

    #[test]
    fn past_1024_peers_nothing_more_is_logged() {
        assert_eq!(PeerLog::MAX_PEERS, 1024);
        let mut log = PeerLog::default();
        for n in 0..PeerLog::MAX_PEERS {
            assert!(log.first(&format!("peer-{n}")), "peer {n}");
        }
        assert!(!log.first("one-too-many"));
        assert!(!log.first("peer-0"));
        // The bound holds: the new peer was not remembered either.
        assert_eq!(log.logged.len(), PeerLog::MAX_PEERS);
        assert!(!log.first("one-too-many"));
    }
}
