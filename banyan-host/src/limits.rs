//! Memory limits: the largest message a socket accepts and the memory budget of its queues.
//!
//! ZeroMQ bounds a queue by a *count* of messages (the high-water mark, HWM), never by bytes,
//! and it allocates a whole message part as soon as it has read the part's length. Both are
//! turned into byte bounds here:
//!
//! - **Message size** ([`Limits::max_message`], default [`DEFAULT_MAX_MESSAGE`] = 1 MiB) is
//!   set as `ZMQ_MAXMSGSIZE` on the backplane's sockets. libzmq checks a part's length
//!   *before* allocating for it; a peer that sends a bigger part has its connection closed (it
//!   reconnects by itself), and the part is never stored. The limit is per message part: a
//!   Banyan message is `[topic, payload]`, so it bounds the payload. libzmq does not say why it
//!   closed a connection, so these drops are not counted separately. A component refuses to
//!   publish a bigger part ([`crate::Error::MessageTooLarge`]); it does not set the option on
//!   its own subscriber socket, because on a *connecting* socket libzmq treats an oversized
//!   part as a protocol error and never reconnects.
//! - **Queue budget** ([`Limits::queue_budget`], default [`DEFAULT_QUEUE_BUDGET`] = 64 MiB).
//!   A fixed HWM of `budget / max_message` (64 with the defaults) would keep the budget but
//!   drop small messages in any burst (measured: 98 % of a 100 000-message burst lost between
//!   the forwarder thread and libzmq's I/O thread). So the HWM of a *sending* socket follows
//!   the sizes actually sent ([`HwmGovernor`]): sizes fall into [`SIZE_CLASSES`] classes, each
//!   owning an equal share of the budget, and the HWM is that of the largest class sent in the
//!   last [`HOLD`]. It is lowered *before* a larger message is queued, so at any time a queue
//!   holds at most `share / class_limit` messages of each class or above, and its bytes stay
//!   within the budget (proof in [`HwmGovernor`]). Small messages get tens of thousands of
//!   slots; 1 MiB messages get 16.
//! - *Receiving* sockets cannot know sizes before reading, so their HWM is the fixed
//!   `budget / (max_message + MESSAGE_OVERHEAD)`. That costs no messages: a full receive queue
//!   makes libzmq stop reading the TCP connection (back-pressure), and the kernel's
//!   socket buffers, counted in bytes, hold the burst meanwhile.
//!
//! What a stalled subscriber costs the backplane is therefore at most one budget (its queue in
//! the backplane) plus the kernel's socket buffers of its connection (kernel memory, not the
//! backplane's RSS). The numbers measured on this project's machines are in the crate README.

use std::time::{Duration, Instant};

/// Default largest message part accepted: 1 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 1024 * 1024;

/// Default memory budget of one queue: 64 MiB.
pub const DEFAULT_QUEUE_BUDGET: usize = 64 * 1024 * 1024;

/// Bytes a queued message costs beyond its payload: two `zmq_msg_t` of 64 bytes (topic and
/// payload part), the shared payload's header and allocator overhead, rounded up.
pub const MESSAGE_OVERHEAD: usize = 256;

