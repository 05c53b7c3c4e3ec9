//! The backplane: a ZeroMQ forwarder that every component publishes into and subscribes from.
//!
//! ```text
//!  component PUB ──connect──▶ SUB (bound on publisher port, 43124, subscribed to "")
//!                                 │  zmq_proxy
//!  component SUB ◀──connect── PUB (bound on subscriber port, 43125)
//! ```
//!
//! The shape is Python Banyan's, SUB/PUB and not XSUB/XPUB: with XPUB a new subscription has
//! to travel upstream to the responder's PUB socket, and a reply can overtake it and be lost
//! (measured: 2 lost in 85 echo runs). Here every message reaches the backplane and filtering
//! happens only at the backplane's PUB socket, which has the subscriber's filter as soon as the
//! subscriber's own connection delivered it.
//!
//! # High-water marks
//! ZeroMQ drops messages on a PUB socket whose queue to a peer holds HWM messages. The
//! default HWM of 1000 drops ~87 % of a 1 M message burst. The backplane sets both sockets'
//! HWM to [`DEFAULT_HWM`] (1 000 000 messages): a burst that the subscribers keep up with on
//! average is queued, never dropped, while a subscriber that stops reading for good costs at
//! most HWM messages of memory instead of growing without bound (HWM 0 would be unbounded).

use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, bind_endpoint, endpoint_port};

/// High-water mark (messages) used by the backplane and components unless configured.
pub const DEFAULT_HWM: i32 = 1_000_000;

/// How to bind a backplane.
#[derive(Debug, Clone)]
pub struct BackplaneConfig {
    /// Address to bind, `0.0.0.0` (all IPv4 interfaces) by default.
    pub bind: String,
    /// Port components publish to; `0` picks a free port.
    pub publisher_port: u16,
    /// Port components subscribe on; `0` picks a free port.
    pub subscriber_port: u16,
    /// High-water mark of both forwarder sockets, in messages (`0` = unbounded).
    pub hwm: i32,
}

impl Default for BackplaneConfig {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0".into(),
            publisher_port: DEFAULT_PUBLISHER_PORT,
            subscriber_port: DEFAULT_SUBSCRIBER_PORT,
            hwm: DEFAULT_HWM,
        }
    }
}

impl BackplaneConfig {
    /// Loopback with OS-chosen ports: what tests and the one-process demo use.
    pub fn ephemeral_loopback() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            publisher_port: 0,
            subscriber_port: 0,
            hwm: DEFAULT_HWM,
        }
    }
}

/// A running backplane. The forwarder runs on its own thread until [`Backplane::shutdown`]
/// (or drop).
pub struct Backplane {
    address: String,
    publisher_port: u16,
    subscriber_port: u16,
    control: zmq::Socket,
    thread: Option<JoinHandle<Result<()>>>,
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane")
            .field("address", &self.address)
            .field("publisher_port", &self.publisher_port)
            .field("subscriber_port", &self.subscriber_port)
            .finish()
    }
}

fn bind(socket: &zmq::Socket, address: &str, port: u16) -> Result<u16> {
    let endpoint = bind_endpoint(address, port);
    socket.bind(&endpoint).map_err(|source| match source {
        zmq::Error::EADDRINUSE => Error::PortInUse {
            address: address.to_owned(),
            port,
        },
        reason => Error::Bind { endpoint, reason },
    })?;
    let last = socket
        .get_last_endpoint()?
        .map_err(|_| Error::Malformed("non-UTF-8 endpoint".into()))?;
    endpoint_port(&last).ok_or_else(|| Error::Malformed(format!("unexpected endpoint {last}")))
}

impl Backplane {
    /// Binds both sockets (so a busy port is reported here, as [`Error::PortInUse`]) and starts
    /// the forwarder thread.
    pub fn bind(config: &BackplaneConfig) -> Result<Self> {
        let ctx = zmq::Context::new();
        let frontend = ctx.socket(zmq::SUB)?;
        frontend.set_rcvhwm(config.hwm)?;
        frontend.set_linger(0)?;
        frontend.set_subscribe(b"")?;
        let backend = ctx.socket(zmq::PUB)?;
        backend.set_sndhwm(config.hwm)?;
        backend.set_linger(0)?;
        let publisher_port = bind(&frontend, &config.bind, config.publisher_port)?;
        let subscriber_port = bind(&backend, &config.bind, config.subscriber_port)?;

        // A PAIR over inproc steers the proxy: "TERMINATE" makes zmq_proxy_steerable return.
        let endpoint = format!("inproc://banyan-backplane-{publisher_port}-{subscriber_port}");
        let mut proxy_control = ctx.socket(zmq::PAIR)?;
        proxy_control.bind(&endpoint)?;
        let control = ctx.socket(zmq::PAIR)?;
        control.connect(&endpoint)?;

        let thread = std::thread::Builder::new()
            .name("banyan-backplane".into())
            .spawn(move || {
                let (mut frontend, mut backend) = (frontend, backend);
                let result = loop {
                    // A signal delivered to this thread interrupts the proxy: resume it.
                    match zmq::proxy_steerable(&mut frontend, &mut backend, &mut proxy_control) {
                        Err(zmq::Error::EINTR) => continue,
                        other => break other,
                    }
                };
                drop((frontend, backend, proxy_control));
                drop(ctx);
                result.map_err(Error::from)
            })?;
        tracing::info!(
            address = %config.bind,
            publisher_port,
            subscriber_port,
            "backplane forwarding"
        );
        Ok(Self {
            address: config.bind.clone(),
            publisher_port,
            subscriber_port,
            control,
            thread: Some(thread),
        })
    }

    /// The address the sockets are bound to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The port components publish to (bound SUB socket).
    pub fn publisher_port(&self) -> u16 {
        self.publisher_port
    }

    /// The port components subscribe on (bound PUB socket).
    pub fn subscriber_port(&self) -> u16 {
        self.subscriber_port
    }

    /// Stops the forwarder, closes both sockets and waits for the thread.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        if !thread.is_finished() {
            self.control.set_sndtimeo(1000)?;
            if let Err(error) = self.control.send("TERMINATE", 0) {
                tracing::warn!(%error, "cannot reach the forwarder thread");
            }
        }
        match thread.join() {
            Ok(result) => result,
            Err(_) => Err(Error::Malformed("backplane thread panicked".into())),
        }
    }
}

impl Drop for Backplane {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(%error, "backplane shutdown");
        }
    }
}
