//! The async component API on tokio (feature `tokio`): [`Component`], the counterpart of
//! Python Banyan's `BanyanBaseAIO`.
//!
//! The same component as the blocking [`crate::Component`] — the same sockets, the same
//! connection and subscription proofs ([`crate::component`]'s sans-IO `PathProof`), the same
//! [`health`](crate::component::health) and re-proof after a backplane restart, the same size
//! limit, queue bounds and [`send_budget`](crate::component::send_budget), the same
//! [`Publisher`] handles: it *is* one (`inner`), driven by the same non-blocking turn of its
//! wait loop. Only the sleeping differs: where the blocking component calls `zmq_poll`, this
//! one registers the sockets' `ZMQ_FD`s with the tokio reactor (`ready.rs`) and the probes'
//! next send times with `tokio::time`, and returns `Pending`.
//!
//! ```text
//!  recv().await ─▶ poll_wait ─┬─ turn(): read queued messages, drive proofs ── shared with
//!                             ├─ ready_now(): ZMQ_EVENTS of every socket ───── the blocking
//!                             ├─ on_ready(): monitors, handles' pipe, stop ─── component
//!                             └─ nothing ready: ZMQ_FDs (AsyncFd) + probe timer → Pending
//! ```
//!
//! # Decisions
//! - **No thread of ours, no busy polling.** A component owns no thread and no task: it does
//!   its work inside the caller's `recv`/`subscribe` polls. An idle component sleeps until a
//!   socket signals; [`Component::wakeups`] counts every time it woke up (the idleness test
//!   asserts it stays near zero). Each component has its own ZeroMQ context, exactly as a
//!   blocking one (libzmq's I/O thread, asleep in epoll while idle, is libzmq's, not ours).
//!   One context shared by all async components was tried and dropped. Seen: after a component was
//!   dropped, raw sockets of the same context carried nothing while a fresh context worked.
//!   The likely cause (from libzmq's source, not proven): it sends socket monitor events with
//!   a blocking send, so an event emitted during a closed socket's
//!   asynchronous teardown, after the monitor's reader is gone, blocks the context's I/O
//!   thread until the context terminates — in a never-terminated shared context, for good.
//!   A context per component is terminated when it drops.
//! - **Edge-triggered readiness.** A `ZMQ_FD` wake-up only says "look again" and any send or
//!   receive may swallow the next one, so after every wake-up, and before every sleep,
//!   `ZMQ_EVENTS` is read from every socket (see `ready.rs`).
//! - **Publishing never waits.** A PUB socket drops at its bounds rather than block, so
//!   [`publish`](Component::publish) and [`publish_raw`](Component::publish_raw) are done in
//!   the first poll: they return a ready future that borrows nothing (a task that awaits them
//!   stays `Send`, although the component, like its sockets, is not `Sync`).
//! - **Driven by receiving.** As with the blocking component, connection events, re-proofs
//!   and the [`Publisher`] handles' queue are served while the component waits in `recv` (or
//!   polls as a [`Stream`](futures_core::Stream)). An application that publishes and never
//!   receives keeps a `recv` pending in a `select!` arm.
//! - **Dropping flushes, as the blocking component does**: dropping a component waits (at
//!   most [`ComponentConfig::linger`], 2 s by default) for messages still queued for the
//!   backplane. That wait blocks the thread that drops it; set a short `linger` where a
//!   runtime thread must not wait. A connect that fails or is cancelled discards its queued
//!   probes instead, so it never waits.
//!
//! # Cancel safety
//! Every method is cancel-safe: nothing is held in a future between polls. `recv` returns a
//! message in the same poll that reads it; a cancelled `subscribe` leaves the subscription in
//! place (unproven) and its proof is finished by later waits (messages kept meanwhile are
//! returned by the next `recv`); a cancelled `connect` drops the half-made component.
//!
//! # Platforms
//! Unix: `AsyncFd` over libzmq's signaler descriptor. Windows: the signaler socket registered
//! as a `TcpStream` (never read, never closed). See `ready.rs`.

pub mod echo;
mod ready;

use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use serde::Serialize;

use crate::component::wait::{Limit, Raw, Turn};
use crate::component::{ComponentStats, PathState};
use crate::error::{Error, Result};
use crate::{ComponentConfig, Message, Publisher, ShutdownHandle};
use ready::WakeSource;

/// How a waiting component sleeps: the reactor registrations of its sockets' `ZMQ_FD`s and
/// the timer of the next probe.
#[derive(Debug, Default)]
struct Sleeper {
    /// One per socket of `wake_sockets()`, in its order (the handles' pipe is registered
    /// when it first exists).
    sources: Vec<WakeSource>,
    timer: Option<(Instant, Pin<Box<tokio::time::Sleep>>)>,
    wakeups: u64,
}

