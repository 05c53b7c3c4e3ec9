//! Real-socket links for the gateway and MCU transports, all in one process.
//!
//! - [`offered_links`]: a [`banyan_host::gateway::Connector`] whose `open` hands the gateway
//!   the link ends a test offers ([`LinkOffers::offer_pair`] makes a Unix socket pair and
//!   returns the MCU's end). No offer pending = "device not there", so the gateway retries,
//!   exactly as with an unplugged serial device.
//! - [`EmbeddedIo`]: any std `Read + Write` (a Unix socket, a TCP stream, a
//!   [`FaultInjector`](crate::fault::FaultInjector)) as an embedded-io transport for
//!   `banyan-mcu`, with the MCU transports' contract: an idle read reports
//!   `ErrorKind::TimedOut`.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use banyan_host::gateway::{Connector, Link};

/// Hands the gateway the links offered through the paired [`LinkOffers`].
pub struct OfferedConnector {
    offers: Receiver<Box<dyn Link>>,
    name: String,
}

impl std::fmt::Debug for OfferedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferedConnector")
            .field("name", &self.name)
            .finish()
    }
}

impl Connector for OfferedConnector {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        self.offers
            .try_recv()
            .map_err(|_| io::Error::new(io::ErrorKind::NotFound, "no link offered yet"))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// The test's side of an [`OfferedConnector`].
#[derive(Debug, Clone)]
pub struct LinkOffers(Sender<Box<dyn Link>>);

impl LinkOffers {
    /// Offers `link` to the gateway (taken at its next `open`). `false` if the connector is
    /// gone.
    pub fn offer(&self, link: Box<dyn Link>) -> bool {
        self.0.send(link).is_ok()
    }

    /// Makes a Unix socket pair, offers one end and returns the other (the MCU's end).
    pub fn offer_pair(&self) -> io::Result<UnixStream> {
        let (mcu, gateway) = UnixStream::pair()?;
        if self.offer(Box::new(gateway)) {
            Ok(mcu)
        } else {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the gateway's connector is gone",
            ))
        }
    }
}

/// A connector fed by the test: `(offers, connector)`; give `connector` to the gateway.
pub fn offered_links(name: &str) -> (LinkOffers, OfferedConnector) {
    let (tx, rx) = channel();
    (
        LinkOffers(tx),
        OfferedConnector {
            offers: rx,
            name: name.to_owned(),
        },
    )
}

/// A std byte stream as an embedded-io transport (`ErrorType = io::Error`): `WouldBlock`
/// from a non-blocking stream or one with a read timeout becomes `TimedOut`, what
/// `banyan-mcu`'s blocking drivers treat as "nothing yet".
#[derive(Debug)]
pub struct EmbeddedIo<S>(pub S);

impl EmbeddedIo<UnixStream> {
    /// A Unix socket end with `poll` as its read timeout (the MCU client's polling interval).
    pub fn unix(stream: UnixStream, poll: Duration) -> io::Result<Self> {
        stream.set_read_timeout(Some(poll))?;
        Ok(Self(stream))
    }
}

impl<S> embedded_io::ErrorType for EmbeddedIo<S> {
    type Error = io::Error;
}

impl<S: Read> embedded_io::Read for EmbeddedIo<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            other => other,
        }
    }
}

impl<S: Write> embedded_io::Write for EmbeddedIo<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<S: Read> Read for EmbeddedIo<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Write> Write for EmbeddedIo<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
