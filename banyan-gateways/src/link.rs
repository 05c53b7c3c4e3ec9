//! The device link: a pollable byte stream to a board (a serial device, a TCP stream; a pty or
//! a socket pair in tests), how to open it again, and [`Device`], which keeps one open on the
//! [`Reconnect`] machine.
//!
//! ```text
//!   Connector::open ──▶ Box<dyn Link> ──▶ Device ── poll_fd ──▶ Component::wait_with_fd
//!   (TcpConnector,       (Read + Write     (Reconnect: when to    (the backplane and the
//!    SerialConnector,     + a descriptor)   reopen, what to say)    link on one thread)
//!    a test's own)
//! ```
//!
//! Everything a gateway does runs on one thread: the [`Component`](banyan_host::Component)
//! waits on its backplane socket and the link's descriptor together
//! ([`Component::wait_with_fd`](banyan_host::Component::wait_with_fd)). On Windows, whose
//! `zmq_poll` waits on sockets only, a serial device is read by a thread of its own that hands
//! the bytes over a loopback socket, which the poll watches ([`bridge::Bridge`]).

use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use banyan_host::component::PollFd;

use crate::reconnect::{Backoff, Reconnect, Say};

// Documented on every platform; compiled for Windows (and the tests).
#[cfg(any(windows, test, doc))]
pub mod bridge;

/// How long a TCP connection attempt may take, and a write to a TCP link may block.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a write to a serial device may block (Unix; see [`bridge`] for Windows).
pub const SERIAL_TIMEOUT: Duration = Duration::from_secs(2);

/// A byte stream to a board whose file descriptor can be polled.
#[cfg(unix)]
pub trait Link: Read + Write + std::os::fd::AsRawFd + Send {}
#[cfg(unix)]
impl<T: Read + Write + std::os::fd::AsRawFd + Send> Link for T {}

/// A byte stream to a board whose socket can be polled (Windows' `zmq_poll` takes sockets
/// only: a serial device is wrapped in a [`bridge::Bridge`]).
#[cfg(windows)]
pub trait Link: Read + Write + std::os::windows::io::AsRawSocket + Send {}
#[cfg(windows)]
impl<T: Read + Write + std::os::windows::io::AsRawSocket + Send> Link for T {}

/// The descriptor of `link` that a component's wait watches.
pub fn poll_fd(link: &dyn Link) -> PollFd {
    #[cfg(unix)]
    {
        std::os::fd::AsRawFd::as_raw_fd(link)
    }
    #[cfg(windows)]
    {
        std::os::windows::io::AsRawSocket::as_raw_socket(link)
    }
}

/// `true` for the errors of a read or write that mean "nothing now, try again" (a timeout,
/// a non-blocking descriptor with nothing to read, a signal), not a lost link.
pub fn transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Opens (and re-opens) a link.
pub trait Connector: Send {
    /// Opens the link; called again after each failure or disconnection.
    fn open(&mut self) -> io::Result<Box<dyn Link>>;
    /// Names the link in messages, e.g. `tcp 127.0.0.1:5000`.
    fn describe(&self) -> String;
    /// Points the connector at another address (`esp32gw`'s `ip_address` command).
    /// Returns `true` if it changed. Default: connectors with a fixed address ignore it.
    fn retarget(&mut self, address: &str) -> bool {
        let _ = address;
        false
    }
}

impl<C: Connector + ?Sized> Connector for Box<C> {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        (**self).open()
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn retarget(&mut self, address: &str) -> bool {
        (**self).retarget(address)
    }
}

/// A TCP stream to `address` (QEMU's `-serial tcp:...,server=on`, an emulator's USART
/// port, a serial-to-Wi-Fi bridge), without Nagle's delay.
#[derive(Debug, Clone)]
pub struct TcpConnector {
    /// `HOST:PORT`.
    pub address: String,
}

impl TcpConnector {
    /// A connector to `address` (`HOST:PORT`).
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
        }
    }
}

