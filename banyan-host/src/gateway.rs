//! The serial gateway: bridges one byte-stream link to a microcontroller (a serial device, or
//! a TCP stream as QEMU offers) onto the backplane.
//!
//! ```text
//!  MCU ══ serial/TCP ══ [FrameDecoder] ─ Publish ─────────▶ Component::publish_raw ─▶ backplane
//!                       (COBS+CRC)    ─ Subscribe/Unsub ─▶ ZeroMQ subscriptions
//!      ◀═══════════════ Publish frames ◀───────────────────── matching backplane messages
//! ```
//!
//! # Behaviour
//! - `Publish` frames go to the backplane as `[topic, payload]`, verbatim.
//! - `Subscribe`/`Unsubscribe` frames set the gateway's ZeroMQ subscriptions (counted, as in
//!   ZeroMQ). A subscription is proven through the backplane before the next frame is handled
//!   ([`Component::subscribe`]), so a `Publish` that follows a `Subscribe` on the link can
//!   never overtake it: the MCU sees no slow-joiner loss either.
//! - `Hello` means the MCU (re)started: its subscriptions are dropped, its `max_frame` is
//!   recorded and the gateway answers with its own `Hello`. The gateway also sends a `Hello`
//!   each time it (re)opens the link. **An MCU must not answer a `Hello` with a `Hello`** (it
//!   re-sends its subscriptions instead); that keeps the exchange loop-free.
//! - `Ping` is answered with `Pong` (same `seq`).
//! - Corrupt and oversized frames are counted ([`GatewayStats`]) and logged, never fatal.
//!   Backplane messages larger than the MCU's `max_frame` are dropped and counted.
//! - When the device disappears or the TCP peer closes, the gateway drops the link and keeps
//!   reopening it (back-off 100 ms … 2 s) until it is back, without a restart. Subscriptions
//!   are kept across reopenings (the MCU may not have restarted); a `Hello` resets them.
//!
//! Everything runs on one thread: [`Component`] waits on the backplane socket and the link's
//! file descriptor together.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use banyan_proto::frame::{
    self, FeedResult, Frame, FrameDecoder, PROTOCOL_VERSION, max_encoded_len,
};

use crate::component::{Component, Incoming, Message};
use crate::error::Result;

/// Largest frame body the gateway accepts and announces in its `Hello`.
pub const GATEWAY_MAX_FRAME: usize = 4096;

/// `max_frame` assumed for an MCU until its `Hello` says otherwise.
pub const ASSUMED_PEER_MAX_FRAME: usize = frame::DEFAULT_MAX_FRAME;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A byte stream to an MCU whose file descriptor can be polled.
pub trait Link: Read + Write + AsRawFd + Send {}
impl<T: Read + Write + AsRawFd + Send> Link for T {}

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

/// A serial device such as `/dev/ttyACM0` (a Pico's USB CDC-ACM) or `/dev/serial0`
/// (feature `serial`).
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
        let port = serialport::new(&self.path, self.baud)
            .timeout(Duration::from_secs(2))
            .open_native()
            .map_err(io::Error::from)?;
        Ok(Box::new(port))
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

/// Counters of a gateway run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GatewayStats {
    /// Valid frames received from the MCU.
    pub frames_in: u64,
    /// Frames written to the MCU.
    pub frames_out: u64,
    /// MCU messages published to the backplane.
    pub published: u64,
    /// Backplane messages delivered to the MCU.
    pub delivered: u64,
    /// Frames dropped as corrupt (COBS, CRC or body errors).
    pub corrupt: u64,
    /// Frames dropped because they exceeded the gateway's buffer.
    pub oversized: u64,
    /// Backplane messages dropped because they exceed the MCU's `max_frame`.
    pub too_big_for_peer: u64,
    /// Backplane messages dropped while the link was down.
    pub dropped_offline: u64,
    /// `Hello` frames received (MCU starts and restarts).
    pub hellos: u64,
    /// Times the link was opened.
    pub link_opens: u64,
    /// Failed attempts to open the link.
    pub link_failures: u64,
}

