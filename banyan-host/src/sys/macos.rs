//! macOS: the malloc zones' statistics for the heap, `TCP_CONNECTION_INFO` for a connection,
//! `/dev/fd` for the open sockets. Compiled in CI for both Mac targets, not run (no macOS
//! machine in CI; see docs/windows-and-macos.md).
//!
//! `TCP_CONNECTION_INFO` has no acknowledged or unsent count, so [`TcpSendState`] is derived:
//! - `window`: `tcpi_snd_wnd`, as on Linux;
//! - `acked`: bytes sent at least once (`tcpi_txbytes − tcpi_txretransmitbytes`, plus 1 for
//!   the SYN as Linux counts it) — a progress count that runs ahead of the acknowledgements by
//!   the bytes in flight (at most one window);
//! - `notsent`: what the send buffer (`tcpi_snd_sbbytes`, sent-unacknowledged plus unsent)
//!   holds beyond the window: with the window closed, all of it.
//!
//! [`send_queue`] is `tcpi_snd_sbbytes`. A component's publishing estimate (written = acked
//! − 1 + queued) thus counts the bytes in flight twice: it errs by at most one window, small
//! beside a budget of megabytes.

use std::os::fd::RawFd;

use super::TcpSendState;

/// Bytes in use in every malloc zone of the process (`malloc_zone_statistics(NULL, …)`): like
/// glibc's `mallinfo2`, it falls as soon as a queue is freed.
#[allow(unsafe_code)]
pub(crate) fn heap_in_use() -> Option<usize> {
    // SAFETY: an all-zero `malloc_statistics_t` (integers only) is a valid value.
    let mut stats: libc::malloc_statistics_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null zone asks for the sum over all zones; the call writes one
    // `malloc_statistics_t` through the pointer, which points to `stats`.
    unsafe { libc::malloc_zone_statistics(std::ptr::null_mut(), &mut stats) };
    Some(stats.size_in_use)
}

/// Reads `TCP_CONNECTION_INFO` of `fd`. `None` if `fd` is not an open TCP socket (any more).
#[allow(unsafe_code)]
fn connection_info(fd: RawFd) -> Option<libc::tcp_connection_info> {
    // SAFETY: a plain C struct of integers, for which all-zero is a valid value.
    let mut info: libc::tcp_connection_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_connection_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info`, which is that long; on a
    // closed or non-TCP descriptor the call fails without touching memory of ours.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CONNECTION_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(info)
}

/// The sending side of `fd`, derived as the module documentation says.
pub(crate) fn tcp_send_state(fd: RawFd) -> Option<TcpSendState> {
    let info = connection_info(fd)?;
    let sent_once = info
        .tcpi_txbytes
        .saturating_sub(info.tcpi_txretransmitbytes);
    Some(TcpSendState {
        notsent: info.tcpi_snd_sbbytes.saturating_sub(info.tcpi_snd_wnd),
        window: Some(info.tcpi_snd_wnd),
        acked: sent_once.saturating_add(1),
    })
}

/// Bytes received on `fd` so far (`tcpi_rxbytes`).
pub(crate) fn tcp_bytes_received(fd: RawFd) -> Option<u64> {
    Some(connection_info(fd)?.tcpi_rxbytes)
}

/// Bytes in the send buffer of `fd`, unacknowledged or unsent (`tcpi_snd_sbbytes`).
pub(crate) fn send_queue(fd: RawFd) -> Option<u32> {
    Some(connection_info(fd)?.tcpi_snd_sbbytes)
}

/// The open descriptors of this process (`/dev/fd`, which macOS's fdesc file system lists).
pub(crate) fn open_descriptors() -> Vec<RawFd> {
    std::fs::read_dir("/dev/fd")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// [`shut_down`](super::shut_down): macOS's `connect(AF_UNSPEC)` does not dissolve a TCP
/// association as Linux's does.
pub(crate) fn abort(fd: RawFd) -> std::io::Result<()> {
    super::shut_down(fd)
}
