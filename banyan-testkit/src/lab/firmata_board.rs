//! [`FirmataBoard`]: a stand-in for a stock Arduino running StandardFirmata behind a TCP
//! stream (what `ardgw --tcp` connects to), answering the handshake with bytes recorded from
//! the real firmware on the emulated Uno (`banyan-gateways/tests/firmata/standard_firmata.txt`)
//! and recording every byte the gateway sends.
//!
//! Answers: REPORT_VERSION (`F9`) and the firmware query (`F0 79 F7`) get the recorded
//! version and firmware report; the capability query (`F0 6B F7`) gets the recorded capability
//! and analog-mapping responses. Everything else is only recorded. A test injects board
//! messages ([`send`](FirmataBoard::send): a port report, an unsolicited firmware report as
//! after a reset) and drops the connection as an unplugged cable would
//! ([`drop_connection`](FirmataBoard::drop_connection)). Dropping the board joins its
//! thread.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const RECORDED: &str = include_str!("../../../banyan-gateways/tests/firmata/standard_firmata.txt");

/// A recorded answer of StandardFirmata 2.4 on the Uno: `identity` (version and firmware
/// report) or `pins` (capability and analog-mapping responses).
pub fn recorded(name: &str) -> Vec<u8> {
    let line = RECORDED
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_default();
    (0..line.len() / 2)
        .filter_map(|i| u8::from_str_radix(line.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

#[derive(Debug, Default)]
struct State {
    connections: u64,
    current: Option<TcpStream>,
    received: Vec<u8>,
}

/// The fake board (see the module docs).
#[derive(Debug)]
pub struct FirmataBoard {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FirmataBoard {
    /// Listens on 127.0.0.1 and an OS-chosen port.
    pub fn start() -> Result<Self> {
        let io = |e| Error::io("the fake Firmata board's listener", e);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let port = listener.local_addr().map_err(io)?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || serve(&listener, &state, &stop))
        };
        Ok(Self {
            port,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// The TCP port (`ardgw --tcp 127.0.0.1:PORT`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.lock().connections
    }

    /// Every byte received, all connections in order.
    pub fn received(&self) -> Vec<u8> {
        self.lock().received.clone()
    }

    /// Forgets what was received so far.
    pub fn clear(&self) {
        self.lock().received.clear();
    }

    /// Waits until the bytes received contain `needle`.
    pub fn wait_for(&self, needle: &[u8], timeout: Duration) -> Result<()> {
        let until = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.windows(needle.len()).any(|w| w == needle) {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(Error::io(
                    format!("the board never received {needle:02x?}; got {received:02x?}"),
                    std::io::ErrorKind::TimedOut.into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `bytes` as the board, on the current connection.
    pub fn send(&self, bytes: &[u8]) -> Result<()> {
        let mut state = self.lock();
        let stream = state.current.as_mut().ok_or_else(|| {
            Error::io(
                "sending as the board",
                std::io::ErrorKind::NotConnected.into(),
            )
        })?;
        stream
            .write_all(bytes)
            .map_err(|e| Error::io("sending as the board", e))?;
        Ok(())
    }

    /// Closes the current connection (an unplugged cable).
    pub fn drop_connection(&self) {
        if let Some(stream) = self.lock().current.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FirmataBoard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.drop_connection();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections (a new one replaces the old) and answers queries.
fn serve(listener: &TcpListener, state: &Mutex<State>, stop: &AtomicBool) {
    let identity = recorded("identity");
    let pins = recorded("pins");
    let mut reader: Option<TcpStream> = None;
    // Query bytes seen, for matching across reads.
    let mut window: Vec<u8> = Vec::new();
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::SeqCst) {
        if let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
            let _ = stream.set_nodelay(true);
            let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
            guard.connections += 1;
            reader = stream.try_clone().ok();
            guard.current = Some(stream);
            window.clear();
        }
        let Some(stream) = reader.as_mut() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        match stream.read(&mut buf) {
            Ok(0) => reader = None,
            Ok(n) => {
                let bytes = &buf[..n];
                state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .received
                    .extend_from_slice(bytes);
                window.extend_from_slice(bytes);
                let mut answer = Vec::new();
                // The firmware query is answered by version + name; a lone F9 by the same
                // (StandardFirmata answers F9 with its version only; the name is harmless).
                if take(&mut window, &[0xF0, 0x79, 0xF7]) {
                    answer.extend_from_slice(&identity);
                }
                if take(&mut window, &[0xF0, 0x6B, 0xF7]) {
                    answer.extend_from_slice(&pins);
                }
                if window.len() > 64 {
                    window.drain(..window.len() - 64);
                }
                if !answer.is_empty() {
                    let _ = stream.write_all(&answer);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => reader = None,
        }
    }
}

/// Removes the first `needle` from `window` (and what precedes it); `true` if found.
fn take(window: &mut Vec<u8>, needle: &[u8]) -> bool {
    match window.windows(needle.len()).position(|w| w == needle) {
        Some(at) => {
            window.drain(..at + needle.len());
            true
        }
        None => false,
    }
}