/// Bridges one link to the backplane; see the module docs.
pub struct Gateway<C: Connector> {
    component: Component,
    connector: C,
    subscriptions: HashMap<String, u32>,
    peer_max_frame: usize,
    stats: GatewayStats,
    out: Vec<u8>,
    /// Drawn once per gateway process: a `Hello` with a new nonce tells the MCU the gateway
    /// restarted (and lost its subscriptions), so it re-subscribes at once.
    boot_nonce: u32,
}

impl<C: Connector> Gateway<C> {
    /// A gateway publishing through `component` (already connected to the backplane) and
    /// serving the link `connector` opens. Stop it with the component's
    /// [`ShutdownHandle`](crate::ShutdownHandle).
    pub fn new(component: Component, connector: C) -> Self {
        Self {
            component,
            connector,
            subscriptions: HashMap::new(),
            peer_max_frame: ASSUMED_PEER_MAX_FRAME,
            stats: GatewayStats::default(),
            out: vec![0; max_encoded_len(GATEWAY_MAX_FRAME)],
            boot_nonce: crate::component::nonce() as u32,
        }
    }

    /// A handle that stops [`Gateway::run`] from another thread.
    pub fn shutdown_handle(&self) -> crate::ShutdownHandle {
        self.component.shutdown_handle()
    }

