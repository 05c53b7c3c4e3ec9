//! The one loop every wait of a component goes through (the receive API on top of it is
//! `receive.rs`).
//!
//! `wait_limit` is the driver of the component's sans-IO parts: it reads messages (a fast
//! path without `poll(2)` while messages are queued), hands own probes to the proofs, asks
//! the proofs ([`PathProof`](super::proof::PathProof), [`Health`](super::health::Health)) for their steps and performs
//! them, polls the SUB socket, the stop socket, both monitors (routed by
//! [`Watch`](super::events::Watch)), the [`Publisher`](super::Publisher) handles' pipe and —
//! for the serial gateway — one extra file descriptor, and returns what the caller waits for.
//!
//! A wait polls only when no message is queued, and then with one `poll(2)` of the sockets'
//! notification descriptors: `readiness.rs` knows which sockets may hold a message without
//! signalling, and only those (and the ones that signalled) are asked for `ZMQ_EVENTS`.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use super::health::SocketSide;
use super::inbox::Read;
use super::proof::{Outcome, ProbeSchedule, Step};
use super::readiness::{SOCKETS, Signalled, poll_fds};
use super::send_budget::zmtp_part;
use super::{Component, Message};
use crate::error::{Error, Result};
use crate::net::tcp_endpoint;

/// Messages read without polling before a poll is forced, so that the stop signal,
/// connection events, the handles' pipe and the gateway's link are never starved.
const FAST_READS: u32 = 256;

/// Longest wait between two probes of a caller's proof.
const PROOF_MAX_INTERVAL: Duration = Duration::from_millis(100);

/// How long a wait may last.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    Forever,
    At(Instant),
    /// From the first moment the wait has to block: the clock is read only when the wait
    /// has to poll, never per message of a busy stream.
    After(Duration),
}

/// What `wait_limit` ended with.
pub(crate) enum Raw {
    /// A well-formed message (never an own probe) is in the inbox's frames.
    Frames,
    FdReady,
    Timeout,
    Stop,
    /// The caller's proof ended.
    Proof(Outcome),
}

/// A descriptor a component's wait can watch beside its sockets ([`Component::wait_with_fd`]):
/// a file descriptor on Unix, a `SOCKET` on Windows (where `zmq_poll` waits on sockets only).
pub type PollFd = crate::sys::Fd;

/// What [`Component::wait_with_fd`] ended with (a gateway's view of the wait: messages, its
/// device link's descriptor, and the non-blocking subscription proof).
#[derive(Debug)]
pub enum Incoming {
    /// A well-formed message.
    Message(Message),
    /// The extra file descriptor is readable (or in error).
    FdReady,
    /// The deadline passed.
    Timeout,
    /// A [`ShutdownHandle`](super::ShutdownHandle) fired.
    Stop,
    /// The proof started with [`Component::start_proof`] came back.
    Proven,
    /// That proof gave up.
    ProofGaveUp,
}

/// Where one non-blocking [`Component::turn`] of a wait ended.
pub(crate) enum Turn {
    /// The wait is over.
    Done(Raw),
    /// Nothing to do before a socket is ready or `wake` (the deadline or a probe's time).
    Idle {
        wake: Option<Instant>,
        deadline: Option<Instant>,
    },
}

/// Where a run of proof steps stopped.
enum Halt {
    Wait(Option<Instant>),
    Done(Outcome),
}

/// Performs one step of a proof on the component's sockets; counts published probe bytes
/// in `wire`. Returns where the run stops, if it does.
fn perform(
    step: Step<'_>,
    publisher: &zmq::Socket,
    subscriber: &zmq::Socket,
    wire: &mut u64,
) -> Result<Option<Halt>> {
    match step {
        Step::Subscribe(topic) => subscriber.set_subscribe(topic.as_bytes())?,
        Step::Unsubscribe(topic) => subscriber.set_unsubscribe(topic.as_bytes())?,
        Step::Publish(topic, payload) => {
            publisher.send(topic.as_bytes(), zmq::SNDMORE)?;
            publisher.send(payload, 0)?;
            *wire += zmtp_part(topic.len()) + zmtp_part(payload.len());
        }
        Step::Wait(at) => return Ok(Some(Halt::Wait(at))),
        Step::Done(outcome) => return Ok(Some(Halt::Done(outcome))),
    }
    Ok(None)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A poll timeout in whole milliseconds, rounded **up**: rounded down, the last
/// sub-millisecond before a wake-up time became polls with timeout 0, a busy loop of ~40
/// `poll(2)`s before every timed wake (measured: 800 polls/s in an idle `recv_timeout(100 ms)`
/// loop).
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX)
}

