//! A byte source that `zmq_poll` cannot wait on, made pollable: a reader thread moves what it
//! reads into one end of a loopback TCP connection, and the gateway polls and reads the other.
//!
//! Windows' `zmq_poll` waits on sockets only, so a COM port's handle cannot sit in the poll
//! beside the backplane socket as a serial device's file descriptor does on Unix. The
//! [`Bridge`] is a gateway's [`Link`](super::Link) there: reads come from the socket (whose
//! `SOCKET` the poll watches), writes go straight to the device.
//!
//! - The reader thread reads the device with a short timeout (the device's read returns as
//!   soon as a byte is there), so it notices within [`READ_SLICE`] when the bridge is dropped.
//! - When the device fails (unplugged), the thread shuts the socket down: the gateway reads
//!   the end of the stream, closes the link and reopens the port, as on Unix.
//! - The loopback connection is checked to be our own (the accepted peer is the connecting
//!   socket's address) before any byte crosses it; nothing listens once it is made.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a write may keep retrying a device that takes nothing (its own timeout is
/// [`READ_SLICE`], shared with reads on Windows).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one read of the device may wait before the reader thread looks whether the
/// bridge is still wanted.
pub const READ_SLICE: Duration = Duration::from_millis(10);

/// A device's reads through a loopback socket; writes to the device directly.
pub struct Bridge<W: Write + Send> {
    socket: TcpStream,
    device: W,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl<W: Write + Send> Bridge<W> {
    /// Starts the reader thread on `source` (the device's reading half, whose reads time out
    /// after about [`READ_SLICE`] without data) and writes to `device`.
    pub fn new<R: Read + Send + 'static>(source: R, device: W) -> io::Result<Self> {
        let (socket, feed) = loopback_pair()?;
        let stop = Arc::new(AtomicBool::new(false));
        let reader = std::thread::Builder::new()
            .name("serial-reader".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || pump(source, feed, &stop)
            })?;
        Ok(Self {
            socket,
            device,
            stop,
            reader: Some(reader),
        })
    }

    /// The socket the gateway polls and reads.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }
}

/// Moves the device's bytes into `feed` until the device fails, the bridge goes or `stop`.
fn pump(mut source: impl Read, mut feed: TcpStream, stop: &AtomicBool) {
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if feed.write_all(&buffer[..n]).is_err() {
                    break; // the bridge is gone
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(error) => {
                tracing::warn!(%error, "serial read failed");
                break;
            }
        }
    }
    // The gateway reads the end of the stream and reopens the device.
    let _ = feed.shutdown(Shutdown::Both);
}

/// A connected pair of loopback sockets, checked to be each other's ends.
fn loopback_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let ours = TcpStream::connect(listener.local_addr()?)?;
    loop {
        let (theirs, peer) = listener.accept()?;
        // Another local process could connect to the port in the meantime: only the
        // connection from our own socket is taken.
        if peer == ours.local_addr()? {
            ours.set_nodelay(true)?;
            theirs.set_nodelay(true)?;
            return Ok((ours, theirs));
        }
    }
}

impl<W: Write + Send> Read for Bridge<W> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.socket.read(buffer)
    }
}

impl<W: Write + Send> Write for Bridge<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        loop {
            match self.device.write(bytes) {
                Ok(0) if !bytes.is_empty() && Instant::now() < deadline => {}
                Err(error)
                    if error.kind() == io::ErrorKind::TimedOut && Instant::now() < deadline => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.device.flush()
    }
}

impl<W: Write + Send> Drop for Bridge<W> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.socket.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

#[cfg(windows)]
impl<W: Write + Send> std::os::windows::io::AsRawSocket for Bridge<W> {
    fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
        self.socket.as_raw_socket()
    }
}

#[cfg(unix)]
impl<W: Write + Send> std::os::fd::AsRawFd for Bridge<W> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A device whose reads come from a channel, time out as a COM port's do, and fail once
    /// the channel is closed (the device unplugged).
    struct Device(mpsc::Receiver<Vec<u8>>);

    impl Read for Device {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            match self.0.recv_timeout(READ_SLICE) {
                Ok(bytes) => {
                    buffer[..bytes.len()].copy_from_slice(&bytes);
                    Ok(bytes.len())
                }
                Err(mpsc::RecvTimeoutError::Timeout) => Err(io::ErrorKind::TimedOut.into()),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    Err(io::Error::other("device unplugged"))
                }
            }
        }
    }

    /// Bytes the device reads arrive, in order, on the socket a poll watches; writes reach the
    /// device; an unplugged device ends the stream (the gateway then reopens it).
    #[test]
    fn device_bytes_cross_the_socket_and_a_failure_ends_the_stream() {
        let (send, receive) = mpsc::channel();
        let mut bridge = Bridge::new(Device(receive), Vec::new()).unwrap();
        bridge
            .socket()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        send.send(b"hello ".to_vec()).unwrap();
        // zmq_poll (what the gateway waits in) sees the socket readable.
        let mut items = [zmq::PollItem::from_fd(
            crate::link::poll_fd(&bridge),
            zmq::POLLIN,
        )];
        assert_eq!(zmq::poll(&mut items, 10_000).unwrap(), 1);
        assert!(items[0].is_readable());
        send.send(b"MCU".to_vec()).unwrap();
        let mut got = Vec::new();
        let mut buffer = [0u8; 64];
        while got.len() < 9 {
            let n = bridge.read(&mut buffer).unwrap();
            assert!(n > 0, "stream ended early: {got:?}");
            got.extend_from_slice(&buffer[..n]);
        }
        assert_eq!(got, b"hello MCU");

        bridge.write_all(b"to the device").unwrap();
        assert_eq!(bridge.device, b"to the device");

        drop(send);
        assert_eq!(bridge.read(&mut buffer).unwrap(), 0, "end of stream");
    }

    /// Dropping the bridge stops its reader thread although the device never fails.
    #[test]
    fn dropping_the_bridge_stops_the_reader() {
        let (send, receive) = mpsc::channel::<Vec<u8>>();
        let bridge = Bridge::new(Device(receive), io::sink()).unwrap();
        drop(bridge); // joins the reader thread: the test would hang otherwise
        drop(send);
    }
}