impl Connector for TcpConnector {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        use std::net::ToSocketAddrs;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing");
        for address in self.address.to_socket_addrs()? {
            match std::net::TcpStream::connect_timeout(&address, TCP_TIMEOUT) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_write_timeout(Some(TCP_TIMEOUT))?;
                    return Ok(Box::new(stream));
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn describe(&self) -> String {
        format!("tcp {}", self.address)
    }
}

/// A serial device such as `/dev/ttyACM0` (a Pico's or an Arduino's USB serial port),
/// `/dev/serial0`, or `COM3` on Windows, at a baud rate (ignored by USB CDC-ACM devices;
/// 57600 for StandardFirmata, 115200 for FirmataExpress and our firmware).
#[derive(Debug, Clone)]
pub struct SerialConnector {
    /// Device path.
    pub path: String,
    /// Baud rate.
    pub baud: u32,
}

impl SerialConnector {
    /// A connector to the device at `path`, at `baud` baud.
    pub fn new(path: impl Into<String>, baud: u32) -> Self {
        Self {
            path: path.into(),
            baud,
        }
    }
}

impl Connector for SerialConnector {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        #[cfg(unix)]
        {
            let port = serialport::new(&self.path, self.baud)
                .timeout(SERIAL_TIMEOUT)
                .open_native()
                .map_err(io::Error::from)?;
            Ok(Box::new(port))
        }
        #[cfg(windows)]
        {
            // Reads and writes share the port's timeout (Windows keeps one per device) and,
            // on a handle without overlapped I/O, take turns: a short one, so that a write
            // waits at most one read slice (a COM port's read returns at the first byte).
            let port = serialport::new(&self.path, self.baud)
                .timeout(bridge::READ_SLICE)
                .open_native()
                .map_err(io::Error::from)?;
            let reader = port.try_clone_native().map_err(io::Error::from)?;
            Ok(Box::new(bridge::Bridge::new(reader, port)?))
        }
    }

    fn describe(&self) -> String {
        format!("serial {} @ {} baud", self.path, self.baud)
    }
}

/// Why an open link ended.
#[derive(Debug)]
pub enum Ended {
    /// The peer closed it (end of stream: the TCP peer closed, a bridged device failed).
    Eof,
    /// A read or write failed.
    Failed(io::Error),
    /// The gateway closed it (a protocol failure that needs a fresh link, say).
    Closed,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Eof => f.write_str("the device closed the link"),
            Ended::Failed(error) => write!(f, "{error}"),
            Ended::Closed => f.write_str("closed by the gateway"),
        }
    }
}

/// What [`Device::open_if_due`] did.
#[derive(Debug)]
pub enum Attempt {
    /// Nothing: the link is open, or the next attempt is not due yet.
    NotDue,
    /// The link opened; `failed` attempts had failed before (since it was last up).
    Opened {
        /// Failed attempts since the link was last up (0: at the first try).
        failed: u64,
    },
    /// The attempt failed; the next one is at [`Device::retry_at`].
    Failed {
        /// Why it failed.
        error: io::Error,
        /// Whether to log it: the first of a run of failures, then every hundredth.
        say: Say,
    },
}

/// What [`Device::read`] got.
#[derive(Debug)]
pub enum Received {
    /// `n` bytes are in the buffer.
    Bytes(usize),
    /// Nothing now (no link, or a transient error: a timeout, an interrupted read).
    Nothing,
    /// The link ended and was dropped; the next attempt to reopen is scheduled.
    Ended(Ended),
}

/// One device link kept open: its [`Connector`], the [`Reconnect`] machine that says when to
/// reopen it, and the link while open. The caller owns the clock (`now` is passed in) and
/// does the logging, following the [`Say`] handed back ("say once, then count").
pub struct Device<C: Connector> {
    connector: C,
    reconnect: Reconnect,
    link: Option<Box<dyn Link>>,
    name: String,
}

impl<C: Connector> Device<C> {
    /// A device whose first attempt to open is due at `now`.
    pub fn new(connector: C, backoff: Backoff, now: Instant) -> Self {
        let name = connector.describe();
        Self {
            connector,
            reconnect: Reconnect::new(backoff, now),
            link: None,
            name,
        }
    }

    /// The link's name in messages (the connector's [`describe`](Connector::describe)).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connector.
    pub fn connector(&self) -> &C {
        &self.connector
    }

    /// The reconnect machine (its counters: opens, losses, failures).
    pub fn reconnect(&self) -> &Reconnect {
        &self.reconnect
    }

    /// `true` while the link is open.
    pub fn is_open(&self) -> bool {
        self.link.is_some()
    }

