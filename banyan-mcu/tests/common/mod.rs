//! A deterministic simulation of the host side for the MCU client: the **real** gateway core
//! (`banyan_proto::gateway::GatewaySession`), an in-memory backplane that routes messages with
//! ZeroMQ prefix matching, an echo server and a recording component on it, a link that drops,
//! corrupts and duplicates frames at seeded rates (the test kit's `FaultPipe`), and the kit's
//! simulated millisecond clock, which only advances when the client waits.
//!
//! This world is specific to the MCU client (a gateway core and a bus in one thread, driven
//! by the client's own polls); the pieces it is built from — fault injection, seeded random
//! numbers, simulated time, frame decoding — are `banyan-testkit`'s.
//!
//! Nothing here sleeps or opens sockets; the same seed gives the same run.

#![allow(dead_code)] // Each test binary uses a different part.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use banyan_mcu::FnClock;
use banyan_proto::gateway::{Action, GatewayConfig, GatewaySession, GatewayStats};
use banyan_proto::payload::MapReader;
use banyan_proto::topic::matches;
use banyan_testkit::PERCENT;
pub use banyan_testkit::{FaultPipe, FaultStats, Faults, Rng};
use banyan_testkit::{FrameReader, Received, SimClock};
use embedded_io::ErrorKind;

/// A bad link for the echo client's tests, both ways: 6 % of frames lost, 8 % duplicated, 4 %
/// missing a byte, 0.3 % of bytes corrupted.
pub const LOSSY: Faults = Faults {
    drop: 6 * PERCENT,
    corrupt_byte: 3 * PERCENT / 10,
    lose_byte: 4 * PERCENT,
    duplicate: 8 * PERCENT,
    ..Faults::NONE
};

/// Simulated time that passes per idle `read` (the client's poll interval).
pub const TICK_MS: u64 = 5;

/// How the simulated host behaves.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    /// An echo server republishes `echo` payloads on `reply`.
    pub echoes: bool,
    /// Per mille of echo replies lost in the backplane.
    pub lose_reply: u32,
    /// Milliseconds a message takes through the backplane.
    pub bus_latency_ms: u64,
    /// Milliseconds a subscription proof takes (probe round trip).
    pub proof_latency_ms: u64,
    /// The gateway exists (answers at all).
    pub gateway_up: bool,
}

impl Default for Host {
    fn default() -> Self {
        Self {
            echoes: true,
            lose_reply: 0,
            bus_latency_ms: 1,
            proof_latency_ms: 2,
            gateway_up: true,
        }
    }
}

/// A message on the simulated backplane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    pub topic: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Who published a message on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Gateway,
    EchoServer,
    Peer,
}

struct World {
    clock: SimClock,
    rng: Rng,
    host: Host,
    nonce: u32,
    gateway: GatewaySession<16, 64>,
    /// The gateway's backplane subscriptions (its ZeroMQ SUB filter).
    gateway_filter: Vec<String>,
    proof_due: Option<u64>,
    /// (due time, origin, message)
    bus: Vec<(u64, Origin, BusMessage)>,
    /// The recording peer component's subscriptions and what it received.
    peer_subs: Vec<Vec<u8>>,
    peer_inbox: Vec<BusMessage>,
    /// What the gateway published for the MCU, in order.
    from_mcu: Vec<BusMessage>,
    up: FaultPipe,
    down: FaultPipe,
    /// Bytes on the wire towards the client.
    wire: VecDeque<u8>,
    /// Frames the gateway sent, decoded (for assertions about acks and pongs).
    sent_frames: Vec<String>,
    /// Frames the client wrote, decoded before link faults.
    client_frames: Vec<String>,
    client_reader: FrameReader,
    closed: bool,
    restarts: u32,
}

/// What a poll produced, owned.
pub type Got = banyan_testkit::Got<banyan_mcu::LinkEvent>;

