//! Free ports and waiting for a listener. Tests bind port 0 wherever they can; these helpers
//! are for processes that must be told a port up front (Python's backplane).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::wait::wait_until;

/// 127.0.0.1, the only address tests use.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A TCP port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("binding a free loopback port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("reading a bound port", e))
}

/// Two distinct TCP ports that were free on all IPv4 interfaces a moment ago (both held at
/// once, so they differ), for a backplane that binds Python's outward address.
pub fn free_port_pair() -> Result<(u16, u16)> {
    let bind = || {
        TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
            .map_err(|e| Error::io("binding a free port", e))
    };
    let (a, b) = (bind()?, bind()?);
    let port = |l: &TcpListener| {
        l.local_addr()
            .map(|a| a.port())
            .map_err(|e| Error::io("reading a bound port", e))
    };
    Ok((port(&a)?, port(&b)?))
}

/// Waits until something accepts TCP connections on `address:port`, until `deadline`.
pub fn wait_listening(address: IpAddr, port: u16, deadline: Instant) -> Result<()> {
    let target = SocketAddr::new(address, port);
    let what = format!("a listener on {target}");
    wait_until(deadline, &what, || {
        TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok()
    })
    .map_err(|error| match error {
        Error::WaitTimeout { waited, .. } => Error::NotListening {
            address: target,
            waited,
        },
        other => other,
    })
}

/// Waits until nothing accepts connections on `address:port` any more (a killed server's
/// port is closed), until `deadline`; `false` if something still listens then.
pub fn wait_closed(address: IpAddr, port: u16, deadline: Instant) -> bool {
    let target = SocketAddr::new(address, port);
    let what = format!("{target} closed");
    wait_until(deadline, &what, || {
        TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_err()
    })
    .is_ok()
}