/// A Banyan component connected to a backplane, driven by tokio (see the module docs).
///
/// Needs a tokio runtime with I/O and time enabled (`#[tokio::main]`, or a builder with
/// `enable_all`); any flavour, any number of worker threads. The component is `Send`: move
/// it into a task. It is not `Sync`: one task owns it; other tasks publish through
/// [`publisher`](Self::publisher) handles.
pub struct Component {
    /// Dropped first: the registrations go before the sockets close their descriptors.
    sleeper: Sleeper,
    inner: crate::Component,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("aio::Component")
            .field("inner", &self.inner)
            .field("wakeups", &self.sleeper.wakeups)
            .finish()
    }
}

impl Component {
    /// Connects to the backplane and proves the path, as
    /// [`crate::Component::connect`] does, without blocking the runtime. Fails with
    /// [`Error::NoBackplane`] when no probe comes back within `config.connect_timeout`.
    ///
    /// Cancel-safe: dropping the future drops the half-connected component.
    pub async fn connect(config: ComponentConfig) -> Result<Self> {
        let inner = crate::Component::open(config, zmq::Context::new())?;
        let mut connecting = Connecting(Some(Self {
            sleeper: Sleeper::default(),
            inner,
        }));
        let component = connecting.0.as_mut().expect("set above");
        component.register()?;
        component.prove().await?;
        let component = connecting.0.take().expect("set above");
        tracing::debug!(
            component = %component.inner.name(),
            address = %component.inner.backplane_address(),
            "connected (async)"
        );
        Ok(component)
    }

    /// Subscribes to every topic starting with `topic` (ZeroMQ prefix matching; `""` = all)
    /// and resolves once the backplane applies it (a probe round trip), so that a message
    /// published after this resolves is received. Messages arriving meanwhile are kept for
    /// [`recv`](Self::recv) (bounded, as in the blocking component).
    ///
    /// Cancel-safe: when cancelled, the subscription stays (unproven); later waits finish
    /// the proof and unsubscribe its probe topic.
    pub async fn subscribe(&mut self, topic: &str) -> Result<()> {
        self.inner.subscribe_unproven(topic)?;
        self.prove().await
    }

    /// Removes one subscription to `topic` (at once: nothing to wait for).
    pub fn unsubscribe(&mut self, topic: &str) -> Result<()> {
        self.inner.unsubscribe(topic)
    }

    /// Publishes `payload` (any `Serialize` value, encoded as
    /// [`crate::Component::publish`] does, through the same size limit and byte budget) on
    /// `topic`.
    ///
    /// Done when called (a publish never waits, see the module docs): the returned future is
    /// ready and borrows nothing. Cancel-safe: the message is handed to ZeroMQ whether or not
    /// the future is awaited.
    pub fn publish<T: Serialize + ?Sized>(
        &self,
        topic: &str,
        payload: &T,
    ) -> std::future::Ready<Result<()>> {
        std::future::ready(self.inner.publish(topic, payload))
    }

    /// Publishes already-encoded payload bytes on `topic`, verbatim (see
    /// [`publish`](Self::publish) for when it is done and why it is cancel-safe).
    pub fn publish_raw(&self, topic: &[u8], payload: &[u8]) -> std::future::Ready<Result<()>> {
        std::future::ready(self.inner.publish_raw(topic, payload))
    }

