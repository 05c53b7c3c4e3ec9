//! The byte budget of a component's publishing queue.
//!
//! libzmq queues what a component publishes in its PUB socket until the connection to the
//! backplane takes it, bounded only by a count ([`Limits::send_hwm`]). A backplane that stops
//! reading (frozen, hung) or a link slower than the component publishes would let that queue
//! grow to the count times the message size: gigabytes with camera frames. So a component
//! also counts the bytes:
//!
//! - **Handed**: the ZMTP wire size of every message given to libzmq (each part: a flags
//!   byte, a 1- or 8-byte length, the bytes).
//! - **Written**: what libzmq wrote into the kernel, from the connection's TCP statistics
//!   (acknowledged bytes plus the kernel's send queue), summed over the connections so far.
//!   The connection's descriptor comes from libzmq's `CONNECTED` monitor event.
//! - **Queued** = handed − written. Looked at only when it could have reached the budget
//!   (the handed bytes passed the room left at the last look): one system call per budget's
//!   worth of publishing while the link keeps up.
//! - Over the budget, a publish is **dropped** (counted in
//!   [`ComponentStats::publish_dropped`], logged at powers of two), as libzmq drops at its
//!   count bound: a PUB socket never blocks the publisher.
//! - The estimate errs on the safe side: messages libzmq itself dropped (its count bound, no
//!   subscriber yet) and bytes lost with a closed connection were handed and never written.
//!   Once the link has stood idle for [`CONFIRM`] while publishes were being dropped (its
//!   connection up, its send queue empty, the backplane's window open: libzmq has nothing
//!   left to write), the queue is known to be empty and the estimate is reset.
//!
//! [`Limits::send_hwm`]: crate::limits::Limits::send_hwm
//! [`ComponentStats::publish_dropped`]: super::ComponentStats::publish_dropped

use crate::sys::Fd;
use std::time::Instant;

use crate::backplane::budget::STALLED_WINDOW;

/// How long the link must stand idle before an over-budget estimate is taken as stale: the
/// backplane budget's stall confirmation (the same kernel evidence, read the same way),
/// defined once there.
pub use crate::backplane::budget::CONFIRM;

/// The wire size of one ZMTP 3 message part of `len` bytes: flags, length, body.
pub(crate) const fn zmtp_part(len: usize) -> u64 {
    let header = if len <= 255 { 2 } else { 9 };
    (len as u64).saturating_add(header)
}

/// What the kernel says of the publishing connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkState {
    /// Bytes libzmq wrote into this connection so far (acknowledged plus queued).
    pub written: u64,
    /// Bytes in the kernel's send queue, not yet acknowledged.
    pub queued: u32,
    /// The window the backplane advertises, if the kernel says.
    pub window: Option<u32>,
}

/// Where the budget reads the connection's state.
pub(crate) trait LinkProbe {
    /// The state of the TCP connection on `fd`; `None` if it is closed.
    fn link(&mut self, fd: Fd) -> Option<LinkState>;
}

/// The operating system's answers.
pub(crate) struct SystemLink;

impl LinkProbe for SystemLink {
    fn link(&mut self, fd: Fd) -> Option<LinkState> {
        let state = crate::sys::tcp_send_state(fd)?;
        let queued = crate::sys::send_queue(fd)?;
        Some(LinkState {
            // The acknowledged count includes the SYN's one sequence number.
            written: state.acked.saturating_sub(1) + u64::from(queued),
            queued,
            window: state.window,
        })
    }
}

/// The connection up now.
#[derive(Debug, Clone, Copy)]
struct Connection {
    fd: Fd,
    /// Written on it as last seen.
    written: u64,
}

/// The byte budget of one publishing socket; see the module documentation.
#[derive(Debug)]
pub(crate) struct SendBudget {
    budget: u64,
    /// Wire bytes handed to libzmq, all connections together.
    handed: u64,
    /// Bytes written on closed connections (as last seen), plus estimates forgiven.
    written_before: u64,
    current: Option<Connection>,
    /// Look again once `handed` passes this.
    look_at: u64,
    /// While dropping: when the link was first seen idle, and `written` then.
    idle_since: Option<(Instant, u64)>,
    dropped: u64,
}

