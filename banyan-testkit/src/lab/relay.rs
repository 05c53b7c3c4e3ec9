//! Fault-injecting relays between real sockets, for peers that poll their link's file
//! descriptor (the gateway) or live in another process (QEMU).
//!
//! - [`FaultRelay::unix`]: two Unix socket ends joined by a relay that damages each direction
//!   with its own [`Faults`]. Give one end to the gateway (e.g. through
//!   [`LinkOffers::offer`](crate::link::LinkOffers::offer)), the other to the MCU.
//! - [`FaultProxy::tcp`]: a TCP proxy on 127.0.0.1 (port 0) in front of `upstream`
//!   (QEMU's `-serial tcp:…,server=on`): every accepted connection is relayed to a fresh
//!   upstream connection with faults. The gateway reconnects through it after either side
//!   restarts.
//!
//! Relays run on [`ThreadGuard`]s: dropping the relay stops and joins them and closes its
//! sockets.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fault::{FaultHandle, FaultInjector, Faults};
use crate::thread::ThreadGuard;

/// How often a relay thread checks whether it should stop.
const POLL: Duration = Duration::from_millis(20);

/// A socket a relay can pump.
trait Socket: Read + Write + Send + Sized + 'static {
    fn clone_socket(&self) -> io::Result<Self>;
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn shut(&self, how: Shutdown);
}

/// Both stream types have the same inherent methods under the same names.
macro_rules! socket {
    ($($stream:ty),*) => {$(
        impl Socket for $stream {
            fn clone_socket(&self) -> io::Result<Self> {
                self.try_clone()
            }
            fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                self.set_read_timeout(timeout)
            }
            fn shut(&self, how: Shutdown) {
                let _ = self.shutdown(how);
            }
        }
    )*};
}

socket!(UnixStream, TcpStream);