    /// Runs until the shutdown handle fires; returns the counters.
    pub fn run(mut self) -> Result<GatewayStats> {
        let mut decoder = Box::new(FrameDecoder::<{ max_encoded_len(GATEWAY_MAX_FRAME) }>::new());
        let mut link: Option<Box<dyn Link>> = None;
        let mut backoff = MIN_BACKOFF;
        let mut retry_at = Instant::now();
        let mut buf = vec![0u8; 4096];
        loop {
            if link.is_none() && Instant::now() >= retry_at {
                match self.open_link() {
                    Ok(opened) => {
                        decoder.reset();
                        backoff = MIN_BACKOFF;
                        link = Some(opened);
                    }
                    Err(error) => {
                        self.stats.link_failures += 1;
                        if backoff == MIN_BACKOFF {
                            tracing::warn!(link = %self.connector.describe(), %error, "cannot open link; retrying");
                        }
                        retry_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            let fd: Option<RawFd> = link.as_ref().map(|link| link.as_raw_fd());
            let deadline = link.is_none().then_some(retry_at);
            let close = match self.component.wait_with_fd(deadline, fd)? {
                Incoming::Stop => break,
                Incoming::Timeout => false,
                Incoming::Message(message) => match link.as_mut() {
                    Some(open) => self.deliver(open.as_mut(), &message).is_err(),
                    None => {
                        self.stats.dropped_offline += 1;
                        false
                    }
                },
                Incoming::FdReady => match link.as_mut() {
                    Some(open) => match open.read(&mut buf) {
                        Ok(0) => true,
                        Ok(n) => self
                            .ingest(&mut *decoder, &buf[..n], open.as_mut())
                            .is_err(),
                        Err(error) if transient(&error) => false,
                        Err(error) => {
                            tracing::warn!(%error, "link read failed");
                            true
                        }
                    },
                    None => false,
                },
            };
            if close {
                tracing::warn!(link = %self.connector.describe(), "link closed; reopening");
                link = None;
                retry_at = Instant::now() + MIN_BACKOFF;
            }
        }
        tracing::info!(stats = ?self.stats, "gateway stopped");
        Ok(self.stats)
    }

    fn open_link(&mut self) -> io::Result<Box<dyn Link>> {
        let mut link = self.connector.open()?;
        self.stats.link_opens += 1;
        tracing::info!(link = %self.connector.describe(), "link open");
        self.send(link.as_mut(), &self.hello())?;
        Ok(link)
    }

    /// Feeds link bytes to the decoder and handles every frame they complete.
    fn ingest<const N: usize>(
        &mut self,
        decoder: &mut FrameDecoder<N>,
        bytes: &[u8],
        link: &mut dyn Link,
    ) -> io::Result<()> {
        let mut window = bytes;
        while !window.is_empty() {
            window = match decoder.feed(window) {
                FeedResult::Consumed => break,
                FeedResult::Frame { frame, remaining } => {
                    self.stats.frames_in += 1;
                    self.handle(frame, link)?;
                    remaining
                }
                FeedResult::Corrupt { kind, remaining } => {
                    self.stats.corrupt += 1;
                    tracing::warn!(%kind, total = self.stats.corrupt, "dropped a corrupt frame");
                    remaining
                }
                FeedResult::Oversized { remaining } => {
                    self.stats.oversized += 1;
                    tracing::warn!(total = self.stats.oversized, "dropped an oversized frame");
                    remaining
                }
            };
        }
        Ok(())
    }

    fn handle(&mut self, frame: Frame<'_>, link: &mut dyn Link) -> io::Result<()> {
        match frame {
            Frame::Hello {
                version,
                max_frame,
                boot_nonce,
            } => {
                self.stats.hellos += 1;
                if version != PROTOCOL_VERSION {
                    tracing::warn!(
                        version,
                        ours = PROTOCOL_VERSION,
                        "peer speaks another protocol version"
                    );
                }
                tracing::info!(
                    max_frame,
                    boot_nonce,
                    "MCU hello: resetting its subscriptions"
                );
                self.peer_max_frame = usize::from(max_frame);
                self.reset_subscriptions();
                self.send(link, &self.hello())?;
            }
            Frame::Publish { topic, payload } => match self.component.publish_raw(topic, payload) {
                Ok(()) => self.stats.published += 1,
                Err(error) => tracing::warn!(%error, "publish failed"),
            },
            Frame::Subscribe { topic } => match std::str::from_utf8(topic) {
                Ok(topic) => {
                    *self.subscriptions.entry(topic.to_owned()).or_default() += 1;
                    if let Err(error) = self.component.subscribe(topic) {
                        tracing::warn!(%error, topic, "subscription not proven");
                    }
                }
                Err(_) => tracing::warn!(?topic, "ignoring a subscription to a non-UTF-8 topic"),
            },
            Frame::Unsubscribe { topic } => {
                let topic = String::from_utf8_lossy(topic);
                match self.subscriptions.get_mut(topic.as_ref()) {
                    Some(count) if *count > 0 => {
                        *count -= 1;
                        if *count == 0 {
                            self.subscriptions.remove(topic.as_ref());
                        }
                        self.unsubscribe_logged(&topic);
                    }
                    _ => tracing::warn!(%topic, "unsubscribe without a subscription"),
                }
            }
            Frame::Ping { seq } => self.send(link, &Frame::Pong { seq })?,
            Frame::Pong { seq } => tracing::trace!(seq, "pong"),
        }
        Ok(())
    }

    fn hello(&self) -> Frame<'static> {
        Frame::hello(GATEWAY_MAX_FRAME as u16, self.boot_nonce)
    }

    fn reset_subscriptions(&mut self) {
        let subscriptions = std::mem::take(&mut self.subscriptions);
        for (topic, count) in subscriptions {
            for _ in 0..count {
                self.unsubscribe_logged(&topic);
            }
        }
    }

    fn unsubscribe_logged(&mut self, topic: &str) {
        if let Err(error) = self.component.unsubscribe(topic) {
            tracing::warn!(%error, topic, "unsubscribe failed");
        }
    }

    /// Frames a backplane message to the MCU.
    fn deliver(&mut self, link: &mut dyn Link, message: &Message) -> io::Result<()> {
        let frame = Frame::Publish {
            topic: message.topic.as_bytes(),
            payload: &message.payload,
        };
        if frame::body_len(&frame) > self.peer_max_frame {
            self.stats.too_big_for_peer += 1;
            tracing::warn!(topic = %message.topic, max = self.peer_max_frame, "message too big for the MCU; dropped");
            return Ok(());
        }
        self.send(link, &frame)?;
        self.stats.delivered += 1;
        Ok(())
    }

    fn send(&mut self, link: &mut dyn Link, frame: &Frame<'_>) -> io::Result<()> {
        let len = frame::encode(frame, &mut self.out)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        link.write_all(&self.out[..len])?;
        link.flush()?;
        self.stats.frames_out += 1;
        Ok(())
    }
}

fn transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
