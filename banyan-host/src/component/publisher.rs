//! [`Publisher`]: a cloneable, `Send + Sync` handle that publishes through a component's
//! connection from any thread or task.
//!
//! ZeroMQ sockets are not thread-safe, so a handle never touches the component's PUB socket.
//! It hands each message to an in-process queue (a ZeroMQ `inproc` PUSH → PULL pipe, the
//! [`Outbox`]) that the component drains while it waits — in [`Component::recv`] and its
//! siblings, `receive_loop`, the serial gateway's run — and sends on its own connection,
//! through the same size limit and byte budget as [`Component::publish_raw`]:
//!
//! ```text
//!  thread A ─ Publisher ─┐                           ┌─▶ PUB socket ─▶ backplane
//!  task B ── Publisher ──┼─▶ inproc PUSH ══ PULL ─▶ Component (its wait drains the pipe)
//!  thread C ─ Publisher ─┘   bounded: HANDLE_QUEUE_*  └── SUB socket ◀─ backplane
//! ```
//!
//! # Decisions
//! - **Bounded, never blocking.** The pipe holds at most [`HANDLE_QUEUE_MESSAGES`] messages
//!   (each end's high-water mark: up to twice that in flight) and [`HANDLE_QUEUE_BYTES`]
//!   bytes. A publish that does not fit is dropped and counted
//!   ([`Publisher::dropped`], [`ComponentStats::handle_dropped`]), as a PUB socket drops at
//!   its high-water mark: a handle never waits for the component.
//! - **The owner drains.** Messages go out while the component waits for messages; a
//!   component that is never asked to receive never sends what handles queued. Every
//!   application that publishes from elsewhere also receives (banyan-web's bus, `mgw`).
//! - **Order.** The messages of one handle keep their order; they are not ordered against the
//!   component's own publishes or against other handles'.
//! - **One socket per component.** All clones share one PUSH socket behind a mutex held for a
//!   non-blocking send only, so cloning cannot fail and costs nothing.
//!
//! [`Component::recv`]: super::Component::recv
//! [`Component::publish_raw`]: super::Component::publish_raw
//! [`ComponentStats::handle_dropped`]: super::ComponentStats::handle_dropped

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use banyan_proto::payload;
use serde::Serialize;

use crate::error::{Error, Result};

/// Most messages the handles' pipe holds at each end.
pub const HANDLE_QUEUE_MESSAGES: i32 = 1000;

/// Most topic and payload bytes waiting in the handles' pipe.
pub const HANDLE_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Messages the component sends from the pipe per wake-up before it looks at its other
/// sockets again.
const DRAIN_BATCH: usize = 256;

/// What the component and every handle share.
#[derive(Debug)]
struct Shared {
    /// Bytes handed to the pipe and not yet taken out by the component.
    queued_bytes: AtomicUsize,
    dropped: AtomicU64,
    max_message: Option<usize>,
}

