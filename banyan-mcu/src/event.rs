//! [`Event`]s of an echo run and the [`Observer`] that receives them.

use banyan_proto::frame::CorruptKind;

/// Something that happened during an echo run, reported to an [`Observer`] as it happens.
///
/// The same information goes to defmt (with the `defmt` feature) through the crate's logging
/// macros; an observer is for programs that print, count or test.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// A `Hello` was queued (a handshake began): at start, after a timeout while the
    /// subscription was unconfirmed or after two timeouts in a row, or after the gateway
    /// restarted.
    Hello {
        /// The boot nonce announced.
        boot_nonce: u32,
        /// Largest frame body announced to the gateway.
        max_frame: u16,
    },
    /// The gateway's `Hello` arrived.
    PeerHello {
        /// The gateway's protocol version.
        version: u8,
        /// Largest frame body the gateway accepts.
        max_frame: u16,
        /// The gateway's boot nonce.
        boot_nonce: u32,
        /// `true` when the nonce differs from the one seen before (the gateway restarted and
        /// lost this client's subscription; the client starts a new handshake).
        restarted: bool,
    },
    /// A handshake completed (the gateway answered, or the client was told not to wait): the
    /// `Subscribe` and the outstanding message follow.
    Connected,
    /// An echo message was written to the transport.
    Sent {
        /// Its message number.
        number: u32,
        /// 1 for the first transmission, 2 and up for re-sends after a timeout.
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
    /// A `Publish` on the reply topic was not a reply to this run (not a map, no integer under
    /// the number key, or a number this run has not sent yet). Ignored.
    Unexpected,
    /// A frame failed its checks and was dropped (line noise, lost bytes).
    Corrupt {
        /// Which check failed.
        kind: CorruptKind,
    },
    /// A frame larger than the receive buffer was dropped.
    Oversized,
    /// The gateway pinged; a `Pong` was queued.
    Ping {
        /// The ping's sequence number.
        seq: u32,
    },
    /// The deadline passed without progress; what was outstanding is re-sent.
    Timeout {
        /// The message waiting for its reply, `None` while waiting for the gateway's `Hello`.
        number: Option<u32>,
        /// Consecutive timeouts, this one included.
        consecutive: u32,
        /// `true` if the client goes back to the handshake (`Hello`, then `Subscribe` when the
        /// gateway answers) instead of re-sending the message alone: the subscription is not
        /// confirmed by a reply since the last handshake, or two timeouts in a row.
        resubscribe: bool,
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
