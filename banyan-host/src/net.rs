//! Address helpers shared by the backplane and components.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// Default port components publish to (the backplane's SUB socket), as in Python Banyan.
pub const DEFAULT_PUBLISHER_PORT: u16 = 43124;
/// Default port components subscribe on (the backplane's PUB socket), as in Python Banyan.
pub const DEFAULT_SUBSCRIBER_PORT: u16 = 43125;

/// The machine's outward IPv4 address, found as Python Banyan finds it: a UDP socket is
/// `connect`ed to a public address (no packet is sent; the kernel only picks a route) and its
/// local address is read. Falls back to `127.0.0.1` when there is no route.
///
/// Python components bind and connect to this address, so a Rust component that should
/// reach a Python backplane must use it too.
pub fn outward_ipv4() -> IpAddr {
    let detect = || -> std::io::Result<IpAddr> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.connect((Ipv4Addr::new(8, 8, 8, 8), 1))?;
        Ok(socket.local_addr()?.ip())
    };
    detect().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A ZeroMQ TCP endpoint for `address:port` (IPv6 addresses are bracketed).
pub fn tcp_endpoint(address: &str, port: u16) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("tcp://[{address}]:{port}")
    } else {
        format!("tcp://{address}:{port}")
    }
}

/// A ZeroMQ bind endpoint; port 0 asks the OS for an ephemeral port (`*` in ZeroMQ terms).
pub(crate) fn bind_endpoint(address: &str, port: u16) -> String {
    if port == 0 {
        let base = tcp_endpoint(address, 1);
        format!("{}*", base.trim_end_matches('1'))
    } else {
        tcp_endpoint(address, port)
    }
}

/// The port of a ZeroMQ `last_endpoint` string such as `tcp://0.0.0.0:40213`.
pub(crate) fn endpoint_port(endpoint: &str) -> Option<u16> {
    endpoint.rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(tcp_endpoint("127.0.0.1", 43124), "tcp://127.0.0.1:43124");
        assert_eq!(tcp_endpoint("::1", 5), "tcp://[::1]:5");
        assert_eq!(bind_endpoint("0.0.0.0", 0), "tcp://0.0.0.0:*");
        assert_eq!(bind_endpoint("::1", 0), "tcp://[::1]:*");
        assert_eq!(bind_endpoint("0.0.0.0", 43125), "tcp://0.0.0.0:43125");
        assert_eq!(endpoint_port("tcp://0.0.0.0:40213"), Some(40213));
        assert_eq!(endpoint_port("tcp://[::1]:7"), Some(7));
        assert_eq!(endpoint_port("inproc://x"), None);
    }

    #[test]
    fn outward_is_ipv4() {
        assert!(outward_ipv4().is_ipv4());
    }
}
