//! The receive API of a [`Component`]: blocking, with a timeout, borrowed or owned, and a
//! handler loop. Every call goes through the one wait loop of `wait.rs`; a message a proof
//! put aside while it waited (`inbox.rs`'s bounded pending queue) comes first.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use super::wait::{Limit, Raw, Turn};
use super::{Component, Message, MessageRef};
use crate::error::{Error, Result};

impl Component {
    /// Blocks until a message arrives. Returns [`Error::Shutdown`] when a
    /// [`ShutdownHandle`](super::ShutdownHandle) fired.
    pub fn recv(&mut self) -> Result<Message> {
        match self.recv_deadline(Limit::Forever)? {
            Some(message) => Ok(message),
            None => Err(Error::Shutdown),
        }
    }

    /// Waits at most `timeout` for a message; `Ok(None)` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Message>> {
        self.recv_deadline(Limit::After(timeout))
    }

    /// [`recv`](Self::recv) without a copy: the message is borrowed from the component until
    /// the next receive. The fastest way to receive.
    pub fn recv_ref(&mut self) -> Result<MessageRef<'_>> {
        match self.recv_ref_deadline(Limit::Forever)? {
            Some(message) => Ok(message),
            None => Err(Error::Shutdown),
        }
    }

    /// [`recv_timeout`](Self::recv_timeout) without a copy (see [`recv_ref`](Self::recv_ref)).
    pub fn recv_ref_timeout(&mut self, timeout: Duration) -> Result<Option<MessageRef<'_>>> {
        self.recv_ref_deadline(Limit::After(timeout))
    }

    /// Receives messages and hands each to `handler` until the handler returns
    /// `ControlFlow::Break`, a [`ShutdownHandle`](super::ShutdownHandle) fires (both return
    /// `Ok`), or an error occurs. Malformed messages from foreign publishers are logged and
    /// skipped.
    pub fn receive_loop<F>(&mut self, mut handler: F) -> Result<()>
    where
        F: FnMut(&mut Self, Message) -> Result<ControlFlow<()>>,
    {
        loop {
            let message = match self.recv() {
                Ok(message) => message,
                Err(Error::Shutdown) => return Ok(()),
                Err(error) => return Err(error),
            };
            if handler(self, message)?.is_break() {
                return Ok(());
            }
        }
    }

    fn recv_deadline(&mut self, limit: Limit) -> Result<Option<Message>> {
        if let Some(message) = self.inbox.pop_pending() {
            return Ok(Some(message));
        }
        loop {
            match self.wait_limit(limit, None)? {
                Raw::Frames => return Ok(Some(self.inbox.message().to_owned())),
                Raw::Timeout => return Ok(None),
                Raw::Stop => return Err(Error::Shutdown),
                Raw::FdReady | Raw::Proof(_) => {}
            }
        }
    }

    fn recv_ref_deadline(&mut self, limit: Limit) -> Result<Option<MessageRef<'_>>> {
        if let Some(message) = self.inbox.pop_pending() {
            return Ok(Some(self.inbox.current.insert(message).as_ref()));
        }
        self.inbox.current = None;
        loop {
            match self.wait_limit(limit, None)? {
                Raw::Frames => return Ok(Some(self.inbox.message())),
                Raw::Timeout => return Ok(None),
                Raw::Stop => return Err(Error::Shutdown),
                Raw::FdReady | Raw::Proof(_) => {}
            }
        }
    }

    /// One non-blocking [`turn`](Self::turn) of a receive, for a caller that waits on
    /// several components in one poll ([`crate::multi::MultiComponent`]): the next message,
    /// or when this component next needs a turn (a probe's time; `None`: only when one of
    /// its [`wake_items`](Self::wake_items) is ready).
    pub(crate) fn turn_message(&mut self) -> Result<Result<Message, Option<Instant>>> {
        if let Some(message) = self.inbox.pop_pending() {
            return Ok(Ok(message));
        }
        let mut limit = Limit::Forever;
        loop {
            match self.turn(&mut limit)? {
                Turn::Done(Raw::Frames) => return Ok(Ok(self.inbox.message().to_owned())),
                Turn::Done(Raw::Stop) => return Err(Error::Shutdown),
                // Not waited for here (as in `recv_deadline`): take the next turn.
                Turn::Done(Raw::FdReady | Raw::Proof(_) | Raw::Timeout) => {}
                Turn::Idle { wake, .. } => return Ok(Err(wake)),
            }
        }
    }
}
