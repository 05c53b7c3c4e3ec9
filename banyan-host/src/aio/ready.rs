//! Readiness of one ZeroMQ socket for the tokio reactor: its `ZMQ_FD`, per platform.
//!
//! libzmq gives every socket a *signaler* descriptor (`ZMQ_FD`). It becomes readable when the
//! socket's mailbox received commands (a message arrived, a connection changed), and libzmq
//! drains it itself whenever the socket processes its commands — on any send, receive or
//! `ZMQ_EVENTS` query. So it is **edge-triggered** from the application's point of view: a
//! wake-up says "look again", never "a message is there", and an operation on the socket may
//! swallow the signal of a message that arrived meanwhile (the classic lost wake-up). The
//! driver (`super`) therefore clears the reactor's readiness on every wake-up and then asks
//! `ZMQ_EVENTS` of every socket before it sleeps again; `Component::ready_now` does that.
//!
//! - **Unix**: the descriptor (an `eventfd` on Linux, a pipe elsewhere) registered with
//!   [`tokio::io::unix::AsyncFd`] (epoll/kqueue). The descriptor stays libzmq's: the wrapper
//!   never closes it, and is dropped before the socket.
//! - **Windows**: libzmq's signaler is one end of a loopback TCP connection (a `SOCKET`), made
//!   non-blocking by libzmq. It is registered with tokio as a [`tokio::net::TcpStream`] whose
//!   `readable` readiness is awaited and never read from (libzmq reads it); on drop the socket
//!   is handed back with `into_raw_socket`, never closed. Compiled for
//!   `x86_64-pc-windows-gnu`; the aio unit tests passed as a Windows program under Wine
//!   (run by hand, see docs/async.md).

use std::io;
use std::task::{Context, Poll};

/// One socket's `ZMQ_FD`, registered with the reactor of the runtime it was made in.
pub(super) struct WakeSource {
    #[cfg(unix)]
    fd: tokio::io::unix::AsyncFd<Signaler>,
    #[cfg(windows)]
    stream: Option<tokio::net::TcpStream>,
}

impl std::fmt::Debug for WakeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeSource").finish_non_exhaustive()
    }
}

/// libzmq's descriptor, borrowed: closing it is libzmq's business.
#[cfg(unix)]
struct Signaler(std::os::fd::RawFd);

#[cfg(unix)]
impl std::os::fd::AsRawFd for Signaler {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}

impl WakeSource {
    /// Registers `socket`'s `ZMQ_FD` with the current runtime's reactor (call inside a tokio
    /// runtime with I/O enabled). The source must be dropped before `socket`.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    pub(super) fn new(socket: &zmq::Socket) -> io::Result<Self> {
        let fd = socket.get_fd().map_err(io::Error::from)?;
        // SAFETY: `fd` is libzmq's open signaler descriptor of `socket`, which stays open and
        // the same for the socket's whole life; the component drops this source (and with it
        // the registration) before it closes the socket.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(
                Signaler(fd),
                tokio::io::Interest::READABLE,
            )
        }?;
        Ok(Self { fd })
    }

    /// Registers `socket`'s `ZMQ_FD` with the current runtime's reactor (call inside a tokio
    /// runtime with I/O enabled). The source must be dropped before `socket`.
    #[cfg(windows)]
    #[allow(unsafe_code)]
    pub(super) fn new(socket: &zmq::Socket) -> io::Result<Self> {
        use std::os::windows::io::{FromRawSocket, RawSocket};
        let raw = socket.get_fd().map_err(io::Error::from)? as RawSocket;
        // SAFETY: `raw` is libzmq's open signaler socket, alive as long as `socket`, which
        // outlives this source (the component drops its sources first). The stream made from
        // it is never closed: `Drop` hands the socket back with `into_raw_socket`.
        let std_stream = unsafe { std::net::TcpStream::from_raw_socket(raw) };
        match tokio::net::TcpStream::from_std(std_stream) {
            Ok(stream) => Ok(Self {
                stream: Some(stream),
            }),
            Err(error) => Err(error),
        }
    }

    /// `Ready` once the descriptor signalled since the last call (its readiness is cleared
    /// then: the caller looks at `ZMQ_EVENTS` next); `Pending` with the task's waker
    /// registered otherwise.
    #[cfg(unix)]
    pub(super) fn poll_wake(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.fd.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                // Cleared before the caller looks: a signal after this point re-arms it.
                guard.clear_ready();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// `Ready` once the descriptor signalled since the last call (its readiness is cleared
    /// then: the caller looks at `ZMQ_EVENTS` next); `Pending` with the task's waker
    /// registered otherwise.
    #[cfg(windows)]
    pub(super) fn poll_wake(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(stream) = &self.stream else {
            return Poll::Pending;
        };
        match stream.poll_read_ready(cx) {
            Poll::Ready(Ok(())) => {
                // Clears tokio's readiness without reading (libzmq reads the signaler).
                let _ = stream.try_io(tokio::io::Interest::READABLE, || {
                    Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
                });
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(windows)]
impl Drop for WakeSource {
    fn drop(&mut self) {
        use std::os::windows::io::IntoRawSocket;
        if let Some(stream) = self.stream.take() {
            // Deregisters from the reactor and gives the socket back to libzmq unclosed.
            match stream.into_std() {
                Ok(std_stream) => {
                    let _ = std_stream.into_raw_socket();
                }
                Err(error) => tracing::warn!(%error, "cannot deregister a ZeroMQ signaler"),
            }
        }
    }
}
