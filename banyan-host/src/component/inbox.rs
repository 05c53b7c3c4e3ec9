//! [`Inbox`]: the receiving side's buffers — the reused frames every read goes into, the
//! bounded queue of messages kept while a blocking proof waits, and the drop counters.

use std::collections::VecDeque;

use super::message::{Message, MessageRef};
use super::{PENDING_LIMIT_BYTES, PENDING_LIMIT_MESSAGES};
use crate::error::Result;
use crate::shape::recv_rest;

/// Result of a non-blocking read.
pub(crate) enum Read {
    /// A well-formed message is in the frames.
    Message,
    /// A malformed message was read and dropped.
    Dropped,
    /// Nothing was queued.
    Empty,
}

/// The receiving side's state (see the module docs).
pub(crate) struct Inbox {
    /// The ZeroMQ messages every read goes into, reused (no allocation per message for small
    /// messages: libzmq keeps up to 33 bytes inline).
    topic: zmq::Message,
    payload: zmq::Message,
    pending: VecDeque<Message>,
    pending_bytes: usize,
    /// The message handed out by `recv_ref` from `pending`.
    pub current: Option<Message>,
    /// Messages read since the last poll (see `wait::FAST_READS`).
    pub fast_reads: u32,
    /// The last read found the subscriber empty (`EAGAIN`): a new message will signal its
    /// `ZMQ_FD` (see `wait::Readiness`).
    pub drained: bool,
    pub pending_dropped: u64,
    pub malformed_dropped: u64,
}

impl Inbox {
    pub(crate) fn new() -> Self {
        Self {
            topic: zmq::Message::new(),
            payload: zmq::Message::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            current: None,
            fast_reads: 0,
            drained: false,
            pending_dropped: 0,
            malformed_dropped: 0,
        }
    }

    /// The topic bytes in the frames.
    pub(crate) fn topic(&self) -> &[u8] {
        &self.topic
    }

    /// The message in the frames; only after `try_read` returned `Read::Message` (which
    /// checked the topic is UTF-8).
    pub(crate) fn message(&self) -> MessageRef<'_> {
        MessageRef {
            topic: std::str::from_utf8(&self.topic).unwrap_or_default(),
            payload: &self.payload,
        }
    }

    /// Reads one multipart message into the frames without blocking; logs and drops it if
    /// it is not `[utf-8 topic, payload]`.
    pub(crate) fn try_read(&mut self, subscriber: &zmq::Socket, name: &str) -> Result<Read> {
        self.drained = false;
        match subscriber.recv(&mut self.topic, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => {
                self.drained = true;
                return Ok(Read::Empty);
            }
            Err(zmq::Error::EINTR) => return Ok(Read::Empty),
            Err(error) => return Err(error.into()),
        }
        // The `[topic, payload]` rule and the reading of the parts are crate::shape's.
        let shape = recv_rest(subscriber, &self.topic, &mut self.payload)?;
        let Err(problem) = shape.receivable(&self.topic) else {
            return Ok(Read::Message);
        };
        let (frames, problem) = (shape.parts(), problem.describe());
        self.malformed_dropped += 1;
        // Logged for the first and then every power of two: a flood cannot flood the log.
        if self.malformed_dropped.is_power_of_two() {
            tracing::warn!(
                component = %name,
                frames,
                total = self.malformed_dropped,
                "{problem}"
            );
        }
        Ok(Read::Dropped)
    }

    /// The oldest kept message.
    pub(crate) fn pop_pending(&mut self) -> Option<Message> {
        let message = self.pending.pop_front()?;
        self.pending_bytes -= message.topic.len() + message.payload.len();
        Some(message)
    }

    /// Keeps the message in the frames for the next receive, within the pending bounds.
    pub(crate) fn keep_pending(&mut self, name: &str) {
        let message = self.message();
        let size = message.topic.len() + message.payload.len();
        if self.pending.len() >= PENDING_LIMIT_MESSAGES
            || self.pending_bytes + size > PENDING_LIMIT_BYTES
        {
            self.pending_dropped += 1;
            if self.pending_dropped.is_power_of_two() {
                tracing::warn!(
                    component = %name,
                    dropped = self.pending_dropped,
                    "pending queue full while proving a subscription: dropping messages"
                );
            }
            return;
        }
        let message = message.to_owned();
        self.pending_bytes += size;
        self.pending.push_back(message);
    }
}
