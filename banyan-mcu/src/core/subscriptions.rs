//! The application's subscriptions: a set of at most `N` topics, each sent until the gateway
//! confirms it, and the prefix match that decides what is delivered.

use banyan_proto::topic;
use heapless::Vec;

use super::{ClientCore, LinkEvent, LinkState, SubState};
use crate::ClientError;

/// What the application wants for a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) enum Want {
    Subscribed,
    /// Unsubscribed by the application; kept until the gateway confirms.
    Leaving,
}

#[derive(Debug, Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) struct Entry<const L: usize> {
    pub(super) topic: Vec<u8, L>,
    pub(super) want: Want,
    /// The gateway's answer matches `want`.
    pub(super) confirmed: bool,
    /// The gateway answered a `Subscribe` with `Unsubscribed`.
    pub(super) refused: bool,
    /// To be written at the next `poll_transmit`.
    pub(super) send: bool,
}

impl<const N: usize, const L: usize, const A: usize, const Q: usize> ClientCore<N, L, A, Q> {
    /// The state of the application's subscription to exactly `topic`, `None` when it is not
    /// subscribed.
    pub fn subscription(&self, topic: &str) -> Option<SubState> {
        let entry = self.find(topic.as_bytes())?;
        match (entry.want, entry.confirmed, entry.refused) {
            (Want::Leaving, _, _) => None,
            (Want::Subscribed, true, _) => Some(SubState::InForce),
            (Want::Subscribed, false, true) => Some(SubState::Refused),
            (Want::Subscribed, false, false) => Some(SubState::Pending),
        }
    }

    /// `true` when the link is up and every subscription is confirmed in force.
    pub fn all_subscribed(&self) -> bool {
        self.is_up()
            && self
                .entries
                .iter()
                .all(|e| e.want == Want::Leaving || e.confirmed)
    }

    /// The application's subscribed topics (not those being unsubscribed).
    pub fn topics(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.entries
            .iter()
            .filter(|e| e.want == Want::Subscribed)
            .map(|e| e.topic.as_slice())
    }

    /// Subscribes to every topic starting with `topic` (ZeroMQ prefix rules; `""` = all). The
    /// `Subscribe` goes out with the next transmission and is re-sent until the gateway
    /// confirms it ([`SubState::InForce`], [`LinkEvent::Subscribed`]). Subscribing a topic
    /// already subscribed does nothing: subscriptions are a set, not counted.
    ///
    /// # Errors
    /// [`ClientError::TopicTooLong`] (more than `L` bytes), [`ClientError::TooManyTopics`]
    /// (`N` topics held; an unsubscribed topic frees its slot once the gateway confirmed).
    pub fn subscribe(&mut self, topic: &str) -> Result<(), ClientError> {
        let bytes = topic.as_bytes();
        if bytes.len() > L {
            return Err(ClientError::TopicTooLong);
        }
        let up = self.is_up();
        if let Some(entry) = self.find_mut(bytes) {
            if entry.want == Want::Leaving {
                entry.want = Want::Subscribed;
                entry.confirmed = false;
                entry.refused = false;
                entry.send = up;
                self.all_confirmed = false;
            }
            return Ok(());
        }
        let topic = Vec::from_slice(bytes).map_err(|_| ClientError::TopicTooLong)?;
        self.entries
            .push(Entry {
                topic,
                want: Want::Subscribed,
                confirmed: false,
                refused: false,
                send: up,
            })
            .map_err(|_| ClientError::TooManyTopics)?;
        self.all_confirmed = false;
        Ok(())
    }

    /// Unsubscribes from exactly `topic`. Messages on it are no longer delivered from now on;
    /// the `Unsubscribe` is re-sent until the gateway confirms it, and the slot is free then.
    ///
    /// # Errors
    /// [`ClientError::NotSubscribed`] when `topic` is not subscribed.
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError> {
        let up = self.is_up();
        let index = self
            .entries
            .iter()
            .position(|e| e.topic.as_slice() == topic.as_bytes() && e.want == Want::Subscribed)
            .ok_or(ClientError::NotSubscribed)?;
        if up {
            if let Some(entry) = self.entries.get_mut(index) {
                entry.want = Want::Leaving;
                entry.confirmed = false;
                entry.refused = false;
                entry.send = true;
            }
        } else {
            // Not connected: the next handshake resets the gateway's side anyway.
            self.remove_entry(index);
        }
        Ok(())
    }

