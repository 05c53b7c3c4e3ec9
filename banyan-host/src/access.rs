//! Access control on the backplane: an address allowlist and optional PLAIN credentials,
//! checked by a ZAP handler (ZeroMQ Authentication Protocol, RFC 27) at the handshake.
//!
//! ```text
//!  peer ──TCP──▶ backplane socket ──ZAP request (address, mechanism, user, password)──▶
//!                                   inproc://zeromq.zap.01  (this module's handler thread)
//!                 ◀── "200" accept / "400" refuse ──────────────────────────────────────
//! ```
//!
//! - **Allowlist** ([`AccessControl::allow`]): connections from addresses outside every listed
//!   network are refused before a single message is read; each refusal is counted
//!   ([`AccessStats::refused`]) and logged with the peer's address. It works with the NULL
//!   mechanism, so Python Banyan components from allowed addresses connect unchanged.
//! - **PLAIN credentials** ([`AccessControl::plain`]): every peer must present one of the
//!   configured user/password pairs. Only Rust components can (Python Banyan has no option for
//!   it). **PLAIN is not encryption**: user, password and every message cross the network in
//!   clear text; anyone who can read the traffic can read the password. It keeps out
//!   misconfigured or accidental clients on a trusted network, not an attacker on the path.
//!
//! Without either, no ZAP domain is set and ZeroMQ never consults the handler: the default is
//! Python Banyan's open backplane, at no cost.
//!
//! # No CURVE (encryption)
//! ZeroMQ's CURVE mechanism needs libzmq built with libsodium (or its unaudited built-in
//! tweetnacl). The `zmq` crate's build (`zmq-sys` 0.12) compiles libzmq with
//! `with_libsodium(None)` and offers no switch, so CURVE would mean carrying a patched copy of
//! `zmq-sys` plus a libsodium source build for every cross target. To encrypt, run the
//! backplane's ports through WireGuard (recommended between machines), an SSH tunnel
//! (`ssh -L 43124:localhost:43124 -L 43125:localhost:43125 pi`) or stunnel, and keep the
//! allowlist on the backplane (e.g. `--allow 127.0.0.1/32` behind a tunnel).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use ipnet::IpNet;

use crate::error::{Error, Result};

/// The ZAP domain the backplane's sockets use when access control is on.
pub const ZAP_DOMAIN: &str = "banyan";

/// The endpoint libzmq sends ZAP requests to (fixed by RFC 27).
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// How often repeated refusals of one address are logged at most (each is counted).
const REPEAT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A PLAIN user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// User name.
    pub username: String,
    /// Password (clear text on the wire: PLAIN is not encryption).
    pub password: String,
}

impl std::fmt::Debug for PlainCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl PlainCredentials {
    /// A user/password pair.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Reads `user:password` lines (blank lines and `#` comments skipped) — the backplane's
    /// credentials file.
    pub fn parse_file(text: &str) -> Result<Vec<Self>> {
        text.lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
            .map(|(line, text)| match text.split_once(':') {
                Some((user, password)) if !user.is_empty() => Ok(Self::new(user, password)),
                _ => Err(Error::CredentialsLine { line }),
            })
            .collect()
    }

    /// Sets these credentials on a client socket (PLAIN client mechanism).
    pub(crate) fn apply_client(&self, socket: &zmq::Socket) -> zmq::Result<()> {
        socket.set_plain_username(Some(&self.username))?;
        socket.set_plain_password(Some(&self.password))
    }

    fn matches(&self, username: &[u8], password: &[u8]) -> bool {
        // Compare every byte whatever the first difference, so the time taken does not tell
        // how much of a guess was right.
        let same = |a: &[u8], b: &[u8]| {
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        };
        same(self.username.as_bytes(), username) & same(self.password.as_bytes(), password)
    }
}

/// Who may connect to a backplane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessControl {
    /// Networks peers may connect from; empty allows every address.
    pub allow: Vec<IpNet>,
    /// Accepted PLAIN credentials; empty means the NULL mechanism (no credentials, what Python
    /// Banyan speaks).
    pub plain: Vec<PlainCredentials>,
}