/// Pumps `from` into `to` through an injector until EOF, an error, a cut or `stop`; then
/// shuts `to`'s writing side (the peer sees end of file) — both sides on a cut.
fn pump<S: Socket>(from: S, to: FaultInjector<S>, stop: Arc<AtomicBool>) {
    let mut to = to;
    let mut from = from;
    let _ = from.set_timeout(Some(POLL));
    let mut buf = [0u8; 4096];
    let handle = to.handle();
    while !stop.load(Ordering::SeqCst) && !handle.is_cut() {
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
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // Release delayed frames even when nothing new arrives.
                if to.flush().is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if handle.is_cut() || stop.load(Ordering::SeqCst) {
        from.shut(Shutdown::Both);
        to.get_ref().shut(Shutdown::Both);
    } else {
        to.get_ref().shut(Shutdown::Write);
    }
}

/// Starts the two pumps between `a` and `b`; `a_to_b` damages what `a` sends.
fn relay_pair<S: Socket>(
    a: S,
    b: S,
    seed: u64,
    a_to_b: Faults,
    b_to_a: Faults,
    stop: Arc<AtomicBool>,
) -> io::Result<(ThreadGuard<()>, ThreadGuard<()>, FaultHandle, FaultHandle)> {
    let forward = FaultInjector::new(b.clone_socket()?, seed, a_to_b, Faults::NONE);
    let backward = FaultInjector::new(
        a.clone_socket()?,
        seed.rotate_left(17),
        b_to_a,
        Faults::NONE,
    );
    let (fh, bh) = (forward.handle(), backward.handle());
    let stop_flag = {
        let stop = stop.clone();
        move || stop.store(true, Ordering::SeqCst)
    };
    let s1 = stop.clone();
    let t1 = ThreadGuard::spawn("relay a->b", stop_flag.clone(), move || {
        pump(a, forward, s1)
    });
    let t2 = ThreadGuard::spawn("relay b->a", stop_flag, move || pump(b, backward, stop));
    Ok((t1, t2, fh, bh))
}

/// A relay between two Unix socket pairs (see the module docs).
#[derive(Debug)]
pub struct FaultRelay {
    threads: Vec<ThreadGuard<()>>,
    a_to_b: FaultHandle,
    b_to_a: FaultHandle,
}

impl FaultRelay {
    /// `(a, b, relay)`: bytes written to `a` arrive at `b` damaged by `a_to_b`, and the other
    /// way by `b_to_a`.
    pub fn unix(
        seed: u64,
        a_to_b: Faults,
        b_to_a: Faults,
    ) -> Result<(UnixStream, UnixStream, FaultRelay)> {
        let pair = || UnixStream::pair().map_err(|e| Error::io("socket pair", e));
        let (a_outer, a_inner) = pair()?;
        let (b_outer, b_inner) = pair()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (t1, t2, forward, backward) = relay_pair(a_inner, b_inner, seed, a_to_b, b_to_a, stop)
            .map_err(|e| Error::io("starting a relay", e))?;
        Ok((
            a_outer,
            b_outer,
            FaultRelay {
                threads: vec![t1, t2],
                a_to_b: forward,
                b_to_a: backward,
            },
        ))
    }

    /// What was done to the `a → b` direction.
    pub fn a_to_b(&self) -> &FaultHandle {
        &self.a_to_b
    }

    /// What was done to the `b → a` direction.
    pub fn b_to_a(&self) -> &FaultHandle {
        &self.b_to_a
    }

    /// Cuts the link: both ends see it closed.
    pub fn cut(&self) {
        self.a_to_b.cut();
        self.b_to_a.cut();
    }

    /// Stops the relay threads (closing the link).
    pub fn stop(self) {
        drop(self.threads);
    }
}

/// A fault-injecting TCP proxy (see the module docs).
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<ThreadGuard<()>>,
    to_upstream: FaultHandle,
    to_client: FaultHandle,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (an OS-chosen port); each connection is relayed to `upstream`
    /// with `to_upstream` faults on what the client sends and `to_client` on the way back.
    /// Statistics add up over all connections.
    pub fn tcp(
        upstream: SocketAddr,
        seed: u64,
        to_upstream: Faults,
        to_client: Faults,
    ) -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding the proxy", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::io("proxy address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("proxy listener", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let totals = (FaultHandle::default(), FaultHandle::default());
        let acceptor = {
            let stop = stop.clone();
            let stop_flag = stop.clone();
            let totals = totals.clone();
            ThreadGuard::spawn(
                "fault proxy",
                move || stop_flag.store(true, Ordering::SeqCst),
                move || {
                    accept_loop(
                        listener,
                        upstream,
                        seed,
                        (to_upstream, to_client),
                        totals,
                        stop,
                    )
                },
            )
        };
        Ok(Self {
            address,
            stop,
            acceptor: Some(acceptor),
            to_upstream: totals.0,
            to_client: totals.1,
        })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port clients connect to (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Totals of the client → upstream direction over all connections so far (folded in
    /// every few tens of milliseconds).
    pub fn to_upstream(&self) -> crate::fault::FaultStats {
        self.to_upstream.stats()
    }

    /// Totals of the upstream → client direction.
    pub fn to_client(&self) -> crate::fault::FaultStats {
        self.to_client.stats()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.acceptor.take());
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    seed: u64,
    faults: (Faults, Faults),
    totals: (FaultHandle, FaultHandle),
    stop: Arc<AtomicBool>,
) {
    let mut connections: Vec<(ThreadGuard<()>, ThreadGuard<()>, FaultHandle, FaultHandle)> =
        Vec::new();
    let mut counted: Vec<(crate::fault::FaultStats, crate::fault::FaultStats)> = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2))
                else {
                    continue; // The client sees the connection close: upstream is down.
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let _ = client.set_nonblocking(false);
                n += 1;
                let seed = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9));
                if let Ok(pair) = relay_pair(client, server, seed, faults.0, faults.1, stop.clone())
                {
                    connections.push(pair);
                    counted.push(Default::default());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
        // Which connections had ended before their counts are folded in for the last time.
        let finished: Vec<bool> = connections
            .iter()
            .map(|(a, b, _, _)| a.is_finished() && b.is_finished())
            .collect();
        // Fold each connection's new counts into the totals.
        for ((_, _, up, down), (seen_up, seen_down)) in connections.iter().zip(counted.iter_mut()) {
            let (now_up, now_down) = (up.stats(), down.stats());
            totals.0.add(now_up.minus(seen_up));
            totals.1.add(now_down.minus(seen_down));
            *seen_up = now_up;
            *seen_down = now_down;
        }
        // Reap finished connections.
        for index in (0..finished.len()).rev() {
            if finished[index] {
                connections.remove(index);
                counted.remove(index);
            }
        }
    }
}
