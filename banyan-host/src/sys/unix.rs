//! Socket calls every Unix shares (through nix, without unsafe code).

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use nix::sys::socket::{self, SockaddrStorage};

/// `address` as std's socket address, if it is an IPv4 or IPv6 one.
fn socket_address(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddrV4::from(*v4).into());
    }
    address
        .as_sockaddr_in6()
        .map(|v6| SocketAddrV6::from(*v6).into())
}

/// The local and peer address of the TCP connection on `fd` (libzmq owns the descriptor; these
/// calls fail harmlessly, `EBADF`/`ENOTSOCK`, if it closed it meanwhile).
pub(crate) fn addresses(fd: RawFd) -> Option<(SocketAddr, SocketAddr)> {
    let local = socket::getsockname::<SockaddrStorage>(fd).ok()?;
    let peer = socket::getpeername::<SockaddrStorage>(fd).ok()?;
    Some((socket_address(&local)?, socket_address(&peer)?))
}

/// Shuts the connection on `fd` down both ways. libzmq sees the end of the stream, closes the
/// connection and frees its queue; the peer sees a disconnect and reconnects by itself.
pub(crate) fn shut_down(fd: RawFd) -> std::io::Result<()> {
    socket::shutdown(fd, socket::Shutdown::Both).map_err(std::io::Error::from)
}
