//! [`ClientConfig`]: a client's identity and timing.

/// Timing and identity of a client. [`ClientConfig::new`] gives the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientConfig {
    /// Sent in `Hello`: drawn at boot (random, or a boot counter) so that the gateway can tell
    /// that this device restarted.
    pub boot_nonce: u32,
    /// How often `Hello` (while connecting) and unconfirmed `Subscribe`/`Unsubscribe` frames
    /// are re-sent, in ms. Default 500.
    pub retry_ms: u32,
    /// How often the client pings the gateway while the link is up, in ms. Default 1000.
    pub ping_interval_ms: u32,
    /// The link is down when no `Pong` came for this long, in ms. Default 3000: three pings.
    pub link_timeout_ms: u32,
    /// Use topic aliases (protocol version 2) with a gateway that speaks them: a topic is
    /// declared once per link session, later frames carry a 1–3 byte alias. `false`
    /// announces version 1 and behaves exactly as a client before aliases. Default `true`.
    pub aliases: bool,
    /// Coalesce publishes that are ready within this many ms into one `PublishBatch` frame
    /// (one CRC), 0 = never. The first publish after an idle window goes out at once; a
    /// batch goes out when full, when a publish cannot join it, or at the first poll after
    /// its window. Needs `aliases`. Default [`DEFAULT_BATCH_WINDOW_MS`] (2).
    pub batch_window_ms: u32,
}

impl ClientConfig {
    /// Defaults: re-send every 500 ms, ping every second, down after 3 s without a `Pong`.
    pub const fn new(boot_nonce: u32) -> Self {
        Self {
            boot_nonce,
            retry_ms: 500,
            ping_interval_ms: 1000,
            link_timeout_ms: 3000,
            aliases: true,
            batch_window_ms: DEFAULT_BATCH_WINDOW_MS,
        }
    }

    /// These settings with topic aliases and batching off: the client speaks protocol
    /// version 1, every publish a full-topic `Publish` frame.
    pub const fn without_aliases(self) -> Self {
        Self {
            aliases: false,
            batch_window_ms: 0,
            ..self
        }
    }

    /// These settings with batches of publishes ready within `ms` (0 = off).
    pub const fn with_batch_window_ms(self, ms: u32) -> Self {
        Self {
            batch_window_ms: ms,
            ..self
        }
    }
}

/// Default [`ClientConfig::batch_window_ms`]: 2 ms. Measured at 115 200 baud with 1 000
/// `{'v': n}` readings/s (BENCHMARKS.md, "serial"): a blocking UART write holds the next
/// batch's readings while it sends, so a batch's cycle is its write time plus the window;
/// 5 ms gave p99 ≈ 50 ms, 2 ms p99 ≈ 13–17 ms at the same throughput headroom. 1 ms is too
/// short for a millisecond clock: readings 1 ms apart then count as "after idle" and each
/// goes out alone (807/s delivered of 1 000 offered).
pub const DEFAULT_BATCH_WINDOW_MS: u32 = 2;
