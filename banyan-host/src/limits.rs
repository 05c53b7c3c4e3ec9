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
//!   the sizes actually sent ([`HwmGovernor`]): messages fall into [`SIZE_CLASSES`], and the
//!   HWM is that of the largest class among the last [`HOLD_MESSAGES`] sent. It is lowered
//!   *before* a
//!   larger message is queued, so a queue never holds more than `h_i` messages of class `i`
//!   or above, and its bytes stay within the budget (proof in [`HwmGovernor`]). With the
//!   defaults, small messages (≤ 128 bytes, topic included: nearly every Banyan message) get
//!   109 226 slots, so a burst of 100 000 never overflows a subscriber that keeps up even
//!   when its connection stalls for the whole burst; messages over 64 KiB get 8.
//! - **Whole messages**: libzmq's limit is per part, so the forwarder also drops (and counts,
//!   logging the first) a message whose topic and payload together exceed the limit; the
//!   largest message a queue can hold is then `max_message`.
//! - *Receiving* sockets cannot know sizes before reading, so their HWM is the fixed
//!   `budget / (max_message + MESSAGE_OVERHEAD)`. That costs no messages: a full receive queue
//!   makes libzmq stop reading the TCP connection (back-pressure), and the kernel's
//!   socket buffers, counted in bytes, hold the burst meanwhile.
//!
//! What a stalled subscriber costs the backplane is therefore at most one budget (its queue in
//! the backplane) plus the kernel's socket buffers of its connection (kernel memory, not the
//! backplane's RSS). The numbers measured on this project's machines are in the crate README.

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
    ///
    /// Class `i` owns [`CLASS_SHARES`]`[i]` eighths of the budget, spent on its *increment*
    /// `L_i - L_{i-1}` (with `L_i` = class limit + [`MESSAGE_OVERHEAD`], `L_{-1}` = 0):
    /// `h_i = share_i / (L_i - L_{i-1})`, capped by `h_{i-1}` so the HWMs never rise with the
    /// class (the proof in [`HwmGovernor`] needs that). A class that is empty because the size
    /// limit is below its start gets the HWM of the class before it.
    pub fn class_hwm(&self, class: usize) -> i32 {
        let Some(budget) = self.queue_budget else {
            return 0;
        };
        let max_message = self.max_message.unwrap_or(DEFAULT_MAX_MESSAGE);
        let mut hwm = usize::MAX;
        let mut previous = 0usize;
        for (i, &share) in CLASS_SHARES
            .iter()
            .enumerate()
            .take(class.min(SIZE_CLASSES.len() - 1) + 1)
        {
            let cost = class_limit(i, max_message).saturating_add(MESSAGE_OVERHEAD);
            let increment = cost.saturating_sub(previous);
            if let Some(count) = (budget / 8 * share).checked_div(increment) {
                hwm = hwm.min(count);
            }
            previous = previous.max(cost);
        }
        i32::try_from(hwm.max(1)).unwrap_or(i32::MAX)
    }

    /// The worst-case bytes queued by a sending socket under its [`HwmGovernor`]:
    /// `Σ h_i · (L_i - L_{i-1})` (at most the budget, but for a budget so small that one
    /// message of the size limit exceeds it); `None` without a budget.
    pub fn governed_bound(&self) -> Option<usize> {
        self.queue_budget?;
        let max_message = self.max_message.unwrap_or(DEFAULT_MAX_MESSAGE);
        let mut previous = 0usize;
        let mut bytes = 0usize;
        for class in 0..SIZE_CLASSES.len() {
            let cost = class_limit(class, max_message).saturating_add(MESSAGE_OVERHEAD);
            let increment = cost.saturating_sub(previous);
            bytes =
                bytes.saturating_add((self.class_hwm(class) as usize).saturating_mul(increment));
            previous = previous.max(cost);
        }
        Some(bytes)
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

/// Upper bounds (topic plus payload, in bytes) of the size classes a sending socket's HWM
/// adapts to; the last class ends at the message size limit.
pub const SIZE_CLASSES: [usize; 4] = [128, 4 * 1024, 64 * 1024, usize::MAX];

/// Eighths of the budget each size class owns (sum 8). Small messages get most: they are
/// what bursts are made of, and each one costs little.
pub const CLASS_SHARES: [usize; 4] = [5, 1, 1, 1];

/// How many smaller messages a sending socket sends after its last message of a larger class
/// before its HWM rises again. Raising at once would also keep the bound (see
/// [`HwmGovernor`]); the hold only spares a `setsockopt` per message when sizes alternate.
/// It is a count, not a time, so a burst right after one large message (a component's
/// connection probe, say) gets the large slot count after a few dozen messages, whatever
/// the clock.
pub const HOLD_MESSAGES: u32 = 64;

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
/// Each class `i` of [`SIZE_CLASSES`] has an HWM `h_i` ([`Limits::class_hwm`]), falling with
/// `i`. Before a message of class `i` is queued, the socket's HWM is at most `h_i` (lowered
/// first if needed). libzmq queues a message only while the queue holds fewer messages than
/// the HWM, and a queue is FIFO, so take the newest queued message of class `≥ i`, of class
/// `j`: when it entered, the queue (which then held every older message still queued) had
/// fewer than `h_j ≤ h_i` messages. So at most `h_i` messages of class `≥ i` are ever queued
/// together: `n_{≥i} ≤ h_i`. A message of class `i` costs at most `L_i` (class limit plus
/// overhead), so the queued bytes are at most `Σ_i n_i · L_i = Σ_i n_{≥i} · (L_i - L_{i-1})
/// ≤ Σ_i h_i · (L_i - L_{i-1})` ([`Limits::governed_bound`]), which `class_hwm` keeps within
/// the budget whatever the order and sizes. A queue whose reader stopped stays frozen at its
/// first overflow (libzmq reactivates it only when the reader reads), so raising the HWM
/// later does not grow it.
#[derive(Debug, Clone, Copy)]
pub struct HwmGovernor {
    limits: Limits,
    /// The class whose HWM the socket has.
    class: usize,
    /// Messages of smaller classes sent since the last one of `class`.
    run: u32,
    /// The largest class among them.
    run_class: usize,
}

impl HwmGovernor {
    /// A governor starting in the smallest class (the HWM `Limits::apply_send` sets).
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            class: 0,
            run: 0,
            run_class: 0,
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
    /// change first. A few comparisons when nothing changes.
    ///
    /// Raising the HWM (after [`HOLD_MESSAGES`] smaller messages) keeps the bound: messages
    /// already queued entered under the lower HWM, and the proof only needs each message's
    /// HWM at the time it entered.
    pub fn before_send(&mut self, len: usize) -> Option<i32> {
        self.limits.queue_budget?;
        let class = Self::class_of(len);
        if class > self.class {
            self.class = class;
            self.run = 0;
            return Some(self.limits.class_hwm(class));
        }
        if class == self.class {
            self.run = 0;
            return None;
        }
        if self.run == 0 {
            self.run_class = class;
        }
        self.run_class = self.run_class.max(class);
        self.run += 1;
        if self.run < HOLD_MESSAGES {
            return None;
        }
        self.class = self.run_class;
        self.run = 0;
        Some(self.limits.class_hwm(self.class))
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
            Limits::from_flags(100, 64),
            Limits::from_flags(1 << 20, 8),
        ] {
            let bound = limits.governed_bound().unwrap();
            assert!(bound <= limits.queue_budget.unwrap(), "{limits:?}: {bound}");
            let hwms: Vec<i32> = (0..SIZE_CLASSES.len())
                .map(|class| limits.class_hwm(class))
                .collect();
            assert!(
                hwms.windows(2).all(|w| w[0] >= w[1]),
                "{limits:?}: {hwms:?}"
            );
        }
        let limits = Limits::default();
        // 5/8 of 64 MiB over 128 + 256 bytes: a 100 000-message burst fits.
        assert_eq!(limits.class_hwm(0), 40 * 1024 * 1024 / 384);
        assert!(limits.class_hwm(0) > 100_000);
        assert_eq!(limits.class_hwm(1), 8 * 1024 * 1024 / (4096 - 128));
        assert_eq!(limits.class_hwm(2), 8 * 1024 * 1024 / (65_536 - 4096));
        assert_eq!(limits.class_hwm(3), 8);
        // A size limit inside the first class: every class gets the first one's HWM.
        let tiny = Limits::from_flags(100, 64);
        assert_eq!(tiny.class_hwm(3), tiny.class_hwm(0));
        assert_eq!(Limits::UNLIMITED.governed_bound(), None);
        // A budget no bigger than one message of the limit: every class still queues one
        // message, so the bound exceeds the budget by at most one such message.
        let huge = Limits::from_flags(64 << 20, 64);
        assert_eq!(huge.class_hwm(3), 1);
        let bound = huge.governed_bound().unwrap();
        assert!(bound <= (64 << 20) * 2 + MESSAGE_OVERHEAD, "{bound}");
    }

    #[test]
    fn governor_lowers_before_large_and_raises_after_the_hold() {
        let limits = Limits::default();
        let mut governor = HwmGovernor::new(limits);
        assert_eq!(governor.before_send(10), None);
        assert_eq!(governor.before_send(100_000), Some(limits.class_hwm(3)));
        assert_eq!(governor.before_send(1 << 20), None);
        // Smaller messages keep the low HWM for the hold, then it rises to the largest
        // class among them.
        for _ in 1..HOLD_MESSAGES {
            assert_eq!(governor.before_send(10), None);
        }
        assert_eq!(governor.before_send(5000), Some(limits.class_hwm(2)));
        // A message of the current class restarts the hold.
        for _ in 1..HOLD_MESSAGES {
            assert_eq!(governor.before_send(10), None);
        }
        assert_eq!(governor.before_send(5000), None);
        for _ in 1..HOLD_MESSAGES {
            assert_eq!(governor.before_send(10), None);
        }
        assert_eq!(governor.before_send(10), Some(limits.class_hwm(0)));
        assert_eq!(HwmGovernor::class_of(0), 0);
        assert_eq!(HwmGovernor::class_of(128), 0);
        assert_eq!(HwmGovernor::class_of(129), 1);
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
            let (mut len, mut left) = (0usize, 0u64);
            for _ in 0..20_000u32 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Runs of one size, from 1 to 3 holds long, so the HWM also rises.
                if left == 0 {
                    len = sizes[(seed % sizes.len() as u64) as usize];
                    left = 1 + (seed >> 32) % (3 * u64::from(HOLD_MESSAGES));
                }
                left -= 1;
                if let Some(new) = governor.before_send(len) {
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
