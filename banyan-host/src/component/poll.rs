//! One poll of a component's sockets, and what it knows of them between polls.
//!
//! A wait (`wait.rs`) polls only when no message is queued: one `poll(2)` of the sockets'
//! notification descriptors (`ZMQ_FD`) and, for the serial gateway, one more descriptor.
//! [`Readiness`] knows which sockets may hold a message without signalling and asks only
//! those (and the ones that signalled) for `ZMQ_EVENTS`. The async component
//! (`crate::aio`) asks [`Component::ready_now`] and sleeps on [`Component::wake_sockets`].

use super::Component;
use crate::error::Result;

impl Component {
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

    /// One poll of everything a wait listens to: a `poll(2)` of the sockets' notification
    /// descriptors (`ZMQ_FD`) and `fd`, with libzmq's edge-triggered rule kept (see
    /// [`Readiness`]): `ZMQ_EVENTS` is asked only of the sockets whose descriptor signalled
    /// and of those that may hold a message without signalling. (`zmq_poll` asks every
    /// socket's `ZMQ_EVENTS` twice per call, one `poll(2)` each: eight system calls per wait
    /// that a message does not need.)
    pub(super) fn poll(&self, timeout: i64, fd: Option<crate::sys::Fd>) -> Result<Ready> {
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
        let mut items: [zmq::PollItem<'_>; SOCKETS + 1] =
            std::array::from_fn(|_| zmq::PollItem::from_fd(crate::sys::NO_FD, zmq::POLLIN));
        let mut used = 0;
        let mut slots = [None; SOCKETS];
        for (at, socket) in sockets.iter().enumerate() {
            if let Some(socket) = socket {
                items[used] = zmq::PollItem::from_fd(socket.get_fd()?, zmq::POLLIN);
                slots[at] = Some(used);
                used += 1;
            }
        }
        let fd_at = fd.map(|fd| {
            items[used] = zmq::PollItem::from_fd(fd, zmq::POLLIN);
            used += 1;
            used - 1
        });
        // Something is ready already: only look whether more is.
        let timeout = if ready.contains(&true) { 0 } else { timeout };
        match zmq::poll(&mut items[..used], timeout) {
            // A signal (e.g. the Ctrl-C that is about to stop us) interrupted the wait; the
            // stop socket tells whether to return.
            Err(zmq::Error::EINTR) => {}
            other => {
                other?;
                for (at, socket) in sockets.iter().enumerate() {
                    if let (Some(socket), Some(slot)) = (socket, slots[at])
                        && !ready[at]
                        && items[slot].is_readable()
                    {
                        ready[at] = readable(socket)?;
                    }
                }
            }
        }
        self.readiness.after(&ready);
        Ok(Ready {
            subscriber: ready[0],
            stop: ready[1],
            monitors: [ready[2], ready[3]],
            outbox: ready[4],
            fd: fd_at.is_some_and(|at| {
                items[at]
                    .get_revents()
                    .intersects(zmq::POLLIN | zmq::POLLERR)
            }),
        })
    }
}

/// The sockets a wait polls, in [`Component::poll`]'s order: subscriber, stop, the
/// publisher's and the subscriber's monitor, the handles' pipe.
const SOCKETS: usize = 5;

/// What [`Component::poll`] knows of its sockets between two polls.
///
/// A ZeroMQ socket's `ZMQ_FD` signals when commands reach the socket (a message arrived on
/// an empty pipe, a connection changed), and libzmq clears it whenever the socket processes
/// its commands — in a receive, a send, a connect or a `ZMQ_EVENTS` query. A socket whose
/// last receive found it empty (or whose `ZMQ_EVENTS` said "nothing") is *settled*: any new
/// message signals its descriptor. A socket that was just read from without reaching
/// `EAGAIN` may hold more with its descriptor quiet: *unsettled*, asked with `ZMQ_EVENTS`
/// before the next sleep. Unsettled are: every socket but the subscriber that the last poll
/// reported ready (its reader may take one message, like the stop socket, or a batch, like
/// the handles' pipe), the subscriber unless its last read was empty (`Inbox::drained`: every
/// turn of a wait reads it before polling), and every socket after
/// someone else polled them ([`Component::wake_items`]) or before the first poll.
#[derive(Debug)]
pub(crate) struct Readiness {
    /// Bit `i` set: socket `i` (in [`SOCKETS`] order) must be asked before sleeping.
    unsettled: std::cell::Cell<u8>,
}

impl Readiness {
    const ALL: u8 = (1 << SOCKETS) - 1;

    /// Nothing known yet: every socket is asked at the first poll.
    pub(crate) fn new() -> Self {
        Self {
            unsettled: std::cell::Cell::new(Self::ALL),
        }
    }

    /// The unsettled sockets, leaving none (the poll settles or reports them).
    fn take(&self) -> u8 {
        self.unsettled.replace(0)
    }

    /// After a poll: the sockets it reported ready are unsettled for the next one — but the
    /// subscriber, whose state its next read tells (`Inbox::drained`).
    fn after(&self, ready: &[bool; SOCKETS]) {
        let mask = ready
            .iter()
            .enumerate()
            .skip(1)
            .fold(0, |mask, (at, &ready)| mask | (u8::from(ready) << at));
        self.unsettled.set(self.unsettled.get() | mask);
    }

    /// Someone else polls the sockets (and so may clear their descriptors): ask them all.
    pub(crate) fn forget(&self) {
        self.unsettled.set(Self::ALL);
    }
}

/// What a poll found readable.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    pub(super) subscriber: bool,
    pub(super) stop: bool,
    pub(super) monitors: [bool; 2],
    pub(super) outbox: bool,
    pub(super) fd: bool,
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
