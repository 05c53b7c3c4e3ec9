//! Windows: `GetProcessMemoryInfo` for the memory in use, `SIO_TCP_INFO` (Windows 10 1703 and
//! later) for a connection, `shutdown` to abort one.
//!
//! - **Memory**: the process's private bytes (its commit charge), not a heap count: Windows'
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
use windows_sys::Win32::System::ProcessStatus::{GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

use super::TcpSendState;

/// The process's commit charge (`PROCESS_MEMORY_COUNTERS::PagefileUsage`: its private bytes,
/// what `PROCESS_MEMORY_COUNTERS_EX::PrivateUsage` repeats; Wine fills only this one).
#[allow(unsafe_code)]
pub(crate) fn heap_in_use() -> Option<usize> {
    let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    let mut counters = PROCESS_MEMORY_COUNTERS {
        cb: size,
        ..Default::default()
    };
    // SAFETY: the pseudo handle of the current process needs no closing; the call writes at
    // most `size` bytes into `counters`, which is that long.
    let ok = unsafe { GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, size) };
    (ok != 0 && counters.PagefileUsage > 0).then_some(counters.PagefileUsage)
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
fn with_socket<T>(
    fd: RawSocket,
    call: impl FnOnce(socket2::SockRef<'_>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    if fd == super::NO_FD {
        return Err(std::io::Error::from_raw_os_error(
            windows_sys::Win32::Networking::WinSock::WSAENOTSOCK,
        ));
    }
    // SAFETY: the borrow lives for this call only and nothing here closes the handle (nor is
    // it INVALID_SOCKET, checked above); a handle libzmq closed meanwhile makes the Winsock
    // calls fail with WSAENOTSOCK, no more.
    let socket = unsafe { BorrowedSocket::borrow_raw(fd) };
    call(socket2::SockRef::from(&socket))
}

/// The local and peer address of the TCP connection on `fd`.
pub(crate) fn addresses(fd: RawSocket) -> Option<(SocketAddr, SocketAddr)> {
    with_socket(fd, |socket| Ok((socket.local_addr()?, socket.peer_addr()?)))
        .ok()
        .and_then(|(local, peer)| Some((local.as_socket()?, peer.as_socket()?)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (TcpListener, TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (theirs, _) = listener.accept().unwrap();
        (listener, ours, theirs)
    }

    #[test]
    fn private_bytes_follow_allocations() {
        let before = heap_in_use().unwrap();
        let block = vec![1u8; 32 << 20];
        let during = heap_in_use().unwrap();
        // Other tests of this binary allocate and free meanwhile: a wide margin.
        assert!(during >= before + (24 << 20), "{before} → {during}");
        drop(std::hint::black_box(block));
    }

    /// Addresses and shutdown of a socket we only borrow, as the backplane does libzmq's.
    #[test]
    fn addresses_and_shutdown_of_a_borrowed_socket() {
        let (listener, ours, mut theirs) = pair();
        let fd = super::super::raw(&ours);
        let (local, peer) = addresses(fd).unwrap();
        assert_eq!(peer, listener.local_addr().unwrap());
        assert_eq!(local, ours.local_addr().unwrap());
        abort(fd).unwrap();
        let mut buffer = [0u8; 16];
        theirs
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        assert!(
            matches!(theirs.read(&mut buffer), Ok(0) | Err(_)),
            "the peer sees the end"
        );
        assert!(
            addresses(!0).is_none(),
            "an invalid socket has no addresses"
        );
        assert!(open_descriptors().is_empty());
    }

    /// Where `SIO_TCP_INFO` answers, its counts are the bytes moved; where it does not (Wine
    /// 8), the budgets that need it say they are off.
    #[test]
    fn tcp_info_counts_the_bytes_moved_or_the_budget_is_off() {
        let (_listener, mut ours, mut theirs) = pair();
        let fd = super::super::raw(&ours);
        let Some(_) = tcp_send_state(fd) else {
            assert!(!super::super::tcp_probes_work());
            eprintln!("SIO_TCP_INFO is not answered here: publishing byte budgets are off");
            return;
        };
        assert!(super::super::tcp_probes_work());
        let sent = vec![7u8; 100_000];
        ours.write_all(&sent).unwrap();
        let mut buffer = vec![0u8; 1 << 16];
        let mut read = 0;
        while read < sent.len() {
            read += theirs.read(&mut buffer).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let state = loop {
            let state = tcp_send_state(fd).unwrap();
            if state.acked == sent.len() as u64 + 1 || std::time::Instant::now() >= deadline {
                break state;
            }
            std::thread::yield_now();
        };
        assert_eq!(state.acked, sent.len() as u64 + 1, "{state:?}");
        assert_eq!(send_queue(fd), Some(0));
        assert_eq!(
            tcp_bytes_received(super::super::raw(&theirs)),
            Some(sent.len() as u64)
        );
    }
}
