//! The link's life: the handshake, keep-alive pings, re-sends of unconfirmed subscriptions,
//! link loss and gateway restarts (steps 1, 3 and 4 of the [protocol](super#protocol)).

use banyan_proto::frame::PROTOCOL_VERSION;

use super::subscriptions::Want;
use super::{ClientCore, LinkEvent, LinkState};
use crate::clock::after;

/// Refused subscriptions are asked again after this many `retry_ms`.
const REFUSED_RETRY_FACTOR: u64 = 8;

impl<const N: usize, const L: usize, const A: usize, const Q: usize> ClientCore<N, L, A, Q> {
    /// Starts the client at `now_ms`: queues the first `Hello`. Does nothing once started.
    pub fn start(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        if self.state == LinkState::Idle {
            self.begin_handshake(now_ms);
        }
    }

    /// Runs the timers at `now_ms`: `Hello` and subscription re-sends, pings, link loss. Call
    /// it on every turn of the driver.
    pub fn on_tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        match self.state {
            LinkState::Idle => {}
            LinkState::Connecting => {
                if now_ms >= self.retry_at {
                    self.begin_handshake(now_ms);
                }
            }
            LinkState::Up => {
                let silent = now_ms.saturating_sub(self.last_pong_at);
                if silent > u64::from(self.config.link_timeout_ms) {
                    warn!("link down: no pong for {=u64} ms", silent);
                    self.stats.link_downs = self.stats.link_downs.wrapping_add(1);
                    self.push_event(LinkEvent::Down);
                    self.begin_handshake(now_ms);
                    return;
                }
                if now_ms >= self.next_ping_at {
                    self.ping_seq = self.ping_seq.wrapping_add(1);
                    self.outbox.ping = Some(self.ping_seq);
                    self.next_ping_at = after(now_ms, self.config.ping_interval_ms);
                }
                if now_ms >= self.retry_at {
                    self.retry_at = after(now_ms, self.config.retry_ms);
                    let refused_too = now_ms >= self.refused_retry_at;
                    if refused_too {
                        self.refused_retry_at = now_ms
                            .saturating_add(u64::from(self.config.retry_ms) * REFUSED_RETRY_FACTOR);
                    }
                    for entry in self.entries.iter_mut() {
                        if !entry.confirmed && !entry.send && (!entry.refused || refused_too) {
                            entry.send = true;
                            self.stats.resends = self.stats.resends.wrapping_add(1);
                        }
                    }
                }
                self.check_all_confirmed();
            }
        }
    }

    /// When [`on_tick`](Self::on_tick) next has something to do, in the clock's ms; `None`
    /// before the start. For drivers that sleep.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        match self.state {
            LinkState::Idle => None,
            LinkState::Connecting => Some(self.retry_at),
            LinkState::Up => {
                let down_at = self
                    .last_pong_at
                    .saturating_add(self.config.link_timeout_ms.into())
                    .saturating_add(1);
                let mut next = down_at.min(self.next_ping_at);
                if self.entries.iter().any(|e| !e.confirmed) {
                    next = next.min(self.retry_at);
                }
                if self.batch_len != 0 {
                    next = next.min(self.batch_due_at);
                }
                Some(next)
            }
        }
    }

    /// Queues a `Hello`; the link is down until the gateway answers. Every subscription must
    /// be sent again afterwards (the gateway resets them on our `Hello`); unsubscribed topics
    /// are gone with that reset.
    pub(super) fn begin_handshake(&mut self, now_ms: u64) {
        debug!("hello");
        self.state = LinkState::Connecting;
        self.outbox.hello = true;
        self.outbox.ping = None;
        self.outbox.alias_unknown = None;
        self.outbox.alias_refused = None;
        // Our Hello starts a new link session: both alias tables start empty, and a batch
        // collected for the old session is dropped with it (counted as offline).
        self.tx_aliases.clear();
        self.tx_alias_limit = A;
        self.rx_aliases.clear();
        self.stats.dropped_offline = self
            .stats
            .dropped_offline
            .wrapping_add(u32::from(self.batch_entries));
        self.batch_len = 0;
        self.batch_entries = 0;
        self.stats.handshakes = self.stats.handshakes.wrapping_add(1);
        self.retry_at = after(now_ms, self.config.retry_ms);
        self.entries.retain(|e| e.want == Want::Subscribed);
        for entry in self.entries.iter_mut() {
            entry.confirmed = false;
            entry.refused = false;
            entry.send = false;
        }
        self.all_confirmed = self.entries.is_empty();
    }

    pub(super) fn on_hello(&mut self, version: u8, max_frame: u16, boot_nonce: u32, now_ms: u64) {
        if version == 0 || version > PROTOCOL_VERSION {
            warn!("gateway speaks protocol version {=u8}", version);
        }
        self.gateway_version = version;
        let restarted = self.gateway_nonce.is_some_and(|seen| seen != boot_nonce);
        self.gateway_nonce = Some(boot_nonce);
        self.peer_max_frame = max_frame;
        if restarted {
            info!("gateway restarted (nonce {=u32})", boot_nonce);
            self.stats.gateway_restarts = self.stats.gateway_restarts.wrapping_add(1);
            self.push_event(LinkEvent::GatewayRestarted {
                gateway_nonce: boot_nonce,
            });
            // Handshake again so that the new gateway learns our frame limit.
            self.begin_handshake(now_ms);
            return;
        }
        match self.state {
            // The gateway answered (it has processed a Hello of ours and reset our
            // subscriptions), or greeted us on opening the link after our Hello was sent:
            // either way, every frame we send from now on follows our Hello.
            LinkState::Connecting => {
                info!("link up");
                self.state = LinkState::Up;
                self.last_pong_at = now_ms;
                self.next_ping_at = after(now_ms, self.config.ping_interval_ms);
                self.retry_at = after(now_ms, self.config.retry_ms);
                self.refused_retry_at = self.retry_at;
                for entry in self.entries.iter_mut() {
                    entry.send = true;
                }
                self.push_event(LinkEvent::Up {
                    gateway_nonce: boot_nonce,
                });
                self.all_confirmed = false;
                self.check_all_confirmed();
            }
            // A duplicate answer, or the gateway re-opened the link without restarting: it
            // kept our subscriptions.
            LinkState::Up | LinkState::Idle => {}
        }
    }
}
