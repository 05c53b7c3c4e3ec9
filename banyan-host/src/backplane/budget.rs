//! The backplane's byte budget for queued messages, whatever their sizes.
//!
//! libzmq bounds each subscriber's queue by a count of messages ([`Limits::send_hwm`]), which
//! keeps the budget only while messages are small. For any size, the forwarder also watches
//! the bytes it has queued and evicts the subscriber that holds them:
//!
//! - **Measure.** Every `budget / 64` forwarded bytes (1 MiB by default), the forwarder reads
//!   the process's heap in use (glibc's `mallinfo2`, which falls as soon as a queue is freed)
//!   and takes what lies above the level at start as *queued*. Everything a stalled
//!   subscriber's queue holds is there; its connection's kernel socket buffers are not (kernel
//!   memory, a few MiB at most).
//! - **Find the stalled.** A queue grows only behind a connection the kernel cannot send on:
//!   the peer's receive window is closed (under [`STALLED_WINDOW`]: it stopped reading, or
//!   reads slower than the flood) and bytes wait unsent. A subscriber found so at two checks
//!   at least [`CONFIRM`] apart, without a byte acknowledged between them, is stalled; one
//!   that reads at all is not.
//!   Suspects are watched from half the budget on, so one stalled since then is evicted the
//!   moment the budget is passed.
//! - **Slow consumers.** A subscriber that reads, but more slowly than a sustained flood comes
//!   in, is not stalled, yet its queue grows. Past *twice* the budget, with nobody stalled,
//!   the slowest subscriber whose kernel buffer stayed full for [`CONFIRM`] (fewest bytes
//!   acknowledged per second) is evicted: the hard ceiling whatever the readers do.
//! - **Evict.** While the queued bytes exceed the budget, every stalled subscriber's
//!   connection is shut down: libzmq sees the end of the stream, closes the connection and
//!   frees its queue; the subscriber (libzmq, Python's pyzmq alike) reconnects by itself and
//!   re-subscribes, having lost what was queued for it. Each eviction is logged with the
//!   peer's address and counted ([`crate::backplane::ForwardStats::evicted`]). This is the
//!   policy of NATS ("slow consumer") and Redis (`client-output-buffer-limit pubsub`).
//!
//! The decision is sans-IO: it takes its measurements from a probe, which the backplane
//! implements over the operating system (glibc, `TCP_INFO`, `shutdown(2)`) and the unit tests
//! script. Where the heap cannot be measured (not Linux with glibc) the byte budget is off;
//! the count bound and the stall timeout remain.
//!
//! [`Limits::send_hwm`]: crate::limits::Limits::send_hwm

use crate::sys::Fd;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::sys::TcpSendState;

/// How long a subscriber must stay stalled (zero window, unsent bytes, nothing acknowledged)
/// before it is evicted. Long enough that a subscriber that reads, however briefly behind,
/// shows progress; short enough that a flood adds little above the budget meanwhile.
pub const CONFIRM: Duration = Duration::from_millis(20);

/// A peer that advertises a receive window under this (one loopback segment) while bytes
/// wait unsent is not taking data. A stopped reader advertises 0 or a sliver: measured on
/// loopback, 15 360 bytes with megabytes unsent.
pub const STALLED_WINDOW: u32 = 64 * 1024;

/// What the budget needs to know of the process and its connections.
pub(crate) trait Probe {
    /// Bytes of heap in use, or `None` where that cannot be measured.
    fn heap_in_use(&mut self) -> Option<usize>;
    /// The sending side of the TCP connection on `fd`, `None` if it is gone.
    fn send_state(&mut self, fd: Fd) -> Option<TcpSendState>;
    /// Local and peer address of the connection on `fd`.
    fn addresses(&mut self, fd: Fd) -> Option<(SocketAddr, SocketAddr)>;
    /// Shuts the connection on `fd` down.
    fn shut_down(&mut self, fd: Fd) -> std::io::Result<()>;
}

/// The operating system's answers ([`crate::sys`]).
pub(crate) struct SystemProbe;

impl Probe for SystemProbe {
    fn heap_in_use(&mut self) -> Option<usize> {
        crate::sys::heap_in_use()
    }
    fn send_state(&mut self, fd: Fd) -> Option<TcpSendState> {
        crate::sys::tcp_send_state(fd)
    }
    fn addresses(&mut self, fd: Fd) -> Option<(SocketAddr, SocketAddr)> {
        crate::sys::addresses(fd)
    }
    fn shut_down(&mut self, fd: Fd) -> std::io::Result<()> {
        crate::sys::shut_down(fd)
    }
}

