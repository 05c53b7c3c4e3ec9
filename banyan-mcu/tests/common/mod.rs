//! A deterministic simulation of the host side for the echo client: a fake `banyan-gateway`
//! with an echo server behind it, a link that can drop, corrupt and duplicate frames at seeded
//! rates, and a simulated millisecond clock that only advances when the client waits.
//!
//! Nothing here sleeps or opens sockets; the same seed gives the same run.

#![allow(dead_code)] // Each test binary uses a different part.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use banyan_mcu::Clock;
use banyan_proto::frame::{self, FeedResult, Frame, FrameDecoder};
use banyan_proto::topic::SubscriptionSet;
use embedded_io::ErrorKind;

/// Simulated time that passes per idle `read` (the client's poll interval).
pub const TICK_MS: u64 = 5;

/// xorshift64*: small, seeded, good enough for fault injection.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }
}

/// Fault rates, in ‰ per frame, applied independently to each frame in each direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// The whole frame vanishes.
    pub drop: u32,
    /// One random byte of the frame is replaced by a random value.
    pub corrupt: u32,
    /// One random byte of the frame is lost.
    pub lose_byte: u32,
    /// The frame is delivered twice (gateway → client only).
    pub duplicate: u32,
    /// The echo server's reply is lost in the backplane.
    pub lose_reply: u32,
}

impl Faults {
    pub const NONE: Faults = Faults {
        drop: 0,
        corrupt: 0,
        lose_byte: 0,
        duplicate: 0,
        lose_reply: 0,
    };
}

/// How the fake gateway behaves.
#[derive(Debug, Clone, Copy)]
pub struct PeerBehaviour {
    /// Answer the client's `Hello` with one of our own.
    pub answers_hello: bool,
    /// The echo server republishes `echo` payloads on `reply`.
    pub echoes: bool,
    /// Milliseconds from a publish reaching the gateway to its reply coming back.
    pub reply_latency_ms: u64,
}

impl Default for PeerBehaviour {
    fn default() -> Self {
        Self {
            answers_hello: true,
            echoes: true,
            reply_latency_ms: 3,
        }
    }
}

/// What the fake gateway saw, for assertions.
#[derive(Debug, Default, Clone)]
pub struct PeerLog {
    pub hellos: u32,
    pub subscribes: u32,
    pub pongs: Vec<u32>,
    /// Message numbers of the `echo` publishes received, in order, re-sends included.
    pub published: Vec<u32>,
    /// Payload bytes of the first `echo` publish.
    pub first_payload: Option<Vec<u8>>,
    /// Frames from the client that failed the decoder's checks.
    pub corrupt: u32,
    /// Highest reference count the `reply` subscription ever had.
    pub max_reply_refs: u16,
    /// Replies the echo server produced.
    pub replies: u32,
}

struct Inner {
    now_ms: u64,
    rng: Rng,
    to_gateway: Faults,
    to_client: Faults,
    behaviour: PeerBehaviour,
    gateway_nonce: u32,
    decoder: FrameDecoder<{ frame::max_encoded_len(512) }>,
    subs: SubscriptionSet<8, 64>,
    /// Replies waiting in the "backplane": (due time, topic, payload).
    backplane: Vec<(u64, Vec<u8>, Vec<u8>)>,
    /// Bytes on the wire towards the client.
    wire: VecDeque<u8>,
    log: PeerLog,
    /// Stop the link after this many client writes (for the `Closed` test).
    closed: bool,
}

/// The simulated world. Clone handles share it.
#[derive(Clone)]
pub struct Sim(Rc<RefCell<Inner>>);

impl Sim {
    pub fn new(seed: u64, to_gateway: Faults, to_client: Faults, behaviour: PeerBehaviour) -> Self {
        Sim(Rc::new(RefCell::new(Inner {
            now_ms: 0,
            rng: Rng::new(seed),
            to_gateway,
            to_client,
            behaviour,
            gateway_nonce: 0xB00F_0001,
            decoder: FrameDecoder::new(),
            subs: SubscriptionSet::new(),
            backplane: Vec::new(),
            wire: VecDeque::new(),
            log: PeerLog::default(),
            closed: false,
        })))
    }

