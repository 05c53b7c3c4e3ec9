//! The serial gateway: bridges one byte-stream link to a microcontroller (a serial device, or
//! a TCP stream as QEMU offers) onto the backplane.
//!
//! ```text
//!  MCU ══ serial/TCP ══ [FrameDecoder] ─ Publish ─────────▶ Component::publish_raw ─▶ backplane
//!                       (COBS+CRC)    ─ Subscribe/Unsub ─▶ ZeroMQ subscriptions
//!      ◀═══════════════ Publish frames ◀───────────────────── matching backplane messages
//! ```
//!
//! # Protocol logic vs. I/O
//! The protocol — what each frame means, subscriptions, their proofs, which backplane message
//! goes to the MCU — is the sans-IO [`GatewaySession`] in `banyan_proto::gateway` (see its
//! docs for the behaviour), where the MCU tests reach it without ZeroMQ. [`Gateway`] only
//! opens the link, polls it and the backplane, moves bytes and messages, and runs the
//! subscription proofs the session asks for **without blocking**: while a probe travels
//! through the backplane the link is read and `Ping`s are answered; MCU publishes wait in the
//! session's bounded queue so that none overtakes a subscription sent before it.
//!
//! When the device disappears or the TCP peer closes, the gateway drops the link and keeps
//! reopening it (back-off 100 ms … 2 s) until it is back, without a restart. Subscriptions
//! are kept across reopenings (the MCU may not have restarted); a `Hello` resets them.
//!
//! Everything runs on one thread: [`Component`] waits on the backplane socket and the link's
//! file descriptor together. On Windows, whose `zmq_poll` waits on sockets only, a serial
//! device is read by a thread of its own that hands the bytes over a loopback socket, which
//! the poll watches (`gateway/bridge.rs`).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

pub use banyan_proto::gateway::{
    ASSUMED_PEER_MAX_FRAME, Action, GATEWAY_MAX_FRAME, GatewayConfig, GatewaySession, GatewayStats,
};

use crate::component::{Component, Incoming};
use crate::error::Result;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[cfg(any(windows, test))]
pub mod bridge;

/// A byte stream to an MCU whose file descriptor can be polled.
#[cfg(unix)]
pub trait Link: Read + Write + std::os::fd::AsRawFd + Send {}
#[cfg(unix)]
impl<T: Read + Write + std::os::fd::AsRawFd + Send> Link for T {}

/// A byte stream to an MCU whose socket can be polled (Windows' `zmq_poll` takes sockets only:
/// a serial device is wrapped in a [`bridge::Bridge`]).
#[cfg(windows)]
pub trait Link: Read + Write + std::os::windows::io::AsRawSocket + Send {}
#[cfg(windows)]
impl<T: Read + Write + std::os::windows::io::AsRawSocket + Send> Link for T {}

/// The descriptor of `link` that the poll watches.
fn poll_fd(link: &dyn Link) -> crate::sys::Fd {
    #[cfg(unix)]
    {
        std::os::fd::AsRawFd::as_raw_fd(link)
    }
    #[cfg(windows)]
    {
        std::os::windows::io::AsRawSocket::as_raw_socket(link)
    }
}

/// Opens (and re-opens) the link.
pub trait Connector: Send {
    /// Opens the link; called again after each failure or disconnection.
    fn open(&mut self) -> io::Result<Box<dyn Link>>;
    /// Names the link in messages, e.g. `tcp 127.0.0.1:5000`.
    fn describe(&self) -> String;
}

/// A TCP stream to `address` (QEMU's `-serial tcp:...,server=on`, or a networked board).
#[derive(Debug, Clone)]
pub struct TcpConnector {
    /// `HOST:PORT`.
    pub address: String,
}