/// Message size limit and queue budget of a backplane or component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message part accepted from the network, in bytes (`ZMQ_MAXMSGSIZE`); `None`
    /// accepts any size (what Python Banyan does).
    pub max_message: Option<usize>,
    /// Memory budget of each message queue, in bytes; `None` leaves queues unbounded (HWM 0).
    pub queue_budget: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Limits {
    /// The defaults: 1 MiB messages, 64 MiB per queue.
    pub const DEFAULT: Self = Self {
        max_message: Some(DEFAULT_MAX_MESSAGE),
        queue_budget: Some(DEFAULT_QUEUE_BUDGET),
    };

    /// No limits at all: any message size, unbounded queues (Python Banyan's behaviour with
    /// HWM 0; a stalled subscriber can exhaust memory).
    pub const UNLIMITED: Self = Self {
        max_message: None,
        queue_budget: None,
    };

    /// Limits from command-line units: `max_message` in bytes and `budget_mib` in MiB, `0`
    /// meaning "no limit" for either.
    pub fn from_flags(max_message: u64, budget_mib: u64) -> Self {
        let bytes = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        Self {
            max_message: (max_message > 0).then(|| bytes(max_message)),
            queue_budget: (budget_mib > 0).then(|| bytes(budget_mib).saturating_mul(1024 * 1024)),
        }
    }

    /// The high-water mark (messages per queue) that keeps each queue within the budget:
    /// `budget / (max_message + MESSAGE_OVERHEAD)`, at least 1; `0` (unbounded) without a
    /// budget. Without a size limit the largest possible message is unbounded too, so the
    /// budget cannot be kept by a count: the HWM is then computed for 1 MiB messages and the
    /// budget holds only for messages up to that size.
    pub const fn hwm(&self) -> i32 {
        let Some(budget) = self.queue_budget else {
            return 0;
        };
        let max_message = match self.max_message {
            Some(limit) => limit,
            None => DEFAULT_MAX_MESSAGE,
        };
        let count = budget / max_message.saturating_add(MESSAGE_OVERHEAD);
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

    /// The worst-case bytes one full queue holds under these limits (`None` if unbounded).
    pub fn queue_bound(&self) -> Option<usize> {
        let hwm = usize::try_from(self.hwm()).ok().filter(|&hwm| hwm > 0)?;
        let per_message = self.max_message?.saturating_add(MESSAGE_OVERHEAD);
        Some(hwm.saturating_mul(per_message))
    }

    /// The HWM of size class `class` (see [`HwmGovernor`]); `0` without a budget.
    pub fn class_hwm(&self, class: usize) -> i32 {
        let Some(budget) = self.queue_budget else {
            return 0;
        };
        let share = budget / SIZE_CLASSES.len();
        let limit = class_limit(class, self.max_message.unwrap_or(DEFAULT_MAX_MESSAGE));
        let count = share / limit.saturating_add(MESSAGE_OVERHEAD);
        i32::try_from(count.max(1)).unwrap_or(i32::MAX)
    }

    /// Applies the size limit to a receiving socket.
    pub(crate) fn apply_receive(&self, socket: &zmq::Socket) -> zmq::Result<()> {
        socket.set_maxmsgsize(self.zmq_max_message())?;
        socket.set_rcvhwm(self.hwm())
    }

    /// Applies the queue bound of the smallest size class to a sending socket; a
    /// [`HwmGovernor`] adapts it to the sizes sent.
    pub(crate) fn apply_send(&self, socket: &zmq::Socket) -> zmq::Result<()> {
        socket.set_sndhwm(self.class_hwm(0))
    }
}

/// Upper bounds of the size classes a sending socket's HWM adapts to; the last class ends at
/// the message size limit.
pub const SIZE_CLASSES: [usize; 4] = [256, 4 * 1024, 64 * 1024, usize::MAX];

/// How long a sending socket keeps the HWM of a larger class after its last message of it.
pub const HOLD: Duration = Duration::from_millis(200);

fn class_limit(class: usize, max_message: usize) -> usize {
    SIZE_CLASSES
        .get(class)
        .copied()
        .unwrap_or(usize::MAX)
        .min(max_message)
}

/// Adapts a sending socket's HWM to the sizes of the messages sent (sans-IO: it says which HWM
/// to set, the caller sets it).
///
/// Each class `i` of [`SIZE_CLASSES`] owns `budget / classes` bytes, so its HWM is
/// `h_i = share / (limit_i + MESSAGE_OVERHEAD)`, falling with `i`. Before a message of class
/// `i` is queued, the socket's HWM is at most `h_i` (lowered first if needed). libzmq queues a
/// message only while the queue holds fewer messages than the HWM, so every message of class
/// `≥ i` entered a queue holding fewer than `h_i` messages: at most `h_i` messages of class
/// `≥ i` are ever queued together. Summing by class, the queued bytes are at most
/// `Σ h_i · (limit_i + overhead) ≤ budget`, whatever the order and sizes. A queue whose
/// reader stopped stays frozen at its first overflow (libzmq reactivates it only when the
/// reader reads), so raising the HWM later does not grow it.
#[derive(Debug, Clone, Copy)]
pub struct HwmGovernor {
    limits: Limits,
    class: usize,
    last_large: Instant,
}

impl HwmGovernor {
    /// A governor starting in the smallest class (the HWM `Limits::apply_send` sets).
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            class: 0,
            last_large: Instant::now(),
        }
    }

    /// The class of a message of `len` bytes.
    pub fn class_of(len: usize) -> usize {
        SIZE_CLASSES
            .iter()
            .position(|&limit| len <= limit)
            .unwrap_or(SIZE_CLASSES.len() - 1)
    }

    /// The limits governed.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Call before sending a message of `len` bytes: `Some(hwm)` when the socket's HWM must
    /// change first. Cheap when nothing changes (one comparison for messages of the current
    /// class or smaller within [`HOLD`]).
    pub fn before_send(&mut self, len: usize) -> Option<i32> {
        self.before_send_at(len, Instant::now)
    }

    /// [`Self::before_send`] with an explicit clock (tests).
    pub fn before_send_at(&mut self, len: usize, now: impl FnOnce() -> Instant) -> Option<i32> {
        self.limits.queue_budget?;
        let class = Self::class_of(len);
        if class > self.class {
            self.class = class;
            self.last_large = now();
            return Some(self.limits.class_hwm(class));
        }
        if class == self.class {
            if class > 0 {
                self.last_large = now();
            }
            return None;
        }
        let now = now();
        if now.duration_since(self.last_large) < HOLD {
            return None;
        }
        self.class = class;
        Some(self.limits.class_hwm(class))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_give_64_messages_of_a_mebibyte() {
        let limits = Limits::default();
        assert_eq!(limits.hwm(), 63);
        let bound = limits.queue_bound().unwrap();
        assert!(bound <= DEFAULT_QUEUE_BUDGET, "{bound}");
        assert!(bound > DEFAULT_QUEUE_BUDGET - DEFAULT_MAX_MESSAGE - MESSAGE_OVERHEAD);
        assert_eq!(limits.zmq_max_message(), 1024 * 1024);
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
        let limits = Limits::from_flags(0, 0);
        assert_eq!(limits, Limits::UNLIMITED);
        assert_eq!(limits.hwm(), 0);
        assert_eq!(limits.zmq_max_message(), -1);
        assert_eq!(limits.queue_bound(), None);
        // A budget without a size limit: the count assumes 1 MiB messages.
        let budget_only = Limits::from_flags(0, 64);
        assert_eq!(budget_only.hwm(), Limits::default().hwm());
        assert_eq!(budget_only.queue_bound(), None);
    }

    #[test]
    fn class_shares_sum_within_the_budget() {
        for limits in [
            Limits::default(),
            Limits::from_flags(1024, 64),
            Limits::from_flags(1 << 20, 8),
        ] {
            let max = limits.max_message.unwrap();
            let bytes: usize = (0..SIZE_CLASSES.len())
                .map(|class| {
                    limits.class_hwm(class) as usize * (class_limit(class, max) + MESSAGE_OVERHEAD)
                })
                .sum();
            assert!(bytes <= limits.queue_budget.unwrap(), "{limits:?}: {bytes}");
        }
        let limits = Limits::default();
        assert_eq!(limits.class_hwm(0), 16 * 1024 * 1024 / 512);
        assert_eq!(limits.class_hwm(3), 15);
    }

    #[test]
    fn governor_lowers_before_large_and_raises_after_hold() {
        let limits = Limits::default();
        let mut governor = HwmGovernor::new(limits);
        let start = Instant::now();
        assert_eq!(governor.before_send_at(10, || start), None);
        assert_eq!(
            governor.before_send_at(100_000, || start),
            Some(limits.class_hwm(3))
        );
        assert_eq!(governor.before_send_at(1 << 20, || start), None);
        // Smaller messages within the hold keep the low HWM.
        assert_eq!(governor.before_send_at(10, || start + HOLD / 2), None);
        assert_eq!(
            governor.before_send_at(5000, || start + HOLD * 2),
            Some(limits.class_hwm(2))
        );
        assert_eq!(
            governor.before_send_at(10, || start + HOLD * 4),
            Some(limits.class_hwm(0))
        );
        assert_eq!(HwmGovernor::class_of(0), 0);
        assert_eq!(HwmGovernor::class_of(256), 0);
        assert_eq!(HwmGovernor::class_of(257), 1);
        assert_eq!(HwmGovernor::class_of(usize::MAX), 3);
        // No budget: never touches the HWM.
        let mut unbounded = HwmGovernor::new(Limits::UNLIMITED);
        assert_eq!(unbounded.before_send(1 << 30), None);
    }

    /// A model of a queue that never drains: whatever the sizes and their order, the governor
    /// keeps the queued bytes within the budget.
    #[test]
    fn stalled_queue_stays_within_budget_for_any_order() {
        let limits = Limits::from_flags(1 << 20, 4);
        let budget = limits.queue_budget.unwrap();
        let sizes = [
            1usize << 20,
            10,
            300,
            5000,
            70_000,
            1 << 19,
            4096,
            256,
            0,
            65_536,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200 {
            let mut governor = HwmGovernor::new(limits);
            let mut hwm = limits.class_hwm(0) as usize;
            let (mut count, mut bytes) = (0usize, 0usize);
            let start = Instant::now();
            for step in 0..20_000u32 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let len = sizes[(seed % sizes.len() as u64) as usize];
                let now = start + HOLD * (step / 1000);
                if let Some(new) = governor.before_send_at(len, || now) {
                    hwm = new as usize;
                }
                if count < hwm {
                    count += 1;
                    bytes += len + MESSAGE_OVERHEAD;
                }
            }
            assert!(bytes <= budget, "{bytes} > {budget}");
        }
    }

    #[test]
    fn tiny_budget_still_queues_one_message_and_huge_values_saturate() {
        assert_eq!(Limits::from_flags(1 << 20, 1).hwm(), 1);
        assert_eq!(Limits::from_flags(1, u64::MAX).hwm(), i32::MAX);
        assert_eq!(Limits::from_flags(u64::MAX, 1).zmq_max_message(), i64::MAX);
    }
}
