//! A serial line at its real speed: each direction of a link paced at a baud rate and framing
//! (10 bits per byte for 8N1), so that the host build of the MCU client, the gateway and QEMU
//! see a UART's throughput and timing instead of a socket's.
//!
//! - [`LineRate`]: baud and bits per byte; byte and frame times, line capacity.
//! - [`Pacer`]: the sans-IO core — given "now" and a byte count, when the last of those bytes
//!   has left the line. Everything else here is a thin driver around it.
//! - [`PacedWriter`]: a `Write` that blocks like a polled UART transmitter: `write` returns
//!   once its bytes are on the wire, and hands them to the stream at that moment (so the peer
//!   receives each piece when its last stop bit would arrive).
//! - [`serial_line`]: a paced link between the MCU client (host build, embedded-io) and the
//!   gateway (a pollable Unix socket for `banyan_gateways::serial::Gateway` or a
//!   `GatewaySession` driver), paced both ways; [`LineCounters`] count the bytes each way.
//! - [`LineRateProxy::tcp`]: the same pacing as a TCP proxy on 127.0.0.1 in front of QEMU's
//!   `-serial tcp:…,server=on` (whose emulated UART is not baud-limited).
//!
//! # Model and its limits
//!
//! A byte takes `bits_per_byte / baud` seconds; bytes follow each other without gaps while
//! the sender has data. Writes are cut into pieces of about a millisecond of line time
//! ([`LineRate::piece_len`]); a piece is delivered when its last byte is complete, so the
//! first byte of a piece arrives up to ~1 ms late (frames are only usable once complete, so
//! a frame's arrival time is exact to the piece). Sleep overshoot is not lost capacity: a
//! writer that comes back within [`SLACK`] of the line going idle continues the line's
//! schedule rather than restarting it. There is no receive FIFO limit and no bit errors (use
//! the [`fault`](crate::fault) kit for those).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::thread::ThreadGuard;

/// A writer that returns within this long of the line going idle keeps the line's schedule
/// (its bytes follow the previous ones back to back): the OS's sleep overshoot is not counted
/// as idle line time.
pub const SLACK: Duration = Duration::from_millis(2);

/// How often pump threads check whether they should stop.
const POLL: Duration = Duration::from_millis(20);

/// Speed and framing of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRate {
    /// Bits per second.
    pub baud: u32,
    /// Bits on the wire per byte: 10 for 8N1 (start, 8 data, stop), 11 for 8E1 or 8N2.
    pub bits_per_byte: u32,
}

impl LineRate {
    /// `baud` with 8N1 framing (10 bits per byte).
    pub const fn uart_8n1(baud: u32) -> Self {
        Self {
            baud,
            bits_per_byte: 10,
        }
    }

    /// Bytes per second the line carries at most (11 520 at 115 200 baud 8N1).
    pub fn bytes_per_sec(&self) -> f64 {
        f64::from(self.baud) / f64::from(self.bits_per_byte.max(1))
    }

    /// Time one byte takes on the wire.
    pub fn byte_time(&self) -> Duration {
        self.wire_time(1)
    }

    /// Time `bytes` bytes take on the wire, back to back.
    pub fn wire_time(&self, bytes: usize) -> Duration {
        let bits = u128::from(self.bits_per_byte) * bytes as u128;
        let nanos = bits * 1_000_000_000 / u128::from(self.baud.max(1));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Bytes per delivered piece: about one millisecond of line time, at least 1.
    pub fn piece_len(&self) -> usize {
        ((self.bytes_per_sec() / 1000.0) as usize).max(1)
    }
}

/// The sans-IO core of the pacing: when bytes handed to the line have left it.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: LineRate,
    /// When the line finishes the bytes scheduled so far (`None`: never used).
    free_at: Option<Instant>,
}

impl Pacer {
    /// An idle line at `rate`.
    pub fn new(rate: LineRate) -> Self {
        Self {
            rate,
            free_at: None,
        }
    }

    /// The line's rate.
    pub fn rate(&self) -> LineRate {
        self.rate
    }

    /// `bytes` bytes are handed to the line at `now`: returns when the last of them is
    /// complete. They start when the line is free, or at `now` when it has been idle for more
    /// than [`SLACK`].
    pub fn schedule(&mut self, now: Instant, bytes: usize) -> Instant {
        let start = match self.free_at {
            Some(free) if free + SLACK >= now => free,
            _ => now,
        };
        let done = start + self.rate.wire_time(bytes);
        self.free_at = Some(done);
        done
    }
}