impl AccessControl {
    /// Everyone may connect, without credentials (Python Banyan's behaviour; the default).
    pub fn open() -> Self {
        Self::default()
    }

    /// Whether a ZAP handler is needed at all.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.plain.is_empty()
    }

    /// Parses a CIDR network such as `192.168.1.0/24`; a bare address means that host alone.
    pub fn parse_network(text: &str) -> Result<IpNet> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| Error::Network {
                text: text.to_owned(),
            })
    }

    /// Whether `address` is inside an allowed network (IPv4-mapped IPv6 addresses count as
    /// their IPv4 address).
    pub fn allows(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&address))
    }

    /// Configures a backplane (server) socket: the ZAP domain, and the PLAIN server role when
    /// credentials are required.
    pub(crate) fn apply_server(&self, socket: &zmq::Socket) -> zmq::Result<()> {
        if self.is_open() {
            return Ok(());
        }
        socket.set_zap_domain(ZAP_DOMAIN)?;
        if !self.plain.is_empty() {
            socket.set_plain_server(true)?;
        }
        Ok(())
    }

    /// Decides one ZAP request.
    fn decide(&self, request: &ZapRequest<'_>) -> Verdict {
        let Some(address) = request.address else {
            return Verdict::Refuse("unparsable peer address");
        };
        if !self.allows(address) {
            return Verdict::Refuse("address not allowed");
        }
        if self.plain.is_empty() {
            return match request.mechanism {
                b"NULL" => Verdict::Accept(String::new()),
                _ => Verdict::Refuse("unexpected mechanism"),
            };
        }
        match (request.mechanism, request.credentials) {
            (b"PLAIN", [username, password]) => {
                let known = self.plain.iter().fold(false, |found, known| {
                    found | known.matches(username, password)
                });
                if known {
                    Verdict::Accept(String::from_utf8_lossy(username).into_owned())
                } else {
                    Verdict::Refuse("wrong user or password")
                }
            }
            _ => Verdict::Refuse("credentials required (PLAIN)"),
        }
    }
}

