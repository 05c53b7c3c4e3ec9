//! One component on several backplanes: the counterpart of Python Banyan's
//! `BanyanBaseMulti`.
//!
//! ```text
//!   backplane "robot" ──┐                      ┌── publish("robot", ...)
//!   backplane "lab"   ──┼─▶ MultiComponent ────┼── publish("lab", ...)
//!   backplane "cloud" ──┘   one receive loop   └── broadcast(...)  (to every backplane)
//! ```
//!
//! Each backplane gets its own [`Component`], so each connection is proven exactly as a
//! single component's is (see [`crate::component`]): when [`MultiComponent::connect`]
//! returns, every publish and subscribe path and every configured subscription is in place.
//! Receiving polls all subscriber sockets at once and takes queued messages round-robin, so
//! a busy backplane cannot starve a quiet one; each message says which backplane it came
//! from.
//!
//! Python's variant reads the backplanes from a CSV file and sleeps in a polling loop; here
//! the caller passes `(name, ComponentConfig)` pairs (read them from any file you like) and
//! receiving blocks until a message, a deadline or a [`ShutdownHandle`].

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::component::{Component, ComponentConfig, Message, ShutdownHandle, stop_socket};
use crate::error::{Error, Result};

/// A message and the name of the backplane it arrived from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The backplane's name.
    pub backplane: String,
    /// The message.
    pub message: Message,
}

/// A component connected to several named backplanes.
pub struct MultiComponent {
    members: Vec<(String, Component)>,
    stop: zmq::Socket,
    stop_handle: ShutdownHandle,
    /// Member to read first next time (round-robin fairness).
    next: usize,
}