impl SendBudget {
    /// A budget of `budget` bytes.
    pub fn new(budget: usize) -> Self {
        let budget = budget as u64;
        Self {
            budget,
            handed: 0,
            written_before: 0,
            current: None,
            look_at: budget,
            idle_since: None,
            dropped: 0,
        }
    }

    /// Publishes dropped over the budget so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Admits `wire` bytes without looking, if they certainly fit.
    #[inline]
    pub fn fits(&mut self, wire: u64) -> bool {
        let handed = self.handed.saturating_add(wire);
        if handed <= self.look_at {
            self.handed = handed;
            true
        } else {
            false
        }
    }

    /// The descriptor of the connection up now, if any.
    #[cfg(test)]
    pub fn connection(&self) -> Option<Fd> {
        self.current.map(|current| current.fd)
    }

    /// Counts `wire` bytes handed to libzmq outside the budget (connection probes, which are
    /// never dropped): the estimate stays complete.
    pub fn count(&mut self, wire: u64) {
        self.handed = self.handed.saturating_add(wire);
    }

    /// libzmq connected the socket on `fd`.
    pub fn connected(&mut self, fd: Fd) {
        self.close_current();
        self.current = Some(Connection { fd, written: 0 });
    }

    /// libzmq's connection on `fd` is gone.
    pub fn disconnected(&mut self, fd: Fd) {
        if self.current.is_some_and(|current| current.fd == fd) {
            self.close_current();
        }
    }

    fn close_current(&mut self) {
        if let Some(current) = self.current.take() {
            self.written_before = self.written_before.saturating_add(current.written);
        }
    }

    /// Bytes queued by the estimate, after reading the link.
    fn queued(&mut self, link: Option<LinkState>) -> u64 {
        if let (Some(current), Some(link)) = (self.current.as_mut(), link) {
            current.written = current.written.max(link.written);
        }
        let written = self.written_before + self.current.map_or(0, |c| c.written);
        self.handed.saturating_sub(written)
    }

