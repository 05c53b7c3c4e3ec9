//! What the core reports: the link's state and events, a subscription's state, counters.

/// State of the link to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkState {
    /// Not started: the driver has not polled yet.
    Idle,
    /// `Hello` sent, waiting for the gateway's answer (at start, after the link went down or
    /// the gateway restarted).
    Connecting,
    /// The gateway answered; pings are answered.
    Up,
}

/// Something the application should know about the link, from
/// [`ClientCore::poll_event`](super::ClientCore::poll_event) (the drivers hand them out as [`Incoming::Link`](crate::Incoming)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkEvent {
    /// The gateway answered the handshake; subscriptions are being (re-)established.
    Up {
        /// The gateway's boot nonce.
        gateway_nonce: u32,
    },
    /// The gateway restarted (its `Hello` carries a new boot nonce) and lost every
    /// subscription; the client re-establishes them by itself. `Up` follows.
    GatewayRestarted {
        /// The new boot nonce.
        gateway_nonce: u32,
    },
    /// No `Pong` for [`ClientConfig::link_timeout_ms`](super::ClientConfig::link_timeout_ms): the client reconnects by itself.
    Down,
    /// Every current subscription is confirmed in force by the gateway (after a subscribe,
    /// or after the link came back).
    Subscribed,
    /// The gateway refused a subscription (its table is full, or the topic too long); see
    /// [`ClientCore::subscription`](super::ClientCore::subscription). The client asks again from time to time.
    Refused,
}

/// State of one subscription of the application, from [`ClientCore::subscription`](super::ClientCore::subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SubState {
    /// Sent (or waiting for the link) and not yet confirmed.
    Pending,
    /// Confirmed: in force on the backplane.
    InForce,
    /// The gateway refused it.
    Refused,
}

/// Counters of a client, from [`ClientCore::stats`](super::ClientCore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientStats {
    /// Valid frames received.
    pub frames_in: u32,
    /// Frames written (handed to the driver to write).
    pub frames_out: u32,
    /// Messages published.
    pub published: u32,
    /// Publishes dropped because the link was not up.
    pub dropped_offline: u32,
    /// Messages handed to the application.
    pub delivered: u32,
    /// `Publish` frames dropped because no current subscription matches their topic.
    pub unmatched: u32,
    /// Frames dropped as corrupt (COBS, CRC or body errors: line noise, lost bytes).
    pub corrupt: u32,
    /// Frames dropped because they exceed the receive buffer.
    pub oversized: u32,
    /// `Subscribe`/`Unsubscribe` frames sent again because no answer came in time.
    pub resends: u32,
    /// Handshakes started (`Hello` queued after start, link loss or gateway restart).
    pub handshakes: u32,
    /// Times the link went down.
    pub link_downs: u32,
    /// Gateway restarts seen.
    pub gateway_restarts: u32,
    /// Publishes sent with an alias (in `PublishAlias` or batch frames).
    pub aliased: u32,
    /// `PublishBatch` frames sent.
    pub batches: u32,
    /// Deliveries dropped because the gateway used an alias we do not know (answered).
    pub alias_unknown: u32,
    /// Link events dropped because the application did not collect them.
    pub events_dropped: u32,
}
