//! The serial gateway (`banyan-gateway`): bridges one byte-stream link to a microcontroller
//! running our firmware (a serial device, or a TCP stream as QEMU offers) onto the backplane.
//!
//! ```text
//!  MCU ══ serial/TCP ══ [FrameDecoder] ─ Publish ─────────▶ Component::publish_raw ─▶ backplane
//!                       (COBS+CRC)    ─ Subscribe/Unsub ─▶ ZeroMQ subscriptions
//!      ◀═══════════════ Publish frames ◀───────────────────── matching backplane messages
//! ```
//!
//! # Protocol logic vs. I/O
//! The protocol — what each frame means, subscriptions, their proofs, which backplane message
//! goes to the MCU — is the sans-IO [`GatewaySession`] in `banyan_proto::gateway` (see its
//! docs for the behaviour), where the MCU tests reach it without ZeroMQ. [`Gateway`] only
//! keeps the link open ([`Device`], on the [`Reconnect`](crate::Reconnect) machine), polls it
//! and the backplane, moves bytes and messages, and runs the
//! subscription proofs the session asks for **without blocking**: while a probe travels
//! through the backplane the link is read and `Ping`s are answered; MCU publishes wait in the
//! session's bounded queue so that none overtakes a subscription sent before it.
//!
//! When the device disappears or the TCP peer closes, the gateway drops the link and keeps
//! reopening it (back-off 100 ms doubling to 2 s, reset after a second up; a run of failures
//! is logged once) until it is back, without a restart. Subscriptions are kept across
//! reopenings (the MCU may not have restarted); a `Hello` resets them.
//!
//! Everything runs on one thread: [`Component`] waits on the backplane socket and the link's
//! file descriptor together. On Windows, whose `zmq_poll` waits on sockets only, a serial
//! device is read by a thread of its own that hands the bytes over a loopback socket, which
//! the poll watches ([`bridge`](crate::link::bridge)).

use std::time::Instant;

pub use banyan_proto::gateway::{
    ASSUMED_PEER_MAX_FRAME, Action, GATEWAY_MAX_FRAME, GatewayConfig, GatewaySession, GatewayStats,
};

use banyan_host::component::Incoming;
use banyan_host::{Component, Result, ShutdownHandle};

use crate::link::{Attempt, Connector, Device, Received};
use crate::reconnect::Backoff;

/// Bridges one link to the backplane; see the module docs.
pub struct Gateway<C: Connector> {
    component: Component,
    device: Device<C>,
    session: GatewaySession,
}

impl<C: Connector> Gateway<C> {
    /// A gateway publishing through `component` (already connected to the backplane) and
    /// serving the link `connector` opens. Stop it with the component's
    /// [`ShutdownHandle`].
    pub fn new(component: Component, connector: C) -> Self {
        // Drawn once per gateway process: a `Hello` with a new nonce tells the MCU the
        // gateway restarted (and lost its subscriptions), so it re-subscribes at once.
        let boot_nonce = banyan_host::component::nonce() as u32;
        Self::with_config(component, connector, GatewayConfig::new(boot_nonce))
    }

    /// As [`new`](Self::new), with explicit session settings.
    pub fn with_config(component: Component, connector: C, config: GatewayConfig) -> Self {
        Self {
            component,
            device: Device::new(connector, Backoff::default(), Instant::now()),
            session: GatewaySession::new(config),
        }
    }

    /// A handle that stops [`Gateway::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.component.shutdown_handle()
    }

    /// Runs until the shutdown handle fires; returns the counters.
    pub fn run(mut self) -> Result<GatewayStats> {
        let mut buf = vec![0u8; 4096];
        loop {
            match self.device.open_if_due(Instant::now()) {
                Attempt::NotDue => {}
                Attempt::Opened { failed } => {
                    tracing::info!(link = %self.device.name(), failed, "link open");
                    self.session.link_opened();
                }
                Attempt::Failed { error, say } => {
                    self.session.link_failed();
                    if say.loud() {
                        let failed = self.device.reconnect().failures();
                        tracing::warn!(link = %self.device.name(), %error, failed, "cannot open link; retrying");
                    }
                }
            }
            let mut ended = self.perform()?;
            if ended.is_none() {
                // The component drives the subscription proof and reports its end.
                match self
                    .component
                    .wait_with_fd(self.device.retry_at(), self.device.poll_fd())?
                {
                    Incoming::Stop => break,
                    Incoming::Timeout => {}
                    Incoming::Proven => self.session.proof_done(),
                    Incoming::ProofGaveUp => {
                        tracing::warn!("subscription proof timed out; retrying");
                        self.session.proof_failed();
                    }
                    Incoming::Message(message) => {
                        let topic = message.topic.as_bytes();
                        if !self.session.on_backplane(topic, &message.payload)
                            && self.session.link_is_open()
                        {
                            tracing::debug!(topic = %message.topic, "backplane message not for the MCU");
                        }
                    }
                    Incoming::FdReady => match self.device.read(&mut buf, Instant::now()) {
                        Received::Bytes(n) => self.session.on_link_bytes(&buf[..n]),
                        Received::Nothing => {}
                        Received::Ended(why) => ended = Some(why),
                    },
                }
            }
            if let Some(why) = ended {
                tracing::warn!(link = %self.device.name(), %why, "link closed; reopening");
                self.session.link_closed();
            }
        }
        self.component.abandon_proof()?;
        let stats = self.session.stats();
        tracing::info!(?stats, "gateway stopped");
        Ok(stats)
    }

    /// Performs the session's actions, then starts the subscription proof the session asks
    /// for. Returns why the link ended when writing to it failed (the device has dropped it).
    fn perform(&mut self) -> Result<Option<crate::link::Ended>> {
        let mut ended = None;
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send(bytes) => {
                    if self.device.is_open()
                        && ended.is_none()
                        && let Err(why) = self.device.write_all(&bytes, Instant::now())
                    {
                        tracing::warn!(%why, "link write failed");
                        ended = Some(why);
                    }
                }
                Action::Publish { topic, payload } => {
                    if let Err(error) = self.component.publish_raw(&topic, &payload) {
                        tracing::warn!(%error, "publish failed");
                    }
                }
                Action::Subscribe(topic) => {
                    if let Err(error) = self.component.subscribe_unproven(&topic) {
                        tracing::warn!(%error, topic, "subscribe failed");
                    }
                }
                Action::Unsubscribe(topic) => {
                    if let Err(error) = self.component.unsubscribe(&topic) {
                        tracing::warn!(%error, topic, "unsubscribe failed");
                    }
                }
            }
        }
        // Start a proof for the subscriptions just applied; the component drives it.
        if self.session.proof_needed() {
            self.component.start_proof()?;
            self.session.proof_started();
        }
        Ok(ended)
    }
}