/// Bytes carried by a paced link, per direction, readable from any thread.
#[derive(Debug, Clone, Default)]
pub struct LineCounters {
    to_gateway: Arc<AtomicU64>,
    to_mcu: Arc<AtomicU64>,
}

impl LineCounters {
    /// Bytes delivered MCU → gateway so far.
    pub fn to_gateway(&self) -> u64 {
        self.to_gateway.load(Ordering::Relaxed)
    }

    /// Bytes delivered gateway → MCU so far.
    pub fn to_mcu(&self) -> u64 {
        self.to_mcu.load(Ordering::Relaxed)
    }
}

fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// A `Write` paced like a blocking UART transmitter (see the [module docs](self)).
#[derive(Debug)]
pub struct PacedWriter<W> {
    inner: W,
    pacer: Pacer,
    carried: Arc<AtomicU64>,
}

impl<W: Write> PacedWriter<W> {
    /// Paces writes into `inner` at `rate`.
    pub fn new(inner: W, rate: LineRate) -> Self {
        Self {
            inner,
            pacer: Pacer::new(rate),
            carried: Arc::default(),
        }
    }

    fn counted(inner: W, rate: LineRate, carried: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            pacer: Pacer::new(rate),
            carried,
        }
    }

    /// Bytes written through so far.
    pub fn carried(&self) -> u64 {
        self.carried.load(Ordering::Relaxed)
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: Write> Write for PacedWriter<W> {
    /// Writes one piece of at most [`LineRate::piece_len`] bytes, returning when it has left
    /// the line.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min(self.pacer.rate().piece_len());
        let done = self.pacer.schedule(Instant::now(), n);
        sleep_until(done);
        // Counted before the peer can see the bytes, so that a reader's count is never behind.
        self.carried.fetch_add(n as u64, Ordering::Relaxed);
        self.inner.write_all(&buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `from` into a paced `to` until end of file, an error or `stop`, then shuts both.
fn pump<R: Read, W: Write>(
    mut from: R,
    mut to: PacedWriter<W>,
    stop: &AtomicBool,
    shut: impl Fn(),
) {
    // Read at most one piece at a time: the sender's socket buffer holds the rest, as a
    // host's tty buffer holds what the UART has not sent yet.
    let mut buf = vec![0u8; to.pacer.rate().piece_len()];
    while !stop.load(Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    shut();
}

/// The MCU's end of a [`serial_line`]: an embedded-io (and std io) transport whose writes
/// block for their line time and whose reads get the gateway's bytes at line rate. An idle
/// read reports `ErrorKind::TimedOut` after the poll timeout (the MCU transports' contract).
#[derive(Debug)]
pub struct McuLineEnd {
    tx: PacedWriter<UnixStream>,
    rx: UnixStream,
}

impl McuLineEnd {
    /// Sets how long a read waits for bytes before reporting "nothing yet".
    pub fn set_poll(&self, poll: Duration) -> io::Result<()> {
        self.rx.set_read_timeout(Some(poll))
    }

    /// Makes reads return at once when nothing has arrived (`WouldBlock` for std io,
    /// `TimedOut` for embedded-io), for a client that polls in a busy loop.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.rx.set_nonblocking(nonblocking)
    }
}

impl Read for McuLineEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rx.read(buf)
    }
}

impl Write for McuLineEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tx.flush()
    }
}

impl embedded_io::ErrorType for McuLineEnd {
    type Error = io::Error;
}

impl embedded_io::Read for McuLineEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.rx.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            other => other,
        }
    }
}

impl embedded_io::Write for McuLineEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(self)
    }
}

/// Keeps a [`serial_line`]'s gateway → MCU pump running; dropping it stops the pump and
/// closes the line.
#[derive(Debug)]
pub struct LineGuard {
    _pump: ThreadGuard<()>,
    counters: LineCounters,
}

impl LineGuard {
    /// Bytes carried so far, per direction.
    pub fn counters(&self) -> &LineCounters {
        &self.counters
    }
}