    pub fn clean() -> Self {
        Sim::new(1, Faults::NONE, Faults::NONE, PeerBehaviour::default())
    }

    pub fn transport(&self) -> SimTransport {
        SimTransport(self.clone())
    }

    pub fn clock(&self) -> SimClock {
        SimClock(self.clone())
    }

    pub fn log(&self) -> PeerLog {
        self.0.borrow().log.clone()
    }

    pub fn now_ms(&self) -> u64 {
        self.0.borrow().now_ms
    }

    /// The gateway restarts: its subscriptions are gone; it greets with a new nonce.
    pub fn restart_gateway(&self) {
        let mut s = self.0.borrow_mut();
        s.subs.clear();
        s.gateway_nonce = s.gateway_nonce.wrapping_add(1);
        s.decoder.reset();
        let hello = Frame::hello(512, s.gateway_nonce);
        s.send_to_client(&hello);
    }

    /// The gateway pings the client.
    pub fn ping(&self, seq: u32) {
        self.0.borrow_mut().send_to_client(&Frame::Ping { seq });
    }

    /// Puts raw bytes on the wire towards the client, without faults.
    pub fn inject_to_client(&self, bytes: &[u8]) {
        self.0.borrow_mut().wire.extend(bytes);
    }

    /// The link closes: reads return end of file.
    pub fn close(&self) {
        self.0.borrow_mut().closed = true;
    }

    /// Lets `ms` of simulated time pass, delivering what falls due.
    pub fn advance(&self, ms: u64) {
        let mut s = self.0.borrow_mut();
        s.now_ms += ms;
        s.deliver_due();
    }

    /// Whether bytes wait for the client.
    pub fn has_bytes(&self) -> bool {
        !self.0.borrow().wire.is_empty()
    }

    /// Takes up to `buf.len()` waiting bytes, in a random chunk size (like a UART FIFO or TCP).
    pub fn take_bytes(&self, buf: &mut [u8]) -> usize {
        let mut s = self.0.borrow_mut();
        let available = s.wire.len().min(buf.len());
        if available == 0 {
            return 0;
        }
        let n = 1 + s.rng.below(available as u64) as usize;
        for slot in buf.iter_mut().take(n) {
            *slot = s.wire.pop_front().unwrap_or(0);
        }
        n
    }

    /// Bytes written by the client.
    pub fn receive_from_client(&self, bytes: &[u8]) {
        let mut s = self.0.borrow_mut();
        // Split into frames at delimiters so that faults apply per frame.
        let mut frame_bytes = Vec::new();
        for &b in bytes {
            frame_bytes.push(b);
            if b == frame::DELIMITER {
                let faulted = s.apply_faults(&frame_bytes, true);
                for copy in faulted {
                    s.gateway_receive(&copy);
                }
                frame_bytes.clear();
            }
        }
        if !frame_bytes.is_empty() {
            s.gateway_receive(&frame_bytes);
        }
    }

    pub fn is_closed(&self) -> bool {
        self.0.borrow().closed
    }
}

impl Inner {
    /// Applies this direction's faults to one frame's bytes; returns 0, 1 or 2 copies.
    fn apply_faults(&mut self, bytes: &[u8], towards_gateway: bool) -> Vec<Vec<u8>> {
        let faults = if towards_gateway {
            self.to_gateway
        } else {
            self.to_client
        };
        if self.rng.chance(faults.drop) {
            return Vec::new();
        }
        let mut bytes = bytes.to_vec();
        if self.rng.chance(faults.corrupt) {
            let i = self.rng.below(bytes.len() as u64) as usize;
            bytes[i] = self.rng.below(256) as u8;
        }
        if self.rng.chance(faults.lose_byte) {
            let i = self.rng.below(bytes.len() as u64) as usize;
            bytes.remove(i);
        }
        if !towards_gateway && self.rng.chance(faults.duplicate) {
            vec![bytes.clone(), bytes]
        } else {
            vec![bytes]
        }
    }

