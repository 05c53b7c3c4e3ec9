//! Publishing: one frame, an alias, or a batch ([`ClientCore::publish_step`]), and the alias
//! tables of both directions (protocol version 2, see `banyan_proto::frame`).

use banyan_proto::frame::{self, Frame};
use heapless::Vec;

use super::{ClientCore, TxAlias};
use crate::ClientError;

/// What [`ClientCore::publish_step`] decided for one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PublishStep {
    /// The link is not up: dropped and counted.
    Offline,
    /// Write these many bytes of the buffer (one frame).
    Written(usize),
    /// Added to the batch; it goes out later (see [`ClientCore::poll_transmit`]).
    Batched,
    /// Added to the batch, which is now full (another entry of this size would not fit):
    /// write [`ClientCore::encode_batch`]'s frame now.
    BatchedFull,
    /// The batch must go out first: write [`ClientCore::encode_batch`]'s frame, then ask
    /// again.
    FlushFirst,
}

impl<const N: usize, const L: usize, const A: usize, const Q: usize> ClientCore<N, L, A, Q> {
    /// Binds a gateway alias, or refuses one beyond our table (the topic itself is still
    /// delivered: `PublishDeclare` carries it).
    pub(super) fn bind_rx_alias(&mut self, alias: u16, topic: &[u8]) {
        let slot = usize::from(alias);
        let Ok(topic) = Vec::<u8, L>::from_slice(topic) else {
            // Longer than any topic we can hold: refuse, so the gateway keeps full topics.
            self.outbox.alias_refused = Some(alias);
            return;
        };
        if slot >= A {
            self.outbox.alias_refused = Some(alias);
            return;
        }
        while self.rx_aliases.len() <= slot {
            // slot < A: room is guaranteed.
            let _ = self.rx_aliases.push(None);
        }
        if let Some(entry) = self.rx_aliases.get_mut(slot) {
            *entry = Some(topic);
        }
    }