/// A serial line at `rate` between an MCU client and a gateway:
/// `(mcu end, gateway end, guard)`. The gateway end is a plain Unix socket (pollable, as
/// `banyan_gateways::Link` needs); the MCU end's reads wait at most `poll`.
///
/// ```text
///  MCU ── McuLineEnd.write (paced, blocks) ──────────────────────────▶ gateway socket
///  MCU ◀─ McuLineEnd.read ◀── pump thread (paced) ◀── gateway writes ─ gateway socket
/// ```
pub fn serial_line(rate: LineRate, poll: Duration) -> Result<(McuLineEnd, UnixStream, LineGuard)> {
    let pair = || UnixStream::pair().map_err(|e| Error::io("socket pair", e));
    let (gateway, relay) = pair()?;
    let (mcu_rx, relay_tx) = pair()?;
    let io = |what| move |e| Error::io(what, e);
    mcu_rx
        .set_read_timeout(Some(poll))
        .map_err(io("MCU read timeout"))?;
    relay
        .set_read_timeout(Some(POLL))
        .map_err(io("relay read timeout"))?;
    let counters = LineCounters::default();
    let tx = PacedWriter::counted(
        relay.try_clone().map_err(io("relay clone"))?,
        rate,
        counters.to_gateway.clone(),
    );
    let down = PacedWriter::counted(
        relay_tx.try_clone().map_err(io("relay clone"))?,
        rate,
        counters.to_mcu.clone(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let pump = ThreadGuard::spawn(
        "line gateway->mcu",
        move || stop_flag.store(true, Ordering::SeqCst),
        move || {
            let shut_a = relay.try_clone();
            pump(relay, down, &stop, || {
                if let Ok(s) = &shut_a {
                    let _ = s.shutdown(Shutdown::Both);
                }
                let _ = relay_tx.shutdown(Shutdown::Both);
            })
        },
    );
    Ok((
        McuLineEnd { tx, rx: mcu_rx },
        gateway,
        LineGuard {
            _pump: pump,
            counters,
        },
    ))
}

/// A TCP proxy on 127.0.0.1 that paces both directions at a line rate (see the
/// [module docs](self)); one connection at a time is relayed to a fresh upstream connection.
/// Dropping it stops its threads.
#[derive(Debug)]
pub struct LineRateProxy {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<ThreadGuard<()>>,
    counters: LineCounters,
}

impl LineRateProxy {
    /// Listens on 127.0.0.1 (an OS-chosen port) and relays each connection to `upstream`
    /// (e.g. QEMU's serial port), client → upstream counted as "to MCU", upstream → client as
    /// "to gateway" (the client is the gateway).
    pub fn tcp(upstream: SocketAddr, rate: LineRate) -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding the proxy", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::io("proxy address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("proxy listener", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = LineCounters::default();
        let acceptor = {
            let (stop, stop_flag, counters) = (stop.clone(), stop.clone(), counters.clone());
            ThreadGuard::spawn(
                "line-rate proxy",
                move || stop_flag.store(true, Ordering::SeqCst),
                move || accept_loop(listener, upstream, rate, counters, stop),
            )
        };
        Ok(Self {
            address,
            stop,
            acceptor: Some(acceptor),
            counters,
        })
    }

    /// Where the gateway connects.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Bytes carried so far, per direction.
    pub fn counters(&self) -> &LineCounters {
        &self.counters
    }
}

impl Drop for LineRateProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.acceptor.take());
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    rate: LineRate,
    counters: LineCounters,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                std::thread::sleep(POLL);
                continue;
            }
        };
        let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
            continue; // The client sees the connection close: upstream is down.
        };
        if relay_connection(client, server, rate, &counters, &stop).is_err() {
            continue;
        }
    }
}

/// Relays one connection until either side closes or `stop`.
fn relay_connection(
    client: TcpStream,
    server: TcpStream,
    rate: LineRate,
    counters: &LineCounters,
    stop: &Arc<AtomicBool>,
) -> io::Result<()> {
    for stream in [&client, &server] {
        stream.set_nodelay(true)?;
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(POLL))?;
    }
    let ended = Arc::new(AtomicBool::new(false));
    let spawn = |from: TcpStream, to: TcpStream, carried: Arc<AtomicU64>, name: &str| {
        let (stop, ended, ended_flag) = (stop.clone(), ended.clone(), ended.clone());
        ThreadGuard::spawn(
            name,
            move || ended_flag.store(true, Ordering::SeqCst),
            move || {
                let writer = PacedWriter::counted(to, rate, carried);
                let peer = writer.get_ref().try_clone();
                let reader = from.try_clone();
                let either = EitherStop {
                    stop: &stop,
                    ended: &ended,
                };
                pump_until(from, writer, &either);
                ended.store(true, Ordering::SeqCst);
                for s in [peer, reader].into_iter().flatten() {
                    let _ = s.shutdown(Shutdown::Both);
                }
            },
        )
    };
    let up = spawn(
        client.try_clone()?,
        server.try_clone()?,
        counters.to_mcu.clone(),
        "line-rate proxy up",
    );
    let down = spawn(
        server,
        client,
        counters.to_gateway.clone(),
        "line-rate proxy down",
    );
    while !(up.is_finished() && down.is_finished()) {
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Stop when the proxy stops or the other direction ended.
struct EitherStop<'a> {
    stop: &'a AtomicBool,
    ended: &'a AtomicBool,
}