/// Polls `client` until `done` holds or `limit_ms` of simulated time passed; returns what
/// the polls produced. Panics on a client error.
pub fn pump<const N: usize, const L: usize, const B: usize>(
    client: &mut banyan_mcu::Client<N, L, B>,
    sim: &Sim,
    limit_ms: u64,
    mut done: impl FnMut(&banyan_mcu::Client<N, L, B>, &[Got]) -> bool,
) -> Vec<Got> {
    let mut got = Vec::new();
    let mut transport = sim.transport();
    let clock = sim.clock();
    let end = sim.now_ms() + limit_ms;
    while sim.now_ms() < end && !done(client, &got) {
        match client.poll(&mut transport, &clock) {
            Ok(Some(banyan_mcu::Incoming::Message(m))) => got.push(Got::Message(
                String::from_utf8(m.topic.to_vec()).unwrap(),
                m.payload.to_vec(),
            )),
            Ok(Some(banyan_mcu::Incoming::Link(event))) => got.push(Got::Link(event)),
            Ok(None) => {}
            Err(e) => panic!("client error: {e}"),
        }
    }
    got
}

/// The simulated world. Clone handles share it.
#[derive(Clone)]
pub struct Sim(Rc<RefCell<World>>);

impl Sim {
    pub fn new(seed: u64, up: Faults, down: Faults, host: Host) -> Self {
        let nonce = 0xB00F_0001;
        let mut gateway = GatewaySession::new(GatewayConfig::new(nonce));
        let world = World {
            clock: SimClock::new(),
            rng: Rng::new(seed ^ 0x55),
            host,
            nonce,
            gateway: {
                gateway.link_opened();
                gateway
            },
            gateway_filter: Vec::new(),
            proof_due: None,
            bus: Vec::new(),
            peer_subs: Vec::new(),
            peer_inbox: Vec::new(),
            from_mcu: Vec::new(),
            up: FaultPipe::new(seed.wrapping_add(1), up),
            down: FaultPipe::new(seed.wrapping_add(2), down),
            wire: VecDeque::new(),
            sent_frames: Vec::new(),
            client_frames: Vec::new(),
            client_reader: FrameReader::new(),
            closed: false,
            restarts: 0,
        };
        let sim = Sim(Rc::new(RefCell::new(world)));
        sim.0.borrow_mut().perform();
        sim
    }

    pub fn clean() -> Self {
        Sim::new(1, Faults::NONE, Faults::NONE, Host::default())
    }

    pub fn transport(&self) -> SimTransport {
        SimTransport(self.clone())
    }

    /// The world's time as the client's clock.
    pub fn clock(&self) -> FnClock<impl Fn() -> u64 + use<>> {
        let clock = self.0.borrow().clock.clone();
        FnClock(move || clock.now_ms())
    }

    pub fn now_ms(&self) -> u64 {
        self.0.borrow().clock.now_ms()
    }

    pub fn gateway_stats(&self) -> GatewayStats {
        self.0.borrow().gateway.stats()
    }

