//! Linux: glibc's `mallinfo2` for the heap, `TCP_INFO` (`tcpi_snd_wnd` since Linux 5.4) and
//! `SIOCOUTQ` for a connection, `/proc/self/fd` for the open sockets, `connect(AF_UNSPEC)` to
//! abort one. Without glibc (musl) [`heap_in_use`] returns `None` and the backplane's byte
//! budget is off (the count bound and the stall timeout still hold).

use std::os::fd::RawFd;

use super::TcpSendState;

/// Bytes the process's allocator has handed out and not had back (glibc's `mallinfo2`: in-use
/// arena chunks plus mmapped chunks, over all arenas). Unlike the RSS this falls as soon as a
/// queue is freed, whatever the fragmentation.
#[cfg(target_env = "gnu")]
#[allow(unsafe_code)]
pub(crate) fn heap_in_use() -> Option<usize> {
    // SAFETY: mallinfo2 takes no arguments, only reads the allocator's statistics under its
    // arena locks, and returns a plain struct by value (glibc ≥ 2.33, which every supported
    // target has: Debian 12 ships 2.36).
    let info = unsafe { libc::mallinfo2() };
    Some(info.uordblks.saturating_add(info.hblkhd))
}

/// Not measurable without glibc: the byte budget is off.
#[cfg(not(target_env = "gnu"))]
pub(crate) fn heap_in_use() -> Option<usize> {
    None
}

/// Reads `TCP_INFO` of `fd` into libc's `struct tcp_info` and says how many bytes of it the
/// kernel filled (the struct only grows: an older kernel fills a prefix). `None` if `fd` is not
/// an open TCP socket (any more). nix wraps no `TCP_INFO` option, hence libc.
#[allow(unsafe_code)]
fn tcp_info(fd: RawFd) -> Option<(libc::tcp_info, usize)> {
    // SAFETY: `tcp_info` is a plain C struct of integers, for which all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info`, which is that long, and
    // stores the length written in `len`; an fd that is closed or not a TCP socket makes the
    // call fail, it touches no memory of ours then.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    let filled = usize::try_from(len)
        .ok()?
        .min(std::mem::size_of::<libc::tcp_info>());
    Some((info, filled))
}

/// Whether the kernel filled the field that ends `size` bytes after `offset`.
fn filled(len: usize, offset: usize, size: usize) -> bool {
    len >= offset + size
}

/// Reads `TCP_INFO` of `fd`. `None` if `fd` is not an open TCP socket (any more).
pub(crate) fn tcp_send_state(fd: RawFd) -> Option<TcpSendState> {
    use std::mem::offset_of;
    let (info, len) = tcp_info(fd)?;
    let has = |offset, size| filled(len, offset, size);
    if !has(offset_of!(libc::tcp_info, tcpi_notsent_bytes), 4)
        || !has(offset_of!(libc::tcp_info, tcpi_bytes_acked), 8)
    {
        return None;
    }
    Some(TcpSendState {
        notsent: info.tcpi_notsent_bytes,
        window: has(offset_of!(libc::tcp_info, tcpi_snd_wnd), 4).then_some(info.tcpi_snd_wnd),
        acked: info.tcpi_bytes_acked,
    })
}

/// Bytes the connection on `fd` received from its peer so far (`tcpi_bytes_received`, Linux
/// ≥ 4.1). `None` if `fd` is not an open TCP socket.
pub(crate) fn tcp_bytes_received(fd: RawFd) -> Option<u64> {
    let (info, len) = tcp_info(fd)?;
    filled(
        len,
        std::mem::offset_of!(libc::tcp_info, tcpi_bytes_received),
        8,
    )
    .then_some(info.tcpi_bytes_received)
}

/// The open descriptors of this process (`/proc/self/fd`); empty where that is not available.
pub(crate) fn open_descriptors() -> Vec<RawFd> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Bytes in the kernel's send queue of the TCP socket `fd`, sent or not, not yet acknowledged
/// (`SIOCOUTQ`). `None` if `fd` is not an open TCP socket. Through libc: nix's ioctl macros
/// would only wrap the same unsafe call.
#[allow(unsafe_code)]
pub(crate) fn send_queue(fd: RawFd) -> Option<u32> {
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (= TIOCOUTQ) writes one int through the pointer, which points to
    // `queued`; on a closed or non-TCP descriptor the call fails without writing.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
    if rc != 0 {
        return None;
    }
    u32::try_from(queued).ok()
}

