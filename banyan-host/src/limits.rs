//! Memory limits: the largest message a socket accepts, the memory budget of its queues, and
//! the eviction of peers that stop reading.
//!
//! ZeroMQ bounds a queue by a *count* of messages (the high-water mark, HWM), never by bytes,
//! and it allocates a whole message part as soon as it has read the part's length. Both are
//! turned into byte bounds here:
//!
//! - **Message size** ([`Limits::max_message`], default [`DEFAULT_MAX_MESSAGE`] = 1 MiB) is
//!   set as `ZMQ_MAXMSGSIZE` on the backplane's sockets. libzmq checks a part's length
//!   *before* allocating for it; a peer that sends a bigger part has its connection closed (it
//!   reconnects by itself), and the part is never stored. The forwarder also drops (and
//!   counts, logging the first) a message whose topic and payload *together* exceed the
//!   limit. A component refuses to publish either ([`crate::Error::MessageTooLarge`]), and
//!   its subscriber socket carries the same `ZMQ_MAXMSGSIZE`, so behind any backplane (Python
//!   Banyan's forwards every size) a bigger part is never stored. On a *connecting* socket
//!   libzmq treats such a part as a protocol error and never reconnects by itself; the
//!   component connects again on every loss of its subscriber connection.
//! - **Queue budget** ([`Limits::queue_budget`], default [`DEFAULT_QUEUE_BUDGET`] = 64 MiB),
//!   kept two ways:
//!   - by count: a *sending* socket's HWM is fixed at
//!     `budget / (BUDGET_MESSAGE + MESSAGE_OVERHEAD)` ([`Limits::send_hwm`]; 43 690 with the
//!     defaults), which holds the budget for messages up to [`BUDGET_MESSAGE`] = 1 KiB (topic
//!     included; nearly every Banyan message is far smaller), and a burst of 100 000 small
//!     messages fits in that queue plus the kernel's socket buffers;
//!   - by bytes, whatever the sizes, on the backplane: the forwarder measures what it has
//!     queued and evicts a subscriber that stopped reading once the budget is passed (see
//!     [`crate::backplane::budget`]; measured: 1 200 × 256 KiB to a frozen subscriber peaked at
//!     73 MiB RSS with the default budget, 306 MiB without the byte check);
//!   - by bytes in a component's publishing queue: what it hands to libzmq minus what the
//!     connection took stays within the budget, the rest is dropped and counted (see
//!     [`crate::component::send_budget`]; measured: 1 000 × 256 KiB to a frozen backplane
//!     grew the component's peak RSS by 16 MiB with a 16 MiB budget, 248 MiB without).
//! - **Stalled peers** ([`Limits::stall_timeout`], default [`DEFAULT_STALL_TIMEOUT`] = 30 s).
//!   The backplane sends ZMTP heartbeats (PING every third of the timeout) to its subscribers
//!   and closes a connection that answers nothing for the timeout, and `TCP_USER_TIMEOUT`
//!   closes one whose data found no room at the peer as long. A stopped or frozen process
//!   (Ctrl-Z, a hung machine, a pulled cable) cannot answer, and neither can one whose socket
//!   stopped reading (libzmq stops reading the TCP stream when the application's queue is
//!   full, so the PING is never seen): its queue is freed even below the budget. A component
//!   that keeps reading, however slowly, keeps answering. libzmq ≥ 4.2 on the other side
//!   answers by itself (pyzmq and every current Python Banyan install do). A disconnected
//!   subscriber reconnects by itself and re-sends its subscriptions. A component applies the
//!   same timeout to its publishing connection: a backplane that stops reading is
//!   disconnected after it (and the component reconnects).
//! - *Receiving* sockets cannot know sizes before reading, so their HWM is the fixed
//!   `budget / (max_message + MESSAGE_OVERHEAD)` ([`Limits::hwm`]). That costs no messages:
//!   a full receive queue makes libzmq stop reading the TCP connection (back-pressure), and
//!   the kernel's socket buffers, counted in bytes, hold the burst meanwhile.
//!
//! Why the HWM is fixed, not adapted to the sizes sent: lowering a pipe's HWM at run time
//! drops messages to subscribers that keep up. libzmq's writer learns how much its reader
//! consumed only every "low-water mark" messages (about the HWM itself), so right after a
//! lowering the writer believes a drained queue is still full: measured here, one 5 KB message
//! sent after 1 000 small ones to an idle, reading subscriber was silently dropped. A fixed
//! HWM never does that.
//!
//! What a stalled subscriber costs the backplane is therefore at most about one budget,
//! whatever the sizes (on Linux with glibc, where the heap can be measured; elsewhere the
//! count bound and the stall timeout), plus the kernel's socket buffers of its connection
//! (kernel memory, not the backplane's RSS). A component's publishing queue holds at most
//! about one budget too; its receiving queue holds at most [`Limits::hwm`] parts of at
//! most [`Limits::max_message`] (its socket refuses bigger ones), within the budget. The numbers measured on
//! this project's machines are in the README.

