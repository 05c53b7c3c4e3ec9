//! Self-healing: noticing a backplane restart and proving the path again.
//!
//! # What happens when the backplane restarts
//! libzmq reconnects both sockets of a component by itself (every 100 ms) and its SUB socket
//! sends every subscription again on the new connection. What libzmq does not say is *when*
//! the path works again, so a component here:
//!
//! 1. watches both sockets with ZeroMQ socket monitors (`zmq_socket_monitor`, events
//!    `DISCONNECTED` and `HANDSHAKE_SUCCEEDED`), read whenever the component waits anyway
//!    (the monitors are polled with the SUB socket: no thread, no timer, no traffic while
//!    all is well);
//! 2. on a disconnection, marks the path [`PathState::Lost`] and counts it
//!    ([`ComponentStats::disconnects`](super::ComponentStats::disconnects));
//! 3. once both sockets completed a new handshake, subscribes to a fresh probe topic and
//!    publishes probes on it ([`PathState::Proving`], back-off 1 ms … 500 ms, no give-up)
//!    while going on receiving as usual; the probe subscription travels after the re-sent
//!    subscriptions on the same connection, so
//! 4. when a probe comes back, every subscription is in force at the new backplane and
//!    publishing reaches it: [`PathState::Proven`] again, counted in
//!    [`ComponentStats::reproofs`](super::ComponentStats::reproofs).
//!
//! # What is kept, what is not
//! - Subscriptions: all kept (libzmq re-sends them; the re-proof shows they are in force).
//! - Messages published while the backplane is down: ZeroMQ keeps them in the PUB socket's
//!   queue (up to the high-water mark and the byte budget, [`super::send_budget`]) and sends
//!   them when the connection is back, but the new backplane forwards a message only to subscribers whose connections are back too; messages
//!   in flight inside the dying backplane are lost. Pub/sub never promised delivery: where a
//!   message must arrive, re-send it until answered, as the echo client does
//!   ([`crate::echo::run_client`] also re-sends at once when a re-proof completes).
//! - Messages for this component published while its path is down: lost (the backplane had
//!   nobody to send them to).
//!
//! Probes during a re-proof are ordinary Banyan messages on `_banyan_probe/...`: a monitor
//! subscribed to everything prints a few of them after each restart.

use std::time::{Duration, Instant};

use banyan_proto::payload;

use super::{ComponentStats, PROBE_ABOUT, Probe};
use crate::error::Result;
use crate::monitor::{
    EVENT_CONNECTED, EVENT_DISCONNECTED, EVENT_HANDSHAKE_SUCCEEDED, MonitorEvent, read_event,
};

/// Where a component's path through the backplane stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathState {
    /// Proven by a probe: subscriptions are in force, publishing reaches the backplane.
    Proven,
    /// A socket lost its connection; libzmq is reconnecting.
    Lost,
    /// Both sockets reconnected; probes are out, none came back yet.
    Proving,
}

/// Which of a component's sockets a monitor watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketSide {
    Publisher,
    Subscriber,
}

/// Longest wait between two re-proof probes.
const MAX_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// A re-proof in flight.
#[derive(Debug)]
struct Reproof {
    topic: String,
    payload: Vec<u8>,
    next_send: Instant,
    interval: Duration,
}

#[derive(Debug)]
enum State {
    Proven,
    Lost,
    Proving(Reproof),
}

/// Connection monitors and the re-proof state of one component.
pub(crate) struct Health {
    monitors: [zmq::Socket; 2],
    /// Whether the publisher's / subscriber's connection is up (handshake done).
    up: [bool; 2],
    state: State,
    /// Where the subscriber connects: reconnected here after every loss (see
    /// [`Health::handle`]).
    subscriber_endpoint: String,
}

impl Health {
    /// Starts monitors on both sockets; call before connecting them.
    pub(crate) fn new(
        ctx: &zmq::Context,
        publisher: &zmq::Socket,
        subscriber: &zmq::Socket,
        subscriber_endpoint: String,
        nonce: u64,
    ) -> Result<Self> {
        let events = i32::from(EVENT_DISCONNECTED | EVENT_HANDSHAKE_SUCCEEDED);
        // The publisher's connections also for its byte budget (`send_budget`), which reads
        // the connection's descriptor from `CONNECTED`.
        let watch = |socket: &zmq::Socket, side: &str| -> Result<zmq::Socket> {
            let events = if side == "pub" {
                events | i32::from(EVENT_CONNECTED)
            } else {
                events
            };
            let endpoint = format!("inproc://banyan-monitor-{nonce:016x}-{side}");
            socket.monitor(&endpoint, events)?;
            let monitor = ctx.socket(zmq::PAIR)?;
            monitor.set_linger(0)?;
            monitor.connect(&endpoint)?;
            Ok(monitor)
        };
        Ok(Self {
            monitors: [watch(publisher, "pub")?, watch(subscriber, "sub")?],
            up: [false; 2],
            state: State::Proven,
            subscriber_endpoint,
        })
    }

    pub(crate) fn state(&self) -> PathState {
        match self.state {
            State::Proven => PathState::Proven,
            State::Lost => PathState::Lost,
            State::Proving(_) => PathState::Proving,
        }
    }

