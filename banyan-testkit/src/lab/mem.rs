//! Pure in-memory links and a simulated clock, for deterministic single-process tests of
//! sans-IO code (a client against a gateway core, no sockets, no sleeping).
//!
//! [`mem_pair`] gives two connected [`MemEnd`]s. Each implements std `io::Read + io::Write`
//! and embedded-io `Read + Write` (`ErrorType = ErrorKind`). An idle read does not block
//! unless [`MemEnd::set_read_timeout`] says so: it reports `WouldBlock` (std) or
//! `ErrorKind::TimedOut` (embedded-io, the "nothing yet" of `banyan-mcu`'s transports), and
//! with [`MemEnd::tick_on_idle`] it first lets simulated time pass on a [`SimClock`] — so a
//! client polling its link drives the simulation's clock. After [`MemEnd::close`] (either
//! end) reads see end of file and writes fail with `BrokenPipe`.
//!
//! Each direction buffers at most [`CAPACITY`] bytes; a write into a full buffer writes what
//! fits (`WouldBlock` / `ErrorKind::Other` when nothing fits).

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use embedded_io::ErrorKind;

use crate::clock::SimClock;

/// Bytes buffered per direction at most.
pub const CAPACITY: usize = 1 << 20;

#[derive(Debug, Default)]
struct State {
    /// `queues[i]` holds bytes written by end `i` for end `1 - i`.
    queues: [VecDeque<u8>; 2],
    closed: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// One end of an in-memory link (see the module docs).
#[derive(Debug)]
pub struct MemEnd {
    shared: Arc<Shared>,
    side: usize,
    read_timeout: Option<Duration>,
    idle_tick: Option<(SimClock, u64)>,
}

/// Two connected in-memory link ends.
pub fn mem_pair() -> (MemEnd, MemEnd) {
    let shared = Arc::new(Shared::default());
    let end = |side| MemEnd {
        shared: shared.clone(),
        side,
        read_timeout: None,
        idle_tick: None,
    };
    (end(0), end(1))
}

/// What a read found.
enum Got {
    Bytes(usize),
    Eof,
    Nothing,
}

impl MemEnd {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes an idle read wait up to `timeout` for bytes (for a peer on another thread).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// Makes every idle read advance `clock` by `ms` before reporting that nothing arrived.
    pub fn tick_on_idle(&mut self, clock: SimClock, ms: u64) {
        self.idle_tick = Some((clock, ms));
    }

    /// Closes the link for both ends.
    pub fn close(&self) {
        self.lock().closed = true;
        self.shared.changed.notify_all();
    }

    /// `true` once either end closed the link.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Bytes waiting to be read by this end.
    pub fn available(&self) -> usize {
        self.lock().queues[1 - self.side].len()
    }

    /// Appends every byte waiting for this end to `out` (never waits).
    pub fn read_available(&mut self, out: &mut Vec<u8>) -> usize {
        let mut state = self.lock();
        let queue = &mut state.queues[1 - self.side];
        let n = queue.len();
        out.extend(queue.drain(..));
        n
    }

    fn read_bytes(&mut self, buf: &mut [u8]) -> Got {
        if buf.is_empty() {
            return Got::Bytes(0);
        }
        let until = self.read_timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        loop {
            let queue = &mut state.queues[1 - self.side];
            if !queue.is_empty() {
                let n = queue.len().min(buf.len());
                for (slot, byte) in buf.iter_mut().zip(queue.drain(..n)) {
                    *slot = byte;
                }
                self.shared.changed.notify_all();
                return Got::Bytes(n);
            }
            if state.closed {
                return Got::Eof;
            }
            match until {
                Some(until) if Instant::now() < until => {
                    let left = until.saturating_duration_since(Instant::now());
                    state = self
                        .shared
                        .changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                _ => break,
            }
        }
        drop(state);
        if let Some((clock, ms)) = &self.idle_tick {
            clock.advance(*ms);
        }
        Got::Nothing
    }

    /// Writes what fits; `None` when the link is closed.
    fn write_bytes(&mut self, buf: &[u8]) -> Option<usize> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let queue = &mut state.queues[self.side];
        let n = CAPACITY.saturating_sub(queue.len()).min(buf.len());
        queue.extend(&buf[..n]);
        self.shared.changed.notify_all();
        Some(n)
    }
}

impl io::Read for MemEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.read_bytes(buf) {
            Got::Bytes(n) => Ok(n),
            Got::Eof => Ok(0),
            Got::Nothing => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl io::Write for MemEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.write_bytes(buf) {
            None => Err(io::ErrorKind::BrokenPipe.into()),
            Some(0) if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            Some(n) => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl embedded_io::ErrorType for MemEnd {
    type Error = ErrorKind;
}

impl embedded_io::Read for MemEnd {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        match self.read_bytes(buf) {
            Got::Bytes(n) => Ok(n),
            Got::Eof => Ok(0),
            Got::Nothing => Err(ErrorKind::TimedOut),
        }
    }
}

impl embedded_io::Write for MemEnd {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        match self.write_bytes(buf) {
            None => Err(ErrorKind::BrokenPipe),
            Some(0) if !buf.is_empty() => Err(ErrorKind::Other),
            Some(n) => Ok(n),
        }
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_and_idle_reads_tick_the_clock() {
        let clock = SimClock::new();
        let (mut a, mut b) = mem_pair();
        b.tick_on_idle(clock.clone(), 5);
        let mut buf = [0u8; 4];
        assert_eq!(
            embedded_io::Read::read(&mut b, &mut buf),
            Err(ErrorKind::TimedOut)
        );
        assert_eq!(clock.now_ms(), 5);
        embedded_io::Write::write_all(&mut a, b"hi").unwrap();
        assert_eq!(embedded_io::Read::read(&mut b, &mut buf), Ok(2));
        assert_eq!(&buf[..2], b"hi");
        assert_eq!(clock.now_ms(), 5);
        a.close();
        assert_eq!(embedded_io::Read::read(&mut b, &mut buf), Ok(0));
        assert!(io::Write::write(&mut b, b"x").is_err());
    }

    #[test]
    fn read_timeout_waits_for_another_thread() {
        let (mut a, mut b) = mem_pair();
        b.set_read_timeout(Some(Duration::from_secs(30)));
        let writer = std::thread::spawn(move || io::Write::write_all(&mut a, b"late"));
        let mut buf = [0u8; 4];
        let n = io::Read::read(&mut b, &mut buf).unwrap();
        assert!(n > 0 && b"late".starts_with(&buf[..n]));
        writer.join().unwrap().unwrap();
    }
}
