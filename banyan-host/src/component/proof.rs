//! [`PathProof`]: "publish a probe, wait for it to come back" as a sans-IO state machine.
//!
//! Every proof a component makes is one of these — the blocking proof of
//! [`Component::connect`](super::Component::connect) and
//! [`Component::subscribe`](super::Component::subscribe), the serial gateway's non-blocking
//! subscription proofs, and the re-proof after a backplane restart ([`super::health`]). The
//! machine never touches a socket or a clock: the driver (`super::wait`) feeds it the time and
//! the topics of arriving own probes, and performs the steps it asks for:
//!
//! ```text
//!            ┌── poll(now) ─▶ Step::Subscribe(topic)   ─▶ SUB filter
//!            │               Step::Publish(topic, payload) ─▶ PUB socket
//!  PathProof ┤               Step::Unsubscribe(topic) ─▶ SUB filter
//!            │               Step::Wait(until)        ─▶ the driver's poll timeout
//!            │               Step::Done(Outcome)      ─▶ the proof's owner
//!            ├◀─ on_probe(topic)   (an own probe arrived)
//!            └◀─ cancel()          (the owner gives up: path lost, shutdown)
//! ```
//!
//! The subscription to the probe topic travels on the SUB connection after every subscription
//! made before it, so the probe's return proves those are in force at the backplane, and that
//! publishing reaches it. Probes are re-sent with a doubling back-off (1 ms up to
//! [`ProbeSchedule::max`]); a proof with a give-up time ends [`Outcome::GaveUp`] when it passes.
//! Every proof unsubscribes its probe topic before it reports [`Step::Done`].

use std::time::{Duration, Instant};

use banyan_proto::payload;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Reserved topic prefix of connection probes. Topics under it are
/// `_banyan_probe/<component name>/<nonce>/<sequence>`.
pub const PROBE_TOPIC_PREFIX: &str = "_banyan_probe/";

/// What a probe message says about itself (the `about` field of its payload).
pub const PROBE_ABOUT: &str =
    "Rust Banyan connection probe: proves a component's path through the backplane; ignore";

/// First wait between two probes.
const FIRST_INTERVAL: Duration = Duration::from_millis(1);

/// Payload of a probe message: an ordinary Banyan map, so that a Python monitor subscribed to
/// everything prints it instead of crashing.
#[derive(Debug, Serialize, Deserialize)]
struct Probe<'a> {
    about: &'a str,
    component: &'a str,
    probe: u64,
}

/// How a proof re-sends its probe (the interval doubles up to `max`) and when it gives up; not
/// a reconnect back-off (the gateways' is `banyan-gateways`' `Reconnect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProbeSchedule {
    /// Longest wait between two probes.
    pub max: Duration,
    /// Give up after this long; `None`: never (the re-proof after a restart).
    pub give_up: Option<Duration>,
}

/// How a proof ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The probe came back: the path is proven.
    Returned,
    /// No probe came back before the give-up time.
    GaveUp,
    /// The owner cancelled it.
    Cancelled,
}

