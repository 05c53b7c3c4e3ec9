//! `banyan_mcu::Client` (the code firmware runs) through the real serial gateway (its
//! `GatewaySession` core driven by `Gateway`), a real backplane and a Rust component, over
//! clean and seeded faulty links (1 % corrupted bytes, 1 % lost frames, duplicates); gateway
//! restart and MCU reboot mid-run.

#[path = "../banyan-mcu/tests/common/faults.rs"]
mod faults;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use banyan_host::gateway::{Connector, Gateway, GatewayStats, Link};
use banyan_host::{Backplane, Component, Result, ShutdownHandle};
use banyan_mcu::{Client, ClientConfig, Incoming, LinkEvent, StdClock};
use banyan_proto::payload;
use banyan_testkit::{backplane, config};
use faults::{FaultInjector, Faults};
use serde::{Deserialize, Serialize};

/// Generous deadline for conditions on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);
/// How long one `read` of the MCU's link may block.
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

/// A gateway thread on a backplane, stopped on drop. Each new gateway is a new "process":
/// its own component and boot nonce.
struct RunningGateway {
    links: Sender<UnixStream>,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<Result<GatewayStats>>>,
}

impl RunningGateway {
    fn start(backplane: &Backplane) -> Self {
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

    /// A new link to this gateway: returns the MCU's end.
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

/// The MCU's UART: never ends (a dead peer just stays silent), can be re-plugged into a new
/// gateway, and injects seeded faults frame by frame in both directions.
struct McuLink {
    stream: UnixStream,
    up: FaultInjector,
    down: FaultInjector,
    /// Bytes that passed the down injector, not yet read by the client.
    rx: Vec<u8>,
}

impl McuLink {
    fn new(stream: UnixStream, seed: u64, up: Faults, down: Faults) -> Self {
        Self {
            stream,
            up: FaultInjector::new(seed, up),
            down: FaultInjector::new(seed ^ 0xD0, down),
            rx: Vec::new(),
        }
    }

    fn clean(stream: UnixStream) -> Self {
        Self::new(stream, 1, Faults::NONE, Faults::NONE)
    }

    /// Plugs the UART into another gateway.
    fn replug(&mut self, stream: UnixStream) {
        self.stream = stream;
    }
}

impl embedded_io::ErrorType for McuLink {
    type Error = io::Error;
}

impl embedded_io::Read for McuLink {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rx.is_empty() {
            let mut chunk = [0u8; 256];
            match self.stream.read(&mut chunk) {
                // Nobody at the other end: a UART just hears nothing.
                Ok(0) => return Err(io::ErrorKind::TimedOut.into()),
                Ok(n) => self.down.push(&chunk[..n], &mut self.rx),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Err(e) => return Err(e),
            }
        }
        if self.rx.is_empty() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let n = buf.len().min(self.rx.len());
        buf[..n].copy_from_slice(&self.rx[..n]);
        self.rx.drain(..n);
        Ok(n)
    }
}

impl embedded_io::Write for McuLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::new();
        self.up.push(buf, &mut out);
        // A UART's writes do not fail when nobody listens.
        let _ = self.stream.write_all(&out);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the client produced, owned.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    Message(String, Vec<u8>),
    Link(LinkEvent),
}

/// Polls the client until `done` or [`WAIT`]; panics on a client error.
fn pump<const N: usize, const L: usize, const B: usize>(
    client: &mut Client<N, L, B>,
    link: &mut McuLink,
    clock: &StdClock,
    got: &mut Vec<Got>,
    mut done: impl FnMut(&Client<N, L, B>, &[Got]) -> bool,
) -> bool {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if done(client, got) {
            return true;
        }
        match client.poll(link, clock) {
            Ok(Some(Incoming::Message(m))) => got.push(Got::Message(
                m.topic_str().expect("utf-8 topic").to_owned(),
                m.payload.to_vec(),
            )),
            Ok(Some(Incoming::Link(event))) => got.push(Got::Link(event)),
            Ok(None) => {}
            Err(e) => panic!("client error: {e}"),
        }
    }
    done(client, got)
}

/// Polls for `time` regardless.
fn pump_for<const N: usize, const L: usize, const B: usize>(
    client: &mut Client<N, L, B>,
    link: &mut McuLink,
    clock: &StdClock,
    got: &mut Vec<Got>,
    time: Duration,
) {
    let end = Instant::now() + time;
    pump(client, link, clock, got, |_, _| Instant::now() >= end);
}

