//! Who may connect: an address allowlist applied when a TCP connection is accepted (as the
//! backplane's `--allow CIDR` refuses ZeroMQ peers at the handshake) and an origin allowlist
//! for WebSocket upgrades.
//!
//! Both default to "everyone", as Python's `ws_gateway.py` (which listens on 127.0.0.1 only,
//! as ours does by default). A refused connection is closed at once, logged with the peer
//! address and counted.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use banyan_host::access::AccessControl;
use tokio::net::{TcpListener, TcpStream};

use crate::error::Error;

/// Addresses allowed to connect; empty = everyone. Parsing and matching are the backplane's
/// own ([`AccessControl`]), so `--allow` means the same on both commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    access: AccessControl,
}

impl Allowlist {
    /// Parses `--allow` entries: `ADDR` or `ADDR/PREFIX`, IPv4 or IPv6.
    ///
    /// ```
    /// use banyan_web::allow::Allowlist;
    /// let allow = Allowlist::parse(["127.0.0.1", "192.168.1.0/24"]).unwrap();
    /// assert!(allow.allows("192.168.1.77".parse().unwrap()));
    /// assert!(!allow.allows("10.0.0.1".parse().unwrap()));
    /// assert!(Allowlist::parse(["300.1.1.1"]).is_err());
    /// ```
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self, Error> {
        let allow = entries
            .into_iter()
            .map(|entry| {
                AccessControl::parse_network(entry.as_ref()).map_err(|_| Error::BadAllow {
                    entry: entry.as_ref().trim().to_owned(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            access: AccessControl {
                allow,
                plain: Vec::new(),
            },
        })
    }

    /// `true` when the list is empty (everyone is allowed).
    pub fn is_open(&self) -> bool {
        self.access.is_open()
    }

    /// Whether `address` may connect. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are
    /// checked as the IPv4 address they carry.
    pub fn allows(&self, address: IpAddr) -> bool {
        self.access.allows(address)
    }
}

/// Origins allowed to open WebSockets; empty = every origin (pages opened from `file://`
/// send `null`, and Python Banyan's pages are opened that way). The page's own origin (same
/// host and port as the request) is always allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginList {
    origins: Vec<String>,
}

impl OriginList {
    /// Origins as given to `--allow-origin` (`http://pi.local:9000`, `null`, ...); compared
    /// without a trailing slash and case-insensitively.
    pub fn new<S: AsRef<str>>(origins: impl IntoIterator<Item = S>) -> Self {
        Self {
            origins: origins
                .into_iter()
                .map(|origin| {
                    origin
                        .as_ref()
                        .trim()
                        .trim_end_matches('/')
                        .to_ascii_lowercase()
                })
                .collect(),
        }
    }

    /// Whether a WebSocket with `origin` (the `Origin` header, if any) may open, for a request
    /// addressed to `host` (the `Host` header). A request without `Origin` comes from a
    /// non-browser client and is allowed (browsers always send one).
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        if self.origins.is_empty() {
            return true;
        }
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        let same_origin = host.is_some_and(|host| {
            let host = host.to_ascii_lowercase();
            origin == format!("http://{host}") || origin == format!("https://{host}")
        });
        same_origin || self.origins.contains(&origin)
    }
}

/// A TCP listener that closes connections from addresses not on an [`Allowlist`].
#[derive(Debug)]
pub struct AllowListener {
    inner: TcpListener,
    allow: Allowlist,
    refused: Arc<AtomicU64>,
}

impl AllowListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, allow: Allowlist) -> Self {
        Self {
            inner,
            allow,
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The counter of refused connections (shared, for statistics).
    pub fn refused(&self) -> Arc<AtomicU64> {
        self.refused.clone()
    }
}

impl axum::serve::Listener for AllowListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            if self.allow.allows(peer.ip()) {
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(%peer, refused, "connection refused: address not in --allow");
            drop(stream);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn addresses_and_networks() {
        let allow =
            Allowlist::parse(["127.0.0.1", "10.1.0.0/16", "fd00::/8", " ::1 "]).expect("parses");
        assert!(allow.allows(ip("127.0.0.1")));
        assert!(!allow.allows(ip("127.0.0.2")));
        assert!(allow.allows(ip("10.1.255.3")));
        assert!(!allow.allows(ip("10.2.0.1")));
        assert!(allow.allows(ip("fd12::1")));
        assert!(allow.allows(ip("::1")));
        assert!(allow.allows(ip("::ffff:127.0.0.1")));
        assert!(!allow.allows(ip("::ffff:127.0.0.2")));
        // Host bits are ignored, as in the usual CIDR notation.
        let host_bits = Allowlist::parse(["192.168.1.77/24"]).expect("parses");
        assert!(host_bits.allows(ip("192.168.1.1")));
        assert!(Allowlist::default().allows(ip("8.8.8.8")));
        for bad in ["", "localhost", "1.2.3.4/33", "1.2.3"] {
            assert!(Allowlist::parse([bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn origins() {
        let open = OriginList::default();
        assert!(open.allows(Some("http://evil.example"), Some("127.0.0.1:9000")));
        let list = OriginList::new(["http://Pi.local:9000/", "null"]);
        assert!(list.allows(Some("http://pi.local:9000"), Some("x")));
        assert!(list.allows(Some("null"), None));
        assert!(!list.allows(Some("http://evil.example"), Some("127.0.0.1:9000")));
        assert!(list.allows(Some("http://127.0.0.1:9000"), Some("127.0.0.1:9000")));
        assert!(list.allows(None, None));
    }
}
