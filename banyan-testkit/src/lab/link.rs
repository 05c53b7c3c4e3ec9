//! Real-socket links for the gateway and MCU transports, all in one process.
//!
//! - [`offered_links`]: a [`banyan_gateways::Connector`] whose `open` hands the gateway
//!   the link ends a test offers ([`LinkOffers::offer_pair`] makes a Unix socket pair and
//!   returns the MCU's end). No offer pending = "device not there", so the gateway retries,
//!   exactly as with an unplugged serial device.
//! - [`EmbeddedIo`]: any std `Read + Write` (a Unix socket, a TCP stream, a
//!   [`FaultInjector`](crate::fault::FaultInjector)) as an embedded-io transport for
//!   `banyan-mcu`, with the MCU transports' contract: an idle read reports
//!   `ErrorKind::TimedOut`.
//! - [`Uart`]: the same for an MCU whose serial line outlives its peer: a gone peer is
//!   silence, not an error, and [`Uart::replug`] connects the line to a new one (a restarted
//!   gateway).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use banyan_gateways::{Connector, Link};

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

/// A std stream as an MCU's UART (embedded-io, `ErrorType = io::Error`): the line never ends.
/// End of file and `WouldBlock` read as `TimedOut` (nothing heard), and bytes written while
/// the peer is gone are lost without an error, as on a real serial line; the MCU client finds
/// out through its own pings. [`Uart::replug`] connects the line to another peer.
#[derive(Debug)]
pub struct Uart<S>(S);

impl<S> Uart<S> {
    /// The line over `stream`.
    pub fn new(stream: S) -> Self {
        Self(stream)
    }

    /// Connects the line to another peer (e.g. the next gateway process).
    pub fn replug(&mut self, stream: S) {
        self.0 = stream;
    }

    /// The current stream.
    pub fn get_ref(&self) -> &S {
        &self.0
    }
}

impl Uart<UnixStream> {
    /// A Unix socket end with `poll` as its read timeout (the MCU client's polling interval).
    pub fn unix(stream: UnixStream, poll: Duration) -> io::Result<Self> {
        stream.set_read_timeout(Some(poll))?;
        Ok(Self(stream))
    }

    /// [`Uart::replug`] for a Unix socket end, with `poll` as its read timeout.
    pub fn replug_unix(&mut self, stream: UnixStream, poll: Duration) -> io::Result<()> {
        stream.set_read_timeout(Some(poll))?;
        self.replug(stream);
        Ok(())
    }
}

impl<S> embedded_io::ErrorType for Uart<S> {
    type Error = io::Error;
}

impl<S: Read> embedded_io::Read for Uart<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.0.read(buf) {
            Ok(0) => Err(io::ErrorKind::TimedOut.into()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            other => other,
        }
    }
}

impl<S: Write> embedded_io::Write for Uart<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uart_outlives_its_peer_and_can_be_replugged() {
        let (mcu, peer) = UnixStream::pair().unwrap();
        let mut uart = Uart::unix(mcu, Duration::from_millis(5)).unwrap();
        drop(peer);
        let mut buf = [0u8; 4];
        let idle = embedded_io::Read::read(&mut uart, &mut buf).unwrap_err();
        assert_eq!(idle.kind(), io::ErrorKind::TimedOut);
        assert_eq!(embedded_io::Write::write(&mut uart, b"lost").unwrap(), 4);
        let (mcu, mut peer) = UnixStream::pair().unwrap();
        uart.replug_unix(mcu, Duration::from_millis(5)).unwrap();
        embedded_io::Write::write_all(&mut uart, b"hi").unwrap();
        let mut got = [0u8; 2];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
        peer.write_all(b"yo").unwrap();
        assert_eq!(embedded_io::Read::read(&mut uart, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"yo");
    }
}