    /// Whether a message on `topic` is for the application: one of its subscriptions is a
    /// byte prefix of it.
    pub fn accepts(&self, topic: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.want == Want::Subscribed && topic::matches(&e.topic, topic))
    }

    pub(super) fn on_answer(&mut self, topic: &[u8], state: Want) {
        if self.state != LinkState::Up {
            return;
        }
        let Some(index) = self
            .entries
            .iter()
            .position(|e| e.topic.as_slice() == topic)
        else {
            debug!("answer for a topic we do not hold");
            return;
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        let mut refused = false;
        match (entry.want, state) {
            (Want::Subscribed, Want::Subscribed) => {
                entry.confirmed = true;
                entry.refused = false;
            }
            (Want::Subscribed, Want::Leaving) => {
                if !entry.confirmed && !entry.refused {
                    warn!("the gateway refused a subscription");
                    entry.refused = true;
                    refused = true;
                }
                // A confirmed entry got a stale answer to an earlier unsubscribe: ask again.
                if entry.confirmed {
                    entry.confirmed = false;
                    entry.send = true;
                }
            }
            (Want::Leaving, Want::Leaving) => {
                self.remove_entry(index);
            }
            // A stale answer to the subscription before the unsubscribe: keep asking.
            (Want::Leaving, Want::Subscribed) => {}
        }
        if refused {
            self.push_event(LinkEvent::Refused);
        }
        self.check_all_confirmed();
    }

    /// Removes entry `index`, keeping the order of the others ([`remove_in_order`]).
    pub(super) fn remove_entry(&mut self, index: usize) {
        remove_in_order(&mut self.entries, index);
    }

    pub(super) fn check_all_confirmed(&mut self) {
        let all = self.all_subscribed();
        if all && !self.all_confirmed {
            info!("subscriptions in force");
            self.push_event(LinkEvent::Subscribed);
        }
        self.all_confirmed = all;
    }

    pub(super) fn find(&self, topic: &[u8]) -> Option<&Entry<L>> {
        self.entries.iter().find(|e| e.topic.as_slice() == topic)
    }

    pub(super) fn find_mut(&mut self, topic: &[u8]) -> Option<&mut Entry<L>> {
        self.entries
            .iter_mut()
            .find(|e| e.topic.as_slice() == topic)
    }
}

/// Removes entry `index`, keeping the order of the others (subscriptions are re-sent in the
/// order they were made). Adjacent swaps instead of `Vec::remove`: `remove` shifts with
/// `ptr::copy`, which pulls compiler-builtins' 1.3 KB `memmove` into the firmware (measured on
/// the Pico's `echo_uart`), for a set of a few entries.
fn remove_in_order<T, const N: usize>(entries: &mut Vec<T, N>, index: usize) {
    if index < entries.len() {
        for i in index..entries.len() - 1 {
            entries.swap(i, i + 1);
        }
        entries.pop();
    }
}

#[cfg(test)]
mod remove_tests {
    use super::remove_in_order;
    use heapless::Vec;

    #[test]
    fn remove_in_order_keeps_the_others_in_order() {
        let mut v: Vec<u8, 4> = Vec::new();
        for x in [1, 2, 3, 4] {
            assert!(v.push(x).is_ok());
        }
        remove_in_order(&mut v, 1);
        assert_eq!(v.as_slice(), &[1, 3, 4]);
        remove_in_order(&mut v, 2);
        assert_eq!(v.as_slice(), &[1, 3]);
        remove_in_order(&mut v, 5); // out of range: nothing happens
        assert_eq!(v.as_slice(), &[1, 3]);
        remove_in_order(&mut v, 0);
        remove_in_order(&mut v, 0);
        assert!(v.is_empty());
    }
}
