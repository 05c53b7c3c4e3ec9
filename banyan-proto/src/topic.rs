//! Topic matching with ZeroMQ semantics, and a fixed-capacity subscription set.
//!
//! A Banyan message is published on a topic (the first ZeroMQ frame, UTF-8 text in practice
//! but matched as raw bytes). A subscriber receives a message when **one of its subscriptions
//! is a byte prefix of the topic**; the empty subscription matches every topic. There are no
//! wildcards and no hierarchy: `"echo"` matches `"echo"`, `"echo_reply"` and `"echo/1"`, but
//! not `"ech"` or `"Echo"`. Matching works on bytes, so a prefix may end in the middle of a
//! multi-byte UTF-8 character, exactly as in ZeroMQ.
//!
//! [`SubscriptionSet`] keeps the subscriptions of one endpoint (for example a microcontroller
//! behind the serial gateway) without allocation. Like a ZeroMQ `SUB` socket it counts
//! duplicates: a topic subscribed twice stays subscribed until it has been unsubscribed
//! twice. A set with no subscriptions matches nothing.
//!
//! ```
//! use banyan_proto::topic::{matches, SubscriptionSet, TopicError};
//!
//! assert!(matches(b"echo", b"echo_reply"));
//! assert!(matches(b"", b"anything"));
//! assert!(!matches(b"echo", b"ech"));
//!
//! let mut subs: SubscriptionSet<4, 16> = SubscriptionSet::new();
//! assert_eq!(subs.add(b"echo"), Ok(true)); // first subscription of "echo"
//! assert_eq!(subs.add(b"echo"), Ok(false)); // a duplicate only counts
//! assert!(subs.matches(b"echo"));
//! assert_eq!(subs.remove(b"echo"), Ok(false)); // still subscribed once
//! assert_eq!(subs.remove(b"echo"), Ok(true)); // now gone
//! assert!(!subs.matches(b"echo"));
//! assert_eq!(subs.remove(b"echo"), Err(TopicError::NotSubscribed));
//! ```

use core::fmt;

use heapless::Vec;

/// Returns `true` when `subscription` matches `topic` under ZeroMQ rules: the subscription is a
/// byte prefix of the topic. The empty subscription matches every topic, including the empty
/// one.
#[inline]
pub fn matches(subscription: &[u8], topic: &[u8]) -> bool {
    topic.starts_with(subscription)
}

/// Why a [`SubscriptionSet`] operation failed. Nothing is changed when an error is returned.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TopicError {
    /// The set already holds its maximum number of distinct topics.
    Full,
    /// The topic is longer than the set's per-topic limit `L`.
    TooLong,
    /// [`SubscriptionSet::remove`] was asked for a topic that is not subscribed.
    NotSubscribed,
    /// The topic has been subscribed `u16::MAX` times without being unsubscribed.
    RefCountOverflow,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopicError::Full => "subscription set is full",
            TopicError::TooLong => "topic is longer than the subscription set allows",
            TopicError::NotSubscribed => "topic is not subscribed",
            TopicError::RefCountOverflow => "topic subscribed too many times",
        })
    }
}

impl core::error::Error for TopicError {}

/// One distinct subscription and how many times it was subscribed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Entry<const L: usize> {
    topic: Vec<u8, L>,
    refs: u16,
}

/// A fixed-capacity set of subscriptions: at most `N` distinct topics of at most `L` bytes.
///
/// Duplicates are reference-counted as in ZeroMQ. All operations are `O(N · L)` at worst and
/// never allocate or panic. Iteration yields each distinct topic once, in the order of their
/// first subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubscriptionSet<const N: usize, const L: usize> {
    entries: Vec<Entry<L>, N>,
}

impl<const N: usize, const L: usize> Default for SubscriptionSet<N, L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const L: usize> SubscriptionSet<N, L> {
    /// Maximum number of distinct topics (`N`).
    pub const CAPACITY: usize = N;
    /// Maximum length of one topic in bytes (`L`).
    pub const MAX_TOPIC_LEN: usize = L;

    /// Creates an empty set (which matches nothing).
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    fn position(&self, topic: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.topic.as_slice() == topic)
    }

    /// Subscribes to `topic` (a prefix; `b""` subscribes to everything).
    ///
    /// Returns `Ok(true)` when the topic was not subscribed before (the caller may need to
    /// forward the subscription upstream) and `Ok(false)` when only its count went up.
    ///
    /// # Errors
    /// [`TopicError::TooLong`] if `topic.len() > L`, [`TopicError::Full`] if the topic is new
    /// and `N` topics are already held, [`TopicError::RefCountOverflow`] after `u16::MAX`
    /// subscriptions of the same topic.
    pub fn add(&mut self, topic: &[u8]) -> Result<bool, TopicError> {
        if topic.len() > L {
            return Err(TopicError::TooLong);
        }
        if let Some(i) = self.position(topic) {
            let entry = &mut self.entries[i];
            entry.refs = entry
                .refs
                .checked_add(1)
                .ok_or(TopicError::RefCountOverflow)?;
            return Ok(false);
        }
        let topic = Vec::from_slice(topic).map_err(|_| TopicError::TooLong)?;
        self.entries
            .push(Entry { topic, refs: 1 })
            .map_err(|_| TopicError::Full)?;
        Ok(true)
    }

    /// Unsubscribes from `topic` once.
    ///
    /// Returns `Ok(true)` when that was the last subscription of the topic (it is now gone and
    /// the caller may need to forward the unsubscription upstream), `Ok(false)` when the topic
    /// is still subscribed because it had been subscribed more than once.
    ///
    /// # Errors
    /// [`TopicError::NotSubscribed`] if the exact topic is not in the set (a longer or shorter
    /// topic that it would match does not count).
    pub fn remove(&mut self, topic: &[u8]) -> Result<bool, TopicError> {
        let i = self.position(topic).ok_or(TopicError::NotSubscribed)?;
        let entry = &mut self.entries[i];
        if entry.refs > 1 {
            entry.refs -= 1;
            Ok(false)
        } else {
            // `remove`, not `swap_remove`: keeps iteration in subscription order.
            self.entries.remove(i);
            Ok(true)
        }
    }

    /// Returns `true` when some subscription in the set is a byte prefix of `topic`.
    pub fn matches(&self, topic: &[u8]) -> bool {
        self.entries.iter().any(|e| matches(&e.topic, topic))
    }

    /// Returns `true` when exactly `topic` is subscribed (not merely matched by a prefix).
    pub fn contains(&self, topic: &[u8]) -> bool {
        self.position(topic).is_some()
    }

    /// How many times exactly `topic` is subscribed (0 when it is not).
    pub fn count(&self, topic: &[u8]) -> u16 {
        self.position(topic).map_or(0, |i| self.entries[i].refs)
    }

    /// Removes every subscription, whatever its count.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of distinct subscribed topics (duplicates count once).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns `true` when nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns `true` when no new distinct topic can be added.
    pub fn is_full(&self) -> bool {
        self.entries.is_full()
    }

    /// Iterates over the distinct subscribed topics, in order of first subscription.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.entries.iter().map(|e| e.topic.as_slice())
    }
}