    fn send_to_client(&mut self, frame: &Frame<'_>) {
        let wire = frame::encode_to_vec(frame).expect("encodable test frame");
        for copy in self.apply_faults(&wire, false) {
            self.wire.extend(copy);
        }
    }

    /// The gateway decodes the client's bytes and acts like `banyan-gateway` + echo server.
    fn gateway_receive(&mut self, bytes: &[u8]) {
        let mut input = bytes;
        while !input.is_empty() {
            // Copy what the frame says before acting: it borrows the decoder.
            enum Action {
                Hello,
                Subscribe(Vec<u8>),
                Unsubscribe(Vec<u8>),
                Publish(Vec<u8>, Vec<u8>),
                Ping(u32),
                Nothing,
            }
            let (action, rest) = match self.decoder.feed(input) {
                FeedResult::Consumed => break,
                FeedResult::Frame { frame, remaining } => {
                    let action = match frame {
                        Frame::Hello { .. } => Action::Hello,
                        Frame::Subscribe { topic } => Action::Subscribe(topic.to_vec()),
                        Frame::Unsubscribe { topic } => Action::Unsubscribe(topic.to_vec()),
                        Frame::Publish { topic, payload } => {
                            Action::Publish(topic.to_vec(), payload.to_vec())
                        }
                        Frame::Ping { seq } => Action::Ping(seq),
                        Frame::Pong { seq } => {
                            self.log.pongs.push(seq);
                            Action::Nothing
                        }
                    };
                    (action, remaining)
                }
                FeedResult::Corrupt { remaining, .. } => {
                    self.log.corrupt += 1;
                    (Action::Nothing, remaining)
                }
                FeedResult::Oversized { remaining } => (Action::Nothing, remaining),
            };
            input = rest;
            match action {
                Action::Hello => {
                    self.log.hellos += 1;
                    self.subs.clear();
                    if self.behaviour.answers_hello {
                        let hello = Frame::hello(512, self.gateway_nonce);
                        self.send_to_client(&hello);
                    }
                }
                Action::Subscribe(topic) => {
                    self.log.subscribes += 1;
                    self.subs.add(&topic).expect("subscription set has room");
                    let refs = self.subs.count(b"reply");
                    self.log.max_reply_refs = self.log.max_reply_refs.max(refs);
                }
                Action::Unsubscribe(topic) => {
                    let _ = self.subs.remove(&topic);
                }
                Action::Publish(topic, payload) => self.echo_server(&topic, payload),
                Action::Ping(seq) => self.send_to_client(&Frame::Pong { seq }),
                Action::Nothing => {}
            }
        }
    }

    /// The echo server on the backplane: republishes `echo` payloads on `reply`.
    fn echo_server(&mut self, topic: &[u8], payload: Vec<u8>) {
        if topic != b"echo" {
            return;
        }
        if let Some(n) = banyan_proto::payload::MapReader::new(&payload)
            .ok()
            .and_then(|m| m.get("message_number"))
            .and_then(|v| v.as_u64())
        {
            self.log.published.push(n as u32);
        }
        if self.log.first_payload.is_none() {
            self.log.first_payload = Some(payload.clone());
        }
        if !self.behaviour.echoes || self.rng.chance(self.to_client.lose_reply) {
            return;
        }
        self.log.replies += 1;
        let due = self.now_ms + self.behaviour.reply_latency_ms;
        self.backplane.push((due, b"reply".to_vec(), payload));
    }

    /// Moves replies that are due to the client, if the gateway still subscribes to them at
    /// that moment (as a ZeroMQ SUB filters).
    fn deliver_due(&mut self) {
        let now = self.now_ms;
        let (due, later): (Vec<_>, Vec<_>) =
            self.backplane.drain(..).partition(|(t, _, _)| *t <= now);
        self.backplane = later;
        for (_, topic, payload) in due {
            if self.subs.matches(&topic) {
                let publish = Frame::Publish {
                    topic: &topic,
                    payload: &payload,
                };
                self.send_to_client(&publish);
            }
        }
    }
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

/// The simulated clock.
pub struct SimClock(pub Sim);

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }
}
