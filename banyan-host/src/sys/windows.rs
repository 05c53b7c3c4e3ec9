//! Windows: `GetProcessMemoryInfo` for the memory in use, `SIO_TCP_INFO` (Windows 10 1703 and
//! later) for a connection, `shutdown` to abort one.
//!
//! - **Memory**: the process's private bytes (`PrivateUsage`), not a heap count: Windows'
//!   heap gives blocks above its decommit threshold back to the system when they are freed
//!   (libzmq's queued messages of any size add up to such blocks), so the figure falls when a
//!   queue is freed, if less promptly than glibc's `mallinfo2`.
//! - **TCP** (`TCP_INFO_v0`): `window` is `SndWnd`; `acked` is the bytes sent once
//!   (`BytesOut − BytesRetrans`) minus those in flight (`BytesInFlight`), plus 1 for the SYN
//!   as Linux counts it. Windows reports no unsent count: a window closed below one segment
//!   (`Mss`) is taken as bytes waiting (`notsent` 1), as libzmq writes until the kernel
//!   refuses. [`send_queue`] is the bytes in flight, so a component's publishing estimate
//!   counts bytes in the kernel's buffer that were never sent as still queued: it errs on
//!   the safe side.
//! - **Open sockets**: not listed (a process's socket handles cannot be enumerated without
//!   the driver interfaces): the backplane's subscription-flood watch is off; the
//!   per-connection subscription ledger (from libzmq's monitor) still holds.
//! - **Abort**: `shutdown(SD_BOTH)`: Windows resets a connection whose receive side was shut
//!   down as soon as more data arrives, which stops a peer that only sends.
//!
//! Where `SIO_TCP_INFO` fails (older Windows, Wine 8), the byte budgets are off and the count
//! bound and the stall timeout remain ([`super::tcp_probes_work`]).

use std::net::SocketAddr;
use std::os::windows::io::{BorrowedSocket, RawSocket};

use windows_sys::Win32::Networking::WinSock::{SIO_TCP_INFO, SOCKET, TCP_INFO_v0, WSAIoctl};
use windows_sys::Win32::System::ProcessStatus::{
    GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS, PROCESS_MEMORY_COUNTERS_EX,
};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

use super::TcpSendState;

/// The process's private bytes (`PROCESS_MEMORY_COUNTERS_EX::PrivateUsage`).
#[allow(unsafe_code)]
pub(crate) fn heap_in_use() -> Option<usize> {
    let mut counters = PROCESS_MEMORY_COUNTERS_EX::default();
    let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS_EX>() as u32;
    counters.cb = size;
    // SAFETY: the pseudo handle of the current process needs no closing; the call writes at
    // most `size` bytes into `counters`, which is that long (the _EX struct extends the
    // plain one, as the API documents for this cast).
    let ok = unsafe {
        GetProcessMemoryInfo(
            GetCurrentProcess(),
            (&raw mut counters).cast::<PROCESS_MEMORY_COUNTERS>(),
            size,
        )
    };
    (ok != 0 && counters.PrivateUsage > 0).then_some(counters.PrivateUsage)
}

/// `SIO_TCP_INFO` (version 0) of the socket `fd`; `None` if it is not an open TCP socket or
/// the system has no such control code.
#[allow(unsafe_code)]
fn tcp_info(fd: RawSocket) -> Option<TCP_INFO_v0> {
    let version: u32 = 0;
    let mut info = TCP_INFO_v0::default();
    let mut returned: u32 = 0;
    // SAFETY: input and output point to live values of the sizes given; no overlapped I/O (a
    // blocking call that returns at once); on a closed or foreign handle the call fails
    // without touching memory of ours.
    let rc = unsafe {
        WSAIoctl(
            fd as SOCKET,
            SIO_TCP_INFO,
            (&raw const version).cast(),
            std::mem::size_of::<u32>() as u32,
            (&raw mut info).cast(),
            std::mem::size_of::<TCP_INFO_v0>() as u32,
            &mut returned,
            std::ptr::null_mut(),
            None,
        )
    };
    (rc == 0 && returned as usize >= std::mem::size_of::<TCP_INFO_v0>()).then_some(info)
}

/// The sending side of `fd`, derived as the module documentation says.
pub(crate) fn tcp_send_state(fd: RawSocket) -> Option<TcpSendState> {
    let info = tcp_info(fd)?;
    let sent_once = info.BytesOut.saturating_sub(u64::from(info.BytesRetrans));
    Some(TcpSendState {
        notsent: u32::from(info.SndWnd < info.Mss.max(1)),
        window: Some(info.SndWnd),
        acked: sent_once
            .saturating_sub(u64::from(info.BytesInFlight))
            .saturating_add(1),
    })
}

/// Bytes received on `fd` so far (`BytesIn`).
pub(crate) fn tcp_bytes_received(fd: RawSocket) -> Option<u64> {
    Some(tcp_info(fd)?.BytesIn)
}

/// Bytes sent on `fd` and not yet acknowledged (`BytesInFlight`).
pub(crate) fn send_queue(fd: RawSocket) -> Option<u32> {
    Some(tcp_info(fd)?.BytesInFlight)
}

/// Not listed on Windows (see the module documentation).
pub(crate) fn open_descriptors() -> Vec<RawSocket> {
    Vec::new()
}

/// The socket `fd`, borrowed for one call. libzmq owns it; the calls made on it fail
/// harmlessly (`WSAENOTSOCK`) if libzmq closed it meanwhile.
#[allow(unsafe_code)]
fn with_socket<T>(fd: RawSocket, call: impl FnOnce(socket2::SockRef<'_>) -> T) -> T {
    // SAFETY: the borrow lives for this call only and nothing here closes the handle; a handle
    // libzmq closed meanwhile makes the Winsock calls fail with WSAENOTSOCK, no more.
    let socket = unsafe { BorrowedSocket::borrow_raw(fd) };
    call(socket2::SockRef::from(&socket))
}

/// The local and peer address of the TCP connection on `fd`.
pub(crate) fn addresses(fd: RawSocket) -> Option<(SocketAddr, SocketAddr)> {
    with_socket(fd, |socket| {
        let local = socket.local_addr().ok()?.as_socket()?;
        let peer = socket.peer_addr().ok()?.as_socket()?;
        Some((local, peer))
    })
}

/// Shuts the connection on `fd` down both ways; libzmq sees the end of the stream, closes the
/// connection and frees its queue; the peer reconnects by itself.
pub(crate) fn shut_down(fd: RawSocket) -> std::io::Result<()> {
    with_socket(fd, |socket| socket.shutdown(std::net::Shutdown::Both))
}

/// [`shut_down`] (see the module documentation: Windows resets such a connection once data
/// arrives).
pub(crate) fn abort(fd: RawSocket) -> std::io::Result<()> {
    shut_down(fd)
}