use std::time::Duration;

/// Default largest message part accepted: 1 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 1024 * 1024;

/// Default memory budget of one queue: 64 MiB.
pub const DEFAULT_QUEUE_BUDGET: usize = 64 * 1024 * 1024;

/// The message size (topic plus payload) up to which a sending queue stays within the budget.
pub const BUDGET_MESSAGE: usize = 1024;

/// Default time a backplane waits for a stalled subscriber before closing its connection.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes a queued message costs beyond its payload: two `zmq_msg_t` of 64 bytes (topic and
/// payload part), the shared payload's header, allocator overhead and the fragmentation of
/// buffers allocated by one libzmq I/O thread and freed by another. 256 was too little:
/// 52 428 queued 1 KiB messages (that estimate's count) raised the backplane's RSS by about
/// 75 MiB; 512 keeps a frozen subscriber's queue of 1 KiB messages within the budget.
pub const MESSAGE_OVERHEAD: usize = 512;

/// The receive HWM of a backplane's subscriber socket: subscriptions libzmq holds per
/// connection before the XPUB reads them. libzmq's XPUB applies every subscription it reads
/// from a connection to its trie at once, and it reads a connection's whole queue each time it
/// processes its commands, which a reading application makes it do every 100 messages read:
/// with a queue of 255 a flood of subscriptions ran thousands ahead of the forwarder's
/// accounting (and into the trie) before the connection could be closed. Below 100 it cannot
/// run ahead; 10 000 subscriptions still arrive in a few milliseconds.
pub const SUBSCRIPTION_HWM: i32 = 32;