impl Connector for TcpConnector {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        use std::net::ToSocketAddrs;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing");
        for address in self.address.to_socket_addrs()? {
            match std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
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

/// A serial device such as `/dev/ttyACM0` (a Pico's USB CDC-ACM) or `/dev/serial0`, `COM3` on
/// Windows (feature `serial`).
#[cfg(feature = "serial")]
#[derive(Debug, Clone)]
pub struct SerialConnector {
    /// Device path.
    pub path: String,
    /// Baud rate (ignored by USB CDC-ACM devices).
    pub baud: u32,
}

#[cfg(feature = "serial")]
impl Connector for SerialConnector {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        #[cfg(unix)]
        {
            let port = serialport::new(&self.path, self.baud)
                .timeout(Duration::from_secs(2))
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

impl<C: Connector + ?Sized> Connector for Box<C> {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        (**self).open()
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Bridges one link to the backplane; see the module docs.
pub struct Gateway<C: Connector> {
    component: Component,
    connector: C,
    session: GatewaySession,
}

impl<C: Connector> Gateway<C> {
    /// A gateway publishing through `component` (already connected to the backplane) and
    /// serving the link `connector` opens. Stop it with the component's
    /// [`ShutdownHandle`](crate::ShutdownHandle).
    pub fn new(component: Component, connector: C) -> Self {
        // Drawn once per gateway process: a `Hello` with a new nonce tells the MCU the
        // gateway restarted (and lost its subscriptions), so it re-subscribes at once.
        let boot_nonce = crate::nonce() as u32;
        Self::with_config(component, connector, GatewayConfig::new(boot_nonce))
    }

    /// As [`new`](Self::new), with explicit session settings.
    pub fn with_config(component: Component, connector: C, config: GatewayConfig) -> Self {
        Self {
            component,
            connector,
            session: GatewaySession::new(config),
        }
    }

    /// A handle that stops [`Gateway::run`] from another thread.
    pub fn shutdown_handle(&self) -> crate::ShutdownHandle {
        self.component.shutdown_handle()
    }

    /// Runs until the shutdown handle fires; returns the counters.
    pub fn run(mut self) -> Result<GatewayStats> {
        let mut link: Option<Box<dyn Link>> = None;
        let mut backoff = MIN_BACKOFF;
        let mut retry_at = Instant::now();
        let mut buf = vec![0u8; 4096];
        loop {
            if link.is_none() && Instant::now() >= retry_at {
                match self.connector.open() {
                    Ok(opened) => {
                        tracing::info!(link = %self.connector.describe(), "link open");
                        self.session.link_opened();
                        backoff = MIN_BACKOFF;
                        link = Some(opened);
                    }
                    Err(error) => {
                        self.session.link_failed();
                        if backoff == MIN_BACKOFF {
                            tracing::warn!(link = %self.connector.describe(), %error, "cannot open link; retrying");
                        }
                        retry_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            let mut close = self.perform(&mut link)?;
            if !close {
                let fd = link.as_deref().map(poll_fd);
                let deadline = link.is_none().then_some(retry_at);
                // The component drives the subscription proof and reports its end.
                close = match self.component.wait_with_fd(deadline, fd)? {
                    Incoming::Stop => break,
                    Incoming::Timeout => false,
                    Incoming::Proven => {
                        self.session.proof_done();
                        false
                    }
                    Incoming::ProofGaveUp => {
                        tracing::warn!("subscription proof timed out; retrying");
                        self.session.proof_failed();
                        false
                    }
                    Incoming::Message(message) => {
                        let topic = message.topic.as_bytes();
                        if !self.session.on_backplane(topic, &message.payload)
                            && self.session.link_is_open()
                        {
                            tracing::debug!(topic = %message.topic, "backplane message not for the MCU");
                        }
                        false
                    }
                    Incoming::FdReady => match link.as_mut() {
                        Some(open) => match open.read(&mut buf) {
                            Ok(0) => true,
                            Ok(n) => {
                                self.session.on_link_bytes(&buf[..n]);
                                false
                            }
                            Err(error) if transient(&error) => false,
                            Err(error) => {
                                tracing::warn!(%error, "link read failed");
                                true
                            }
                        },
                        None => false,
                    },
                };
            }
            if close {
                tracing::warn!(link = %self.connector.describe(), "link closed; reopening");
                self.session.link_closed();
                link = None;
                retry_at = Instant::now() + MIN_BACKOFF;
            }
        }
        self.component.abandon_proof()?;
        let stats = self.session.stats();
        tracing::info!(?stats, "gateway stopped");
        Ok(stats)
    }

    /// Performs the session's actions, then starts the subscription proof the session asks
    /// for. Returns `true` when writing to the link failed (the link is to be closed).
    fn perform(&mut self, link: &mut Option<Box<dyn Link>>) -> Result<bool> {
        let mut failed = false;
        {
            while let Some(action) = self.session.poll_action() {
                match action {
                    Action::Send(bytes) => {
                        if let Some(open) = link.as_mut()
                            && !failed
                            && let Err(error) = write_frame(open.as_mut(), &bytes)
                        {
                            tracing::warn!(%error, "link write failed");
                            failed = true;
                        }
                    }
                    Action::Publish { topic, payload } => {
                        if let Err(error) = self.component.publish_raw(&topic, &payload) {
                            tracing::warn!(%error, "publish failed");
                        }
                    }
                    Action::Subscribe(topic) => {
                        if let Err(error) = self.component.subscribe_unproven(&topic) {
                            tracing::warn!(%error, topic, "subscribe failed");
                        }
                    }
                    Action::Unsubscribe(topic) => {
                        if let Err(error) = self.component.unsubscribe(&topic) {
                            tracing::warn!(%error, topic, "unsubscribe failed");
                        }
                    }
                }
            }
            // Start a proof for the subscriptions just applied; the component drives it.
            if self.session.proof_needed() {
                self.component.start_proof()?;
                self.session.proof_started();
            }
            Ok(failed)
        }
    }
}

fn write_frame(link: &mut dyn Link, bytes: &[u8]) -> io::Result<()> {
    link.write_all(bytes)?;
    link.flush()
}

fn transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