fn pump_until<R: Read, W: Write>(from: R, to: PacedWriter<W>, either: &EitherStop<'_>) {
    let flag = AtomicBool::new(false);
    // `pump` checks one flag: mirror the two into it between reads via a reader adapter.
    struct Watch<'a, R> {
        inner: R,
        either: &'a EitherStop<'a>,
        flag: &'a AtomicBool,
    }
    impl<R: Read> Read for Watch<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.either.stop.load(Ordering::SeqCst) || self.either.ended.load(Ordering::SeqCst) {
                self.flag.store(true, Ordering::SeqCst);
                return Ok(0);
            }
            self.inner.read(buf)
        }
    }
    let watch = Watch {
        inner: from,
        either,
        flag: &flag,
    };
    pump(watch, to, &flag, || {});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_times() {
        let rate = LineRate::uart_8n1(115_200);
        assert_eq!(rate.bytes_per_sec(), 11_520.0);
        assert_eq!(rate.byte_time(), Duration::from_nanos(86_805));
        assert_eq!(rate.wire_time(11_520), Duration::from_secs(1));
        assert_eq!(rate.piece_len(), 11);
        assert_eq!(LineRate::uart_8n1(921_600).piece_len(), 92);
    }

    #[test]
    fn the_pacer_keeps_bytes_back_to_back_and_restarts_after_idle() {
        let rate = LineRate::uart_8n1(100_000); // 100 µs per byte
        let mut pacer = Pacer::new(rate);
        let t0 = Instant::now();
        assert_eq!(pacer.schedule(t0, 10), t0 + Duration::from_millis(1));
        // Handed over early (or within SLACK late): follows the previous bytes.
        assert_eq!(pacer.schedule(t0, 10), t0 + Duration::from_millis(2));
        let late = t0 + Duration::from_millis(3);
        assert_eq!(pacer.schedule(late, 10), t0 + Duration::from_millis(3));
        // Idle for longer than SLACK: starts now.
        let idle = t0 + Duration::from_millis(10);
        assert_eq!(pacer.schedule(idle, 5), idle + Duration::from_micros(500));
    }

    #[test]
    fn a_serial_line_carries_both_ways_and_counts() {
        let rate = LineRate::uart_8n1(921_600);
        let (mut mcu, mut gateway, guard) = serial_line(rate, Duration::from_millis(5)).unwrap();
        Write::write_all(&mut mcu, b"hello gateway").unwrap();
        let mut got = [0u8; 13];
        gateway.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello gateway");
        gateway.write_all(b"hi mcu").unwrap();
        let mut back = Vec::new();
        let mut buf = [0u8; 16];
        while back.len() < 6 {
            match Read::read(&mut mcu, &mut buf) {
                Ok(n) => back.extend_from_slice(&buf[..n]),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(back, b"hi mcu");
        assert_eq!(guard.counters().to_gateway(), 13);
        assert_eq!(guard.counters().to_mcu(), 6);
    }

    #[test]
    fn the_proxy_relays_to_its_upstream() {
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = LineRateProxy::tcp(upstream.local_addr().unwrap(), LineRate::uart_8n1(921_600))
            .unwrap();
        let mut client = TcpStream::connect(proxy.address()).unwrap();
        let (mut server, _) = upstream.accept().unwrap();
        client.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        server.write_all(b"pong!").unwrap();
        let mut back = [0u8; 5];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"pong!");
        assert_eq!(proxy.counters().to_mcu(), 4);
        assert_eq!(proxy.counters().to_gateway(), 5);
    }
}