impl Component {
    /// Poll items that wake a waiting component: the subscriber, both connection monitors
    /// and the handles' pipe.
    pub(crate) fn wake_items(&self) -> Vec<zmq::PollItem<'_>> {
        // The caller's `zmq_poll` asks their `ZMQ_EVENTS`: the next poll of ours asks again.
        self.readiness.forget();
        let mut items = vec![self.subscriber.as_poll_item(zmq::POLLIN)];
        items.extend(
            self.monitors
                .sockets()
                .into_iter()
                .map(|monitor| monitor.as_poll_item(zmq::POLLIN)),
        );
        if let Some(outbox) = &self.outbox {
            items.push(outbox.socket().as_poll_item(zmq::POLLIN));
        }
        items
    }

    /// What a `zmq_poll` of [`wake_items`](Self::wake_items) found readable (`readable`, in
    /// their order), as the [`Ready`] that [`on_ready`](Self::on_ready) acts on.
    pub(crate) fn ready_from_items(&self, readable: &[bool]) -> Ready {
        let at = |index: usize| readable.get(index).copied().unwrap_or(false);
        Ready {
            subscriber: at(0),
            stop: false,
            monitors: [at(1), at(2)],
            outbox: self.outbox.is_some() && at(3),
            fd: false,
        }
    }

    /// Starts a non-blocking proof of every subscription made so far; the waits drive it and
    /// report its end ([`Incoming::Proven`], [`Incoming::ProofGaveUp`]). A proof already
    /// running is cancelled. For gateways, which keep serving their device link while the
    /// subscriptions they made with [`subscribe_unproven`](Self::subscribe_unproven) are
    /// proven.
    pub fn start_proof(&mut self) -> Result<()> {
        self.abandon_proof()?;
        let backoff = ProbeSchedule {
            max: PROOF_MAX_INTERVAL,
            give_up: Some(self.connect_timeout),
        };
        let mut proof = self.topics.next_proof(backoff)?;
        // Subscribe and send the first probe now; the outcome (if it ends at once) is kept
        // for the next wait.
        let mut wire = 0;
        while perform(
            proof.poll(Instant::now()),
            &self.publisher,
            &self.subscriber,
            &mut wire,
        )?
        .is_none()
        {}
        self.count_probe_bytes(wire);
        self.proof = Some(proof);
        Ok(())
    }

    /// Cancels the caller's proof, if one runs (its probe topic is unsubscribed at once).
    pub fn abandon_proof(&mut self) -> Result<()> {
        if let Some(mut proof) = self.proof.take() {
            proof.cancel();
            let mut wire = 0;
            while !matches!(
                perform(
                    proof.poll(Instant::now()),
                    &self.publisher,
                    &self.subscriber,
                    &mut wire
                )?,
                Some(Halt::Done(_))
            ) {}
        }
        Ok(())
    }

    /// Waits for a message, the stop signal, the deadline, the end of the proof started with
    /// [`start_proof`](Self::start_proof), or — when `fd` is given — for `fd` to become
    /// readable. Lets a gateway serve a byte stream (its device link) and the backplane from
    /// one thread.
    pub fn wait_with_fd(
        &mut self,
        deadline: Option<Instant>,
        fd: Option<PollFd>,
    ) -> Result<Incoming> {
        if let Some(message) = self.inbox.pop_pending() {
            return Ok(Incoming::Message(message));
        }
        let limit = deadline.map_or(Limit::Forever, Limit::At);
        Ok(match self.wait_limit(limit, fd)? {
            Raw::Frames => Incoming::Message(self.inbox.message().to_owned()),
            Raw::FdReady => Incoming::FdReady,
            Raw::Timeout => Incoming::Timeout,
            Raw::Stop => Incoming::Stop,
            Raw::Proof(Outcome::Returned) => Incoming::Proven,
            Raw::Proof(_) => Incoming::ProofGaveUp,
        })
    }

    /// Proves the path with a blocking proof: messages arriving meanwhile are kept for the
    /// next receive.
    pub(super) fn prove_path(&mut self) -> Result<()> {
        self.start_proof()?;
        loop {
            let raw = self.wait_limit(Limit::Forever, None)?;
            if let ControlFlow::Break(result) = self.proof_waited(raw) {
                return result;
            }
        }
    }

    /// What a proof of the caller's (blocking [`prove_path`](Self::prove_path), or the async
    /// component's) does with the end of one wait: keeps a message for the next receive
    /// (bounded, see [`PENDING_LIMIT_MESSAGES`](super::PENDING_LIMIT_MESSAGES)), or ends —
    /// proven, [`Error::NoBackplane`] after the give-up time, [`Error::Shutdown`].
    pub(crate) fn proof_waited(&mut self, raw: Raw) -> ControlFlow<Result<()>> {
        match raw {
            Raw::Frames => self.inbox.keep_pending(&self.name),
            Raw::Proof(Outcome::Returned) => return ControlFlow::Break(Ok(())),
            Raw::Proof(_) => {
                return ControlFlow::Break(Err(Error::NoBackplane {
                    address: self.address.clone(),
                    publisher_port: self.publisher_port,
                    subscriber_port: self.subscriber_port,
                    waited: self.connect_timeout,
                }));
            }
            Raw::Stop => {
                return ControlFlow::Break(self.abandon_proof().and(Err(Error::Shutdown)));
            }
            Raw::FdReady | Raw::Timeout => {}
        }
        ControlFlow::Continue(())
    }

    /// A message kept while a proof waited, oldest first.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn take_pending(&mut self) -> Option<Message> {
        self.inbox.pop_pending()
    }

    /// The message a wait ended with ([`Raw::Frames`]), copied out of the reused frames.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn frames(&self) -> Message {
        self.inbox.message().to_owned()
    }

    fn count_probe_bytes(&mut self, wire: u64) {
        if wire > 0
            && let Some(budget) = self.watch.get_mut().budget.as_mut()
        {
            budget.count(wire);
        }
    }

    /// Performs the due steps of the re-proof and of the caller's proof. Returns the
    /// earliest wake-up they ask for, and the caller's proof's outcome if it ended.
    fn drive_proofs(&mut self, now: Instant) -> Result<(Option<Instant>, Option<Outcome>)> {
        let mut wire = 0;
        let watch = self.watch.get_mut();
        let health_wake = loop {
            let step = watch.health.poll(now, &mut self.topics)?;
            match perform(step, &self.publisher, &self.subscriber, &mut wire)? {
                Some(Halt::Wait(at)) => break at,
                Some(Halt::Done(_)) => break None,
                None => {}
            }
        };
        let (mut proof_wake, mut outcome) = (None, None);
        if let Some(proof) = self.proof.as_mut() {
            loop {
                match perform(
                    proof.poll(now),
                    &self.publisher,
                    &self.subscriber,
                    &mut wire,
                )? {
                    Some(Halt::Wait(at)) => break proof_wake = at,
                    Some(Halt::Done(done)) => break outcome = Some(done),
                    None => {}
                }
            }
        }
        if let Some(done) = outcome {
            self.proof = None;
            if done == Outcome::Returned {
                // A returned proof proves the path as well as a re-proof would have.
                watch.health.proven_by_caller(&self.name);
            }
        }
        self.count_probe_bytes(wire);
        Ok((earliest(health_wake, proof_wake), outcome))
    }

    /// Waits for a message (read into the inbox's frames; own probes go to the proofs), the
    /// stop signal, the limit, the end of the caller's proof or `fd`: the non-blocking
    /// [`turn`](Self::turn) and [`on_ready`](Self::on_ready) around one blocking `zmq_poll`.
    /// (The async component, `crate::aio`, runs the same two around its reactor instead.)
    pub(super) fn wait_limit(
        &mut self,
        mut limit: Limit,
        fd: Option<crate::sys::Fd>,
    ) -> Result<Raw> {
        loop {
            let (wake, deadline) = match self.turn(&mut limit)? {
                Turn::Done(raw) => return Ok(raw),
                Turn::Idle { wake, deadline } => (wake, deadline),
            };
            let now = Instant::now();
            let timeout = match wake {
                None => -1,
                Some(wake) => millis(wake.saturating_duration_since(now)),
            };
            let ready = self.poll(timeout, fd)?;
            if let Some(raw) = self.on_ready(&ready, deadline)? {
                return Ok(raw);
            }
        }
    }

    /// Everything a wait does without blocking: reads queued messages (own probes go to the
    /// proofs), drives the proofs' due steps. Ends with what the wait waits for, or with
    /// `Idle`: nothing more to do before a socket becomes ready or the wake-up time.
    pub(crate) fn turn(&mut self, limit: &mut Limit) -> Result<Turn> {
        // Fast path: under load a message is usually queued already, and reading it
        // directly costs a fraction of a poll(2).
        while self.inbox.fast_reads < FAST_READS {
            match self.inbox.try_read(&self.subscriber, &self.name)? {
                Read::Message => {
                    self.inbox.fast_reads += 1;
                    let topic = self.inbox.topic();
                    if !topic.starts_with(self.topics.base.as_bytes()) {
                        return Ok(Turn::Done(Raw::Frames));
                    }
                    if let Some(proof) = self.proof.as_mut() {
                        proof.on_probe(topic);
                    }
                    self.watch.get_mut().health.on_probe(topic);
                    // Drive the proofs at once.
                    break;
                }
                Read::Dropped => self.inbox.fast_reads += 1,
                Read::Empty => break,
            }
        }
        self.inbox.fast_reads = 0;
        if self.reconnect_due && self.inbox.drained {
            // Only here, right after a read found the subscriber empty: libzmq's SUB socket
            // may hold the first part of a message it read ahead for `ZMQ_EVENTS` (a poll),
            // and disconnecting the pipe that part came from makes the next read abort the
            // process (libzmq 4.3's `fq.cpp` `!_more` assertion: the rest of a message it
            // started is gone). An empty read leaves nothing read ahead.
            self.reconnect_due = false;
            let endpoint = tcp_endpoint(&self.address, self.subscriber_port);
            super::reconnect_subscriber(&self.subscriber, &endpoint)?;
        }
        let now = Instant::now();
        if let Limit::After(timeout) = *limit {
            *limit = Limit::At(now + timeout);
        }
        let deadline = match *limit {
            Limit::At(deadline) => Some(deadline),
            Limit::Forever | Limit::After(_) => None,
        };
        let (probe_at, outcome) = self.drive_proofs(now)?;
        if let Some(outcome) = outcome {
            return Ok(Turn::Done(Raw::Proof(outcome)));
        }
        Ok(Turn::Idle {
            wake: earliest(deadline, probe_at),
            deadline,
        })
    }

    /// Acts on what a poll (blocking or the async one's `ready_now`) found ready: the stop
    /// signal, connection events, the handles' pipe. `None`: go on waiting (a new
    /// [`turn`](Self::turn) reads what the subscriber holds).
    pub(crate) fn on_ready(
        &mut self,
        ready: &Ready,
        deadline: Option<Instant>,
    ) -> Result<Option<Raw>> {
        if ready.stop {
            self.stop.recv_bytes(0)?;
            return Ok(Some(Raw::Stop));
        }
        let watch = self.watch.get_mut();
        if ready.monitors[0] {
            self.monitors
                .pump(SocketSide::Publisher, watch, &self.name)?;
        }
        if ready.monitors[1]
            && self
                .monitors
                .pump(SocketSide::Subscriber, watch, &self.name)?
        {
            // Not now: see `turn`, which connects again after its next empty read.
            self.reconnect_due = true;
        }
        if ready.outbox {
            self.drain_outbox()?;
        }
        if ready.fd {
            return Ok(Some(Raw::FdReady));
        }
        if ready.subscriber {
            return Ok(None); // read by the next turn's fast path
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ok(Some(Raw::Timeout));
        }
        Ok(None)
    }

    /// What is ready now, from each socket's `ZMQ_EVENTS` (which also makes libzmq process
    /// its pending commands, and so re-arms the sockets' `ZMQ_FD` notification): the
    /// readiness check of the async component after every wake-up and before every sleep.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn ready_now(&self) -> Result<Ready> {
        // Asking every socket's `ZMQ_EVENTS` here settles or reports them all; a blocking
        // poll after this (should the same component ever mix the two) asks them all again.
        self.readiness.forget();
        let readable = |socket: &zmq::Socket| -> Result<bool> {
            Ok(socket.get_events()?.contains(zmq::POLLIN))
        };
        let [pub_monitor, sub_monitor] = self.monitors.sockets();
        Ok(Ready {
            subscriber: readable(&self.subscriber)?,
            stop: readable(&self.stop)?,
            monitors: [readable(pub_monitor)?, readable(sub_monitor)?],
            outbox: match &self.outbox {
                Some(outbox) => readable(outbox.socket())?,
                None => false,
            },
            fd: false,
        })
    }

    /// How many sockets [`wake_sockets`](Self::wake_sockets) returns (without building the
    /// list: the async wait asks before every sleep).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn wake_socket_count(&self) -> usize {
        4 + usize::from(self.outbox.is_some())
    }

    /// The sockets whose readiness wakes an async wait (their `ZMQ_FD`s), in a fixed order:
    /// subscriber, stop, both monitors, then the handles' pipe if there is one.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn wake_sockets(&self) -> Vec<&zmq::Socket> {
        let [pub_monitor, sub_monitor] = self.monitors.sockets();
        let mut sockets = vec![&self.subscriber, &self.stop, pub_monitor, sub_monitor];
        if let Some(outbox) = &self.outbox {
            sockets.push(outbox.socket());
        }
        sockets
    }

    /// One poll of everything a wait listens to: one `poll(2)` of the sockets' notification
    /// descriptors (`ZMQ_FD`) and `fd` ([`poll_fds`]), with libzmq's edge-triggered rule kept
    /// (see `readiness.rs`): `ZMQ_EVENTS` is asked only of the sockets whose descriptor
    /// signalled and of those that may hold a message without signalling. (`zmq_poll` of the
    /// four sockets makes two `poll(2)`s and asks every socket's `ZMQ_EVENTS` twice, one
    /// `poll(2)` each: ten system calls per wait where this makes one or two.)
    fn poll(&self, timeout: i64, fd: Option<crate::sys::Fd>) -> Result<Ready> {
        let [pub_monitor, sub_monitor] = self.monitors.sockets();
        let sockets = [
            Some(&self.subscriber),
            Some(&self.stop),
            Some(pub_monitor),
            Some(sub_monitor),
            self.outbox.as_ref().map(|outbox| outbox.socket()),
        ];
        let readable = |socket: &zmq::Socket| -> Result<bool> {
            Ok(socket.get_events()?.contains(zmq::POLLIN))
        };
        // The subscriber is settled when its last read found it empty.
        let unsettled = self.readiness.take() | u8::from(!self.inbox.drained);
        let mut ready = [false; SOCKETS];
        for (at, socket) in sockets.iter().enumerate() {
            if let Some(socket) = socket
                && unsettled & (1 << at) != 0
            {
                ready[at] = readable(socket)?;
            }
        }
        let mut fds = [crate::sys::NO_FD; SOCKETS + 1];
        let mut used = 0;
        let mut slots = [None; SOCKETS];
        for (at, socket) in sockets.iter().enumerate() {
            if let Some(socket) = socket {
                fds[used] = socket.get_fd()?;
                slots[at] = Some(used);
                used += 1;
            }
        }
        let fd_at = fd.map(|fd| {
            fds[used] = fd;
            used += 1;
            used - 1
        });
        // Something is ready already: only look whether more is.
        let timeout = if ready.contains(&true) { 0 } else { timeout };
        let mut readable_fds = [Signalled::No; SOCKETS + 1];
        // A signal (e.g. the Ctrl-C that is about to stop us) may interrupt the wait
        // (`readable_fds` stays all `No`); the stop socket tells whether to return.
        poll_fds(&fds[..used], &mut readable_fds[..used], timeout)?;
        for (at, socket) in sockets.iter().enumerate() {
            if let (Some(socket), Some(slot)) = (socket, slots[at])
                && !ready[at]
                && readable_fds[slot] != Signalled::No
            {
                ready[at] = readable(socket)?;
            }
        }
        self.readiness.after(&ready);
        Ok(Ready {
            subscriber: ready[0],
            stop: ready[1],
            monitors: [ready[2], ready[3]],
            outbox: ready[4],
            fd: fd_at.is_some_and(|at| readable_fds[at] != Signalled::No),
        })
    }

    /// Sends a batch of what [`Publisher`](super::Publisher) handles queued.
    fn drain_outbox(&mut self) -> Result<()> {
        let Some(mut outbox) = self.outbox.take() else {
            return Ok(());
        };
        let result = outbox.drain(|topic, payload| self.publish_frames(topic, payload));
        self.outbox = Some(outbox);
        result
    }
}

/// What a poll found readable.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    subscriber: bool,
    stop: bool,
    monitors: [bool; 2],
    outbox: bool,
    fd: bool,
}

impl Ready {
    /// Whether anything is ready.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn any(&self) -> bool {
        self.subscriber
            || self.stop
            || self.monitors.iter().any(|&ready| ready)
            || self.outbox
            || self.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_nanos(1)), 1);
        assert_eq!(millis(Duration::from_micros(999)), 1);
        assert_eq!(millis(Duration::from_millis(99)), 99);
        assert_eq!(millis(Duration::from_micros(99_001)), 100);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }
}