impl std::fmt::Debug for MultiComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiComponent")
            .field("backplanes", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl MultiComponent {
    /// Connects to every backplane (each with its connection proof), in order. Names must
    /// be unique ([`Error::DuplicateBackplane`]); any failed connection fails the whole.
    pub fn connect<N: Into<String>>(
        backplanes: impl IntoIterator<Item = (N, ComponentConfig)>,
    ) -> Result<Self> {
        let mut members: Vec<(String, Component)> = Vec::new();
        for (name, config) in backplanes {
            let name = name.into();
            if members.iter().any(|(existing, _)| *existing == name) {
                return Err(Error::DuplicateBackplane { name });
            }
            members.push((name, Component::connect(config)?));
        }
        let ctx = zmq::Context::new();
        let (stop, stop_handle) = stop_socket(&ctx, "multi")?;
        Ok(Self {
            members,
            stop,
            stop_handle,
            next: 0,
        })
    }

    /// The backplanes' names, in connection order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(name, _)| name.as_str())
    }

    /// The component connected to backplane `name`.
    pub fn component(&self, name: &str) -> Result<&Component> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, component)| component)
            .ok_or_else(|| Error::UnknownBackplane { name: name.into() })
    }

    fn component_mut(&mut self, name: &str) -> Result<&mut Component> {
        self.members
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, component)| component)
            .ok_or_else(|| Error::UnknownBackplane { name: name.into() })
    }

    /// Subscribes to `topic` on backplane `name` (and waits until it is in force, as
    /// [`Component::subscribe`]).
    pub fn subscribe(&mut self, name: &str, topic: &str) -> Result<()> {
        self.component_mut(name)?.subscribe(topic)
    }

    /// Publishes `payload` on `topic` to backplane `name`.
    pub fn publish<T: Serialize + ?Sized>(
        &self,
        name: &str,
        topic: &str,
        payload: &T,
    ) -> Result<()> {
        self.component(name)?.publish(topic, payload)
    }

    /// Publishes `payload` on `topic` to every backplane (Python's `"BROADCAST"`).
    pub fn broadcast<T: Serialize + ?Sized>(&self, topic: &str, payload: &T) -> Result<()> {
        let bytes = banyan_proto::payload::to_vec(payload)?;
        for (_, component) in &self.members {
            component.publish_raw(topic.as_bytes(), &bytes)?;
        }
        Ok(())
    }

    /// A handle that makes a blocking receive return [`Error::Shutdown`] (and
    /// [`Self::receive_loop`] return `Ok`).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop_handle.clone()
    }

    /// Blocks until a message arrives from any backplane.
    pub fn recv(&mut self) -> Result<Received> {
        self.recv_deadline(None)?.ok_or(Error::Shutdown)
    }

    /// Waits at most `timeout` for a message from any backplane; `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Received>> {
        self.recv_deadline(Some(Instant::now() + timeout))
    }

    /// Hands every message (from any backplane) to `handler` until it breaks, a shutdown
    /// handle fires (both `Ok`) or an error occurs.
    pub fn receive_loop<F>(&mut self, mut handler: F) -> Result<()>
    where
        F: FnMut(&mut Self, Received) -> Result<ControlFlow<()>>,
    {
        loop {
            let received = match self.recv() {
                Ok(received) => received,
                Err(Error::Shutdown) => return Ok(()),
                Err(error) => return Err(error),
            };
            if handler(self, received)?.is_break() {
                return Ok(());
            }
        }
    }

    /// The blocking and async components' wait, for several at once: each member's
    /// non-blocking [`turn`](Component::turn_message) (round robin, so no backplane starves
    /// the others), then one `zmq_poll` of every member's sockets and the stop socket until
    /// the earliest time a member's probes need a turn or the deadline, then each member's
    /// [`on_ready`](Component::on_ready) for what it found. No fixed tick: an idle
    /// multi-component wakes only for its members' probes.
    fn recv_deadline(&mut self, deadline: Option<Instant>) -> Result<Option<Received>> {
        let count = self.members.len();
        loop {
            let mut wake = deadline;
            for k in 0..count {
                let index = (self.next + k) % count;
                let (name, component) = &mut self.members[index];
                match component.turn_message()? {
                    Ok(message) => {
                        self.next = (index + 1) % count;
                        return Ok(Some(Received {
                            backplane: name.clone(),
                            message,
                        }));
                    }
                    Err(at) => wake = earliest(wake, at),
                }
            }
            let now = Instant::now();
            if deadline.is_some_and(|deadline| now >= deadline) {
                return Ok(None);
            }
            let timeout = wake.map_or(-1, |wake| {
                i64::try_from(wake.saturating_duration_since(now).as_millis()).unwrap_or(i64::MAX)
            });
            let (stop_ready, readies) = {
                let per_member: Vec<Vec<zmq::PollItem<'_>>> = self
                    .members
                    .iter()
                    .map(|(_, component)| component.wake_items())
                    .collect();
                let sizes: Vec<usize> = per_member.iter().map(Vec::len).collect();
                let mut items: Vec<zmq::PollItem<'_>> = per_member.into_iter().flatten().collect();
                items.push(self.stop.as_poll_item(zmq::POLLIN));
                match zmq::poll(&mut items, timeout) {
                    Ok(_) | Err(zmq::Error::EINTR) => {}
                    Err(error) => return Err(error.into()),
                }
                let readable: Vec<bool> = items.iter().map(zmq::PollItem::is_readable).collect();
                let mut start = 0;
                let readies: Vec<_> = self
                    .members
                    .iter()
                    .zip(&sizes)
                    .map(|((_, component), &size)| {
                        let ready = component.ready_from_items(&readable[start..start + size]);
                        start += size;
                        ready
                    })
                    .collect();
                (readable.last().copied().unwrap_or(false), readies)
            };
            if stop_ready {
                self.stop.recv_bytes(0)?;
                return Err(Error::Shutdown);
            }
            for ((_, component), ready) in self.members.iter_mut().zip(&readies) {
                // Connection events and the handles' pipe; the subscriber is read by the
                // next turn. (No stop, descriptor or deadline here: nothing else comes back.)
                component.on_ready(ready, None)?;
            }
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backplane, BackplaneConfig};
    use banyan_proto::payload::Value;

    fn config(name: &str, backplane: &Backplane) -> ComponentConfig {
        ComponentConfig::new(name)
            .backplane(
                "127.0.0.1",
                backplane.publisher_port(),
                backplane.subscriber_port(),
            )
            .connect_timeout(Duration::from_secs(30))
    }

    fn wait_for(
        component: &mut Component,
        topic: &str,
        expected: &Value,
        repeat: impl Fn(),
    ) -> bool {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            repeat();
            if let Ok(Some(message)) = component.recv_timeout(Duration::from_millis(100))
                && message.topic == topic
                && message.value().ok().as_ref() == Some(expected)
            {
                return true;
            }
        }
        false
    }

    #[test]
    fn receives_from_both_and_publishes_to_each() {
        let a = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let b = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let mut multi = MultiComponent::connect([
            ("a", config("multi", &a).subscribe("news")),
            ("b", config("multi", &b).subscribe("news")),
        ])
        .unwrap();
        assert_eq!(multi.names().collect::<Vec<_>>(), ["a", "b"]);
        let mut on_a = config("on-a", &a).subscribe("out").connect().unwrap();
        let mut on_b = config("on-b", &b).subscribe("out").connect().unwrap();

        // Receive from both, each message labelled with its backplane.
        let from_a = Value::map([("from", Value::Str("a".into()))]);
        let from_b = Value::map([("from", Value::Str("b".into()))]);
        on_a.publish("news", &from_a).unwrap();
        on_b.publish("news", &from_b).unwrap();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let received = multi
                .recv_timeout(Duration::from_secs(30))
                .unwrap()
                .expect("a message from each backplane");
            let value = received.message.value().unwrap();
            seen.push((received.backplane, value));
        }
        seen.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(seen, [("a".into(), from_a), ("b".into(), from_b)]);

        // Publish to one by name: only that backplane gets it.
        let only_b = Value::map([("to", Value::Str("b".into()))]);
        multi.publish("b", "out", &only_b).unwrap();
        assert!(wait_for(&mut on_b, "out", &only_b, || {}));
        assert!(
            on_a.recv_timeout(Duration::from_millis(300))
                .unwrap()
                .is_none()
        );

        // Broadcast reaches each.
        let all = Value::map([("to", Value::Str("all".into()))]);
        multi.broadcast("out", &all).unwrap();
        assert!(wait_for(&mut on_a, "out", &all, || {}));
        assert!(wait_for(&mut on_b, "out", &all, || {}));

        // Unknown names are typed errors; a shutdown handle ends the loop.
        assert!(matches!(
            multi.publish("c", "out", &all),
            Err(Error::UnknownBackplane { name }) if name == "c"
        ));
        let handle = multi.shutdown_handle();
        handle.shutdown().unwrap();
        multi
            .receive_loop(|_, _| Ok(ControlFlow::Continue(())))
            .unwrap();
    }

    #[test]
    fn duplicate_names_are_refused() {
        let a = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
        let error =
            MultiComponent::connect([("a", config("m", &a)), ("a", config("m", &a))]).unwrap_err();
        assert!(matches!(error, Error::DuplicateBackplane { name } if name == "a"));
    }
}
