//! [`TcpDevice`]: a simulated networked microcontroller for `tgw` — what Python Banyan's
//! MicroPython scripts for the Pico W do (`bind(("", 31335))`, `listen()`, `accept()`, then
//! length-prefixed msgpack both ways), on 127.0.0.1 and an OS-chosen port.
//!
//! The device records every byte the gateway sends and splits it into frames with its own
//! parser (one length byte, then exactly that many bytes — deliberately not the codec under
//! test). A test makes it send bytes in any chunking, and makes it fail like real hardware:
//! close the connection (a script that ends), reset it (a reboot: RST), or stop listening
//! for a while (a device that is off or still booting: connections refused).
//!
//! Everything runs on the device's threads; dropping the device stops and joins them.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often the accept loop looks at its stop and listen flags.
const POLL: Duration = Duration::from_millis(10);

/// Receive buffer of accepted connections: about a Pico W's lwIP TCP window (8 × 1460), so
/// a device that stops reading pushes back on the gateway after kilobytes, not megabytes.
pub const RECEIVE_BUFFER: usize = 12 * 1024;

#[derive(Debug, Default)]
struct State {
    /// Connections accepted so far.
    connections: u64,
    /// The current connection (the newest accepted).
    current: Option<TcpStream>,
    /// Every byte received, all connections in order.
    received: Vec<u8>,
    /// Complete frames received (payloads), all connections in order.
    frames: Vec<Vec<u8>>,
    /// Whether the device is to accept connections.
    listening: bool,
    /// Whether its listener is open (the accept loop follows `listening`).
    listener_open: bool,
    /// Whether the device reads what the gateway sends (a busy script does not).
    reading: bool,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A simulated device speaking tgw's framing on 127.0.0.1; see the module docs.
#[derive(Debug)]
pub struct TcpDevice {
    address: SocketAddr,
    inner: Arc<Inner>,
    acceptor: Option<JoinHandle<()>>,
}

impl TcpDevice {
    /// Starts listening on 127.0.0.1 and an OS-chosen port.
    pub fn start() -> Result<Self> {
        let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .map_err(|e| Error::io("binding the simulated device", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::io("reading the device's port", e))?;
        let inner = Arc::new(Inner::default());
        {
            let mut state = inner.state();
            state.listening = true;
            state.listener_open = true;
            state.reading = true;
        }
        let acceptor = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("tcp-device".into())
                .spawn(move || accept_loop(Some(listener), address, &inner))
                .map_err(|e| Error::io("starting the device thread", e))?
        };
        Ok(Self {
            address,
            inner,
            acceptor: Some(acceptor),
        })
    }

    /// The port the device listens on (tgw's `-n`).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.inner.state().connections
    }

    /// Every byte received from gateways, in order.
    pub fn received(&self) -> Vec<u8> {
        self.inner.state().received.clone()
    }

    /// Every complete frame (payload without its length byte) received, in order.
    pub fn frames(&self) -> Vec<Vec<u8>> {
        self.inner.state().frames.clone()
    }

    /// Waits until `n` connections have been accepted.
    pub fn wait_connections(&self, n: u64, deadline: Instant) -> Result<()> {
        self.wait_for(deadline, |s| s.connections >= n)
            .map(|_| ())
            .map_err(|_| timed_out(format!("the device saw fewer than {n} connections")))
    }

    /// Waits until at least `n` frames have been received.
    pub fn wait_frames(&self, n: usize, deadline: Instant) -> Result<Vec<Vec<u8>>> {
        self.wait_for(deadline, |s| s.frames.len() >= n)
            .map(|s| s.frames.clone())
            .map_err(|got| timed_out(format!("the device got {got} of {n} frames")))
    }