/// Counters of a backplane's access control.
#[derive(Debug, Default)]
pub struct AccessStats {
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl AccessStats {
    /// Handshakes the handler accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Handshakes the handler refused (wrong address or credentials).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// One parsed ZAP request (RFC 27): borrowed from the received frames.
struct ZapRequest<'a> {
    request_id: &'a [u8],
    address: Option<IpAddr>,
    raw_address: &'a [u8],
    mechanism: &'a [u8],
    credentials: &'a [Vec<u8>],
}

impl<'a> ZapRequest<'a> {
    /// `[version "1.0", request id, domain, address, identity, mechanism, credentials...]`.
    fn parse(frames: &'a [Vec<u8>]) -> Option<Self> {
        let [
            version,
            request_id,
            _domain,
            address,
            _identity,
            mechanism,
            credentials @ ..,
        ] = frames
        else {
            return None;
        };
        if version.as_slice() != b"1.0" {
            return None;
        }
        Some(Self {
            request_id,
            address: std::str::from_utf8(address)
                .ok()
                .and_then(|text| text.parse().ok()),
            raw_address: address,
            mechanism,
            credentials,
        })
    }
}

enum Verdict {
    /// Accepted, with the user id to report.
    Accept(String),
    /// Refused, and why.
    Refuse(&'static str),
}

/// The running ZAP handler of one ZeroMQ context; stopped and joined on drop.
pub(crate) struct ZapHandler {
    stop: crate::ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl ZapHandler {
    /// Binds the ZAP endpoint in `ctx` (before any socket of `ctx` accepts connections) and
    /// serves it on a thread.
    pub(crate) fn start(
        ctx: &zmq::Context,
        access: AccessControl,
        stats: Arc<AccessStats>,
    ) -> Result<Self> {
        let zap = ctx.socket(zmq::REP)?;
        zap.set_linger(0)?;
        zap.bind(ZAP_ENDPOINT)?;
        let (stop_rx, stop) = crate::component::stop_socket(ctx, "zap")?;
        let thread = std::thread::Builder::new()
            .name("banyan-zap".into())
            .spawn(move || serve(&zap, &stop_rx, &access, &stats))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ZapHandler {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            if let Err(error) = self.stop.shutdown() {
                tracing::warn!(%error, "cannot reach the ZAP handler thread");
            }
            let _ = thread.join();
        }
    }
}

/// The handler loop: answers ZAP requests until the stop socket fires.
fn serve(zap: &zmq::Socket, stop: &zmq::Socket, access: &AccessControl, stats: &AccessStats) {
    let mut repeats: HashMap<Vec<u8>, (Instant, u64)> = HashMap::new();
    loop {
        let (zap_ready, stop_ready) = {
            let mut items = [
                zap.as_poll_item(zmq::POLLIN),
                stop.as_poll_item(zmq::POLLIN),
            ];
            match zmq::poll(&mut items, -1) {
                Ok(_) => (items[0].is_readable(), items[1].is_readable()),
                Err(zmq::Error::EINTR) => continue,
                Err(error) => {
                    tracing::error!(%error, "ZAP handler stops: every handshake now fails");
                    return;
                }
            }
        };
        if stop_ready {
            return;
        }
        if !zap_ready {
            continue;
        }
        let frames = match zap.recv_multipart(0) {
            Ok(frames) => frames,
            Err(zmq::Error::EINTR | zmq::Error::EAGAIN) => continue,
            Err(error) => {
                tracing::error!(%error, "ZAP handler stops: every handshake now fails");
                return;
            }
        };
        let (request_id, verdict, raw_address) = match ZapRequest::parse(&frames) {
            Some(request) => (
                request.request_id.to_vec(),
                access.decide(&request),
                request.raw_address.to_vec(),
            ),
            None => (
                Vec::new(),
                Verdict::Refuse("malformed ZAP request"),
                Vec::new(),
            ),
        };
        let (code, text, user) = match &verdict {
            Verdict::Accept(user) => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                ("200", "OK", user.as_str())
            }
            Verdict::Refuse(reason) => {
                let total = stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
                log_refusal(&mut repeats, &raw_address, reason, total);
                ("400", *reason, "")
            }
        };
        let reply: [&[u8]; 6] = [
            b"1.0",
            &request_id,
            code.as_bytes(),
            text.as_bytes(),
            user.as_bytes(),
            b"",
        ];
        if let Err(error) = zap.send_multipart(reply, 0) {
            tracing::error!(%error, "ZAP handler cannot reply");
        }
    }
}

/// Logs a refusal: the first one of an address at once, repeats at most every
/// [`REPEAT_LOG_INTERVAL`] with how many there were (every one is counted either way).
fn log_refusal(
    repeats: &mut HashMap<Vec<u8>, (Instant, u64)>,
    address: &[u8],
    reason: &str,
    total: u64,
) {
    let peer = String::from_utf8_lossy(address);
    let now = Instant::now();
    // Bounded: forget everything once many addresses have been seen (a scan), so the map
    // never grows without limit; the worst case is more log lines, never more memory.
    if repeats.len() >= 4096 && !repeats.contains_key(address) {
        repeats.clear();
    }
    match repeats.get_mut(address) {
        Some((last, suppressed)) if now.duration_since(*last) < REPEAT_LOG_INTERVAL => {
            *suppressed += 1;
            tracing::debug!(%peer, reason, refused_total = total, "refused connection");
        }
        Some((last, suppressed)) => {
            tracing::warn!(
                %peer,
                reason,
                refused_total = total,
                "refused connection from {peer} ({reason}; {} more since the last report)",
                *suppressed
            );
            *last = now;
            *suppressed = 0;
        }
        None => {
            tracing::warn!(
                %peer,
                reason,
                refused_total = total,
                "refused connection from {peer} ({reason})"
            );
            repeats.insert(address.to_vec(), (now, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(address: &str, mechanism: &str, credentials: &[&str]) -> Vec<Vec<u8>> {
        let mut frames: Vec<Vec<u8>> = ["1.0", "7", ZAP_DOMAIN, address, "", mechanism]
            .iter()
            .map(|text| text.as_bytes().to_vec())
            .collect();
        frames.extend(credentials.iter().map(|text| text.as_bytes().to_vec()));
        frames
    }

    fn decide(access: &AccessControl, frames: &[Vec<u8>]) -> Result<String, &'static str> {
        match access.decide(&ZapRequest::parse(frames).expect("parses")) {
            Verdict::Accept(user) => Ok(user),
            Verdict::Refuse(reason) => Err(reason),
        }
    }

    fn allow(networks: &[&str]) -> AccessControl {
        AccessControl {
            allow: networks
                .iter()
                .map(|text| AccessControl::parse_network(text).unwrap())
                .collect(),
            plain: Vec::new(),
        }
    }

    #[test]
    fn allowlist_by_network() {
        let access = allow(&["127.0.0.1/32", "192.168.1.0/24", "fd00::/8"]);
        assert!(decide(&access, &request("127.0.0.1", "NULL", &[])).is_ok());
        assert!(decide(&access, &request("192.168.1.77", "NULL", &[])).is_ok());
        assert!(decide(&access, &request("fd12::1", "NULL", &[])).is_ok());
        assert!(decide(&access, &request("::ffff:192.168.1.5", "NULL", &[])).is_ok());
        assert_eq!(
            decide(&access, &request("127.0.0.2", "NULL", &[])),
            Err("address not allowed")
        );
        assert_eq!(
            decide(&access, &request("192.168.2.1", "NULL", &[])),
            Err("address not allowed")
        );
        assert_eq!(
            decide(&access, &request("not an address", "NULL", &[])),
            Err("unparsable peer address")
        );
    }

    #[test]
    fn networks_parse_with_and_without_prefix() {
        assert_eq!(
            AccessControl::parse_network("10.0.0.7").unwrap(),
            "10.0.0.7/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            AccessControl::parse_network(" 10.0.0.0/8 ").unwrap(),
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert!(AccessControl::parse_network("::1").is_ok());
        for bad in ["", "10.0.0.0/33", "10.0.0", "host.example", "10.0.0.0/8/8"] {
            assert!(
                matches!(
                    AccessControl::parse_network(bad),
                    Err(Error::Network { .. })
                ),
                "{bad}"
            );
        }
        assert!(allow(&[]).allows("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn plain_credentials_are_checked() {
        let access = AccessControl {
            allow: Vec::new(),
            plain: vec![
                PlainCredentials::new("robot", "s3cret"),
                PlainCredentials::new("pi", "other"),
            ],
        };
        let ok = request("10.1.2.3", "PLAIN", &["robot", "s3cret"]);
        assert_eq!(decide(&access, &ok), Ok("robot".to_owned()));
        assert_eq!(
            decide(&access, &request("10.1.2.3", "PLAIN", &["pi", "other"])),
            Ok("pi".to_owned())
        );
        for (user, password) in [("robot", "s3cre"), ("robot", "s3cret!"), ("pi", "s3cret")] {
            assert_eq!(
                decide(&access, &request("10.1.2.3", "PLAIN", &[user, password])),
                Err("wrong user or password")
            );
        }
        assert_eq!(
            decide(&access, &request("10.1.2.3", "NULL", &[])),
            Err("credentials required (PLAIN)")
        );
    }

    #[test]
    fn malformed_requests_are_refused_not_panicking() {
        assert!(ZapRequest::parse(&[]).is_none());
        let mut frames = request("127.0.0.1", "NULL", &[]);
        frames[0] = b"2.0".to_vec();
        assert!(ZapRequest::parse(&frames).is_none());
        assert!(ZapRequest::parse(&frames[..5]).is_none());
        let access = AccessControl::open();
        assert_eq!(
            decide(&access, &request("127.0.0.1", "CURVE", &["key"])),
            Err("unexpected mechanism")
        );
    }

    #[test]
    fn credentials_file() {
        let text = "# users\nrobot:s3cret\n\n  pi:pa:ss  \n";
        assert_eq!(
            PlainCredentials::parse_file(text).unwrap(),
            vec![
                PlainCredentials::new("robot", "s3cret"),
                PlainCredentials::new("pi", "pa:ss")
            ]
        );
        assert!(matches!(
            PlainCredentials::parse_file("ok:1\nnocolon\n"),
            Err(Error::CredentialsLine { line: 2 })
        ));
        assert!(!format!("{:?}", PlainCredentials::new("u", "pw")).contains("pw"));
    }
}