    /// Waits for the next message. [`Error::Shutdown`] when a
    /// [`ShutdownHandle`] fired.
    ///
    /// Cancel-safe: a message is returned in the poll that reads it; a cancelled `recv`
    /// loses nothing (use it in `tokio::select!`, wrap it in `tokio::time::timeout`).
    pub async fn recv(&mut self) -> Result<Message> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message (what [`recv`](Self::recv) and the
    /// [`Stream`](futures_core::Stream) implementation do).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        if let Some(message) = self.inner.take_pending() {
            return Poll::Ready(Ok(message));
        }
        loop {
            match ready!(self.poll_wait(cx))? {
                Raw::Frames => return Poll::Ready(Ok(self.inner.frames())),
                Raw::Stop => return Poll::Ready(Err(Error::Shutdown)),
                Raw::Timeout | Raw::FdReady | Raw::Proof(_) => {}
            }
        }
    }

    /// A cloneable, `Send + Sync` handle that publishes through this component's connection
    /// from any task or thread (see [`Publisher`]); this component sends what handles queue
    /// while it waits in [`recv`](Self::recv).
    pub fn publisher(&mut self) -> Result<Publisher> {
        // The handles' pipe is registered with the reactor by the next wait.
        self.inner.publisher()
    }

    /// A handle that makes this component's pending or next [`recv`](Self::recv) return
    /// [`Error::Shutdown`] (and the [`Stream`](futures_core::Stream) end), from any thread or
    /// a signal handler.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.inner.shutdown_handle()
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The backplane address in use.
    pub fn backplane_address(&self) -> &str {
        self.inner.backplane_address()
    }

    /// The backplane port this component publishes to.
    pub fn publisher_port(&self) -> u16 {
        self.inner.publisher_port()
    }

    /// The backplane port this component subscribes on.
    pub fn subscriber_port(&self) -> u16 {
        self.inner.subscriber_port()
    }

    /// Where the path through the backplane stands (see
    /// [`health`](crate::component::health)).
    pub fn path_state(&self) -> PathState {
        self.inner.path_state()
    }

    /// Counters: drops, disconnections, re-proofs (as [`crate::Component::stats`]).
    pub fn stats(&self) -> ComponentStats {
        self.inner.stats()
    }

    /// Times a wait of this component woke up (a socket's `ZMQ_FD` signalled or a probe's
    /// timer fired) and looked at its sockets again. An idle component does not wake up.
    pub fn wakeups(&self) -> u64 {
        self.sleeper.wakeups
    }

    /// Registers the sockets not registered yet with the reactor.
    fn register(&mut self) -> Result<()> {
        let sockets = self.inner.wake_sockets();
        for socket in &sockets[self.sleeper.sources.len()..] {
            self.sleeper.sources.push(WakeSource::new(socket)?);
        }
        Ok(())
    }

    /// Proves the path with the proof the blocking component makes (see
    /// [`crate::Component::subscribe`]); messages arriving meanwhile are kept.
    async fn prove(&mut self) -> Result<()> {
        self.inner.start_proof()?;
        std::future::poll_fn(|cx| {
            loop {
                let raw = ready!(self.poll_wait(cx))?;
                if let ControlFlow::Break(result) = self.inner.proof_waited(raw) {
                    return Poll::Ready(result);
                }
            }
        })
        .await
    }

    /// One wait of the component (see the module docs): the shared non-blocking turn, then
    /// sleeping on the reactor until a socket signals or the next probe is due.
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Result<Raw>> {
        let mut limit = Limit::Forever;
        loop {
            let (wake, deadline) = match self.inner.turn(&mut limit)? {
                Turn::Done(raw) => return Poll::Ready(Ok(raw)),
                Turn::Idle { wake, deadline } => (wake, deadline),
            };
            let ready = self.inner.ready_now()?;
            if ready.any() {
                if let Some(raw) = self.inner.on_ready(&ready, deadline)? {
                    return Poll::Ready(Ok(raw));
                }
                continue;
            }
            // Nothing to do: sleep. A source that signalled meanwhile is ready at once.
            if self.sleeper.sources.len() < self.inner.wake_socket_count() {
                self.register()?;
            }
            let mut woke = false;
            for source in &self.sleeper.sources {
                if source.poll_wake(cx)?.is_ready() {
                    woke = true;
                }
            }
            woke |= self.sleeper.poll_timer(wake, cx);
            if !woke {
                return Poll::Pending;
            }
            self.sleeper.wakeups += 1;
        }
    }
}

impl Sleeper {
    /// Arms the timer for `wake` (disarms it for `None`); `true` if it is due.
    fn poll_timer(&mut self, wake: Option<Instant>, cx: &mut Context<'_>) -> bool {
        let Some(wake) = wake else {
            self.timer = None;
            return false;
        };
        let deadline = tokio::time::Instant::from_std(wake);
        match &mut self.timer {
            Some((at, sleep)) => {
                if *at != wake {
                    sleep.as_mut().reset(deadline);
                    *at = wake;
                }
            }
            None => self.timer = Some((wake, Box::pin(tokio::time::sleep_until(deadline)))),
        }
        let Some((_, sleep)) = &mut self.timer else {
            return false;
        };
        if sleep.as_mut().poll(cx).is_ready() {
            self.timer = None;
            return true;
        }
        false
    }
}

/// A component whose `connect` has not finished: if it fails or is cancelled, the probes
/// still queued for an unresponsive backplane are discarded at once (nothing of the
/// application's is queued yet), so dropping it never waits for the linger.
struct Connecting(Option<Component>);

impl Drop for Connecting {
    fn drop(&mut self) {
        if let Some(component) = &self.0 {
            component.inner.discard_unsent();
        }
    }
}

/// The messages of the component, until a [`ShutdownHandle`] fires (the stream then ends).
/// Errors are items; the stream goes on after one.
impl futures_core::Stream for Component {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(|result| match result {
            Err(Error::Shutdown) => None,
            other => Some(other),
        })
    }
}

#[cfg(test)]
mod tests;