/// What the driver is to do next (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// Subscribe to the probe topic.
    Subscribe(&'a str),
    /// Publish this probe.
    Publish(&'a str, &'a [u8]),
    /// Drop the probe topic's subscription.
    Unsubscribe(&'a str),
    /// Nothing to do before this time (poll again then, or when a probe arrives).
    Wait(Option<Instant>),
    /// The proof ended (reported once; later polls report it again).
    Done(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not subscribed yet.
    Start,
    /// Subscribed; probes go out.
    Probing,
    /// Ending with this outcome: unsubscribe first.
    Ending(Outcome),
    /// Unsubscribed.
    Done(Outcome),
}

/// One path proof in flight (see the module docs).
#[derive(Debug)]
pub(crate) struct PathProof {
    topic: String,
    payload: Vec<u8>,
    backoff: ProbeSchedule,
    phase: Phase,
    interval: Duration,
    next_send: Option<Instant>,
    give_up_at: Option<Instant>,
}

impl PathProof {
    /// A proof on the fresh probe topic `<base><sequence>` of component `name`.
    pub(crate) fn new(
        base: &str,
        sequence: u64,
        name: &str,
        backoff: ProbeSchedule,
    ) -> Result<Self> {
        let payload = payload::to_vec(&Probe {
            about: PROBE_ABOUT,
            component: name,
            probe: sequence,
        })?;
        Ok(Self {
            topic: format!("{base}{sequence}"),
            payload,
            backoff,
            phase: Phase::Start,
            interval: FIRST_INTERVAL,
            next_send: None,
            give_up_at: None,
        })
    }

    /// The probe topic.
    #[cfg(test)]
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// An own probe with `topic` arrived; `true` if it is this proof's (which then ends
    /// [`Outcome::Returned`]).
    pub(crate) fn on_probe(&mut self, topic: &[u8]) -> bool {
        let ours = topic == self.topic.as_bytes();
        if ours && self.phase == Phase::Probing {
            self.phase = Phase::Ending(Outcome::Returned);
        }
        ours
    }

    /// Ends the proof [`Outcome::Cancelled`] (after unsubscribing, if it subscribed).
    pub(crate) fn cancel(&mut self) {
        self.phase = match self.phase {
            Phase::Start => Phase::Done(Outcome::Cancelled),
            Phase::Probing => Phase::Ending(Outcome::Cancelled),
            ending_or_done => ending_or_done,
        };
    }

    /// How the proof ended, once no step but `Done` is left.
    pub(crate) fn outcome(&self) -> Option<Outcome> {
        match self.phase {
            Phase::Done(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// The next step at time `now`; call until it is `Wait` or `Done`.
    pub(crate) fn poll(&mut self, now: Instant) -> Step<'_> {
        match self.phase {
            Phase::Start => {
                self.phase = Phase::Probing;
                self.next_send = Some(now);
                self.give_up_at = self.backoff.give_up.map(|after| now + after);
                Step::Subscribe(&self.topic)
            }
            Phase::Probing => {
                if self.give_up_at.is_some_and(|at| now >= at) {
                    self.phase = Phase::Done(Outcome::GaveUp);
                    return Step::Unsubscribe(&self.topic);
                }
                match self.next_send {
                    Some(at) if now >= at => {
                        self.next_send = Some(now + self.interval);
                        self.interval = (self.interval * 2).min(self.backoff.max);
                        Step::Publish(&self.topic, &self.payload)
                    }
                    next => Step::Wait(match (next, self.give_up_at) {
                        (Some(next), Some(give_up)) => Some(next.min(give_up)),
                        (next, give_up) => next.or(give_up),
                    }),
                }
            }
            Phase::Ending(outcome) => {
                self.phase = Phase::Done(outcome);
                Step::Unsubscribe(&self.topic)
            }
            Phase::Done(outcome) => Step::Done(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "_banyan_probe/test/0000000000000001/";

    fn proof(give_up: Option<Duration>) -> PathProof {
        let backoff = ProbeSchedule {
            max: Duration::from_millis(100),
            give_up,
        };
        PathProof::new(BASE, 7, "test", backoff).unwrap()
    }

    /// The steps up to the next `Wait` or `Done`, as text.
    fn steps(proof: &mut PathProof, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let step = proof.poll(now);
            let text = match &step {
                Step::Subscribe(topic) => format!("subscribe {topic}"),
                Step::Publish(topic, _) => format!("publish {topic}"),
                Step::Unsubscribe(topic) => format!("unsubscribe {topic}"),
                Step::Wait(None) => "wait forever".to_owned(),
                Step::Wait(Some(at)) => format!("wait {:?}", *at - now),
                Step::Done(outcome) => format!("done {outcome:?}"),
            };
            let last = matches!(step, Step::Wait(_) | Step::Done(_));
            out.push(text);
            if last {
                return out;
            }
        }
    }

    #[test]
    fn subscribes_then_publishes_then_waits() {
        let t0 = Instant::now();
        let mut proof = proof(Some(Duration::from_secs(2)));
        assert_eq!(proof.topic(), format!("{BASE}7"));
        assert_eq!(
            steps(&mut proof, t0),
            [
                format!("subscribe {BASE}7"),
                format!("publish {BASE}7"),
                "wait 1ms".to_owned()
            ]
        );
        // Nothing new before the wake-up.
        assert_eq!(steps(&mut proof, t0), ["wait 1ms"]);
    }

    #[test]
    fn the_probe_is_a_python_readable_map() {
        let mut proof = proof(None);
        let t0 = Instant::now();
        proof.poll(t0);
        let Step::Publish(_, bytes) = proof.poll(t0) else {
            panic!("no publish");
        };
        let value = payload::from_slice::<payload::Value>(bytes).unwrap();
        let text = format!("{value:?}");
        assert!(
            text.contains(PROBE_ABOUT) && text.contains("test"),
            "{text}"
        );
    }

    #[test]
    fn backs_off_doubling_up_to_the_maximum() {
        let t0 = Instant::now();
        let mut proof = proof(None);
        let mut now = t0;
        let mut sends = Vec::new();
        for _ in 0..20 {
            for step in steps(&mut proof, now) {
                if step.starts_with("publish") {
                    sends.push((now - t0).as_millis());
                }
            }
            now += Duration::from_millis(1);
        }
        // 0, +1, +2, +4, +8 ms ...
        assert_eq!(sends, [0, 1, 3, 7, 15]);
        let mut interval = Duration::ZERO;
        for _ in 0..20 {
            if let [.., wait] = steps(&mut proof, now).as_slice() {
                interval = Duration::from_millis(wait[5..wait.len() - 2].parse().unwrap());
            }
            now += interval;
        }
        assert_eq!(interval, Duration::from_millis(100), "capped");
    }

    #[test]
    fn the_return_of_its_probe_ends_it_after_unsubscribing() {
        let t0 = Instant::now();
        let mut proof = proof(Some(Duration::from_secs(2)));
        steps(&mut proof, t0);
        assert!(!proof.on_probe(b"_banyan_probe/test/0000000000000001/6"));
        assert_eq!(proof.outcome(), None);
        assert!(proof.on_probe(format!("{BASE}7").as_bytes()));
        assert_eq!(
            steps(&mut proof, t0),
            [format!("unsubscribe {BASE}7"), "done Returned".to_owned()]
        );
        assert_eq!(proof.outcome(), Some(Outcome::Returned));
        // A late duplicate changes nothing.
        assert!(proof.on_probe(format!("{BASE}7").as_bytes()));
        assert_eq!(steps(&mut proof, t0), ["done Returned"]);
    }

    #[test]
    fn gives_up_at_its_time_and_not_before() {
        let t0 = Instant::now();
        let give_up = Duration::from_millis(250);
        let mut proof = proof(Some(give_up));
        let mut now = t0;
        while now < t0 + give_up {
            let out = steps(&mut proof, now);
            assert!(!out.iter().any(|s| s.starts_with("done")), "{out:?}");
            now += Duration::from_millis(10);
        }
        assert_eq!(
            steps(&mut proof, t0 + give_up),
            [format!("unsubscribe {BASE}7"), "done GaveUp".to_owned()]
        );
        // A probe arriving after the give-up does not revive it.
        proof.on_probe(format!("{BASE}7").as_bytes());
        assert_eq!(steps(&mut proof, now), ["done GaveUp"]);
    }

    #[test]
    fn the_wake_up_never_passes_the_give_up_time() {
        let t0 = Instant::now();
        let mut proof = proof(Some(Duration::from_millis(5)));
        let mut now = t0;
        for _ in 0..3 {
            steps(&mut proof, now);
            now += Duration::from_millis(1);
        }
        // Sent at +3 ms, next send at +7 ms, give-up at +5 ms.
        assert_eq!(
            steps(&mut proof, now),
            [format!("publish {BASE}7"), "wait 2ms".to_owned()]
        );
    }

    #[test]
    fn a_proof_without_give_up_waits_for_ever() {
        let t0 = Instant::now();
        let mut proof = proof(None);
        let later = t0 + Duration::from_secs(3600);
        steps(&mut proof, t0);
        let out = steps(&mut proof, later);
        assert_eq!(out[0], format!("publish {BASE}7"));
        assert_eq!(proof.outcome(), None);
    }

    #[test]
    fn cancelling_unsubscribes_only_what_was_subscribed() {
        let t0 = Instant::now();
        let mut fresh = proof(None);
        fresh.cancel();
        assert_eq!(steps(&mut fresh, t0), ["done Cancelled"]);

        let mut running = proof(None);
        steps(&mut running, t0);
        running.cancel();
        assert_eq!(
            steps(&mut running, t0),
            [format!("unsubscribe {BASE}7"), "done Cancelled".to_owned()]
        );
        // Cancelling an ended proof keeps its outcome.
        running.cancel();
        assert_eq!(steps(&mut running, t0), ["done Cancelled"]);
    }
}
