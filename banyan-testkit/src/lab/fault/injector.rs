//! [`FaultInjector`]: a link wrapper (std `io` or embedded-io) that damages frames in both
//! directions through two [`Direction`]s.

use std::io;
use std::time::Instant;

use embedded_io::ErrorKind;

use super::direction::Direction;
use super::{FaultHandle, Faults};
use crate::clock::SimClock;

/// The milliseconds `delay` is measured in.
#[derive(Debug)]
enum Time {
    /// Real time since the injector was made.
    Wall(Instant),
    /// A test's simulated time.
    Sim(SimClock),
}

/// A link wrapper that damages frames in both directions (see the module docs).
#[derive(Debug)]
pub struct FaultInjector<T> {
    inner: T,
    clock: Time,
    tx: Direction,
    rx: Direction,
    handle: FaultHandle,
}

impl<T> FaultInjector<T> {
    /// Wraps `inner`; `tx` applies to what is written through it, `rx` to what is read.
    pub fn new(inner: T, seed: u64, tx: Faults, rx: Faults) -> Self {
        Self::timed(inner, seed, tx, rx, Time::Wall(Instant::now()))
    }

    /// [`FaultInjector::new`] whose `delay` runs on simulated time.
    pub fn with_clock(inner: T, seed: u64, tx: Faults, rx: Faults, clock: SimClock) -> Self {
        Self::timed(inner, seed, tx, rx, Time::Sim(clock))
    }

    fn timed(inner: T, seed: u64, tx: Faults, rx: Faults, clock: Time) -> Self {
        Self {
            inner,
            clock,
            tx: Direction::new(tx, seed),
            rx: Direction::new(rx, seed ^ 0x5DEE_CE66_D1CE_4E5B),
            handle: FaultHandle::default(),
        }
    }

    /// The statistics and cut switch, shareable with other threads.
    pub fn handle(&self) -> FaultHandle {
        self.handle.clone()
    }

    /// The wrapped link.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped link, mutably (bytes written to it directly bypass the faults).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the link; frames still held back are lost.
    pub fn into_inner(self) -> T {
        self.inner
    }

    fn now(&self) -> u64 {
        match &self.clock {
            Time::Wall(origin) => u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX),
            Time::Sim(clock) => clock.now_ms(),
        }
    }

    /// Takes up to `buf.len()` ready received bytes.
    fn take_ready(&mut self, buf: &mut [u8]) -> usize {
        let n = self.rx.ready.len().min(buf.len());
        for (slot, byte) in buf.iter_mut().zip(self.rx.ready.drain(..n)) {
            *slot = byte;
        }
        n
    }
}

/// How a link's own read and write look to the injector's shared logic, for std `io` and
/// embedded-io alike (`E` is the side's error type).
struct Side<R, W, E> {
    read: R,
    write: W,
    /// The error for a link that accepts no bytes.
    write_zero: fn() -> E,
    /// The error for a cut link.
    broken: fn() -> E,
}

impl<T> FaultInjector<T> {
    /// Sends the frames that are ready (or due) to the link.
    fn push_tx<R, W, E>(&mut self, side: &mut Side<R, W, E>) -> Result<(), E>
    where
        W: FnMut(&mut T, &[u8]) -> Result<usize, E>,
    {
        let now = self.now();
        self.tx.release(now);
        let ready: Vec<u8> = self.tx.ready.drain(..).collect();
        let mut rest = &ready[..];
        while !rest.is_empty() {
            match (side.write)(&mut self.inner, rest)? {
                0 => return Err((side.write_zero)()),
                n => rest = &rest[n..],
            }
        }
        Ok(())
    }

    fn read_with<R, W, E>(&mut self, buf: &mut [u8], mut side: Side<R, W, E>) -> Result<usize, E>
    where
        R: FnMut(&mut T, &mut [u8]) -> Result<usize, E>,
        W: FnMut(&mut T, &[u8]) -> Result<usize, E>,
    {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut chunk = [0u8; 1024];
        loop {
            if self.handle.is_cut() {
                return Ok(0);
            }
            // Held frames go out on the link even when nobody writes.
            self.push_tx(&mut side)?;
            let now = self.now();
            self.rx.release(now);
            if !self.rx.ready.is_empty() {
                return Ok(self.take_ready(buf));
            }
            match (side.read)(&mut self.inner, &mut chunk)? {
                0 => {
                    self.rx.flush_pending(now, &self.handle);
                    if self.rx.ready.is_empty() {
                        return Ok(0);
                    }
                }
                n => self.rx.feed(&chunk[..n], now, &self.handle),
            }
        }
    }

    fn write_with<R, W, E>(&mut self, buf: &[u8], mut side: Side<R, W, E>) -> Result<usize, E>
    where
        W: FnMut(&mut T, &[u8]) -> Result<usize, E>,
    {
        if self.handle.is_cut() {
            return Err((side.broken)());
        }
        let now = self.now();
        self.tx.feed(buf, now, &self.handle);
        if self.handle.is_cut() {
            return Err((side.broken)());
        }
        self.push_tx(&mut side)?;
        Ok(buf.len())
    }
}

type StdSide<T> = Side<
    fn(&mut T, &mut [u8]) -> io::Result<usize>,
    fn(&mut T, &[u8]) -> io::Result<usize>,
    io::Error,
>;

fn std_side<T: io::Read + io::Write>() -> StdSide<T> {
    Side {
        read: |t, b| t.read(b),
        write: |t, b| t.write(b),
        write_zero: || io::ErrorKind::WriteZero.into(),
        broken: || io::ErrorKind::BrokenPipe.into(),
    }
}

impl<T: io::Read + io::Write> io::Read for FaultInjector<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, std_side())
    }
}

impl<T: io::Read + io::Write> io::Write for FaultInjector<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(buf, std_side())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_tx(&mut std_side())?;
        self.inner.flush()
    }
}

impl<T: io::Read + io::Write + std::os::fd::AsRawFd> std::os::fd::AsRawFd for FaultInjector<T> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T: embedded_io::ErrorType> embedded_io::ErrorType for FaultInjector<T> {
    type Error = ErrorKind;
}

type EioSide<T> = Side<
    fn(&mut T, &mut [u8]) -> Result<usize, ErrorKind>,
    fn(&mut T, &[u8]) -> Result<usize, ErrorKind>,
    ErrorKind,
>;

fn eio_side<T: embedded_io::Read + embedded_io::Write>() -> EioSide<T> {
    use embedded_io::Error as _;
    Side {
        read: |t, b| t.read(b).map_err(|e| e.kind()),
        write: |t, b| t.write(b).map_err(|e| e.kind()),
        write_zero: || ErrorKind::WriteZero,
        broken: || ErrorKind::BrokenPipe,
    }
}

impl<T: embedded_io::Read + embedded_io::Write> embedded_io::Read for FaultInjector<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.read_with(buf, eio_side())
    }
}

impl<T: embedded_io::Read + embedded_io::Write> embedded_io::Write for FaultInjector<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.write_with(buf, eio_side())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        use embedded_io::Error as _;
        self.push_tx(&mut eio_side())?;
        self.inner.flush().map_err(|e| e.kind())
    }
}
