//! What a component's wait knows of its sockets' notification descriptors ([`Readiness`]),
//! and the one `poll(2)` of them ([`poll_fds`]): the part of `wait.rs`'s poll that keeps
//! libzmq's edge-triggered `ZMQ_FD` rule.

use crate::error::Result;

/// What [`poll_fds`] saw of one descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signalled {
    No,
    /// Readable.
    In,
    /// In error or hung up (for the gateway's extra descriptor: the read tells what).
    Error,
}

/// Waits until one of `fds` is readable (or in error), at most `timeout` ms (-1: no limit),
/// and says which in `seen`; an interrupted wait (`EINTR`) sees nothing. One `poll(2)`:
/// `zmq_poll` would make two when it has to wait (a first pass with timeout 0, then the
/// wait).
#[cfg(unix)]
#[allow(unsafe_code)]
pub(super) fn poll_fds(fds: &[crate::sys::Fd], seen: &mut [Signalled], timeout: i64) -> Result<()> {
    let mut polled = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; SOCKETS + 1];
    for (slot, &fd) in polled.iter_mut().zip(fds) {
        slot.fd = fd;
        slot.events = libc::POLLIN;
    }
    let polled = &mut polled[..fds.len()];
    let timeout = libc::c_int::try_from(timeout).unwrap_or(libc::c_int::MAX);
    // SAFETY: `polled` is an exclusively borrowed array of `polled.len()` initialised
    // `pollfd`s; poll(2) reads them and writes only their `revents`.
    let rc = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, timeout) };
    if rc < 0 {
        let error = std::io::Error::last_os_error();
        if error.kind() == std::io::ErrorKind::Interrupted {
            return Ok(());
        }
        return Err(error.into());
    }
    for (seen, slot) in seen.iter_mut().zip(polled.iter()) {
        *seen = if slot.revents & libc::POLLIN != 0 {
            Signalled::In
        } else if slot.revents != 0 {
            Signalled::Error
        } else {
            Signalled::No
        };
    }
    Ok(())
}

/// [`poll_fds`] where there is no `poll(2)`: `zmq_poll` of the raw descriptors.
#[cfg(not(unix))]
pub(super) fn poll_fds(fds: &[zmq_sys::RawFd], seen: &mut [Signalled], timeout: i64) -> Result<()> {
    let mut items: Vec<zmq::PollItem<'_>> = fds
        .iter()
        .map(|&fd| zmq::PollItem::from_fd(fd, zmq::POLLIN))
        .collect();
    match zmq::poll(&mut items, timeout) {
        Err(zmq::Error::EINTR) => return Ok(()),
        other => other?,
    };
    for (seen, item) in seen.iter_mut().zip(&items) {
        let revents = item.get_revents();
        *seen = if revents.contains(zmq::POLLIN) {
            Signalled::In
        } else if revents.intersects(zmq::POLLERR) {
            Signalled::Error
        } else {
            Signalled::No
        };
    }
    Ok(())
}

/// The sockets a wait polls, in `Component::poll` (`wait.rs`)'s order: subscriber, stop, the
/// publisher's and the subscriber's monitor, the handles' pipe.
pub(super) const SOCKETS: usize = 5;

/// What `Component::poll` (`wait.rs`) knows of its sockets between two polls.
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
/// turn of a wait reads it before polling), and every socket before the first poll, after a
/// socket was added (the handles' pipe, [`Component::publisher`](super::Component::publisher)) and after someone else
/// polled them (`Component::wake_items`).
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
    pub(super) fn take(&self) -> u8 {
        self.unsettled.replace(0)
    }

    /// After a poll: the sockets it reported ready are unsettled for the next one — but the
    /// subscriber, whose state its next read tells (`Inbox::drained`).
    pub(super) fn after(&self, ready: &[bool; SOCKETS]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_socket_is_asked_first_then_only_the_ones_reported_ready_but_the_subscriber() {
        let readiness = Readiness::new();
        assert_eq!(readiness.take(), Readiness::ALL);
        assert_eq!(readiness.take(), 0, "a poll settles what it asked");
        readiness.after(&[true, true, false, false, true]);
        assert_eq!(
            readiness.take(),
            0b10010,
            "stop and the handles' pipe, not the subscriber"
        );
        readiness.forget();
        assert_eq!(readiness.take(), Readiness::ALL);
    }

    #[cfg(unix)]
    #[test]
    fn poll_fds_sees_the_readable_descriptor_and_times_out_on_none() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
        let (quiet, _other) = std::os::unix::net::UnixStream::pair().unwrap();
        let fds = [quiet.as_raw_fd(), reader.as_raw_fd()];
        let mut seen = [Signalled::No; 2];
        poll_fds(&fds, &mut seen, 0).unwrap();
        assert_eq!(seen, [Signalled::No; 2]);
        writer.write_all(b"x").unwrap();
        poll_fds(&fds, &mut seen, 1000).unwrap();
        assert_eq!(seen, [Signalled::No, Signalled::In]);
    }
}