    /// The two monitor sockets, to poll (publisher's, subscriber's).
    pub(crate) fn monitors(&self) -> [&zmq::Socket; 2] {
        [&self.monitors[0], &self.monitors[1]]
    }

    /// Reads and handles the queued events of one monitor.
    pub(crate) fn drain_events(
        &mut self,
        side: SocketSide,
        subscriber: &zmq::Socket,
        stats: &mut ComponentStats,
        name: &str,
    ) -> Result<()> {
        while let Some(event) = read_event(&self.monitors[side as usize])? {
            self.handle(side, &event, subscriber, stats, name)?;
        }
        Ok(())
    }

    /// Handles one event of `side`'s monitor (read by [`read_event`]).
    pub(crate) fn handle(
        &mut self,
        side: SocketSide,
        event: &MonitorEvent,
        subscriber: &zmq::Socket,
        stats: &mut ComponentStats,
        name: &str,
    ) -> Result<()> {
        let index = side as usize;
        match event.code {
            EVENT_DISCONNECTED => {
                self.up[index] = false;
                if matches!(self.state, State::Proven) {
                    stats.disconnects += 1;
                    tracing::warn!(
                        component = name,
                        socket = ?side,
                        endpoint = %event.endpoint,
                        "lost the backplane; reconnecting (subscriptions are kept)"
                    );
                }
                self.lose(subscriber)?;
                if side == SocketSide::Subscriber {
                    // The subscriber refuses parts over --max-message itself (ZMQ_MAXMSGSIZE),
                    // and libzmq ends a *connecting* socket's connection that receives one for
                    // good (a protocol error: no reconnect). Connecting again here makes every
                    // loss, that one included, end in a reconnect, which re-sends the
                    // subscriptions; for an ordinary loss it only replaces libzmq's own retry.
                    let _ = subscriber.disconnect(&self.subscriber_endpoint);
                    subscriber.connect(&self.subscriber_endpoint)?;
                }
            }
            EVENT_HANDSHAKE_SUCCEEDED => {
                self.up[index] = true;
                tracing::debug!(component = name, socket = ?side, "connected");
            }
            _ => {}
        }
        Ok(())
    }

    fn lose(&mut self, subscriber: &zmq::Socket) -> Result<()> {
        if let State::Proving(reproof) = std::mem::replace(&mut self.state, State::Lost) {
            subscriber.set_unsubscribe(reproof.topic.as_bytes())?;
        }
        Ok(())
    }

    /// Starts a re-proof once both sockets are back and sends its probe when due. Returns
    /// when the next probe is due (a wake-up for the caller's wait), if one is in flight.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        publisher: &zmq::Socket,
        subscriber: &zmq::Socket,
        probe_seq: &mut u64,
        probe_base: &str,
        name: &str,
    ) -> Result<Option<Instant>> {
        if matches!(self.state, State::Lost) && self.up == [true, true] {
            *probe_seq += 1;
            let topic = format!("{probe_base}{probe_seq}");
            let payload = payload::to_vec(&Probe {
                about: PROBE_ABOUT,
                component: name,
                probe: *probe_seq,
            })?;
            subscriber.set_subscribe(topic.as_bytes())?;
            tracing::info!(component = name, "reconnected; proving the path again");
            self.state = State::Proving(Reproof {
                topic,
                payload,
                next_send: now,
                interval: Duration::from_millis(1),
            });
        }
        let State::Proving(reproof) = &mut self.state else {
            return Ok(None);
        };
        if now >= reproof.next_send {
            publisher.send(reproof.topic.as_bytes(), zmq::SNDMORE)?;
            publisher.send(&reproof.payload[..], 0)?;
            reproof.next_send = now + reproof.interval;
            reproof.interval = (reproof.interval * 2).min(MAX_PROBE_INTERVAL);
        }
        Ok(Some(reproof.next_send))
    }

    /// An own probe (`topic`) arrived: if it is the re-proof's, the path is proven.
    pub(crate) fn probe_seen(
        &mut self,
        topic: &[u8],
        subscriber: &zmq::Socket,
        stats: &mut ComponentStats,
        name: &str,
    ) -> Result<()> {
        if matches!(&self.state, State::Proving(reproof) if reproof.topic.as_bytes() == topic) {
            self.proven(subscriber, stats, name)?;
        }
        Ok(())
    }

    /// A blocking proof of the component succeeded: that proves the path too.
    pub(crate) fn proven_by_caller(
        &mut self,
        subscriber: &zmq::Socket,
        stats: &mut ComponentStats,
        name: &str,
    ) -> Result<()> {
        if !matches!(self.state, State::Proven) {
            self.proven(subscriber, stats, name)?;
        }
        Ok(())
    }

    fn proven(
        &mut self,
        subscriber: &zmq::Socket,
        stats: &mut ComponentStats,
        name: &str,
    ) -> Result<()> {
        if let State::Proving(reproof) = std::mem::replace(&mut self.state, State::Proven) {
            subscriber.set_unsubscribe(reproof.topic.as_bytes())?;
        }
        stats.reproofs += 1;
        tracing::info!(
            component = name,
            reproofs = stats.reproofs,
            "path through the backplane proven again: subscriptions in force"
        );
        Ok(())
    }
}
