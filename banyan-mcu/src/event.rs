//! [`Event`]s of an echo run and the [`Observer`] that receives them.

use crate::LinkEvent;

/// Something that happened during an echo run, reported to an [`Observer`] as it happens.
///
/// The same information goes to defmt (with the `defmt` feature) through the crate's logging
/// macros; an observer is for programs that print, count or test.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The [`Client`](crate::Client) reported a link event (up, down, gateway restarted,
    /// subscriptions in force or refused).
    Link(LinkEvent),
    /// The reply subscription is in force: the echo starts, or resumes after the link came
    /// back.
    Connected,
    /// An echo message was written to the transport.
    Sent {
        /// Its message number.
        number: u32,
        /// 1 for the first transmission, 2 and up for re-sends.
        attempt: u32,
    },
    /// The reply to the outstanding message arrived and was counted.
    Received {
        /// Its message number.
        number: u32,
        /// Distinct replies counted so far, this one included.
        count: u32,
    },
    /// A reply that was already counted arrived again (a re-send crossed its reply, or the
    /// link duplicated it). Not counted.
    Duplicate {
        /// Its message number.
        number: u32,
    },
    /// A message on the reply topic was not a reply of this run (not a map, no integer under
    /// the number key, or a number this run has not sent yet). Ignored.
    Unexpected,
    /// The deadline passed without progress.
    Timeout {
        /// The message waiting for its reply (re-sent now), `None` while waiting for the link
        /// and the reply subscription.
        number: Option<u32>,
        /// Consecutive timeouts, this one included.
        consecutive: u32,
    },
    /// The last reply arrived: `count` distinct replies, as the seed prints
    /// `"{first_number} messages sent and received."`.
    Finished {
        /// The configured first message number (the seed's `number_of_messages`).
        first_number: u32,
        /// Distinct replies counted (`first_number + 1`: the numbers down to 0).
        count: u32,
    },
}

/// Receives the [`Event`]s of an echo run.
///
/// `()` ignores them; any `FnMut(Event)` closure is an observer.
pub trait Observer {
    /// Called once per event, in order, from the thread running the client.
    fn on_event(&mut self, event: Event);
}

impl Observer for () {
    fn on_event(&mut self, _event: Event) {}
}

impl<F: FnMut(Event)> Observer for F {
    fn on_event(&mut self, event: Event) {
        self(event);
    }
}
