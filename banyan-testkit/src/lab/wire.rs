//! [`SerialWire`]: a virtual serial cable over TCP on 127.0.0.1, for an MCU and a gateway that
//! are separate processes (QEMU, `banyan-serial-echo`, `banyan-gateway --tcp`).
//!
//! Each end is a listening port; whoever connects to it becomes that end of the cable, and a
//! new connection replaces the old one. As on a real UART, a peer that disconnects and comes
//! back (a restarted gateway) is invisible to the other end, and bytes sent while an end has
//! nobody connected are lost. Each direction is damaged by its own [`Faults`], and
//! [`SerialWire::unplug`] drops both ends' connections at once.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fault::{FaultHandle, FaultInjector, FaultStats, Faults};
use crate::thread::ThreadGuard;

/// How long one side's read may block per round of the wire's loop.
const SLICE: Duration = Duration::from_millis(2);

/// One end's current connection, as a writer that drops bytes while nobody is connected.
#[derive(Debug, Default)]
struct Slot(Option<TcpStream>);

impl Read for Slot {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Slot {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(stream) = &mut self.0
            && stream.write_all(buf).is_err()
        {
            self.0 = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A virtual serial cable (see the module docs); stopped on drop.
#[derive(Debug)]
pub struct SerialWire {
    mcu: SocketAddr,
    host: SocketAddr,
    to_host: FaultHandle,
    to_mcu: FaultHandle,
    unplugs: Arc<AtomicU64>,
    _thread: ThreadGuard<()>,
}

fn listener() -> Result<(TcpListener, SocketAddr)> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding a wire end", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("wire listener", e))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::io("wire address", e))?;
    Ok((listener, address))
}

impl SerialWire {
    /// A cable whose `to_host` faults damage what the MCU sends and `to_mcu` what the host
    /// sends.
    pub fn tcp(seed: u64, to_host: Faults, to_mcu: Faults) -> Result<Self> {
        let (mcu_listener, mcu) = listener()?;
        let (host_listener, host) = listener()?;
        let towards_host = FaultInjector::new(Slot::default(), seed, to_host, Faults::NONE);
        let towards_mcu = FaultInjector::new(Slot::default(), seed ^ 0xA5A5, to_mcu, Faults::NONE);
        let (to_host, to_mcu) = (towards_host.handle(), towards_mcu.handle());
        let stop = Arc::new(AtomicBool::new(false));
        let unplugs = Arc::new(AtomicU64::new(0));
        let thread = {
            let stop_flag = stop.clone();
            let unplugs = unplugs.clone();
            ThreadGuard::spawn(
                "serial wire",
                move || stop_flag.store(true, Ordering::SeqCst),
                move || {
                    run(
                        [mcu_listener, host_listener],
                        [towards_host, towards_mcu],
                        &stop,
                        &unplugs,
                    )
                },
            )
        };
        Ok(Self {
            mcu,
            host,
            to_host,
            to_mcu,
            unplugs,
            _thread: thread,
        })
    }

    /// Where the MCU side connects (e.g. `banyan-serial-echo --tcp`).
    pub fn mcu_address(&self) -> SocketAddr {
        self.mcu
    }

    /// Where the host side connects (e.g. `banyan-gateway --tcp`).
    pub fn host_address(&self) -> SocketAddr {
        self.host
    }

    /// What was done to MCU → host bytes.
    pub fn to_host(&self) -> FaultStats {
        self.to_host.stats()
    }

    /// What was done to host → MCU bytes.
    pub fn to_mcu(&self) -> FaultStats {
        self.to_mcu.stats()
    }

    /// Drops both ends' current connections (the cable is pulled; peers may reconnect).
    pub fn unplug(&self) {
        self.unplugs.fetch_add(1, Ordering::SeqCst);
    }
}

/// The wire's loop: accept on both ends, move bytes both ways through the injectors.
fn run(
    listeners: [TcpListener; 2],
    mut towards: [FaultInjector<Slot>; 2],
    stop: &AtomicBool,
    unplugs: &AtomicU64,
) {
    // `readers[0]` is the MCU's connection (its bytes go `towards[0]`, to the host), and
    // `readers[1]` the host's.
    let mut readers: [Option<TcpStream>; 2] = [None, None];
    let mut seen_unplugs = 0;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let now = unplugs.load(Ordering::SeqCst);
        if now != seen_unplugs {
            seen_unplugs = now;
            for (side, reader) in readers.iter_mut().enumerate() {
                if let Some(stream) = reader.take() {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
                towards[1 - side].get_mut().0 = None;
            }
        }
        for side in 0..2 {
            if let Ok((stream, _)) = listeners[side].accept() {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(SLICE));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                if let Ok(writer) = stream.try_clone() {
                    if let Some(old) = readers[side].take() {
                        let _ = old.shutdown(std::net::Shutdown::Both);
                    }
                    towards[1 - side].get_mut().0 = Some(writer);
                    readers[side] = Some(stream);
                }
            }
            let Some(reader) = readers[side].as_mut() else {
                continue;
            };
            match reader.read(&mut buf) {
                Ok(0) => {
                    readers[side] = None;
                    towards[1 - side].get_mut().0 = None;
                }
                Ok(n) => {
                    let _ = towards[side].write_all(&buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let _ = towards[side].flush();
                }
                Err(_) => {
                    readers[side] = None;
                    towards[1 - side].get_mut().0 = None;
                }
            }
        }
        if readers.iter().all(Option::is_none) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