    /// The open link.
    pub fn link(&mut self) -> Option<&mut (dyn Link + 'static)> {
        self.link.as_deref_mut()
    }

    /// The open link's descriptor, for [`Component::wait_with_fd`](banyan_host::Component::wait_with_fd).
    pub fn poll_fd(&self) -> Option<PollFd> {
        self.link.as_deref().map(poll_fd)
    }

    /// When the next attempt to open is due (`None` while open): a wait's deadline.
    pub fn retry_at(&self) -> Option<Instant> {
        self.reconnect.retry_at()
    }

    /// Opens the link if it is down and an attempt is due at `now`.
    pub fn open_if_due(&mut self, now: Instant) -> Attempt {
        if !self.reconnect.due(now) {
            return Attempt::NotDue;
        }
        match self.connector.open() {
            Ok(link) => {
                self.link = Some(link);
                Attempt::Opened {
                    failed: self.reconnect.opened(now),
                }
            }
            Err(error) => Attempt::Failed {
                say: self.reconnect.open_failed(now),
                error,
            },
        }
    }

    /// Reads what the link has into `buf` (call it when the descriptor is readable). The end
    /// of the stream or an error that is not [`transient`] drops the link.
    pub fn read(&mut self, buf: &mut [u8], now: Instant) -> Received {
        let Some(link) = self.link.as_mut() else {
            return Received::Nothing;
        };
        match link.read(buf) {
            Ok(0) => Received::Ended(self.drop_link(now, Ended::Eof)),
            Ok(n) => Received::Bytes(n),
            Err(error) if transient(&error) => Received::Nothing,
            Err(error) => Received::Ended(self.drop_link(now, Ended::Failed(error))),
        }
    }

    /// Writes all of `bytes` and flushes. A failure drops the link (the bytes are lost; the
    /// caller counts them). Without a link, `Err(Ended::Closed)` and nothing is written.
    pub fn write_all(&mut self, bytes: &[u8], now: Instant) -> Result<(), Ended> {
        let Some(link) = self.link.as_mut() else {
            return Err(Ended::Closed);
        };
        match link.write_all(bytes).and_then(|()| link.flush()) {
            Ok(()) => Ok(()),
            Err(error) => Err(self.drop_link(now, Ended::Failed(error))),
        }
    }

    /// Points the connector at `address` ([`Connector::retarget`]); if that changed it, an
    /// open link is dropped and the next attempt is due at once. Returns `true` if it changed.
    pub fn retarget(&mut self, address: &str, now: Instant) -> bool {
        if !self.connector.retarget(address) {
            return false;
        }
        self.name = self.connector.describe();
        self.link = None;
        self.reconnect.retry_now(now);
        true
    }

    /// Drops the open link (the gateway decided it needs a fresh one); the next attempt is
    /// one back-off later. Returns `false` when no link was open.
    pub fn close(&mut self, now: Instant) -> bool {
        if self.link.is_none() {
            return false;
        }
        self.drop_link(now, Ended::Closed);
        true
    }

    fn drop_link(&mut self, now: Instant, why: Ended) -> Ended {
        self.link = None;
        self.reconnect.lost(now);
        why
    }
}

