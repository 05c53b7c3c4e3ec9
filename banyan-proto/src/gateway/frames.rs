//! What the MCU's frames do: the greeting, publishes (full topic, declared or aliased, in
//! batches), subscriptions and their answers, pings.

use std::borrow::ToOwned;
use std::string::String;
use std::vec::Vec;

use super::{Action, GATEWAY_ALIASES, GatewaySession};
use crate::frame::{Frame, PROTOCOL_VERSION};

/// A decoded frame with owned bytes (the decoder's buffer is reused by the next feed).
pub(super) enum Owned {
    Hello {
        version: u8,
        max_frame: u16,
        boot_nonce: u32,
    },
    Publish {
        topic: Vec<u8>,
        payload: Vec<u8>,
    },
    PublishDeclare {
        alias: u16,
        topic: Vec<u8>,
        payload: Vec<u8>,
    },
    PublishAlias {
        alias: u16,
        payload: Vec<u8>,
    },
    PublishBatch(Vec<(u16, Vec<u8>)>),
    AliasUnknown(u16),
    AliasRefused(u16),
    Subscribe(Vec<u8>),
    Unsubscribe(Vec<u8>),
    Ping(u32),
    /// Frames the MCU has no business sending (`Pong`, acknowledgements): nothing to do.
    Ignored,
}

impl From<Frame<'_>> for Owned {
    fn from(frame: Frame<'_>) -> Self {
        match frame {
            Frame::Hello {
                version,
                max_frame,
                boot_nonce,
            } => Owned::Hello {
                version,
                max_frame,
                boot_nonce,
            },
            Frame::Publish { topic, payload } => Owned::Publish {
                topic: topic.to_vec(),
                payload: payload.to_vec(),
            },
            Frame::Subscribe { topic } => Owned::Subscribe(topic.to_vec()),
            Frame::Unsubscribe { topic } => Owned::Unsubscribe(topic.to_vec()),
            Frame::Ping { seq } => Owned::Ping(seq),
            Frame::PublishDeclare {
                alias,
                topic,
                payload,
            } => Owned::PublishDeclare {
                alias,
                topic: topic.to_vec(),
                payload: payload.to_vec(),
            },
            Frame::PublishAlias { alias, payload } => Owned::PublishAlias {
                alias,
                payload: payload.to_vec(),
            },
            Frame::PublishBatch { batch } => Owned::PublishBatch(
                batch
                    .iter()
                    .map(|(alias, payload)| (alias, payload.to_vec()))
                    .collect(),
            ),
            Frame::AliasUnknown { alias } => Owned::AliasUnknown(alias),
            Frame::AliasRefused { alias } => Owned::AliasRefused(alias),
            Frame::Pong { .. } | Frame::Subscribed { .. } | Frame::Unsubscribed { .. } => {
                Owned::Ignored
            }
        }
    }
}