fn messages_on(got: &[Got], prefix: &str) -> Vec<Vec<u8>> {
    got.iter()
        .filter_map(|g| match g {
            Got::Message(t, p) if t.starts_with(prefix) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn links(got: &[Got]) -> Vec<LinkEvent> {
    got.iter()
        .filter_map(|g| match g {
            Got::Link(e) => Some(*e),
            Got::Message(..) => None,
        })
        .collect()
}

/// A Rust component on the backplane, subscribed to what the MCU publishes.
fn component(backplane: &Backplane) -> Component {
    config(backplane, "RustPeer")
        .subscribe("mcu/")
        .connect()
        .expect("component connects")
}

/// Receives everything the component gets for `time`.
fn drain(component: &mut Component, time: Duration) -> Vec<(String, Vec<u8>)> {
    let end = Instant::now() + time;
    let mut out = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match component.recv_timeout(left).expect("receive") {
            Some(m) => out.push((m.topic, m.payload)),
            None => break,
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    values: Vec<i32>,
}

/// One field per msgpack format Python produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AllKinds {
    nil: Option<u8>,
    yes: bool,
    no: bool,
    fixint: u8,
    uint8: u8,
    uint16: u16,
    uint32: u32,
    uint64: u64,
    negfix: i8,
    int8: i8,
    int16: i16,
    int32: i32,
    int64: i64,
    float: f64,
    fixstr: String,
    str8: String,
    #[serde(with = "serde_bytes")]
    bin: Vec<u8>,
    array: Vec<u32>,
    map: BTreeMap<String, i64>,
    nested: Inner,
}

fn all_kinds() -> AllKinds {
    AllKinds {
        nil: None,
        yes: true,
        no: false,
        fixint: 7,
        uint8: 200,
        uint16: 60_000,
        uint32: 70_000,
        uint64: 1 << 40,
        negfix: -5,
        int8: -100,
        int16: -30_000,
        int32: -70_000,
        int64: -(1 << 40),
        float: 21.5,
        fixstr: "hi".into(),
        str8: "x".repeat(40),
        bin: vec![0, 1, 2, 255],
        array: vec![1, 300, 70_000],
        map: [("a".to_string(), -1), ("b".to_string(), 2)].into(),
        nested: Inner {
            name: "inner".into(),
            values: vec![-1, 0, 1],
        },
    }
}

fn numbered(n: u32) -> Vec<u8> {
    payload::to_vec(&BTreeMap::from([("n", n)])).expect("encode")
}

fn number_of(bytes: &[u8]) -> u32 {
    payload::from_slice::<BTreeMap<String, u32>>(bytes).expect("numbered payload")["n"]
}

#[test]
fn typed_round_trips_of_every_msgpack_kind_through_the_real_gateway() {
    let backplane = backplane();
    let gateway = RunningGateway::start(&backplane);
    let mut peer = component(&backplane);
    let mut link = McuLink::clean(gateway.link());
    let clock = StdClock::new();
    let mut client: Client<4, 32, 512> = Client::new(ClientConfig::new(0xC1));
    client.subscribe("to_mcu").unwrap();
    let mut got = Vec::new();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |c, _| c
        .all_subscribed()));
    assert_eq!(
        links(&got)[..2],
        [
            LinkEvent::Up {
                gateway_nonce: client.core().gateway_nonce().unwrap()
            },
            LinkEvent::Subscribed
        ]
    );

    // Component → MCU: in force means delivered, with no slow-joiner loss.
    let value = all_kinds();
    peer.publish("to_mcu", &value).expect("publish");
    assert!(pump(&mut client, &mut link, &clock, &mut got, |_, g| {
        !messages_on(g, "to_mcu").is_empty()
    }));
    let bytes = &messages_on(&got, "to_mcu")[0];
    assert_eq!(payload::from_slice::<AllKinds>(bytes), Ok(value.clone()));

    // MCU → component: byte-identical to the host encoder (golden-tested against Python).
    assert_eq!(client.publish(&mut link, "mcu/kinds", &value), Ok(true));
    let received = drain(&mut peer, Duration::from_secs(5));
    let (topic, bytes) = received
        .first()
        .expect("the component got the MCU's message");
    assert_eq!(topic, "mcu/kinds");
    assert_eq!(*bytes, payload::to_vec(&value).unwrap());

    let stats = gateway.stop();
    assert_eq!(stats.corrupt, 0);
    assert!(stats.proofs >= 1, "{stats:?}");
}

/// Seeded faulty links: subscriptions end in force, nothing is delivered twice by the
/// client's re-subscriptions, and messages flow both ways.
#[test]
fn client_over_faulty_links_through_the_real_gateway() {
    let backplane = backplane();
    let gateway = RunningGateway::start(&backplane);
    let mut peer = component(&backplane);
    for seed in 1..=3u64 {
        // Duplicated frames from the MCU (re-sent subscriptions, duplicated Subscribe), none
        // towards it: every duplicate the client could deliver would be its own doing.
        let down = Faults {
            duplicate: 0,
            ..Faults::ISSUE
        };
        let mut link = McuLink::new(gateway.link(), seed, Faults::ISSUE, down);
        let clock = StdClock::new();
        let config = ClientConfig {
            retry_ms: 100,
            ..ClientConfig::new(seed as u32)
        };
        let mut client: Client<4, 32, 256> = Client::new(config);
        for topic in ["cmd/a", "cmd/b", "cmd/", "other"] {
            client.subscribe(topic).unwrap();
        }
        let mut got = Vec::new();
        assert!(
            pump(&mut client, &mut link, &clock, &mut got, |c, _| c
                .all_subscribed()),
            "seed {seed}: not in force: {:?}",
            client.stats()
        );
        let mut sent = 0;
        for n in 0..40 {
            let topic = if n % 2 == 0 { "cmd/a" } else { "cmd/b" };
            peer.publish_raw(topic.as_bytes(), &numbered(n)).unwrap();
            if client
                .publish(&mut link, "mcu/reading", &BTreeMap::from([("n", n)]))
                .unwrap()
            {
                sent += 1;
            }
            pump_for(
                &mut client,
                &mut link,
                &clock,
                &mut got,
                Duration::from_millis(20),
            );
        }
        pump_for(
            &mut client,
            &mut link,
            &clock,
            &mut got,
            Duration::from_millis(500),
        );
        let mut numbers: Vec<u32> = messages_on(&got, "cmd/")
            .iter()
            .map(|p| number_of(p))
            .collect();
        let delivered = numbers.len();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), delivered, "seed {seed}: delivered twice");
        assert!(delivered >= 20, "seed {seed}: only {delivered} of 40");
        let readings = drain(&mut peer, Duration::from_secs(2));
        assert!(
            readings.len() >= sent / 2,
            "seed {seed}: {} of {sent}",
            readings.len()
        );
    }
    let stats = gateway.stop();
    assert!(
        stats.corrupt > 0,
        "the faults reached the gateway: {stats:?}"
    );
}