impl<C: Connector> fmt::Debug for Device<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name)
            .field("open", &self.link.is_some())
            .field("reconnect", &self.reconnect)
            .finish()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::os::unix::net::UnixStream;

    /// Hands out the scripted results in order: a socket pair's near end, or an error.
    struct Scripted {
        opens: VecDeque<io::Result<UnixStream>>,
    }

    impl Connector for Scripted {
        fn open(&mut self) -> io::Result<Box<dyn Link>> {
            match self.opens.pop_front() {
                Some(Ok(stream)) => Ok(Box::new(stream)),
                Some(Err(error)) => Err(error),
                None => Err(io::Error::new(io::ErrorKind::NotFound, "script ended")),
            }
        }

        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_device_reopens_on_the_reconnect_machines_schedule() {
        let (near, mut far) = UnixStream::pair().unwrap();
        let (near2, far2) = UnixStream::pair().unwrap();
        let refused = || io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let connector = Scripted {
            opens: VecDeque::from([Err(refused()), Err(refused()), Ok(near), Ok(near2)]),
        };
        let t0 = Instant::now();
        let mut device = Device::new(connector, Backoff::up_to(Duration::from_secs(2)), t0);
        assert_eq!(device.name(), "scripted");

        // Two failures: the first said, the second counted; 100 ms, then 200 ms later.
        assert!(matches!(
            device.open_if_due(t0),
            Attempt::Failed {
                say: Say::First,
                ..
            }
        ));
        assert!(matches!(device.open_if_due(t0 + ms(99)), Attempt::NotDue));
        assert_eq!(device.retry_at(), Some(t0 + ms(100)));
        assert!(matches!(
            device.open_if_due(t0 + ms(100)),
            Attempt::Failed {
                say: Say::Quiet,
                ..
            }
        ));
        assert_eq!(device.retry_at(), Some(t0 + ms(300)));
        assert!(device.poll_fd().is_none());

        // Open: the count of failures comes back once.
        assert!(matches!(
            device.open_if_due(t0 + ms(300)),
            Attempt::Opened { failed: 2 }
        ));
        assert!(device.is_open());
        assert!(device.poll_fd().is_some());
        assert_eq!(device.retry_at(), None);

        // Bytes both ways.
        far.write_all(b"from the board").unwrap();
        let mut buf = [0u8; 64];
        let Received::Bytes(n) = device.read(&mut buf, t0 + ms(301)) else {
            panic!("no bytes");
        };
        assert_eq!(&buf[..n], b"from the board");
        device.write_all(b"to the board", t0 + ms(302)).unwrap();
        let mut got = [0u8; 12];
        far.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"to the board");

        // The board goes away after a stable second: the link drops, the back-off was reset.
        drop(far);
        let lost_at = t0 + ms(1400);
        assert!(matches!(
            device.read(&mut buf, lost_at),
            Received::Ended(Ended::Eof)
        ));
        assert!(!device.is_open());
        assert_eq!(device.retry_at(), Some(lost_at + ms(100)));
        assert!(matches!(
            device.write_all(b"lost", lost_at),
            Err(Ended::Closed)
        ));
        assert!(matches!(
            device.open_if_due(lost_at + ms(100)),
            Attempt::Opened { failed: 0 }
        ));

        // The gateway closes a link that is still up.
        assert!(device.close(lost_at + ms(150)));
        assert!(!device.close(lost_at + ms(150)));
        assert_eq!(device.reconnect().opens(), 2);
        assert_eq!(device.reconnect().losses(), 2);
        drop(far2);
    }

    #[test]
    fn a_write_to_a_closed_peer_drops_the_link() {
        let (near, far) = UnixStream::pair().unwrap();
        let connector = Scripted {
            opens: VecDeque::from([Ok(near)]),
        };
        let t0 = Instant::now();
        let mut device = Device::new(connector, Backoff::default(), t0);
        assert!(matches!(device.open_if_due(t0), Attempt::Opened { .. }));
        drop(far);
        let ended = device.write_all(b"nobody", t0).unwrap_err();
        assert!(matches!(ended, Ended::Failed(_)), "{ended:?}");
        assert!(!device.is_open());
        assert!(!ended.to_string().is_empty());
    }

    #[test]
    fn tcp_connector_opens_a_nodelay_stream_and_names_it() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let mut connector = TcpConnector::new(address.clone());
        assert_eq!(connector.describe(), format!("tcp {address}"));
        let mut link = connector.open().unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        link.write_all(b"x").unwrap();
        let mut byte = [0u8; 1];
        accepted.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"x");
        assert_eq!(
            SerialConnector::new("/dev/ttyACM0", 57600).describe(),
            "serial /dev/ttyACM0 @ 57600 baud"
        );
        // A port that nobody listens on (the listener is gone) is an error, not a panic.
        drop(listener);
        drop(accepted);
        let mut gone = TcpConnector::new(address);
        assert!(gone.open().is_err());
    }

    #[test]
    fn transient_errors_are_told_apart_from_lost_links() {
        assert!(transient(&io::ErrorKind::WouldBlock.into()));
        assert!(transient(&io::ErrorKind::TimedOut.into()));
        assert!(!transient(&io::ErrorKind::BrokenPipe.into()));
        assert!(!transient(&io::ErrorKind::ConnectionReset.into()));
    }
}