    /// Encodes a publish of `payload` (msgpack bytes) on `topic` into `buf` as one frame,
    /// never batched (with an alias when aliases are in use), and returns its wire length, or
    /// `Ok(None)` when the link is not up (the message is dropped and counted: publishing
    /// into a link that is down is not an error for a sensor). A batch being collected must
    /// go out before it: drivers use [`publish_step`](Self::publish_step), which says so.
    ///
    /// # Errors
    /// [`ClientError::TooLarge`] when the frame body exceeds what the gateway or `buf` takes
    /// ([`ClientError::Encode`] if `buf` is shorter than the encoding).
    pub fn encode_publish(
        &mut self,
        topic: &[u8],
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<Option<usize>, ClientError> {
        if !self.is_up() {
            self.stats.dropped_offline = self.stats.dropped_offline.wrapping_add(1);
            return Ok(None);
        }
        let alias = self.tx_alias(topic);
        let frame = match alias {
            Some((alias, true)) => Frame::PublishAlias { alias, payload },
            Some((alias, false)) => Frame::PublishDeclare {
                alias,
                topic,
                payload,
            },
            None => Frame::Publish { topic, payload },
        };
        if frame::body_len(&frame) > usize::from(self.peer_max_frame) {
            return Err(ClientError::TooLarge);
        }
        let n = frame::encode(&frame, buf).map_err(|_| ClientError::TooLarge)?;
        match alias {
            Some((_, true)) => self.stats.aliased = self.stats.aliased.wrapping_add(1),
            Some((alias, false)) => {
                if let Some(entry) = self.tx_aliases.get_mut(usize::from(alias)) {
                    entry.declared = true;
                }
            }
            None => {}
        }
        self.stats.published = self.stats.published.wrapping_add(1);
        self.last_publish_at = Some(self.now_ms);
        Ok(Some(self.count_out(n)))
    }

    /// Decides one publish at the time of the last tick: batch it, write it as one frame
    /// (into `buf`), or first flush the batch (see [`PublishStep`]). A publish joins the batch
    /// when batching is on, its topic's alias is declared, and either a batch is open or the
    /// previous publish was less than a window ago (the first publish after idle goes out at
    /// once). The batch stays within the gateway's `max_frame`, `buf` and `Q` bytes; it is
    /// flushed first when its window has passed, and reported full
    /// ([`PublishStep::BatchedFull`]) when another entry of the same size would not fit.
    ///
    /// # Errors
    /// As [`encode_publish`](Self::encode_publish).
    pub fn publish_step(
        &mut self,
        topic: &[u8],
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<PublishStep, ClientError> {
        if !self.is_up() {
            self.stats.dropped_offline = self.stats.dropped_offline.wrapping_add(1);
            return Ok(PublishStep::Offline);
        }
        let window = u64::from(self.config.batch_window_ms);
        let alias = if window > 0 && self.aliases_in_use() {
            self.tx_alias(topic)
        } else {
            None
        };
        let recent = self
            .last_publish_at
            .is_some_and(|at| self.now_ms.saturating_sub(at) < window);
        if A > 0 && self.batch_len != 0 && self.now_ms >= self.batch_due_at {
            // The window has passed (the application published without polling).
            return Ok(PublishStep::FlushFirst);
        }
        match alias {
            Some((alias, true)) if self.batch_len != 0 || recent => {
                let need = frame::entry_len(alias, payload.len());
                // Body: tag 1 + entries length varint (≤ 3) + entries.
                let limit = usize::from(self.peer_max_frame).min(Q + 4).min(buf.len());
                let body_after = 1 + 3 + self.batch_len + need;
                if body_after > limit
                    || frame::max_encoded_len(body_after) > buf.len()
                    || self.batch_len + need > Q
                {
                    if self.batch_len != 0 {
                        return Ok(PublishStep::FlushFirst);
                    }
                    // Too large to batch at all: one frame.
                    return self.encode_publish(topic, payload, buf).map(written);
                }
                if self.batch_len == 0 {
                    self.batch_due_at = self.now_ms.saturating_add(window);
                }
                let Some(out) = self.batch.get_mut(self.batch_len..) else {
                    return Err(ClientError::TooLarge);
                };
                // Room was checked above.
                self.batch_len +=
                    frame::write_entry(out, alias, payload).map_err(|_| ClientError::TooLarge)?;
                self.batch_entries = self.batch_entries.wrapping_add(1);
                self.stats.published = self.stats.published.wrapping_add(1);
                self.stats.aliased = self.stats.aliased.wrapping_add(1);
                self.last_publish_at = Some(self.now_ms);
                let full = 1 + 3 + self.batch_len + need > limit
                    || frame::max_encoded_len(1 + 3 + self.batch_len + need) > buf.len()
                    || self.batch_len + need > Q;
                Ok(if full {
                    PublishStep::BatchedFull
                } else {
                    PublishStep::Batched
                })
            }
            _ if A > 0 && self.batch_len != 0 => Ok(PublishStep::FlushFirst),
            _ => self.encode_publish(topic, payload, buf).map(written),
        }
    }

    /// `true` while publishes wait in the batch.
    pub fn batch_pending(&self) -> bool {
        self.batch_len != 0
    }

    /// Encodes the batch being collected as one `PublishBatch` frame into `buf` (and empties
    /// it); returns the wire length (0 when there is no batch).
    ///
    /// # Errors
    /// [`ClientError::Encode`] when `buf` is too small; the batch stays.
    pub fn encode_batch(&mut self, buf: &mut [u8]) -> Result<usize, ClientError> {
        if self.batch_len == 0 {
            return Ok(0);
        }
        // Entries were appended whole, so they always form a valid batch.
        let entries = self.batch.get(..self.batch_len).unwrap_or_default();
        let batch = frame::Batch::new(entries).map_err(|_| ClientError::TooLarge)?;
        let n = frame::encode(&Frame::PublishBatch { batch }, buf)?;
        self.batch_len = 0;
        self.batch_entries = 0;
        self.stats.batches = self.stats.batches.wrapping_add(1);
        Ok(self.count_out(n))
    }

    /// The alias for a publish on `topic` and whether it is declared, assigning the next
    /// free one; `None` when aliases are off, unknown to the gateway, or the table is full.
    fn tx_alias(&mut self, topic: &[u8]) -> Option<(u16, bool)> {
        if !self.aliases_in_use() {
            return None;
        }
        if let Some(index) = self
            .tx_aliases
            .iter()
            .position(|e| e.topic.as_slice() == topic)
        {
            let declared = self.tx_aliases.get(index)?.declared;
            return u16::try_from(index).ok().map(|a| (a, declared));
        }
        if self.tx_aliases.len() >= self.tx_alias_limit.min(A) {
            return None;
        }
        let topic = Vec::from_slice(topic).ok()?;
        self.tx_aliases
            .push(TxAlias {
                topic,
                declared: false,
            })
            .ok()?;
        u16::try_from(self.tx_aliases.len() - 1)
            .ok()
            .map(|a| (a, false))
    }
}

fn written(n: Option<usize>) -> PublishStep {
    n.map_or(PublishStep::Offline, PublishStep::Written)
}