#[test]
fn gateway_restart_and_mcu_reboot_mid_run() {
    let backplane = backplane();
    let first = RunningGateway::start(&backplane);
    let peer = component(&backplane);
    let mut link = McuLink::clean(first.link());
    let clock = StdClock::new();
    let mut client: Client = Client::new(ClientConfig::new(0xAA));
    client.subscribe("cmd").unwrap();
    let mut got = Vec::new();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |c, _| c
        .all_subscribed()));
    let first_nonce = client.core().gateway_nonce().unwrap();

    // The gateway process restarts; the UART is now served by the new one.
    first.stop();
    let second = RunningGateway::start(&backplane);
    link.replug(second.link());
    got.clear();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |_, g| {
        links(g).contains(&LinkEvent::Subscribed)
    }));
    let events = links(&got);
    assert!(
        matches!(events[0], LinkEvent::GatewayRestarted { gateway_nonce } if gateway_nonce != first_nonce),
        "{events:?}"
    );
    peer.publish_raw(b"cmd", &numbered(1)).unwrap();
    assert!(pump(&mut client, &mut link, &clock, &mut got, |_, g| {
        !messages_on(g, "cmd").is_empty()
    }));

    // The MCU reboots with other subscriptions: the old one is gone at the gateway.
    let mut rebooted: Client = Client::new(ClientConfig::new(0xBB));
    rebooted.subscribe("new").unwrap();
    let mut got = Vec::new();
    assert!(pump(&mut rebooted, &mut link, &clock, &mut got, |c, _| c
        .all_subscribed()));
    peer.publish_raw(b"cmd", &numbered(2)).unwrap();
    peer.publish_raw(b"new", &numbered(3)).unwrap();
    assert!(pump(&mut rebooted, &mut link, &clock, &mut got, |_, g| {
        !messages_on(g, "new").is_empty()
    }));
    pump_for(
        &mut rebooted,
        &mut link,
        &clock,
        &mut got,
        Duration::from_millis(300),
    );
    assert!(messages_on(&got, "cmd").is_empty(), "{got:?}");
    let stats = second.stop();
    assert_eq!(stats.hellos, 2, "{stats:?}");
}
