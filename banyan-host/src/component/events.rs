//! [`Monitors`]: a component's two socket monitors, each read by one reader
//! ([`Monitors::pump`]) that hands every event at once to whoever needs it ([`Watch`]: the
//! path's [`Health`] and the publisher's [`SendBudget`]). No event is parked for a later
//! consumer.
//!
//! | event (monitor)                     | [`Health`]        | [`SendBudget`]            |
//! |-------------------------------------|-------------------|---------------------------|
//! | `CONNECTED` (publisher)             | —                 | the connection's fd       |
//! | `HANDSHAKE_SUCCEEDED` (either)      | socket up         | —                         |
//! | `DISCONNECTED` (publisher)          | path lost         | connection closed         |
//! | `DISCONNECTED` (subscriber)         | path lost         | — (the driver reconnects) |
//!
//! The monitors are read whenever the component waits (they are polled with its SUB socket)
//! and, for the publisher's, when the send budget has to look at the connection during a
//! publish.

use super::health::{Health, SocketSide};
use super::send_budget::SendBudget;
use crate::error::Result;
use crate::monitor::{
    EVENT_CONNECTED, EVENT_DISCONNECTED, EVENT_HANDSHAKE_SUCCEEDED, MonitorEvent, read_event,
};

/// The consumers of monitor events (see the module docs).
pub(crate) struct Watch {
    /// The path's state and re-proof.
    pub health: Health,
    /// The publishing queue's byte budget, if the limits set one.
    pub budget: Option<SendBudget>,
}

/// The monitor sockets of a component's publisher and subscriber.
pub(crate) struct Monitors {
    sockets: [zmq::Socket; 2],
}

impl Monitors {
    /// Starts monitors on both sockets; call before connecting them.
    pub(crate) fn new(
        ctx: &zmq::Context,
        publisher: &zmq::Socket,
        subscriber: &zmq::Socket,
        nonce: u64,
    ) -> Result<Self> {
        let health = i32::from(EVENT_DISCONNECTED | EVENT_HANDSHAKE_SUCCEEDED);
        let watch = |socket: &zmq::Socket, side: &str, events: i32| -> Result<zmq::Socket> {
            let endpoint = format!("inproc://banyan-monitor-{nonce:016x}-{side}");
            socket.monitor(&endpoint, events)?;
            let monitor = ctx.socket(zmq::PAIR)?;
            monitor.set_linger(0)?;
            monitor.connect(&endpoint)?;
            Ok(monitor)
        };
        // The send budget reads the connection's descriptor from `CONNECTED`.
        let publisher_events = health | i32::from(EVENT_CONNECTED);
        Ok(Self {
            sockets: [
                watch(publisher, "pub", publisher_events)?,
                watch(subscriber, "sub", health)?,
            ],
        })
    }

    /// The two monitor sockets, to poll (publisher's, subscriber's).
    pub(crate) fn sockets(&self) -> [&zmq::Socket; 2] {
        [&self.sockets[0], &self.sockets[1]]
    }

    /// Reads every queued event of `side`'s monitor and hands each to its consumers. Returns
    /// whether one of them was a `DISCONNECTED` (the driver then reconnects the subscriber:
    /// [`reconnect_subscriber`](super::reconnect_subscriber)).
    pub(crate) fn pump(&self, side: SocketSide, watch: &mut Watch, name: &str) -> Result<bool> {
        let mut lost = false;
        while let Some(event) = read_event(&self.sockets[side as usize])? {
            lost |= event.code == EVENT_DISCONNECTED;
            route(&event, side, &mut watch.health, watch.budget.as_mut(), name);
        }
        Ok(lost)
    }
}

/// Hands one event to its consumers (see the table in the module docs).
fn route(
    event: &MonitorEvent,
    side: SocketSide,
    health: &mut Health,
    budget: Option<&mut SendBudget>,
    name: &str,
) {
    if side == SocketSide::Publisher
        && let Some(budget) = budget
    {
        let fd = crate::sys::fd_from_event(event.value);
        match event.code {
            EVENT_CONNECTED => budget.connected(fd),
            EVENT_DISCONNECTED => budget.disconnected(fd),
            _ => {}
        }
    }
    health.on_event(side, event, name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::health::PathState;

    fn event(code: u16, fd: u32) -> MonitorEvent {
        MonitorEvent {
            code,
            value: fd,
            endpoint: "tcp://127.0.0.1:1".into(),
        }
    }

    #[test]
    fn a_publisher_disconnection_reaches_health_and_budget() {
        let mut health = Health::new();
        let mut budget = SendBudget::new(1024);
        for code in [EVENT_CONNECTED, EVENT_HANDSHAKE_SUCCEEDED] {
            let e = event(code, 7);
            route(
                &e,
                SocketSide::Publisher,
                &mut health,
                Some(&mut budget),
                "t",
            );
        }
        assert_eq!(budget.connection(), Some(7));
        let gone = event(EVENT_DISCONNECTED, 7);
        route(
            &gone,
            SocketSide::Publisher,
            &mut health,
            Some(&mut budget),
            "t",
        );
        assert_eq!(budget.connection(), None);
        assert_eq!(health.state(), PathState::Lost);
    }

    #[test]
    fn subscriber_events_never_touch_the_budget() {
        let mut health = Health::new();
        let mut budget = SendBudget::new(1024);
        let up = event(EVENT_CONNECTED, 7);
        route(
            &up,
            SocketSide::Publisher,
            &mut health,
            Some(&mut budget),
            "t",
        );
        let gone = event(EVENT_DISCONNECTED, 7);
        route(
            &gone,
            SocketSide::Subscriber,
            &mut health,
            Some(&mut budget),
            "t",
        );
        assert_eq!(
            budget.connection(),
            Some(7),
            "the publisher's connection is up"
        );
        assert_eq!(health.state(), PathState::Lost);
    }
}