    fn wait_for(
        &self,
        deadline: Instant,
        done: impl Fn(&State) -> bool,
    ) -> std::result::Result<MutexGuard<'_, State>, usize> {
        let mut state = self.inner.state();
        loop {
            if done(&state) {
                return Ok(state);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(state.frames.len());
            }
            state = self
                .inner
                .changed
                .wait_timeout(state, left.min(Duration::from_millis(100)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Sends `bytes` on the current connection in one write.
    pub fn send(&self, bytes: &[u8]) -> Result<()> {
        self.send_chunked(bytes, bytes.len().max(1), Duration::ZERO)
    }

    /// Sends `bytes` on the current connection in writes of `chunk` bytes, `pause` apart
    /// (TCP_NODELAY is on, so each write leaves as its own segment).
    pub fn send_chunked(&self, bytes: &[u8], chunk: usize, pause: Duration) -> Result<()> {
        let mut stream = {
            let state = self.inner.state();
            let current = state
                .current
                .as_ref()
                .ok_or_else(|| not_connected("send"))?;
            current
                .try_clone()
                .map_err(|e| Error::io("cloning the device connection", e))?
        };
        for (i, piece) in bytes.chunks(chunk.max(1)).enumerate() {
            if i > 0 && !pause.is_zero() {
                std::thread::sleep(pause);
            }
            stream
                .write_all(piece)
                .map_err(|e| Error::io("the device writing to the gateway", e))?;
        }
        Ok(())
    }

    /// Frames `payload` (one length byte, then the payload; at most 255 bytes) and sends it.
    pub fn send_frame(&self, payload: &[u8]) -> Result<()> {
        let length = u8::try_from(payload.len()).map_err(|_| {
            Error::io(
                "framing for the gateway",
                io::Error::new(io::ErrorKind::InvalidInput, "payload over 255 bytes"),
            )
        })?;
        let mut frame = vec![length];
        frame.extend_from_slice(payload);
        self.send(&frame)
    }

    /// Closes the current connection (FIN), as a script that ends or calls `close()`.
    pub fn close_connection(&self) -> Result<()> {
        let current = self.inner.state().current.take();
        let stream = current.ok_or_else(|| not_connected("close"))?;
        stream
            .shutdown(Shutdown::Both)
            .map_err(|e| Error::io("closing the device connection", e))
    }

    /// Resets the current connection (RST, SO_LINGER 0), as a rebooting device's stack.
    pub fn reset_connection(&self) -> Result<()> {
        let current = self.inner.state().current.take();
        let stream = current.ok_or_else(|| not_connected("reset"))?;
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .map_err(|e| Error::io("setting SO_LINGER on the device connection", e))?;
        drop(stream);
        Ok(())
    }

    /// Stops reading from the connection (bytes pile up in the socket, then the gateway's
    /// writes block), as a script busy with something else.
    pub fn pause_reading(&self) {
        self.inner.state().reading = false;
    }

    /// Reads again.
    pub fn resume_reading(&self) {
        self.inner.state().reading = true;
    }

    /// Stops accepting: new connections are refused until [`listen`](Self::listen). Returns
    /// once the listener is closed.
    pub fn stop_listening(&self) -> Result<()> {
        self.inner.state().listening = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        self.wait_for(deadline, |s| !s.listener_open)
            .map(|_| ())
            .map_err(|_| timed_out("the device's listener did not close".into()))
    }

    /// Accepts connections again, on the same port. Returns once the listener is open.
    pub fn listen(&self) -> Result<()> {
        self.inner.state().listening = true;
        let deadline = Instant::now() + Duration::from_secs(10);
        self.wait_for(deadline, |s| s.listener_open)
            .map(|_| ())
            .map_err(|_| {
                timed_out(format!(
                    "the device cannot listen on {} again",
                    self.address
                ))
            })
    }
}

impl Drop for TcpDevice {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        if let Some(stream) = self.inner.state().current.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn timed_out(what: String) -> Error {
    Error::io(what, io::Error::from(io::ErrorKind::TimedOut))
}

fn not_connected(action: &str) -> Error {
    Error::io(
        format!("the device cannot {action}"),
        io::Error::new(io::ErrorKind::NotConnected, "no gateway connected"),
    )
}

/// A listener at `address` whose connections get [`RECEIVE_BUFFER`] (set before `listen`, so
/// the window is advertised from the handshake on).
fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
    socket.bind(&address.into())?;
    socket.listen(8)?;
    Ok(socket.into())
}

/// Accepts connections while listening; each gets a reader thread. Joins them on stop.
fn accept_loop(mut listener: Option<TcpListener>, address: SocketAddr, inner: &Arc<Inner>) {
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    while !inner.stop.load(Ordering::Acquire) {
        let listening = inner.state().listening;
        match (&listener, listening) {
            (Some(_), false) => listener = None,
            (None, true) => listener = bind(address).ok(),
            _ => {}
        }
        {
            let mut state = inner.state();
            if state.listener_open != listener.is_some() {
                state.listener_open = listener.is_some();
                drop(state);
                inner.changed.notify_all();
            }
        }
        if let Some(open) = &listener
            && open.set_nonblocking(true).is_ok()
            && let Ok((stream, _)) = open.accept()
            && stream.set_nonblocking(false).is_ok()
        {
            let _ = stream.set_nodelay(true);
            if let Ok(reader) = stream.try_clone() {
                let mut state = inner.state();
                if let Some(old) = state.current.replace(stream) {
                    let _ = old.shutdown(Shutdown::Both);
                }
                state.connections += 1;
                let generation = state.connections;
                drop(state);
                inner.changed.notify_all();
                let inner = inner.clone();
                readers.push(std::thread::spawn(move || {
                    read_loop(reader, generation, &inner);
                }));
            }
            continue;
        }
        std::thread::sleep(POLL);
    }
    for reader in readers {
        let _ = reader.join();
    }
}

/// Records what the gateway sends on one connection, split into frames exactly.
fn read_loop(mut stream: TcpStream, generation: u64, inner: &Inner) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut partial: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // Gone when the device stopped, or closed, reset or replaced this connection: this
        // clone must then close too (a reset sends its RST only when the last one closes).
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        {
            let state = inner.state();
            if state.connections != generation || state.current.is_none() {
                return;
            }
            if !state.reading {
                drop(state);
                std::thread::sleep(POLL);
                continue;
            }
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut state = inner.state();
        state.received.extend_from_slice(&buf[..n]);
        partial.extend_from_slice(&buf[..n]);
        while let Some(&length) = partial.first() {
            let end = 1 + usize::from(length);
            if partial.len() < end {
                break;
            }
            let frame = partial[1..end].to_vec();
            partial.drain(..end);
            state.frames.push(frame);
        }
        drop(state);
        inner.changed.notify_all();
    }
    inner.changed.notify_all();
}