/// One subscriber connection, known from libzmq's `ACCEPTED` event.
#[derive(Debug)]
struct Peer {
    /// The connection's addresses when it was accepted: a descriptor is acted on only while
    /// it still carries this connection (libzmq may have closed and reused it meanwhile).
    addresses: Option<(SocketAddr, SocketAddr)>,
    /// When it was first seen stalled (no byte acknowledged since), and the bytes
    /// acknowledged then.
    stalled_since: Option<(Instant, u64)>,
    /// When its kernel buffer was first seen full (it may still be reading, slowly), and the
    /// bytes acknowledged then.
    full_since: Option<(Instant, u64)>,
    /// Shut down; waiting for libzmq's `DISCONNECTED` event.
    evicted: bool,
}

/// The result of one [`Budget::check`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Bytes above the level at start; `None` if the heap cannot be measured.
    pub queued: Option<usize>,
    /// Subscribers evicted by this check.
    pub evicted: Vec<SocketAddr>,
    /// Check again after this long even without traffic: a subscriber is suspected.
    pub recheck_in: Option<Duration>,
}

/// The byte budget of a backplane's subscriber queues; see the module documentation.
#[derive(Debug)]
pub(crate) struct Budget {
    budget: usize,
    baseline: usize,
    check_every: usize,
    since_check: usize,
    peers: HashMap<Fd, Peer>,
}

impl Budget {
    /// A budget of `budget` bytes above the heap in use now. `None` if the heap cannot be
    /// measured on this platform.
    pub fn new(budget: usize, probe: &mut impl Probe) -> Option<Self> {
        Some(Self {
            budget,
            baseline: probe.heap_in_use()?,
            check_every: (budget / 64).max(64 * 1024),
            since_check: 0,
            peers: HashMap::new(),
        })
    }

    /// Counts `bytes` forwarded; true when it is time for a [`Budget::check`].
    pub fn forwarded(&mut self, bytes: usize) -> bool {
        self.since_check = self.since_check.saturating_add(bytes);
        self.since_check >= self.check_every
    }

    /// A subscriber connection was accepted on `fd`.
    pub fn accepted(&mut self, fd: Fd, probe: &mut impl Probe) {
        let addresses = probe.addresses(fd);
        self.peers.insert(
            fd,
            Peer {
                addresses,
                stalled_since: None,
                full_since: None,
                evicted: false,
            },
        );
    }

    /// The connection on `fd` is gone (and its queue freed).
    pub fn disconnected(&mut self, fd: Fd) {
        self.peers.remove(&fd);
    }

    /// Subscriber connections known.
    pub fn peers(&self) -> usize {
        self.peers.len()
    }

    /// Measures the queued bytes and, over the budget, evicts the stalled subscribers.
    pub fn check(&mut self, now: Instant, probe: &mut impl Probe) -> Checked {
        self.since_check = 0;
        let Some(heap) = probe.heap_in_use() else {
            return Checked::default();
        };
        let queued = heap.saturating_sub(self.baseline);
        let mut checked = Checked {
            queued: Some(queued),
            ..Checked::default()
        };
        // Suspects are watched from half the budget on, so that a subscriber stalled since is
        // confirmed, and evicted, the moment the budget is passed.
        if queued <= self.budget / 2 {
            for peer in self.peers.values_mut() {
                peer.stalled_since = None;
                peer.full_since = None;
            }
            return checked;
        }
        let over = queued > self.budget;
        let ceiling = queued > self.budget.saturating_mul(2);
        // The slowest subscriber whose kernel buffer stayed full for CONFIRM: bytes it
        // acknowledged per second since, and its descriptor.
        let mut slowest: Option<(f64, Fd)> = None;
        let mut doomed = Vec::new();
        for (&fd, peer) in &mut self.peers {
            if peer.evicted {
                continue;
            }
            let state = probe.send_state(fd);
            let full =
                state.filter(|s| s.notsent > 0 && s.window.is_none_or(|w| w < STALLED_WINDOW));
            let Some(state) = full else {
                peer.stalled_since = None;
                peer.full_since = None;
                continue;
            };
            let (full_at, full_acked) = *peer.full_since.get_or_insert((now, state.acked));
            let full_for = now.duration_since(full_at);
            if full_for >= CONFIRM {
                let rate = state.acked.saturating_sub(full_acked) as f64 / full_for.as_secs_f64();
                if slowest.is_none_or(|(slowest_rate, _)| rate < slowest_rate) {
                    slowest = Some((rate, fd));
                }
            }
            match peer.stalled_since {
                Some((since, acked))
                    if over && acked == state.acked && now.duration_since(since) >= CONFIRM =>
                {
                    doomed.push(fd);
                }
                Some((_, acked)) if acked == state.acked => {}
                _ => peer.stalled_since = Some((now, state.acked)),
            }
        }
        // Past twice the budget with nobody stalled, a subscriber that reads but falls behind
        // the flood holds the memory: the slowest goes (NATS's "slow consumer").
        if doomed.is_empty() && ceiling {
            doomed.extend(slowest.map(|(_, fd)| fd));
        }
        for fd in doomed {
            if let Some(address) = self.evict(fd, probe) {
                checked.evicted.push(address);
            }
        }
        if self
            .peers
            .values()
            .any(|p| !p.evicted && (p.stalled_since.is_some() || p.full_since.is_some()))
        {
            checked.recheck_in = Some(CONFIRM);
        }
        checked
    }