    /// Admits or drops a message of `wire` bytes that [`fits`](Self::fits) could not admit.
    pub fn admit(&mut self, wire: u64, now: Instant, probe: &mut impl LinkProbe) -> bool {
        let link = self.current.and_then(|current| probe.link(current.fd));
        let mut queued = self.queued(link);
        if queued.saturating_add(wire) > self.budget {
            // Idle link while dropping: libzmq has nothing left to write, whatever the estimate.
            let idle =
                link.filter(|l| l.queued == 0 && l.window.is_none_or(|w| w >= STALLED_WINDOW));
            match (idle, self.idle_since) {
                (Some(link), Some((since, written)))
                    if written == link.written && now.duration_since(since) >= CONFIRM =>
                {
                    self.written_before = self.written_before.saturating_add(queued);
                    queued = 0;
                }
                (Some(link), Some((_, written))) if written == link.written => {}
                (Some(link), _) => self.idle_since = Some((now, link.written)),
                (None, _) => self.idle_since = None,
            }
        }
        if queued.saturating_add(wire) > self.budget {
            self.dropped += 1;
            return false;
        }
        self.idle_since = None;
        self.handed = self.handed.saturating_add(wire);
        self.look_at = self.handed + (self.budget - queued - wire);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted connection: `written` grows as the test says.
    #[derive(Default)]
    struct Script {
        link: Option<LinkState>,
    }

    impl LinkProbe for Script {
        fn link(&mut self, _fd: Fd) -> Option<LinkState> {
            self.link
        }
    }

    const MIB: u64 = 1 << 20;

    fn link(written: u64, queued: u32) -> Option<LinkState> {
        Some(LinkState {
            written,
            queued,
            window: Some(if queued > 0 { 0 } else { 1 << 20 }),
        })
    }

    fn publish(budget: &mut SendBudget, wire: u64, now: Instant, script: &mut Script) -> bool {
        budget.fits(wire) || budget.admit(wire, now, script)
    }

    #[test]
    fn wire_sizes_follow_zmtp() {
        assert_eq!(zmtp_part(0), 2);
        assert_eq!(zmtp_part(255), 257);
        assert_eq!(zmtp_part(256), 265);
    }

    #[test]
    fn a_link_that_keeps_up_is_looked_at_once_per_budget() {
        let mut budget = SendBudget::new(16 << 20);
        budget.connected(5);
        let mut script = Script::default();
        let now = Instant::now();
        let mut looks = 0;
        for _ in 0..(64 * 16) {
            if !budget.fits(MIB / 16) {
                looks += 1;
                // Everything handed so far was written.
                script.link = link(budget.handed, 0);
                assert!(budget.admit(MIB / 16, now, &mut script));
            }
        }
        assert_eq!(budget.dropped(), 0);
        assert!(looks <= 5, "{looks} looks for 4 budgets' worth");
    }

    #[test]
    fn a_frozen_backplane_gets_the_budget_and_no_more() {
        let mut budget = SendBudget::new(16 << 20);
        budget.connected(5);
        // The kernel took 4 MiB, then the backplane stopped reading.
        let mut script = Script {
            link: link(4 * MIB, 4 * MIB as u32),
        };
        let now = Instant::now();
        let sent = (0..100)
            .filter(|_| publish(&mut budget, MIB, now, &mut script))
            .count() as u64;
        assert_eq!(
            sent, 20,
            "16 MiB queued in the socket plus 4 MiB in the kernel"
        );
        assert_eq!(budget.dropped(), 80);
        // The backplane reads again: room comes back as it is written.
        script.link = link(12 * MIB, 0);
        assert!(publish(&mut budget, MIB, now, &mut script));
    }

    #[test]
    fn a_stale_estimate_is_forgiven_once_the_link_stands_idle() {
        let mut budget = SendBudget::new(16 << 20);
        budget.connected(5);
        // libzmq dropped 20 MiB itself (nobody subscribed yet): handed, never written.
        let mut script = Script { link: link(0, 0) };
        let now = Instant::now();
        for _ in 0..16 {
            assert!(publish(&mut budget, MIB, now, &mut script));
        }
        assert!(
            !publish(&mut budget, MIB, now, &mut script),
            "over: dropped"
        );
        assert!(!publish(&mut budget, MIB, now + CONFIRM / 2, &mut script));
        assert!(
            publish(&mut budget, MIB, now + CONFIRM, &mut script),
            "idle for CONFIRM: the queue is empty"
        );
        assert_eq!(budget.dropped(), 2);
    }

    #[test]
    fn a_busy_or_closed_link_is_not_taken_for_idle() {
        let mut budget = SendBudget::new(16 << 20);
        budget.connected(5);
        let mut script = Script {
            link: link(0, 4096),
        };
        let now = Instant::now();
        for _ in 0..16 {
            assert!(publish(&mut budget, MIB, now, &mut script));
        }
        for step in 0..10 {
            assert!(!publish(
                &mut budget,
                MIB,
                now + CONFIRM * step,
                &mut script
            ));
        }
        // Disconnected: libzmq keeps the queue for the next connection; nothing is idle.
        budget.disconnected(5);
        script.link = None;
        for step in 10..20 {
            assert!(!publish(
                &mut budget,
                MIB,
                now + CONFIRM * step,
                &mut script
            ));
        }
    }

    #[test]
    fn written_bytes_add_up_over_connections() {
        let mut budget = SendBudget::new(16 << 20);
        budget.connected(5);
        let mut script = Script {
            link: link(10 * MIB, 0),
        };
        let now = Instant::now();
        for _ in 0..10 {
            assert!(publish(&mut budget, MIB, now, &mut script));
        }
        assert!(budget.admit(0, now, &mut script));
        budget.disconnected(5);
        budget.connected(6);
        script.link = link(0, 0);
        // The 10 MiB written on the first connection still count as written.
        for _ in 0..16 {
            assert!(publish(&mut budget, MIB, now, &mut script));
        }
        assert_eq!(budget.dropped(), 0);
    }
}
