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

use super::proof::{Outcome, PathProof, ProbeSchedule, Step};
use crate::error::Result;
use crate::monitor::{EVENT_DISCONNECTED, EVENT_HANDSHAKE_SUCCEEDED, MonitorEvent};

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

/// How re-proof probes are re-sent: up to every 500 ms, never giving up.
const REPROOF: ProbeSchedule = ProbeSchedule {
    max: Duration::from_millis(500),
    give_up: None,
};

/// Where new probe topics come from: `<base><sequence>`, numbered per component.
#[derive(Debug)]
pub(crate) struct ProbeTopics {
    /// `_banyan_probe/<name>/<nonce>/`.
    pub base: String,
    /// The component's name.
    pub name: String,
    /// The last sequence number used.
    pub sequence: u64,
}

impl ProbeTopics {
    /// A proof on a fresh probe topic.
    pub(crate) fn next_proof(&mut self, backoff: ProbeSchedule) -> Result<PathProof> {
        self.sequence += 1;
        PathProof::new(&self.base, self.sequence, &self.name, backoff)
    }
}

/// The connection state and re-proof of one component, as a sans-IO machine: monitor events
/// and arriving probes go in ([`on_event`](Self::on_event), [`on_probe`](Self::on_probe)),
/// the re-proof's steps come out of [`poll`](Self::poll) for the driver to perform.
#[derive(Debug)]
pub(crate) struct Health {
    /// Whether the publisher's / subscriber's connection is up (handshake done).
    up: [bool; 2],
    state: PathState,
    /// The re-proof in flight, or one being cancelled (it still has to unsubscribe).
    proof: Option<PathProof>,
    disconnects: u64,
    reproofs: u64,
}

impl Health {
    /// A proven path (the component proves it once when it connects).
    pub(crate) fn new() -> Self {
        Self {
            up: [false; 2],
            state: PathState::Proven,
            proof: None,
            disconnects: 0,
            reproofs: 0,
        }
    }

    /// A path not proven yet, as after a loss: proven once both sockets connect (a
    /// component connected in the background).
    pub(crate) fn lost() -> Self {
        Self {
            state: PathState::Lost,
            ..Self::new()
        }
    }

    pub(crate) fn state(&self) -> PathState {
        self.state
    }

    /// Times the path was lost.
    pub(crate) fn disconnects(&self) -> u64 {
        self.disconnects
    }

    /// Times the path was proven again after a loss.
    pub(crate) fn reproofs(&self) -> u64 {
        self.reproofs
    }

    /// One event of `side`'s monitor.
    pub(crate) fn on_event(&mut self, side: SocketSide, event: &MonitorEvent, name: &str) {
        let index = side as usize;
        match event.code {
            EVENT_DISCONNECTED => {
                self.up[index] = false;
                if self.state == PathState::Proven {
                    self.disconnects += 1;
                    tracing::warn!(
                        component = name,
                        socket = ?side,
                        endpoint = %event.endpoint,
                        "lost the backplane; reconnecting (subscriptions are kept)"
                    );
                }
                self.state = PathState::Lost;
                if let Some(proof) = self.proof.as_mut() {
                    proof.cancel();
                }
            }
            EVENT_HANDSHAKE_SUCCEEDED => {
                self.up[index] = true;
                tracing::debug!(component = name, socket = ?side, "connected");
            }
            _ => {}
        }
    }

    /// An own probe arrived.
    pub(crate) fn on_probe(&mut self, topic: &[u8]) {
        if let Some(proof) = self.proof.as_mut() {
            proof.on_probe(topic);
        }
    }

    /// A proof of the component's own (connect, subscribe) returned: that proves the path
    /// too.
    pub(crate) fn proven_by_caller(&mut self, name: &str) {
        if self.state != PathState::Proven {
            if let Some(proof) = self.proof.as_mut() {
                proof.cancel();
            }
            self.proven(name);
        }
    }

    fn proven(&mut self, name: &str) {
        self.state = PathState::Proven;
        self.reproofs += 1;
        tracing::info!(
            component = name,
            reproofs = self.reproofs,
            "path through the backplane proven again: subscriptions in force"
        );
    }

