//! The device side of `tgw`: one TCP connection to the device's server, reopened with
//! back-off whenever it ends, a reader that publishes the device's frames and a writer that
//! sends the backplane's.
//!
//! Threads (the backplane side runs on the caller's thread):
//! * **device**: connects (each attempt at most [`CONNECT_TIMEOUT`]), reads, feeds the
//!   [`LengthPrefixDecoder`], checks and publishes each frame; on EOF, reset or a read error
//!   it shuts the socket down and reconnects. It owns the publishing [`Component`].
//! * **writer**: takes frames from the bounded queue and writes each whole (blocking); a
//!   failed write shuts the socket down, so the device thread reconnects.
//!
//! # Back-pressure and dead devices
//! The socket's send buffer is kept small ([`SEND_BUFFER`], about what a Pico W's lwIP
//! window holds) so that the bounded queue, not a multi-megabyte kernel buffer, decides what
//! waits: a device that reads slowly makes the writer block, the queue fill and further
//! messages drop (counted), while its own frames keep being read and published. Stale
//! commands therefore never pile up for minutes.
//!
//! A device that vanishes without closing (power loss, Wi-Fi out of range) is noticed by TCP
//! keepalive when idle ([`KEEPALIVE_IDLE`], probes every [`KEEPALIVE_INTERVAL`],
//! [`KEEPALIVE_PROBES`] of them), and on Linux by `TCP_USER_TIMEOUT` ([`USER_TIMEOUT`]) when
//! data waits unacknowledged or untransmitted (a device that stopped reading altogether). A
//! rebooted device answers the next segment with a reset.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use banyan_host::Component;
use banyan_proto::length_prefix::{Feed, LengthPrefixDecoder};

use super::{Counters, check_from_device};
use crate::reconnect::{Backoff, Reconnect, Say};

/// Longest wait for one connection attempt (a device that is off answers nothing).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Send buffer asked of the kernel (Linux doubles it).
pub const SEND_BUFFER: usize = 16 * 1024;
/// Longest time data may wait unacknowledged or untransmitted before the connection counts
/// as lost (Linux `TCP_USER_TIMEOUT`).
pub const USER_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle time before TCP keepalive probes start.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
/// Time between keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
/// Unanswered probes after which the connection is dead.
pub const KEEPALIVE_PROBES: u32 = 3;

/// Where the device is and how to reach it.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Host name or IP address of the device (`-a`).
    pub host: String,
    /// Its TCP port (`-n`).
    pub port: u16,
    /// Backplane topic for the device's frames (`-e`).
    pub pub_topic: String,
    /// Longest reconnection delay (the first is 0.1 s; see [`Backoff::up_to`]).
    pub max_backoff: Duration,
    /// Frames waiting for the device before new ones are dropped.
    pub queue: usize,
}

