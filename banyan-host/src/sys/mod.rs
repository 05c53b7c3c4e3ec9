//! The operating-system probes behind the byte budgets ([`crate::backplane::budget`],
//! [`crate::component::send_budget`]) and the subscription-flood watch: the process's memory in
//! use, the state of a TCP connection, and closing one that libzmq owns.
//!
//! libzmq exposes neither the bytes queued per connection nor a way to close one accepted
//! connection, so the backplane learns each connection's descriptor (a file descriptor on
//! Unix, a `SOCKET` on Windows: [`Fd`]) from libzmq's socket monitor and works on it itself.
//!
//! | probe | Linux (glibc) | macOS | Windows |
//! |---|---|---|---|
//! | memory in use | `mallinfo2` (heap) | `malloc_zone_statistics` (heap, all zones) | `GetProcessMemoryInfo` (private bytes) |
//! | TCP send state | `TCP_INFO` | `TCP_CONNECTION_INFO` | `SIO_TCP_INFO` (Windows 10 1703+) |
//! | send queue | `SIOCOUTQ` | `tcpi_snd_sbbytes` | bytes in flight |
//! | open sockets | `/proc/self/fd` | `/dev/fd` | — (flood watch off) |
//! | abort | `connect(AF_UNSPEC)` (RST) | `shutdown` | `shutdown` (RST once data arrives) |
//!
//! Each platform module documents how its numbers map onto [`TcpSendState`]. Where a probe
//! answers `None` (another Unix, or a Windows/Wine without `SIO_TCP_INFO`), the budget that
//! needs it is off and the count bound and the stall timeout remain
//! ([`tcp_probes_work`] says which).

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub(crate) use macos::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{addresses, shut_down};

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
pub(crate) use other::*;

/// A socket's descriptor as libzmq reports and `zmq_poll` takes it: a file descriptor on Unix,
/// a `SOCKET` on Windows (zmq-sys's `RawFd`).
pub(crate) type Fd = zmq_sys::RawFd;

/// No descriptor (what `zmq_poll` ignores).
#[cfg(unix)]
pub(crate) const NO_FD: Fd = -1;
/// No descriptor (`INVALID_SOCKET`, what `zmq_poll` ignores).
#[cfg(windows)]
pub(crate) const NO_FD: Fd = !0;

/// The descriptor a monitor event's 32-bit value carries (libzmq writes the descriptor there;
/// Windows socket handles fit in 32 bits, as libzmq itself relies on).
pub(crate) fn fd_from_event(value: u32) -> Fd {
    #[cfg(unix)]
    {
        Fd::try_from(value).unwrap_or(NO_FD)
    }
    #[cfg(windows)]
    {
        Fd::from(value)
    }
}

/// What the kernel says of one TCP connection's sending side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpSendState {
    /// Bytes queued in the kernel that were never sent (`tcpi_notsent_bytes`).
    pub notsent: u32,
    /// The receive window the peer last advertised (`tcpi_snd_wnd`). A peer that stopped
    /// reading advertises 0 or a sliver (measured on loopback: 15 360 bytes with megabytes
    /// unsent, less than one segment, so nothing is sent). `None` on kernels older than 5.4, which
    /// fill a shorter `tcp_info`.
    pub window: Option<u32>,
    /// Bytes the peer acknowledged so far (`tcpi_bytes_acked`): progress, if it moves. Counts
    /// the SYN's one sequence number (as Linux does; the other platforms add it).
    pub acked: u64,
}

/// Whether this system answers the TCP probes ([`tcp_send_state`], [`send_queue`]) — tried
/// once per process on a loopback connection. Always on Linux. A component's publishing byte
/// budget needs them (without, its estimate could only grow): where they fail it is off.
pub(crate) fn tcp_probes_work() -> bool {
    #[cfg(target_os = "linux")]
    {
        true
    }
    #[cfg(not(target_os = "linux"))]
    {
        static WORK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *WORK.get_or_init(|| {
            let works = try_tcp_probes().unwrap_or(false);
            if !works {
                tracing::info!(
                    "this system reports no TCP send state: publishing byte budgets are off \
                     (the count bound and the stall timeout remain)"
                );
            }
            works
        })
    }
}

/// Probes one loopback connection of our own.
#[cfg(not(target_os = "linux"))]
fn try_tcp_probes() -> std::io::Result<bool> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    let fd = raw(&stream);
    Ok(tcp_send_state(fd).is_some() && send_queue(fd).is_some())
}

/// The descriptor of a std socket.
#[cfg(unix)]
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub(crate) fn raw(socket: &impl std::os::fd::AsRawFd) -> Fd {
    socket.as_raw_fd()
}

/// The descriptor (`SOCKET`) of a std socket.
#[cfg(windows)]
pub(crate) fn raw(socket: &impl std::os::windows::io::AsRawSocket) -> Fd {
    socket.as_raw_socket()
}