/// A publishing handle (see the module docs).
#[derive(Clone)]
pub struct Publisher {
    socket: Arc<Mutex<zmq::Socket>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Publisher {
    /// Publishes `payload` (any `Serialize` value, encoded as
    /// [`Component::publish`](super::Component::publish) does) on `topic`.
    pub fn publish<T: Serialize + ?Sized>(&self, topic: &str, payload: &T) -> Result<()> {
        let bytes = payload::to_vec(payload)?;
        self.publish_raw(topic.as_bytes(), &bytes)
    }

    /// Publishes already-encoded payload bytes on `topic`, verbatim. Fails only for a
    /// message over the component's size limit; one the pipe has no room for is dropped and
    /// counted.
    pub fn publish_raw(&self, topic: &[u8], payload: &[u8]) -> Result<()> {
        let size = topic.len().saturating_add(payload.len());
        if let Some(limit) = self.shared.max_message.filter(|&limit| size > limit) {
            return Err(Error::MessageTooLarge { size, limit });
        }
        let queued = self.shared.queued_bytes.fetch_add(size, Ordering::AcqRel);
        if queued.saturating_add(size) > HANDLE_QUEUE_BYTES {
            return self.drop_one(size);
        }
        let socket = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        // The high-water mark is checked on the first part; the second then always fits.
        match socket.send(topic, zmq::SNDMORE | zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => return self.drop_one(size),
            Err(error) => {
                self.shared.queued_bytes.fetch_sub(size, Ordering::AcqRel);
                return Err(error.into());
            }
        }
        socket.send(payload, 0)?;
        Ok(())
    }

    fn drop_one(&self, size: usize) -> Result<()> {
        self.shared.queued_bytes.fetch_sub(size, Ordering::AcqRel);
        let dropped = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped.is_power_of_two() {
            tracing::warn!(
                dropped,
                "publishing handle: the component's queue is full (it does not receive, or \
                 publishes are faster than its connection): dropping"
            );
        }
        Ok(())
    }

    /// Publishes dropped so far by every handle of this component.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// The component's end of the handles' pipe.
pub(crate) struct Outbox {
    socket: zmq::Socket,
    handle: Publisher,
    topic: zmq::Message,
    payload: zmq::Message,
}

impl Outbox {
    /// Binds the pipe on `endpoint` (`inproc://...`) and connects the handles' socket.
    pub(crate) fn new(
        ctx: &zmq::Context,
        endpoint: &str,
        max_message: Option<usize>,
    ) -> Result<Self> {
        let socket = ctx.socket(zmq::PULL)?;
        socket.set_rcvhwm(HANDLE_QUEUE_MESSAGES)?;
        socket.set_linger(0)?;
        socket.bind(endpoint)?;
        let push = ctx.socket(zmq::PUSH)?;
        push.set_sndhwm(HANDLE_QUEUE_MESSAGES)?;
        push.set_linger(0)?;
        push.connect(endpoint)?;
        Ok(Self {
            socket,
            handle: Publisher {
                socket: Arc::new(Mutex::new(push)),
                shared: Arc::new(Shared {
                    queued_bytes: AtomicUsize::new(0),
                    dropped: AtomicU64::new(0),
                    max_message,
                }),
            },
            topic: zmq::Message::new(),
            payload: zmq::Message::new(),
        })
    }

    /// A new handle.
    pub(crate) fn handle(&self) -> Publisher {
        self.handle.clone()
    }

    /// The pipe's receiving socket, to poll.
    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// Handles' publishes dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.handle.dropped()
    }

    /// Takes up to a batch of queued messages out of the pipe and hands each to `send`.
    pub(crate) fn drain(
        &mut self,
        mut send: impl FnMut(zmq::Message, zmq::Message) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..DRAIN_BATCH {
            match self.socket.recv(&mut self.topic, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(()),
                Err(error) => return Err(error.into()),
            }
            // Handles send exactly two parts, delivered together.
            self.socket.recv(&mut self.payload, 0)?;
            let size = self.topic.len() + self.payload.len();
            self.handle
                .shared
                .queued_bytes
                .fetch_sub(size, Ordering::AcqRel);
            let topic = std::mem::replace(&mut self.topic, zmq::Message::new());
            let payload = std::mem::replace(&mut self.payload, zmq::Message::new());
            send(topic, payload)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(max_message: Option<usize>) -> Outbox {
        let ctx = zmq::Context::new();
        let endpoint = format!("inproc://test-outbox-{}", crate::component::nonce());
        Outbox::new(&ctx, &endpoint, max_message).unwrap()
    }

    fn drain_all(outbox: &mut Outbox) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let before = out.len();
            outbox
                .drain(|topic, payload| {
                    out.push((topic.to_vec(), payload.to_vec()));
                    Ok(())
                })
                .unwrap();
            if out.len() == before {
                return out;
            }
        }
    }

    #[test]
    fn messages_from_threads_arrive_whole_and_in_each_handles_order() {
        let mut outbox = outbox(None);
        let threads: Vec<_> = (0..3u8)
            .map(|t| {
                let handle = outbox.handle();
                std::thread::spawn(move || {
                    for n in 0..100u8 {
                        handle.publish_raw(&[b't', t], &[n]).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let got = drain_all(&mut outbox);
        assert_eq!(got.len(), 300);
        for t in 0..3u8 {
            let own: Vec<u8> = got
                .iter()
                .filter(|(topic, _)| topic == &[b't', t])
                .map(|(_, payload)| payload[0])
                .collect();
            assert_eq!(own, (0..100).collect::<Vec<u8>>());
        }
        assert_eq!(outbox.handle.shared.queued_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_pipe_drops_and_counts() {
        let mut outbox = outbox(None);
        let handle = outbox.handle();
        let sent = 3 * HANDLE_QUEUE_MESSAGES as u64;
        for _ in 0..sent {
            handle.publish_raw(b"t", b"x").unwrap();
        }
        let delivered = drain_all(&mut outbox).len() as u64;
        assert!(handle.dropped() > 0, "nothing dropped");
        assert_eq!(delivered + handle.dropped(), sent);
        assert!(delivered <= 2 * HANDLE_QUEUE_MESSAGES as u64 + 1);
    }

    #[test]
    fn the_byte_bound_holds_whatever_the_count() {
        let mut outbox = outbox(None);
        let handle = outbox.handle();
        let big = vec![0u8; HANDLE_QUEUE_BYTES / 4];
        for _ in 0..8 {
            handle.publish_raw(b"t", &big).unwrap();
        }
        assert_eq!(handle.dropped(), 5, "three fit in the byte bound");
        assert_eq!(drain_all(&mut outbox).len(), 3);
        handle.publish_raw(b"t", &big).unwrap();
        assert_eq!(drain_all(&mut outbox).len(), 1, "room again once drained");
    }

    #[test]
    fn the_size_limit_is_an_error() {
        let outbox = outbox(Some(10));
        let handle = outbox.handle();
        assert!(matches!(
            handle.publish_raw(b"topic", b"payload"),
            Err(Error::MessageTooLarge {
                size: 12,
                limit: 10
            })
        ));
        assert_eq!(handle.dropped(), 0);
    }
}
