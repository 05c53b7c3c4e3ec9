//! Subscription proofs and the publishes held meanwhile: the driver proves subscriptions in
//! force through the backplane ([`GatewaySession::proof_needed`] ... [`GatewaySession::proof_done`]),
//! and MCU publishes wait, in order and bounded, until every subscription before them is proven.

use std::vec::Vec;

use super::{Action, GatewaySession};
use crate::frame::Frame;

impl<const N: usize, const L: usize> GatewaySession<N, L> {
    /// `true` when subscriptions wait for a proof and none is in flight: the driver should
    /// start one (after performing the queued actions, so that the proof covers them) and
    /// call [`proof_started`](Self::proof_started).
    pub fn proof_needed(&self) -> bool {
        !self.proof_in_flight && !self.unproven.is_empty()
    }

    /// `true` while a proof is in flight.
    pub fn proof_in_flight(&self) -> bool {
        self.proof_in_flight
    }

    /// The driver started a proof: it covers every subscription applied so far.
    pub fn proof_started(&mut self) {
        self.proof_in_flight = true;
        self.proving.append(&mut self.unproven);
    }

    /// The proof came back: the subscriptions it covers are in force. Answers them with
    /// `Subscribed` and releases the held publishes if no other proof is due.
    pub fn proof_done(&mut self) {
        self.proof_in_flight = false;
        self.stats.proofs += 1;
        for topic in std::mem::take(&mut self.proving) {
            self.send(&Frame::Subscribed { topic: &topic });
        }
        self.release_held();
    }

    /// The proof timed out (the backplane is slow or gone): its subscriptions wait for the
    /// next proof, and the held publishes go out now rather than pile up.
    pub fn proof_failed(&mut self) {
        self.proof_in_flight = false;
        self.stats.proofs_failed += 1;
        let mut proving = std::mem::take(&mut self.proving);
        proving.append(&mut self.unproven);
        self.unproven = proving;
        self.flush_held();
    }

    /// Publishes must wait while a subscription before them is not proven, and behind
    /// publishes already waiting.
    pub(super) fn awaiting_proof(&self) -> bool {
        !self.unproven.is_empty() || !self.proving.is_empty() || !self.held.is_empty()
    }

    pub(super) fn hold(&mut self, topic: Vec<u8>, payload: Vec<u8>) {
        let size = topic.len() + payload.len();
        if self.held.len() >= self.config.max_held
            || self.held_bytes + size > self.config.max_held_bytes
        {
            self.stats.held_dropped += 1;
            tracing::warn!(
                "dropped an MCU publish: {} held while a subscription is proven",
                self.held.len()
            );
            return;
        }
        self.stats.held += 1;
        self.held_bytes += size;
        self.held.push_back((topic, payload));
    }

    /// Releases the held publishes when no subscription waits for a proof.
    pub(super) fn release_held(&mut self) {
        if self.unproven.is_empty() && self.proving.is_empty() {
            self.flush_held();
        }
    }

    pub(super) fn flush_held(&mut self) {
        self.held_bytes = 0;
        while let Some((topic, payload)) = self.held.pop_front() {
            self.stats.published += 1;
            self.actions.push_back(Action::Publish { topic, payload });
        }
    }
}
