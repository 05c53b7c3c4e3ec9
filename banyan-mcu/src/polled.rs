//! [`Polled`]: makes a [`ReadReady`] transport fit the client's transport contract.

use core::fmt;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};

/// Wraps a transport that can say whether a read would block ([`ReadReady`], e.g. a UART with
/// a receive FIFO) so that `read` never blocks: when nothing is ready it returns
/// [`PolledError::NotReady`], whose kind is [`ErrorKind::TimedOut`], the client's "nothing
/// yet". Writes pass through.
///
/// The client then polls in a busy loop (reading the clock each turn); on an MCU with nothing
/// else to do that is fine. Prefer the async driver where an executor can sleep instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled<T>(pub T);

impl<T> Polled<T> {
    /// The wrapped transport.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Error of a [`Polled`] transport.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PolledError<E> {
    /// Nothing to read yet (kind [`ErrorKind::TimedOut`]).
    NotReady,
    /// The wrapped transport's error.
    Transport(E),
}

impl<E: fmt::Debug> fmt::Display for PolledError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolledError::NotReady => f.write_str("no data ready"),
            PolledError::Transport(e) => write!(f, "transport error: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for PolledError<E> {}

impl<E: embedded_io::Error> embedded_io::Error for PolledError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            PolledError::NotReady => ErrorKind::TimedOut,
            PolledError::Transport(e) => e.kind(),
        }
    }
}

impl<T: ErrorType> ErrorType for Polled<T> {
    type Error = PolledError<T::Error>;
}

impl<T: Read + ReadReady> Read for Polled<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.0.read_ready().map_err(PolledError::Transport)? {
            return Err(PolledError::NotReady);
        }
        self.0.read(buf).map_err(PolledError::Transport)
    }
}

impl<T: Write> Write for Polled<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).map_err(PolledError::Transport)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().map_err(PolledError::Transport)
    }
}