/// Message size limit, queue budget and stall timeout of a backplane or component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message part accepted from the network, in bytes (`ZMQ_MAXMSGSIZE`); `None`
    /// accepts any size (what Python Banyan does).
    pub max_message: Option<usize>,
    /// Memory budget for queued messages, in bytes: each queue's count bound is sized from it,
    /// and a backplane keeps all it queues within it (see [`crate::backplane::budget`]); `None` leaves
    /// queues unbounded (HWM 0, no byte check).
    pub queue_budget: Option<usize>,
    /// How long a backplane's subscriber may answer nothing (its heartbeats included) before
    /// its connection is closed and its queue freed; `None` never closes (Python Banyan).
    pub stall_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Limits {
    /// The defaults: 1 MiB messages, 64 MiB per queue, stalled subscribers closed after 30 s.
    pub const DEFAULT: Self = Self {
        max_message: Some(DEFAULT_MAX_MESSAGE),
        queue_budget: Some(DEFAULT_QUEUE_BUDGET),
        stall_timeout: Some(DEFAULT_STALL_TIMEOUT),
    };

    /// No limits at all: any message size, unbounded queues, no eviction (Python Banyan's
    /// behaviour with HWM 0; a stalled subscriber can exhaust memory).
    pub const UNLIMITED: Self = Self {
        max_message: None,
        queue_budget: None,
        stall_timeout: None,
    };

    /// Limits from command-line units: `max_message` in bytes and `budget_mib` in MiB, `0`
    /// meaning "no limit" for either; the default stall timeout.
    pub fn from_flags(max_message: u64, budget_mib: u64) -> Self {
        let bytes = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        Self {
            max_message: (max_message > 0).then(|| bytes(max_message)),
            queue_budget: (budget_mib > 0).then(|| bytes(budget_mib).saturating_mul(1024 * 1024)),
            stall_timeout: Some(DEFAULT_STALL_TIMEOUT),
        }
    }

    /// The same limits with another stall timeout (`Duration::ZERO` = never).
    pub fn with_stall_timeout(self, timeout: Duration) -> Self {
        Self {
            stall_timeout: (!timeout.is_zero()).then_some(timeout),
            ..self
        }
    }

    /// The high-water mark (messages per queue) of a *receiving* socket:
    /// `budget / (max_message + MESSAGE_OVERHEAD)`, at least 1; `0` (unbounded) without a
    /// budget. Without a size limit the count is computed for 1 MiB messages.
    pub const fn hwm(&self) -> i32 {
        let max_message = match self.max_message {
            Some(limit) => limit,
            None => DEFAULT_MAX_MESSAGE,
        };
        self.count(max_message)
    }

    /// The high-water mark of a *sending* socket:
    /// `budget / (min(max_message, BUDGET_MESSAGE) + MESSAGE_OVERHEAD)`, at least 1; `0`
    /// without a budget. Fixed for the socket's life (see the module docs for why).
    pub const fn send_hwm(&self) -> i32 {
        let size = match self.max_message {
            Some(limit) if limit < BUDGET_MESSAGE => limit,
            _ => BUDGET_MESSAGE,
        };
        self.count(size)
    }

    const fn count(&self, message: usize) -> i32 {
        let Some(budget) = self.queue_budget else {
            return 0;
        };
        let count = budget / message.saturating_add(MESSAGE_OVERHEAD);
        if count == 0 {
            1
        } else if count > i32::MAX as usize {
            i32::MAX
        } else {
            count as i32
        }
    }

    /// The `ZMQ_MAXMSGSIZE` value: the limit, or `-1` for none.
    pub fn zmq_max_message(&self) -> i64 {
        self.max_message
            .map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX))
    }

    /// The worst-case bytes one full receive queue holds (`None` if unbounded).
    pub fn queue_bound(&self) -> Option<usize> {
        let hwm = usize::try_from(self.hwm()).ok().filter(|&hwm| hwm > 0)?;
        let per_message = self.max_message?.saturating_add(MESSAGE_OVERHEAD);
        Some(hwm.saturating_mul(per_message))
    }

    /// The bytes a full sending queue holds with messages of `size` bytes (topic plus
    /// payload); `None` if unbounded. Within the budget for `size ≤` [`BUDGET_MESSAGE`].
    pub fn send_queue_bytes(&self, size: usize) -> Option<usize> {
        let hwm = usize::try_from(self.send_hwm())
            .ok()
            .filter(|&hwm| hwm > 0)?;
        Some(hwm.saturating_mul(size.saturating_add(MESSAGE_OVERHEAD)))
    }

    /// Applies the size limit and queue bound to a receiving socket.
    pub(crate) fn apply_receive(&self, socket: &zmq::Socket) -> zmq::Result<()> {
        socket.set_maxmsgsize(self.zmq_max_message())?;
        socket.set_rcvhwm(self.hwm())
    }

    /// Applies the size limit and queue bound to a backplane's subscriber socket, whose peers
    /// send only subscriptions upstream: a part is at most one subscription (the subscribe byte
    /// and a topic within both `max_message` and the per-connection byte bound; a longer one
    /// makes libzmq close that connection before allocating for it), and the queue of
    /// subscriptions not yet read holds [`SUBSCRIPTION_HWM`] of them (fewer if the budget
    /// cannot hold that many of the largest size).
    pub(crate) fn apply_subscriptions(
        &self,
        socket: &zmq::Socket,
        subscriptions: &crate::backplane::subscriptions::SubscriptionLimits,
    ) -> zmq::Result<()> {
        let by_bytes = subscriptions.max_bytes.map(|bytes| bytes.saturating_add(1));
        let largest = match (self.max_message, by_bytes) {
            (Some(message), Some(bytes)) => Some(message.min(bytes)),
            (message, bytes) => message.or(bytes),
        };
        socket.set_maxmsgsize(largest.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)))?;
        let by_budget = self.count(largest.unwrap_or(DEFAULT_MAX_MESSAGE));
        socket.set_rcvhwm(if by_budget == 0 {
            SUBSCRIPTION_HWM
        } else {
            by_budget.min(SUBSCRIPTION_HWM)
        })
    }

    /// Applies the queue bound to a sending socket.
    pub(crate) fn apply_send(&self, socket: &zmq::Socket) -> zmq::Result<()> {
        socket.set_sndhwm(self.send_hwm())
    }

    /// Applies the stall timeout to a backplane's subscriber socket, twice over:
    /// `TCP_USER_TIMEOUT` (libzmq's `ZMQ_TCP_MAXRT`) makes the kernel close a connection whose
    /// queued data found no room at the peer (zero window: the peer stopped reading) for the
    /// timeout; ZMTP heartbeats (a PING every third of the timeout) close one that answers
    /// nothing while nothing else is queued for it (a peer gone without a word).
    pub(crate) fn apply_stall_timeout(&self, socket: &mut zmq::Socket) -> zmq::Result<()> {
        let Some(timeout) = self.stall_timeout else {
            return Ok(());
        };
        let millis = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX).max(1);
        socket.set_heartbeat_ivl(millis(timeout / 3))?;
        socket.set_heartbeat_timeout(millis(timeout))?;
        set_tcp_maxrt(socket, millis(timeout))
    }
}