impl<const N: usize, const L: usize> GatewaySession<N, L> {
    pub(super) fn handle(&mut self, frame: Owned) {
        if !self.peer_greeted && !matches!(frame, Owned::Hello { .. }) {
            // An MCU that talks to us without having said Hello was talking to a gateway
            // before us (we restarted) and may have missed our greeting: greet again, on its
            // first frame and on each of its pings, until its Hello comes.
            let first = self.stats.frames_in == 1;
            if first || matches!(frame, Owned::Ping(_)) {
                self.send(&self.hello());
            }
        }
        match frame {
            Owned::Hello {
                version,
                max_frame,
                boot_nonce,
            } => {
                self.stats.hellos += 1;
                self.peer_greeted = true;
                if version == 0 || version > PROTOCOL_VERSION {
                    tracing::warn!(
                        "MCU speaks protocol version {version}, ours is {PROTOCOL_VERSION}"
                    );
                }
                // A new link session: both alias tables start empty.
                self.peer_version = version;
                self.rx_aliases.clear();
                self.tx_aliases.clear();
                self.tx_alias_limit = GATEWAY_ALIASES;
                tracing::info!(
                    "MCU hello (max_frame {max_frame}, nonce {boot_nonce:#x}): resetting its subscriptions"
                );
                self.peer_max_frame = usize::from(max_frame);
                // Publishes before the Hello still go out, in order.
                self.flush_held();
                for topic in self.subscriptions.iter() {
                    if let Ok(topic) = std::str::from_utf8(topic) {
                        self.actions
                            .push_back(Action::Unsubscribe(topic.to_owned()));
                    }
                }
                self.subscriptions.clear();
                self.unproven.clear();
                self.proving.clear();
                self.send(&self.hello());
            }
            Owned::Publish { topic, payload } => self.publish(topic, payload),
            Owned::PublishDeclare {
                alias,
                topic,
                payload,
            } => {
                self.stats.aliases_declared += 1;
                let slot = usize::from(alias);
                if slot < GATEWAY_ALIASES {
                    if self.rx_aliases.len() <= slot {
                        self.rx_aliases.resize(slot + 1, None);
                    }
                    self.rx_aliases[slot] = Some(topic.clone());
                } else {
                    self.stats.aliases_refused += 1;
                    tracing::warn!("refused MCU alias {alias}: the table holds {GATEWAY_ALIASES}");
                    self.send(&Frame::AliasRefused { alias });
                }
                self.publish(topic, payload);
            }
            Owned::PublishAlias { alias, payload } => self.publish_alias(alias, payload),
            Owned::PublishBatch(entries) => {
                self.stats.batches += 1;
                for (alias, payload) in entries {
                    self.publish_alias(alias, payload);
                }
            }
            Owned::AliasUnknown(alias) => {
                if let Some(entry) = self.tx_aliases.get_mut(usize::from(alias)) {
                    entry.1 = false;
                }
            }
            Owned::AliasRefused(alias) => {
                let limit = usize::from(alias);
                self.tx_alias_limit = self.tx_alias_limit.min(limit);
                self.tx_aliases.truncate(limit);
            }
            Owned::Subscribe(topic) => self.subscribe(topic),
            Owned::Unsubscribe(topic) => self.unsubscribe(topic),
            Owned::Ping(seq) => self.send(&Frame::Pong { seq }),
            Owned::Ignored => {}
        }
    }

    /// An MCU publish, held while a subscription proof is due.
    pub(super) fn publish(&mut self, topic: Vec<u8>, payload: Vec<u8>) {
        if self.awaiting_proof() {
            self.hold(topic, payload);
        } else {
            self.stats.published += 1;
            self.actions.push_back(Action::Publish { topic, payload });
        }
    }

    pub(super) fn publish_alias(&mut self, alias: u16, payload: Vec<u8>) {
        let topic = self
            .rx_aliases
            .get(usize::from(alias))
            .and_then(Option::as_ref)
            .cloned();
        match topic {
            Some(topic) => self.publish(topic, payload),
            None => {
                self.stats.alias_unknown += 1;
                tracing::warn!("dropped an MCU publish on unknown alias {alias}");
                self.send(&Frame::AliasUnknown { alias });
            }
        }
    }

    pub(super) fn subscribe(&mut self, topic: Vec<u8>) {
        if self.subscriptions.contains(&topic) {
            // Already held (a re-send or a duplicate): answer if it is proven, else the
            // proof in flight or due answers it.
            if !self.unproven.contains(&topic) && !self.proving.contains(&topic) {
                self.send(&Frame::Subscribed { topic: &topic });
            }
            return;
        }
        let text = match std::str::from_utf8(&topic) {
            Ok(text) => text.to_owned(),
            Err(_) => return self.refuse(&topic, "its topic is not UTF-8"),
        };
        match self.subscriptions.add(&topic) {
            Ok(_) => {
                self.actions.push_back(Action::Subscribe(text));
                self.unproven.push(topic);
            }
            Err(error) => self.refuse(&topic, &std::format!("{error}")),
        }
    }

    pub(super) fn refuse(&mut self, topic: &[u8], why: &str) {
        self.stats.refused += 1;
        tracing::warn!(
            "refused a subscription to {:?}: {why}",
            String::from_utf8_lossy(topic)
        );
        self.send(&Frame::Unsubscribed { topic });
    }

    pub(super) fn unsubscribe(&mut self, topic: Vec<u8>) {
        if self.subscriptions.remove(&topic).is_ok() {
            self.unproven.retain(|t| *t != topic);
            self.proving.retain(|t| *t != topic);
            if let Ok(text) = std::str::from_utf8(&topic) {
                self.actions.push_back(Action::Unsubscribe(text.to_owned()));
            }
        }
        self.send(&Frame::Unsubscribed { topic: &topic });
        if !self.awaiting_proof() {
            self.release_held();
        }
    }
}