impl DeviceConfig {
    fn describe(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// State shared by the backplane side, the device thread and the writer.
#[derive(Debug)]
struct Shared {
    counters: Arc<Counters>,
    /// The open connection's write half, `None` while disconnected.
    writer: Mutex<Option<TcpStream>>,
    online: AtomicBool,
}

impl Shared {
    fn writer(&self) -> MutexGuard<'_, Option<TcpStream>> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The backplane side's handle: queues frames for the device.
#[derive(Debug)]
pub struct DeviceSender {
    tx: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
}

impl DeviceSender {
    /// Queues `frame` (from backplane topic `topic`) for the device, or drops and counts it
    /// when the device is not connected or the queue is full.
    pub fn send(&self, topic: &str, frame: Vec<u8>) {
        let counters = &self.shared.counters;
        if !self.shared.online.load(Ordering::Acquire) {
            if let Some(n) = Counters::bump(&counters.dropped_offline) {
                eprintln!(
                    "tgw: device not connected: dropped a message on {topic:?} ({n} dropped \
                     while offline so far)"
                );
            }
            return;
        }
        match self.tx.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if let Some(n) = Counters::bump(&counters.dropped_queue_full) {
                    eprintln!(
                        "tgw: queue to the device full (device slow): dropped a message on \
                         {topic:?} ({n} dropped so far)"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                // Only if the writer thread died (it runs as long as this sender exists).
                if let Some(n) = Counters::bump(&counters.write_failed) {
                    eprintln!("tgw: the writer thread is gone: dropped a message ({n} so far)");
                }
            }
        }
    }
}

/// Starts the device and writer threads. `publisher` publishes the device's frames.
pub fn start(
    config: DeviceConfig,
    publisher: Component,
    counters: Arc<Counters>,
) -> io::Result<DeviceSender> {
    let (tx, rx) = sync_channel(config.queue.max(1));
    let shared = Arc::new(Shared {
        counters,
        writer: Mutex::new(None),
        online: AtomicBool::new(false),
    });
    {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("tgw-writer".into())
            .spawn(move || write_frames(&rx, &shared))?;
    }
    {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("tgw-device".into())
            .spawn(move || run_device(&config, &publisher, &shared))?;
    }
    Ok(DeviceSender { tx, shared })
}

/// The writer thread: until the backplane side is gone.
fn write_frames(rx: &Receiver<Vec<u8>>, shared: &Shared) {
    let counters = &shared.counters;
    while let Ok(frame) = rx.recv() {
        let mut slot = shared.writer();
        let Some(stream) = slot.as_mut() else {
            Counters::bump(&counters.dropped_offline);
            continue;
        };
        match stream.write_all(&frame) {
            Ok(()) => {
                counters.to_device.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                let n = counters.write_failed.fetch_add(1, Ordering::Relaxed) + 1;
                eprintln!("tgw: writing to the device failed ({error}); {n} frames lost so far");
                // The device thread sees the shutdown as the end of the connection.
                let _ = stream.shutdown(Shutdown::Both);
                *slot = None;
                shared.online.store(false, Ordering::Release);
            }
        }
    }
}

/// The device thread: connect, read until the connection ends, again, on the
/// [`Reconnect`] machine (it says when to try and which failure to log). Runs forever.
fn run_device(config: &DeviceConfig, publisher: &Component, shared: &Shared) {
    let counters = &shared.counters;
    let mut reconnect = Reconnect::new(Backoff::up_to(config.max_backoff), Instant::now());
    let mut decoder = LengthPrefixDecoder::new();
    let mut buf = vec![0u8; 4096];
    println!("Waiting to connect to the server ...");
    loop {
        if let Some(wait) = reconnect.wait(Instant::now()) {
            std::thread::sleep(wait);
        }
        let stream = match connect(config) {
            Ok(stream) => stream,
            Err(error) => {
                let backoff = reconnect.backoff();
                match reconnect.open_failed(Instant::now()) {
                    Say::First => eprintln!(
                        "tgw: cannot reach the device at {} ({error}); retrying (back-off {} s \
                         doubling to {} s)",
                        config.describe(),
                        backoff.min.as_secs_f64(),
                        backoff.max.as_secs_f64()
                    ),
                    Say::Count(n) => eprintln!(
                        "tgw: still cannot reach the device at {} ({error}); {n} attempts so far",
                        config.describe()
                    ),
                    Say::Quiet => {}
                }
                continue;
            }
        };
        let writer = match stream.try_clone() {
            Ok(writer) => writer,
            Err(error) => {
                eprintln!("tgw: cannot share the device connection ({error}); reconnecting");
                reconnect.open_failed(Instant::now());
                continue;
            }
        };
        reconnect.opened(Instant::now());
        counters.connects.fetch_add(1, Ordering::Relaxed);
        *shared.writer() = Some(writer);
        shared.online.store(true, Ordering::Release);
        println!("Successfully connected to: {}", config.describe());
        decoder.reset();
        let reason = read_frames(&stream, &mut decoder, &mut buf, config, publisher, counters);
        shared.online.store(false, Ordering::Release);
        let _ = stream.shutdown(Shutdown::Both);
        *shared.writer() = None;
        counters.lost.fetch_add(1, Ordering::Relaxed);
        let partial = decoder.pending();
        if partial > 0 {
            counters
                .truncated
                .fetch_add(partial as u64, Ordering::Relaxed);
        }
        decoder.reset();
        let partial = if partial > 0 {
            format!(", {partial} bytes of a partial frame dropped")
        } else {
            String::new()
        };
        eprintln!(
            "tgw: lost the device at {} ({reason}{partial}); reconnecting",
            config.describe()
        );
        // A connection that lasted `stable` resets the back-off; a device that accepts and
        // closes at once is retried with growing delays.
        reconnect.lost(Instant::now());
    }
}

/// Resolves and connects (every address the name resolves to, in order), then sets the
/// socket options.
fn connect(config: &DeviceConfig) -> io::Result<TcpStream> {
    let addresses: Vec<SocketAddr> = (config.host.as_str(), config.port)
        .to_socket_addrs()?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing");
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => {
                configure(&stream)?;
                return Ok(stream);
            }
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// No Nagle delay (small frames go at once), a small send buffer, keepalive, user timeout.
fn configure(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let socket = socket2::SockRef::from(stream);
    socket.set_send_buffer_size(SEND_BUFFER)?;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    socket.set_tcp_keepalive(&keepalive)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_user_timeout(Some(USER_TIMEOUT))?;
    Ok(())
}

/// Reads until the connection ends; returns why it ended.
fn read_frames(
    mut stream: &TcpStream,
    decoder: &mut LengthPrefixDecoder,
    buf: &mut [u8],
    config: &DeviceConfig,
    publisher: &Component,
    counters: &Counters,
) -> String {
    loop {
        let n = match stream.read(buf) {
            Ok(0) => return "the device closed the connection".into(),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return error.to_string(),
        };
        let mut input = &buf[..n];
        while let Feed::Frame { payload, remaining } = decoder.feed(input) {
            input = remaining;
            counters.from_device.fetch_add(1, Ordering::Relaxed);
            if let Err(refusal) = check_from_device(payload) {
                if let Some(n) = Counters::bump(&counters.malformed) {
                    eprintln!(
                        "tgw: dropped a frame from the device: {refusal} ({n} dropped so far)"
                    );
                }
                continue;
            }
            match publisher.publish_raw(config.pub_topic.as_bytes(), payload) {
                Ok(()) => {
                    counters.published.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    if let Some(n) = Counters::bump(&counters.publish_failed) {
                        eprintln!(
                            "tgw: cannot publish a device frame on {:?}: {error} ({n} so far)",
                            config.pub_topic
                        );
                    }
                }
            }
        }
    }
}