/// Aborts the TCP connection on `fd`: `connect(2)` with `AF_UNSPEC` dissolves the
/// association (Linux's `tcp_disconnect`: an RST to the peer, both queues purged), and libzmq's
/// next read on the descriptor fails, so it closes the connection and frees what it held. The
/// descriptor stays libzmq's. Unlike [`shut_down`], this stops a peer that only *sends*: after
/// `shutdown(2)` Linux still queues and hands over what such a peer sends, so libzmq would
/// read (and apply) a subscription flood until its next write to that peer.
///
/// Through libc: nix has no `AF_UNSPEC` address to pass to its `connect`.
#[allow(unsafe_code)]
pub(crate) fn abort(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: an all-zero `sockaddr` is a valid value of that plain C struct.
    let mut address: libc::sockaddr = unsafe { std::mem::zeroed() };
    address.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    let len = std::mem::size_of::<libc::sockaddr>() as libc::socklen_t;
    // SAFETY: `address` is a live `sockaddr` of `len` bytes for the duration of the call; on a
    // closed or non-socket descriptor the call fails without touching memory of ours.
    let rc = unsafe { libc::connect(fd, &address, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{addresses, shut_down};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    /// The state of `fd` once `done` holds (at most 10 s; then the last state, for the
    /// assertions to report).
    fn settled(fd: RawFd, done: impl Fn(&TcpSendState) -> bool) -> TcpSendState {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let state = tcp_send_state(fd).expect("TCP_INFO");
            if done(&state) || std::time::Instant::now() >= deadline {
                return state;
            }
            std::thread::yield_now();
        }
    }

    /// libc's `struct tcp_info` has the layout of Linux's (include/uapi/linux/tcp.h, which only
    /// grows) where the fields read here are: the offsets the kernel documents.
    #[test]
    fn libc_tcp_info_has_the_kernel_layout() {
        use std::mem::offset_of;
        assert_eq!(offset_of!(libc::tcp_info, tcpi_bytes_acked), 120);
        assert_eq!(offset_of!(libc::tcp_info, tcpi_bytes_received), 128);
        assert_eq!(offset_of!(libc::tcp_info, tcpi_notsent_bytes), 144);
        assert_eq!(offset_of!(libc::tcp_info, tcpi_snd_wnd), 228);
        assert!(filled(232, 228, 4) && !filled(228, 228, 4));
    }

    /// The fields read are the ones they name: a connection whose peer reads nothing ends with
    /// unsent bytes and (nearly) no window; once the peer drains it, the window opens again and the
    /// acknowledged bytes count everything sent.
    #[test]
    fn tcp_info_reads_the_window_and_queues() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut reader, _) = listener.accept().unwrap();
        reader
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        sender.set_nonblocking(true).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        loop {
            match sender.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        // Segments and window updates travel on loopback in softirq context: wait for them.
        let full = settled(sender.as_raw_fd(), |s| s.window.unwrap() < 64 * 1024);
        assert!(full.notsent > 0, "{full:?}");
        assert!(full.window.unwrap() < 64 * 1024, "{full:?}");
        assert!(full.acked < sent as u64, "{full:?}");
        // Everything written and not acknowledged is in the send queue.
        let queued = u64::from(send_queue(sender.as_raw_fd()).unwrap());
        assert_eq!(full.acked - 1 + queued, sent as u64);

        let mut buffer = vec![0u8; 1 << 20];
        let mut read = 0;
        while read < sent {
            read += reader.read(&mut buffer).unwrap();
        }
        let drained = settled(sender.as_raw_fd(), |s| s.acked == sent as u64 + 1);
        assert_eq!(drained.notsent, 0, "{drained:?}");
        assert!(drained.window.unwrap() > 0, "{drained:?}");
        // The count includes the SYN's one sequence number.
        assert_eq!(drained.acked, sent as u64 + 1, "{drained:?}");

        assert_eq!(send_queue(sender.as_raw_fd()), Some(0));
        // The reader received everything sent.
        assert_eq!(tcp_bytes_received(reader.as_raw_fd()), Some(sent as u64));
        assert!(open_descriptors().contains(&reader.as_raw_fd()));
        let (local, peer) = addresses(sender.as_raw_fd()).unwrap();
        assert_eq!(peer, listener.local_addr().unwrap());
        assert_eq!(local, reader.peer_addr().unwrap());
        shut_down(sender.as_raw_fd()).unwrap();
        assert_eq!(
            reader.read(&mut buffer).unwrap(),
            0,
            "the peer sees the end"
        );
        assert!(tcp_send_state(-1).is_none());
    }

    /// A peer that keeps sending to an aborted connection is stopped (reset), and the aborted
    /// side reads no more of what it sent.
    #[test]
    fn abort_resets_the_connection_of_a_sending_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut ours, _) = listener.accept().unwrap();
        peer.write_all(&[1u8; 4096]).unwrap();
        abort(ours.as_raw_fd()).unwrap();
        let mut buffer = [0u8; 4096];
        // Nothing of the queued bytes is handed over any more.
        assert!(matches!(ours.read(&mut buffer), Ok(0) | Err(_)));
        // The peer learns it: its writes fail soon (RST).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let failed = loop {
            if peer.write_all(&[2u8; 4096]).is_err() {
                break true;
            }
            if std::time::Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert!(failed, "the peer could still send");
    }

    #[cfg(target_env = "gnu")]
    #[test]
    fn heap_in_use_follows_allocations() {
        let before = heap_in_use().unwrap();
        let block = vec![1u8; 32 << 20];
        let during = heap_in_use().unwrap();
        // Other tests of this binary allocate and free meanwhile: a wide margin.
        assert!(during >= before + (24 << 20), "{before} → {during}");
        drop(std::hint::black_box(block));
    }
}