/// `zmq_setsockopt(ZMQ_TCP_MAXRT)`, which the `zmq` crate does not wrap.
fn set_tcp_maxrt(socket: &mut zmq::Socket, millis: i32) -> zmq::Result<()> {
    set_int_option(socket, zmq_sys::ZMQ_TCP_MAXRT, millis)
}

/// `zmq_setsockopt` of an int-valued option the `zmq` crate does not wrap (`ZMQ_TCP_MAXRT`,
/// `ZMQ_XPUB_VERBOSER`).
#[allow(unsafe_code)]
pub(crate) fn set_int_option(socket: &mut zmq::Socket, option: u32, value: i32) -> zmq::Result<()> {
    let value: std::ffi::c_int = value;
    let option = std::ffi::c_int::try_from(option).map_err(|_| zmq::Error::EINVAL)?;
    // SAFETY: the socket pointer is live for the call (`socket` is borrowed), and the option
    // value is a C int passed by address with its exact size, as zmq_setsockopt documents for
    // the int-valued options this is used for.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            option,
            (&value as *const std::ffi::c_int).cast(),
            std::mem::size_of::<std::ffi::c_int>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: zmq_errno only reads libzmq's thread-local error number.
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_give_64_receive_slots_of_a_mebibyte() {
        let limits = Limits::default();
        assert_eq!(limits.hwm(), 63);
        let bound = limits.queue_bound().unwrap();
        assert!(bound <= DEFAULT_QUEUE_BUDGET, "{bound}");
        assert!(bound > DEFAULT_QUEUE_BUDGET - DEFAULT_MAX_MESSAGE - MESSAGE_OVERHEAD);
        assert_eq!(limits.zmq_max_message(), 1024 * 1024);
    }

    #[test]
    fn send_queues_keep_the_budget_for_messages_up_to_a_kibibyte() {
        let limits = Limits::default();
        assert_eq!(limits.send_hwm(), 43_690);
        assert!(limits.send_queue_bytes(BUDGET_MESSAGE).unwrap() <= DEFAULT_QUEUE_BUDGET);
        assert!(limits.send_queue_bytes(BUDGET_MESSAGE + 64).unwrap() > DEFAULT_QUEUE_BUDGET);
        // A smaller size limit gives more slots, still within the budget at that size.
        let small = Limits::from_flags(100, 64);
        assert_eq!(
            small.send_hwm(),
            (64 * 1024 * 1024 / (100 + MESSAGE_OVERHEAD)) as i32
        );
        assert!(small.send_queue_bytes(100).unwrap() <= 64 * 1024 * 1024);
    }

    #[test]
    fn small_messages_give_a_large_count_within_the_same_budget() {
        let limits = Limits::from_flags(1024, 64);
        assert_eq!(
            limits.hwm(),
            (64 * 1024 * 1024 / (1024 + MESSAGE_OVERHEAD)) as i32
        );
        assert!(limits.queue_bound().unwrap() <= 64 * 1024 * 1024);
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = Limits::from_flags(0, 0).with_stall_timeout(Duration::ZERO);
        assert_eq!(limits, Limits::UNLIMITED);
        assert_eq!(limits.hwm(), 0);
        assert_eq!(limits.send_hwm(), 0);
        assert_eq!(limits.zmq_max_message(), -1);
        assert_eq!(limits.queue_bound(), None);
        // A budget without a size limit: the count assumes 1 MiB messages.
        let budget_only = Limits::from_flags(0, 64);
        assert_eq!(budget_only.hwm(), Limits::default().hwm());
        assert_eq!(budget_only.queue_bound(), None);
        assert_eq!(
            Limits::default()
                .with_stall_timeout(Duration::from_secs(5))
                .stall_timeout,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn tiny_budget_still_queues_one_message_and_huge_values_saturate() {
        assert_eq!(Limits::from_flags(1 << 20, 1).hwm(), 1);
        assert_eq!(Limits::from_flags(1, u64::MAX).hwm(), i32::MAX);
        assert_eq!(Limits::from_flags(1, u64::MAX).send_hwm(), i32::MAX);
        assert_eq!(Limits::from_flags(u64::MAX, 1).zmq_max_message(), i64::MAX);
    }
}
