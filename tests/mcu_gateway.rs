//! The MCU echo client (`banyan-mcu`, the code the firmware runs) through the real serial
//! gateway, backplane and echo server. The link is a Unix socket pair; in the lossy test the
//! client's end drops and corrupts frames at seeded rates in both directions.
//!
//! QEMU runs the same client as firmware in `scripts/qemu-e2e.sh`.

mod common;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use banyan_host::gateway::{Connector, Gateway, GatewayStats, Link};
use banyan_host::{Result, ShutdownHandle};
use banyan_mcu::{EchoClient, EchoConfig, EchoSummary, Event, StdClock};
use common::{EchoServer, backplane, config};

/// How long one `read` of the client's link may block (the client's polling interval).
const READ_POLL: Duration = Duration::from_millis(5);

/// Hands the gateway the socket ends the test offers.
struct PipeConnector(Receiver<UnixStream>);

impl Connector for PipeConnector {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        self.0
            .try_recv()
            .map(|stream| Box::new(stream) as Box<dyn Link>)
            .map_err(|_| io::Error::new(io::ErrorKind::NotFound, "no link offered yet"))
    }

    fn describe(&self) -> String {
        "test pipe".into()
    }
}

/// A gateway thread on a backplane, stopped on drop.
struct RunningGateway {
    links: Sender<UnixStream>,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<Result<GatewayStats>>>,
}

impl RunningGateway {
    fn start(backplane: &banyan_host::Backplane) -> Self {
        let (links, offered) = channel();
        let component = config(backplane, "Gateway")
            .connect()
            .expect("gateway connects");
        let gateway = Gateway::new(component, PipeConnector(offered));
        let stop = gateway.shutdown_handle();
        Self {
            links,
            stop,
            thread: Some(std::thread::spawn(move || gateway.run())),
        }
    }

    /// A new link: returns the MCU's end.
    fn link(&self) -> UnixStream {
        let (mcu, gateway) = UnixStream::pair().expect("socket pair");
        self.links.send(gateway).expect("gateway running");
        mcu.set_read_timeout(Some(READ_POLL)).expect("read timeout");
        mcu
    }

    fn stop(mut self) -> GatewayStats {
        self.stop.shutdown().expect("stop gateway");
        let thread = self.thread.take().expect("running");
        thread
            .join()
            .expect("gateway thread")
            .expect("gateway result")
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.stop.shutdown();
            let _ = thread.join();
        }
    }
}

/// xorshift64*, seeded: deterministic fault choices.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// The client's end of the link as an embedded-io transport. Under the client's contract an
/// idle read reports `TimedOut` (a Unix socket with a read timeout says `WouldBlock`). With
/// `faults` set, each frame the client writes is dropped or has one byte replaced with
/// probability `drop`/`corrupt` ‰, and each chunk it reads likewise.
struct ClientLink {
    stream: UnixStream,
    rng: Rng,
    drop: u64,
    corrupt: u64,
    /// Bytes of the frame being written, up to its delimiter.
    pending: Vec<u8>,
    injected: u32,
}

impl ClientLink {
    fn clean(stream: UnixStream) -> Self {
        Self::lossy(stream, 1, 0, 0)
    }

    fn lossy(stream: UnixStream, seed: u64, drop: u64, corrupt: u64) -> Self {
        Self {
            stream,
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            drop,
            corrupt,
            pending: Vec::new(),
            injected: 0,
        }
    }

    /// Applies the faults to `bytes`; `false` when they are dropped.
    fn damage(&mut self, bytes: &mut [u8]) -> bool {
        if self.rng.chance(self.drop) {
            self.injected += 1;
            return false;
        }
        if !bytes.is_empty() && self.rng.chance(self.corrupt) {
            self.injected += 1;
            let at = self.rng.below(bytes.len() as u64) as usize;
            bytes[at] ^= 1 + self.rng.below(255) as u8;
        }
        true
    }
}

impl embedded_io::ErrorType for ClientLink {
    type Error = io::Error;
}

impl embedded_io::Read for ClientLink {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = match self.stream.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                other => other?,
            };
            if n == 0 || self.damage(&mut buf[..n]) {
                return Ok(n);
            }
            // The chunk was dropped: read on (the caller asked for bytes, not for nothing).
        }
    }
}

impl embedded_io::Write for ClientLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &byte in buf {
            self.pending.push(byte);
            if byte == 0 {
                let mut frame = std::mem::take(&mut self.pending);
                if self.damage(&mut frame) {
                    self.stream.write_all(&frame)?;
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn received_numbers(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Received { number, .. } => Some(*number),
            _ => None,
        })
        .collect()
}

fn run_client(link: &mut ClientLink, config: EchoConfig<'static>) -> (EchoSummary, Vec<Event>) {
    let mut events = Vec::new();
    let mut client: EchoClient<'_> = EchoClient::new(config);
    let summary = client
        .run(link, &StdClock::new(), &mut |e: Event| events.push(e))
        .expect("echo completes");
    (summary, events)
}

#[test]
fn mcu_client_echoes_through_the_real_gateway() {
    let backplane = backplane();
    let server = EchoServer::start(&backplane);
    let gateway = RunningGateway::start(&backplane);
    let mut link = ClientLink::clean(gateway.link());

    let (summary, events) = run_client(&mut link, EchoConfig::seed(0x1234));
    assert_eq!(summary.received, 11);
    assert_eq!(
        received_numbers(&events),
        (0..=10).rev().collect::<Vec<_>>()
    );
    assert!(events.contains(&Event::Finished {
        first_number: 10,
        count: 11
    }));
    assert_eq!(summary.bad_frames, 0);

    let stats = gateway.stop();
    assert_eq!(stats.corrupt, 0);
    assert!(stats.hellos >= 1);
    assert!(stats.published >= 11, "{stats:?}");
    // The server saw every number (re-sends after a slow start may repeat some).
    let served = server.stop();
    for n in 0..=10 {
        assert!(served.contains(&n), "{n} not served: {served:?}");
    }
}

#[test]
fn mcu_client_survives_a_lossy_link_to_the_real_gateway() {
    let backplane = backplane();
    let server = EchoServer::start(&backplane);
    let gateway = RunningGateway::start(&backplane);
    let mut link = ClientLink::lossy(gateway.link(), 7, 80, 80);
    let config = EchoConfig {
        timeout_ms: 300,
        max_retries: Some(60),
        ..EchoConfig::seed(0x5678)
    };

    let (summary, events) = run_client(&mut link, config);
    assert_eq!(summary.received, 11);
    // Each number counted exactly once, in order, whatever was lost or repeated.
    assert_eq!(
        received_numbers(&events),
        (0..=10).rev().collect::<Vec<_>>()
    );
    assert!(link.injected > 0, "the link injected no faults");

    let stats = gateway.stop();
    drop(server);
    // Every frame the gateway accepted had a valid CRC; damaged ones were counted, not used.
    assert!(stats.published >= 11, "{stats:?}");
}