    /// Shuts the connection on `fd` down if it is still the one accepted there.
    fn evict(&mut self, fd: Fd, probe: &mut impl Probe) -> Option<SocketAddr> {
        let peer = self.peers.get_mut(&fd)?;
        let current = probe.addresses(fd);
        if current.is_none() || current != peer.addresses {
            // Not the connection accepted on this descriptor any more.
            peer.stalled_since = None;
            peer.full_since = None;
            return None;
        }
        match probe.shut_down(fd) {
            Ok(()) => {
                peer.evicted = true;
                peer.addresses.map(|(_, address)| address)
            }
            Err(error) => {
                tracing::warn!(%error, fd, "cannot shut a stalled subscriber down");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted machine: a heap level, and per descriptor a send state.
    #[derive(Default)]
    struct Script {
        heap: usize,
        states: HashMap<Fd, TcpSendState>,
        shut: Vec<Fd>,
        moved: Vec<Fd>,
    }

    fn address(fd: Fd) -> (SocketAddr, SocketAddr) {
        let port = u16::try_from(fd).unwrap();
        (
            SocketAddr::from(([127, 0, 0, 1], 43125)),
            SocketAddr::from(([127, 0, 0, 1], 50000 + port)),
        )
    }

    impl Probe for Script {
        fn heap_in_use(&mut self) -> Option<usize> {
            Some(self.heap)
        }
        fn send_state(&mut self, fd: Fd) -> Option<TcpSendState> {
            self.states.get(&fd).copied()
        }
        fn addresses(&mut self, fd: Fd) -> Option<(SocketAddr, SocketAddr)> {
            if self.moved.contains(&fd) {
                Some(address(fd + 100))
            } else {
                Some(address(fd))
            }
        }
        fn shut_down(&mut self, fd: Fd) -> std::io::Result<()> {
            self.shut.push(fd);
            Ok(())
        }
    }

    const STALLED: TcpSendState = TcpSendState {
        notsent: 4096,
        window: Some(0),
        acked: 1000,
    };
    const READING: TcpSendState = TcpSendState {
        notsent: 4096,
        window: Some(65536),
        acked: 1000,
    };

    fn rig() -> (Budget, Script, Instant) {
        let mut script = Script {
            heap: 10 << 20,
            ..Script::default()
        };
        let mut budget = Budget::new(64 << 20, &mut script).unwrap();
        for fd in [7, 8] {
            budget.accepted(fd, &mut script);
        }
        script.states.insert(7, STALLED);
        script.states.insert(8, READING);
        (budget, script, Instant::now())
    }

    #[test]
    fn within_the_budget_nobody_is_evicted() {
        let (mut budget, mut script, now) = rig();
        script.heap += 64 << 20;
        for step in 0..10 {
            let checked = budget.check(now + CONFIRM * step, &mut script);
            assert_eq!(checked.queued, Some(64 << 20));
            assert!(checked.evicted.is_empty());
        }
        assert!(script.shut.is_empty());
    }

    #[test]
    fn over_the_budget_the_stalled_subscriber_is_evicted_after_confirmation() {
        let (mut budget, mut script, now) = rig();
        script.heap += (64 << 20) + 1;
        let first = budget.check(now, &mut script);
        assert!(first.evicted.is_empty(), "seen stalled once is not enough");
        assert_eq!(first.recheck_in, Some(CONFIRM));
        let early = budget.check(now + CONFIRM / 2, &mut script);
        assert!(early.evicted.is_empty());
        let confirmed = budget.check(now + CONFIRM, &mut script);
        assert_eq!(confirmed.evicted, vec![address(7).1]);
        assert_eq!(script.shut, vec![7], "the reading subscriber stays");
        // Until libzmq reports the disconnect, it is not shut down twice.
        assert!(
            budget
                .check(now + CONFIRM * 3, &mut script)
                .evicted
                .is_empty()
        );
        budget.disconnected(7);
        assert_eq!(budget.peers(), 1);
    }

    #[test]
    fn a_subscriber_that_acknowledges_anything_is_not_stalled() {
        let (mut budget, mut script, now) = rig();
        script.heap += 100 << 20;
        budget.check(now, &mut script);
        script.states.get_mut(&7).unwrap().acked += 1;
        assert!(budget.check(now + CONFIRM, &mut script).evicted.is_empty());
        // Its clock restarted at the progress.
        assert!(
            budget
                .check(now + CONFIRM * 3 / 2, &mut script)
                .evicted
                .is_empty()
        );
        assert_eq!(
            budget.check(now + CONFIRM * 2, &mut script).evicted.len(),
            1
        );
    }

    #[test]
    fn suspects_watched_from_half_the_budget_go_at_once_when_it_is_passed() {
        let (mut budget, mut script, now) = rig();
        script.heap += (32 << 20) + 1;
        let watching = budget.check(now, &mut script);
        assert!(watching.evicted.is_empty());
        assert_eq!(watching.recheck_in, Some(CONFIRM));
        assert!(
            budget
                .check(now + CONFIRM * 5, &mut script)
                .evicted
                .is_empty()
        );
        script.heap += 32 << 20;
        let passed = budget.check(now + CONFIRM * 5, &mut script);
        assert_eq!(passed.evicted, vec![address(7).1]);
    }

    #[test]
    fn dropping_under_the_budget_forgets_suspicions() {
        let (mut budget, mut script, now) = rig();
        script.heap += 100 << 20;
        budget.check(now, &mut script);
        script.heap -= 100 << 20;
        budget.check(now + CONFIRM, &mut script);
        script.heap += 100 << 20;
        assert!(
            budget
                .check(now + CONFIRM * 3, &mut script)
                .evicted
                .is_empty()
        );
    }

    #[test]
    fn past_twice_the_budget_the_slowest_reader_goes() {
        let (mut budget, mut script, now) = rig();
        // Both read (acknowledge bytes), both with full buffers; 8 reads half as fast.
        script.states.insert(
            7,
            TcpSendState {
                window: Some(0),
                ..READING
            },
        );
        script.states.insert(
            8,
            TcpSendState {
                window: Some(0),
                ..READING
            },
        );
        script.heap += 100 << 20;
        budget.check(now, &mut script);
        script.states.get_mut(&7).unwrap().acked += 2 << 20;
        script.states.get_mut(&8).unwrap().acked += 1 << 20;
        assert!(
            budget.check(now + CONFIRM, &mut script).evicted.is_empty(),
            "over the budget but under the ceiling: readers are kept"
        );
        script.heap += 100 << 20;
        script.states.get_mut(&7).unwrap().acked += 2 << 20;
        script.states.get_mut(&8).unwrap().acked += 1 << 20;
        let checked = budget.check(now + CONFIRM * 2, &mut script);
        assert_eq!(checked.evicted, vec![address(8).1]);
        assert_eq!(script.shut, vec![8]);
    }

    #[test]
    fn a_reused_descriptor_is_left_alone() {
        let (mut budget, mut script, now) = rig();
        script.heap += 100 << 20;
        budget.check(now, &mut script);
        script.moved.push(7);
        assert!(budget.check(now + CONFIRM, &mut script).evicted.is_empty());
        assert!(script.shut.is_empty());
    }

    #[test]
    fn without_a_window_reading_unsent_bytes_and_no_progress_mean_stalled() {
        let (mut budget, mut script, now) = rig();
        script.states.insert(
            7,
            TcpSendState {
                window: None,
                ..STALLED
            },
        );
        script.states.insert(
            8,
            TcpSendState {
                notsent: 0,
                ..READING
            },
        );
        script.heap += 100 << 20;
        budget.check(now, &mut script);
        assert_eq!(
            budget.check(now + CONFIRM, &mut script).evicted,
            vec![address(7).1]
        );
    }

    #[test]
    fn checks_come_every_sixty_fourth_of_the_budget() {
        let (mut budget, _, _) = rig();
        assert!(!budget.forwarded((1 << 20) - 1));
        assert!(budget.forwarded(1));
    }
}