    /// The MCU's subscriptions as the gateway holds them.
    pub fn gateway_subscriptions(&self) -> Vec<Vec<u8>> {
        self.0
            .borrow()
            .gateway
            .subscriptions()
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// The gateway's backplane subscriptions (ZeroMQ filter), with repetitions.
    pub fn gateway_filter(&self) -> Vec<String> {
        self.0.borrow().gateway_filter.clone()
    }

    /// Messages the MCU published that reached the backplane, in order.
    pub fn mcu_published(&self) -> Vec<BusMessage> {
        self.0.borrow().from_mcu.clone()
    }

    /// Numbers of the `echo` messages that reached the backplane, re-sends included.
    pub fn echo_numbers(&self) -> Vec<u32> {
        self.mcu_published()
            .iter()
            .filter(|m| m.topic == b"echo")
            .filter_map(|m| {
                MapReader::new(&m.payload)
                    .ok()?
                    .get("message_number")?
                    .as_u64()
            })
            .map(|n| n as u32)
            .collect()
    }

    /// Descriptions of the frames the gateway sent (before link faults).
    pub fn sent_frames(&self) -> Vec<String> {
        self.0.borrow().sent_frames.clone()
    }

    /// Descriptions of the frames the client wrote (before link faults).
    pub fn client_frames(&self) -> Vec<String> {
        self.0.borrow().client_frames.clone()
    }

    /// How many frames the client wrote whose description starts with `prefix`.
    pub fn client_sent(&self, prefix: &str) -> usize {
        self.client_frames()
            .iter()
            .filter(|f| f.starts_with(prefix))
            .count()
    }

    pub fn fault_stats(&self) -> (FaultStats, FaultStats) {
        let w = self.0.borrow();
        (w.up.stats(), w.down.stats())
    }

    pub fn set_faults(&self, up: Faults, down: Faults) {
        let mut w = self.0.borrow_mut();
        w.up.set_faults(up);
        w.down.set_faults(down);
    }

    /// The recording peer subscribes (immediately in force).
    pub fn peer_subscribe(&self, topic: &str) {
        self.0
            .borrow_mut()
            .peer_subs
            .push(topic.as_bytes().to_vec());
    }

    pub fn peer_inbox(&self) -> Vec<BusMessage> {
        self.0.borrow().peer_inbox.clone()
    }

    /// The recording peer publishes a message on the backplane.
    pub fn peer_publish(&self, topic: &str, payload: &[u8]) {
        let mut w = self.0.borrow_mut();
        let due = w.clock.now_ms() + w.host.bus_latency_ms;
        w.bus.push((
            due,
            Origin::Peer,
            BusMessage {
                topic: topic.as_bytes().to_vec(),
                payload: payload.to_vec(),
            },
        ));
    }

    /// The gateway process restarts: a new session (new nonce, no subscriptions), its
    /// backplane subscriptions gone; it greets the MCU on the reopened link.
    pub fn restart_gateway(&self) {
        let mut w = self.0.borrow_mut();
        w.restarts += 1;
        w.nonce = w.nonce.wrapping_add(1);
        w.gateway = GatewaySession::new(GatewayConfig::new(w.nonce));
        w.gateway_filter.clear();
        w.proof_due = None;
        w.gateway.link_opened();
        w.perform();
    }

    /// The gateway stops answering (and receiving) until [`gateway_back`](Self::gateway_back).
    pub fn gateway_down(&self) {
        self.0.borrow_mut().host.gateway_up = false;
    }

    pub fn gateway_back(&self) {
        self.0.borrow_mut().host.gateway_up = true;
    }

    /// The gateway pings the client.
    pub fn ping(&self, seq: u32) {
        let bytes =
            banyan_proto::frame::encode_to_vec(&banyan_proto::frame::Frame::Ping { seq }).unwrap();
        self.0.borrow_mut().wire.extend(bytes);
    }

    /// Puts raw bytes on the wire towards the client, without faults.
    pub fn inject_to_client(&self, bytes: &[u8]) {
        self.0.borrow_mut().wire.extend(bytes);
    }

    /// Feeds raw bytes to the gateway core, without faults.
    pub fn inject_to_gateway(&self, bytes: &[u8]) {
        let mut w = self.0.borrow_mut();
        w.gateway.on_link_bytes(bytes);
        w.perform();
    }

    /// The link closes: reads return end of file.
    pub fn close(&self) {
        self.0.borrow_mut().closed = true;
    }

    pub fn is_closed(&self) -> bool {
        self.0.borrow().closed
    }

    /// Lets `ms` of simulated time pass, delivering what falls due.
    pub fn advance(&self, ms: u64) {
        let mut w = self.0.borrow_mut();
        w.clock.advance(ms);
        w.run_due();
    }

    pub fn has_bytes(&self) -> bool {
        !self.0.borrow().wire.is_empty()
    }

    /// Takes up to `buf.len()` waiting bytes, in a random chunk size (like a UART FIFO or TCP).
    pub fn take_bytes(&self, buf: &mut [u8]) -> usize {
        let mut w = self.0.borrow_mut();
        let available = w.wire.len().min(buf.len());
        if available == 0 {
            return 0;
        }
        let n = 1 + w.rng.below(available as u64) as usize;
        for slot in buf.iter_mut().take(n) {
            *slot = w.wire.pop_front().unwrap_or(0);
        }
        n
    }

    /// Bytes written by the client.
    pub fn receive_from_client(&self, bytes: &[u8]) {
        let mut w = self.0.borrow_mut();
        let mut frames = Vec::new();
        w.client_reader.feed(bytes, &mut frames);
        w.client_frames.extend(
            frames
                .iter()
                .filter(|f| f.is_frame())
                .map(Received::to_string),
        );
        let mut out = Vec::new();
        let now = w.clock.now_ms();
        w.up.push(bytes, now, &mut out);
        if w.host.gateway_up {
            w.gateway.on_link_bytes(&out);
            w.perform();
        }
    }
}

impl World {
    /// Performs the gateway's actions like `banyan-host`'s driver, and starts proofs.
    fn perform(&mut self) {
        while let Some(action) = self.gateway.poll_action() {
            match action {
                Action::Send(bytes) => {
                    if let [frame] = &FrameReader::decode_all(&bytes)[..] {
                        self.sent_frames.push(frame.to_string());
                    }
                    if self.host.gateway_up {
                        let mut out = Vec::new();
                        self.down.push(&bytes, self.clock.now_ms(), &mut out);
                        self.wire.extend(out);
                    }
                }
                Action::Publish { topic, payload } => {
                    let message = BusMessage { topic, payload };
                    self.from_mcu.push(message.clone());
                    let due = self.clock.now_ms() + self.host.bus_latency_ms;
                    self.bus.push((due, Origin::Gateway, message));
                }
                Action::Subscribe(topic) => self.gateway_filter.push(topic),
                Action::Unsubscribe(topic) => {
                    if let Some(i) = self.gateway_filter.iter().position(|t| *t == topic) {
                        self.gateway_filter.remove(i);
                    }
                }
            }
        }
        if self.gateway.proof_needed() {
            self.gateway.proof_started();
            self.proof_due = Some(self.clock.now_ms() + self.host.proof_latency_ms);
        }
    }