    /// The next step of the re-proof at `now`: starts one once both sockets are back. Call
    /// until it returns `Wait` (never `Done`).
    pub(crate) fn poll(&mut self, now: Instant, topics: &mut ProbeTopics) -> Result<Step<'_>> {
        loop {
            match self.proof.as_ref().map(PathProof::outcome) {
                Some(None) => break,
                Some(Some(outcome)) => {
                    self.proof = None;
                    if outcome == Outcome::Returned && self.state == PathState::Proving {
                        self.proven(&topics.name);
                    }
                }
                None if self.state == PathState::Lost && self.up == [true, true] => {
                    tracing::info!(
                        component = %topics.name,
                        "reconnected; proving the path again"
                    );
                    self.proof = Some(topics.next_proof(REPROOF)?);
                    self.state = PathState::Proving;
                }
                None => return Ok(Step::Wait(None)),
            }
        }
        Ok(match self.proof.as_mut() {
            Some(proof) => proof.poll(now),
            None => Step::Wait(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::EVENT_CONNECTED;

    fn event(code: u16) -> MonitorEvent {
        MonitorEvent {
            code,
            value: 5,
            endpoint: "tcp://127.0.0.1:1".into(),
        }
    }

    fn topics() -> ProbeTopics {
        ProbeTopics {
            base: "_banyan_probe/t/01/".into(),
            name: "t".into(),
            sequence: 0,
        }
    }

    /// Steps up to the next wait, as text.
    fn steps(health: &mut Health, now: Instant, topics: &mut ProbeTopics) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match health.poll(now, topics).unwrap() {
                Step::Subscribe(t) => out.push(format!("subscribe {t}")),
                Step::Publish(t, _) => out.push(format!("publish {t}")),
                Step::Unsubscribe(t) => out.push(format!("unsubscribe {t}")),
                Step::Wait(_) | Step::Done(_) => return out,
            }
        }
    }

    fn connected(health: &mut Health) {
        health.on_event(
            SocketSide::Publisher,
            &event(EVENT_HANDSHAKE_SUCCEEDED),
            "t",
        );
        health.on_event(
            SocketSide::Subscriber,
            &event(EVENT_HANDSHAKE_SUCCEEDED),
            "t",
        );
    }

    #[test]
    fn a_restart_is_noticed_reproven_and_counted() {
        let now = Instant::now();
        let mut topics = topics();
        let mut health = Health::new();
        connected(&mut health);
        assert!(steps(&mut health, now, &mut topics).is_empty());
        assert_eq!(health.state(), PathState::Proven);

        health.on_event(SocketSide::Subscriber, &event(EVENT_DISCONNECTED), "t");
        health.on_event(SocketSide::Publisher, &event(EVENT_DISCONNECTED), "t");
        assert_eq!(health.state(), PathState::Lost);
        assert_eq!(health.disconnects(), 1, "one loss, however many sockets");
        assert!(
            steps(&mut health, now, &mut topics).is_empty(),
            "waits for both"
        );

        health.on_event(
            SocketSide::Publisher,
            &event(EVENT_HANDSHAKE_SUCCEEDED),
            "t",
        );
        assert!(steps(&mut health, now, &mut topics).is_empty());
        // Connection events of other kinds change nothing.
        health.on_event(SocketSide::Subscriber, &event(EVENT_CONNECTED), "t");
        assert!(steps(&mut health, now, &mut topics).is_empty());
        health.on_event(
            SocketSide::Subscriber,
            &event(EVENT_HANDSHAKE_SUCCEEDED),
            "t",
        );
        assert_eq!(
            steps(&mut health, now, &mut topics),
            [
                "subscribe _banyan_probe/t/01/1",
                "publish _banyan_probe/t/01/1"
            ]
        );
        assert_eq!(health.state(), PathState::Proving);

        health.on_probe(b"_banyan_probe/t/01/1");
        assert_eq!(
            steps(&mut health, now, &mut topics),
            ["unsubscribe _banyan_probe/t/01/1"]
        );
        assert_eq!(health.state(), PathState::Proven);
        assert_eq!(health.reproofs(), 1);
    }

    #[test]
    fn a_loss_during_the_reproof_cancels_it_and_starts_anew() {
        let now = Instant::now();
        let mut topics = topics();
        let mut health = Health::new();
        connected(&mut health);
        health.on_event(SocketSide::Publisher, &event(EVENT_DISCONNECTED), "t");
        connected(&mut health);
        steps(&mut health, now, &mut topics);
        health.on_event(SocketSide::Publisher, &event(EVENT_DISCONNECTED), "t");
        assert_eq!(health.state(), PathState::Lost);
        assert_eq!(health.disconnects(), 1, "counted once per proven path lost");
        assert_eq!(
            steps(&mut health, now, &mut topics),
            ["unsubscribe _banyan_probe/t/01/1"]
        );
        // The cancelled probe coming back late proves nothing.
        health.on_probe(b"_banyan_probe/t/01/1");
        assert_eq!(health.state(), PathState::Lost);
        connected(&mut health);
        assert_eq!(
            steps(&mut health, now, &mut topics),
            [
                "subscribe _banyan_probe/t/01/2",
                "publish _banyan_probe/t/01/2"
            ]
        );
        assert_eq!(health.reproofs(), 0);
    }

    #[test]
    fn a_callers_proof_ends_the_reproof() {
        let now = Instant::now();
        let mut topics = topics();
        let mut health = Health::new();
        connected(&mut health);
        health.on_event(SocketSide::Subscriber, &event(EVENT_DISCONNECTED), "t");
        connected(&mut health);
        steps(&mut health, now, &mut topics);
        health.proven_by_caller("t");
        assert_eq!(health.state(), PathState::Proven);
        assert_eq!(health.reproofs(), 1);
        assert_eq!(
            steps(&mut health, now, &mut topics),
            ["unsubscribe _banyan_probe/t/01/1"]
        );
        assert_eq!(
            health.reproofs(),
            1,
            "the cancelled re-proof is not counted"
        );
        // Proven already: another caller's proof changes nothing.
        health.proven_by_caller("t");
        assert_eq!(health.reproofs(), 1);
    }
}