    fn run_due(&mut self) {
        let now = self.clock.now_ms();
        // Frames the link held back (`Faults::delay`) whose time has come.
        let mut out = Vec::new();
        self.down.release(now, &mut out);
        self.wire.extend(out);
        let mut out = Vec::new();
        self.up.release(now, &mut out);
        if self.host.gateway_up && !out.is_empty() {
            self.gateway.on_link_bytes(&out);
            self.perform();
        }
        if self.proof_due.is_some_and(|due| due <= now) {
            self.proof_due = None;
            self.gateway.proof_done();
            self.perform();
        }
        let (due, later): (Vec<_>, Vec<_>) = self.bus.drain(..).partition(|(t, _, _)| *t <= now);
        self.bus = later;
        for (_, origin, message) in due {
            self.route(origin, message);
        }
    }

    /// Delivers a backplane message to every subscriber whose filter matches now (the
    /// publisher included, as ZeroMQ does when it also subscribes).
    fn route(&mut self, origin: Origin, message: BusMessage) {
        if self
            .gateway_filter
            .iter()
            .any(|t| matches(t.as_bytes(), &message.topic))
            && self.host.gateway_up
        {
            self.gateway.on_backplane(&message.topic, &message.payload);
            self.perform();
        }
        if self.peer_subs.iter().any(|t| matches(t, &message.topic)) {
            self.peer_inbox.push(message.clone());
        }
        if self.host.echoes && message.topic == b"echo" && origin != Origin::EchoServer {
            if self.rng.chance(self.host.lose_reply) {
                return;
            }
            let due = self.clock.now_ms() + self.host.bus_latency_ms;
            self.bus.push((
                due,
                Origin::EchoServer,
                BusMessage {
                    topic: b"reply".to_vec(),
                    payload: message.payload,
                },
            ));
        }
    }
}

/// The numbers of the echo replies the client counted, in order.
pub fn received_numbers(events: &[banyan_mcu::Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            banyan_mcu::Event::Received { number, .. } => Some(*number),
            _ => None,
        })
        .collect()
}

/// The client's end of the simulated link: a blocking embedded-io transport that honours the
/// client's contract (an idle `read` lets [`TICK_MS`] pass and reports `TimedOut`).
pub struct SimTransport(pub Sim);

impl embedded_io::ErrorType for SimTransport {
    type Error = ErrorKind;
}

impl embedded_io::Read for SimTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.0.is_closed() {
            return Ok(0);
        }
        if !self.0.has_bytes() {
            self.0.advance(TICK_MS);
            return Err(ErrorKind::TimedOut);
        }
        Ok(self.0.take_bytes(buf))
    }
}

impl embedded_io::Write for SimTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.receive_from_client(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}
