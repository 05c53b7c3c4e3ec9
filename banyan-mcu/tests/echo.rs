//! The echo client (an application of `Client`) against the real gateway core, an in-memory
//! backplane and echo server, over clean and faulty simulated links (see `common/mod.rs`).

mod common;

use banyan_mcu::{
    ClientError, EchoClient, EchoConfig, EchoSummary, Event, LinkEvent, Phase, Polled, PolledError,
};
use banyan_testkit::{GOLDEN_ECHO_10, PERCENT};
use common::{Faults, Host, LOSSY, Sim, TICK_MS, received_numbers};
use embedded_io::{Error as _, ErrorKind, Read, ReadReady, Write};

/// Runs a client with `config` in `sim`, returning its result and every event.
fn run(sim: &Sim, config: EchoConfig<'static>) -> (Result<EchoSummary, ClientError>, Vec<Event>) {
    let mut events = Vec::new();
    let mut client: EchoClient<'_> = EchoClient::new(config);
    let result = client.run(&mut sim.transport(), &sim.clock(), &mut |e: Event| {
        events.push(e)
    });
    (result, events)
}

fn countdown(first: u32) -> Vec<u32> {
    (0..=first).rev().collect()
}

#[test]
fn clean_link_completes_like_the_seed() {
    let sim = Sim::clean();
    let (result, events) = run(&sim, EchoConfig::seed(7));
    let summary = result.expect("echo completes");
    assert_eq!(summary.received, 11);
    assert_eq!(summary.sent, 11, "no re-sends on a clean link");
    assert_eq!(summary.duplicates, 0);
    assert_eq!(summary.timeouts, 0);
    assert_eq!(summary.bad_frames, 0);
    assert_eq!(received_numbers(&events), countdown(10));
    assert_eq!(
        events.last(),
        Some(&Event::Finished {
            first_number: 10,
            count: 11
        })
    );
    assert_eq!(sim.echo_numbers(), countdown(10));
    assert_eq!(sim.mcu_published()[0].payload, GOLDEN_ECHO_10);
    let stats = sim.gateway_stats();
    assert_eq!(stats.hellos, 1);
    assert_eq!(stats.corrupt, 0, "the client's frames decode cleanly");
    assert_eq!(sim.client_sent("Subscribe reply"), 1);
    assert_eq!(sim.gateway_filter(), ["reply"]);
}

#[test]
fn publishes_only_once_the_reply_subscription_is_in_force() {
    let sim = Sim::clean();
    let (result, events) = run(&sim, EchoConfig::seed(1));
    result.expect("echo completes");
    let connected = events
        .iter()
        .position(|e| *e == Event::Connected)
        .expect("connected");
    let in_force = events
        .iter()
        .position(|e| *e == Event::Link(LinkEvent::Subscribed))
        .expect("subscription confirmed");
    let first_sent = events
        .iter()
        .position(|e| matches!(e, Event::Sent { .. }))
        .expect("a message was sent");
    assert!(in_force < connected && connected < first_sent, "{events:?}");
    let frames = sim.client_frames();
    assert_eq!(frames[0], "Hello 0x1", "{frames:?}");
    assert_eq!(frames[1], "Subscribe reply", "{frames:?}");
}

#[test]
fn other_counts_and_topics_work() {
    let sim = Sim::clean();
    let config = EchoConfig {
        first_number: 300,
        ..EchoConfig::seed(9)
    };
    let (result, events) = run(&sim, config);
    assert_eq!(result.expect("echo completes").received, 301);
    assert_eq!(received_numbers(&events), countdown(300));
}

/// Lossy, corrupting, duplicating links in both directions, 25 seeds: every run completes,
/// each number is counted exactly once, in order, and the `reply` subscription is held once.
#[test]
fn lossy_link_completes_without_double_counting() {
    let faults = LOSSY;
    let mut totals = EchoSummary::default();
    for seed in 1..=25 {
        let host = Host {
            lose_reply: 50,
            ..Host::default()
        };
        let sim = Sim::new(seed, faults, faults, host);
        let config = EchoConfig {
            timeout_ms: 200,
            max_retries: Some(50),
            ..EchoConfig::seed(seed as u32)
        };
        let (result, events) = run(&sim, config);
        let summary = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(summary.received, 11, "seed {seed}");
        assert_eq!(received_numbers(&events), countdown(10), "seed {seed}");
        assert_eq!(sim.gateway_filter(), ["reply"], "seed {seed}");
        let published = sim.echo_numbers();
        for n in 0..=10 {
            assert!(published.contains(&n), "seed {seed}: {n} never arrived");
        }
        assert!(published.iter().all(|&n| n <= 10));
        totals.sent += summary.sent;
        totals.duplicates += summary.duplicates;
        totals.timeouts += summary.timeouts;
        totals.bad_frames += summary.bad_frames;
    }
    // The faults were really exercised: re-sends, duplicates and bad frames happened.
    assert!(totals.sent > 25 * 11, "{totals:?}");
    assert!(totals.duplicates > 0, "{totals:?}");
    assert!(totals.timeouts > 0, "{totals:?}");
    assert!(totals.bad_frames > 0, "{totals:?}");
}

/// Duplicated frames towards the client only: every duplicated reply is recognised, none
/// counted.
#[test]
fn duplicated_replies_are_not_counted() {
    let faults = Faults {
        duplicate: 100 * PERCENT,
        ..Faults::NONE
    };
    let sim = Sim::new(5, Faults::NONE, faults, Host::default());
    let (result, events) = run(&sim, EchoConfig::seed(5));
    let summary = result.expect("echo completes");
    assert_eq!(summary.received, 11);
    assert_eq!(received_numbers(&events), countdown(10));
    // Every reply but the last came twice; the duplicate of the last arrives after the end.
    assert_eq!(summary.duplicates, 10, "{summary:?}");
}

#[test]
fn lost_reply_is_resent_after_the_timeout() {
    let host = Host {
        lose_reply: 300,
        ..Host::default()
    };
    let sim = Sim::new(11, Faults::NONE, Faults::NONE, host);
    let config = EchoConfig {
        timeout_ms: 100,
        ..EchoConfig::seed(11)
    };
    let (result, events) = run(&sim, config);
    let summary = result.expect("echo completes");
    assert!(summary.timeouts > 0 && summary.sent > 11, "{summary:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Sent { attempt: 2, .. })),
        "a re-send: {events:?}"
    );
    // Re-sends do not touch the subscription.
    assert_eq!(sim.client_sent("Subscribe"), 1);
    assert!(sim.now_ms() >= 100);
}

#[test]
fn silent_gateway_fails_with_no_reply() {
    let host = Host {
        gateway_up: false,
        ..Host::default()
    };
    let sim = Sim::new(2, Faults::NONE, Faults::NONE, host);
    let config = EchoConfig {
        timeout_ms: 50,
        max_retries: Some(3),
        ..EchoConfig::seed(2)
    };
    let (result, events) = run(&sim, config);
    assert_eq!(
        result,
        Err(ClientError::NoReply {
            number: None,
            timeouts: 4
        })
    );
    assert_eq!(
        sim.client_sent("Subscribe"),
        0,
        "no Subscribe without a link"
    );
    assert!(sim.client_sent("Hello") >= 1);
    let timeouts = events
        .iter()
        .filter(|e| matches!(e, Event::Timeout { .. }))
        .count();
    assert_eq!(timeouts, 3);
    assert!(sim.now_ms() >= 4 * 50);
}

#[test]
fn echo_server_down_fails_waiting_for_the_first_reply() {
    let host = Host {
        echoes: false,
        ..Host::default()
    };
    let sim = Sim::new(4, Faults::NONE, Faults::NONE, host);
    let config = EchoConfig {
        timeout_ms: 50,
        max_retries: Some(2),
        ..EchoConfig::seed(4)
    };
    let (result, _) = run(&sim, config);
    assert_eq!(
        result,
        Err(ClientError::NoReply {
            number: Some(10),
            timeouts: 3
        })
    );
    assert_eq!(sim.echo_numbers(), vec![10, 10, 10]);
    assert_eq!(sim.gateway_filter(), ["reply"]);
}

#[test]
fn gateway_restart_makes_the_client_subscribe_again() {
    let sim = Sim::clean();
    let mut events = Vec::new();
    let mut client: EchoClient<'_> = EchoClient::new(EchoConfig::seed(8));
    let mut transport = sim.transport();
    let restart_after = 4;
    let mut restarted = false;
    let sim_for_observer = sim.clone();
    let result = client.run(&mut transport, &sim.clock(), &mut |e: Event| {
        if let Event::Received { count, .. } = e
            && count == restart_after
            && !restarted
        {
            restarted = true;
            sim_for_observer.restart_gateway();
        }
        events.push(e);
    });
    let summary = result.expect("echo completes after the restart");
    assert_eq!(summary.received, 11);
    assert_eq!(received_numbers(&events), countdown(10));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Link(LinkEvent::GatewayRestarted { .. }))),
        "{events:?}"
    );
    assert_eq!(sim.client_sent("Hello"), 2);
    assert_eq!(sim.client_sent("Subscribe reply"), 2);
    assert_eq!(sim.gateway_filter(), ["reply"]);
}

#[test]
fn ping_is_answered_with_pong() {
    let sim = Sim::clean();
    sim.ping(42);
    let (result, _) = run(&sim, EchoConfig::seed(6));
    result.expect("echo completes");
    assert!(sim.client_frames().contains(&"Pong 42".to_string()));
}

#[test]
fn closed_link_is_an_error() {
    let sim = Sim::clean();
    sim.close();
    let (result, _) = run(&sim, EchoConfig::seed(6));
    assert_eq!(result, Err(ClientError::Closed));
}

#[test]
fn finished_client_reports_its_outcome_again() {
    let sim = Sim::clean();
    let mut client: EchoClient<'_> = EchoClient::new(EchoConfig::seed(6));
    let first = client.run(&mut sim.transport(), &sim.clock(), &mut ());
    assert_eq!(client.phase(), Phase::Done);
    let again = client.run(&mut sim.transport(), &sim.clock(), &mut ());
    assert_eq!(first, again);
    assert_eq!(sim.echo_numbers().len(), 11, "nothing sent the second time");
}

#[test]
fn small_receive_buffer_drops_oversized_frames_and_goes_on() {
    // A 40-byte buffer takes the replies (31 bytes) but not a 60-byte publish.
    let sim = Sim::clean();
    let mut payload = Vec::from(&b"\x81\xa1x\xc4\x28"[..]);
    payload.extend_from_slice(&[0x41; 40]);
    let big = banyan_proto::frame::Frame::Publish {
        topic: b"reply",
        payload: &payload,
    };
    // As if the gateway forwarded it before anything else.
    sim.inject_to_client(&banyan_proto::frame::encode_to_vec(&big).unwrap());
    let mut client: EchoClient<'_, 40> = EchoClient::new(EchoConfig::seed(12));
    let result = client.run(&mut sim.transport(), &sim.clock(), &mut ());
    let summary = result.expect("echo completes");
    assert_eq!(summary.received, 11);
    assert_eq!(client.client().stats().oversized, 1);
    assert_eq!(summary.bad_frames, 1);
}

/// A UART-like transport with a receive FIFO, for `Polled`.
struct Fifo {
    rx: std::collections::VecDeque<u8>,
    tx: Vec<u8>,
}

impl embedded_io::ErrorType for Fifo {
    type Error = ErrorKind;
}

impl Read for Fifo {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        assert!(
            !self.rx.is_empty(),
            "Polled must not call a read that blocks"
        );
        let n = buf.len().min(self.rx.len());
        for slot in &mut buf[..n] {
            *slot = self.rx.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl ReadReady for Fifo {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        Ok(!self.rx.is_empty())
    }
}

impl Write for Fifo {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.tx.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn polled_reports_not_ready_as_timed_out_and_passes_data() {
    let mut polled = Polled(Fifo {
        rx: Default::default(),
        tx: Vec::new(),
    });
    let mut buf = [0u8; 8];
    let err = polled.read(&mut buf).unwrap_err();
    assert_eq!(err, PolledError::NotReady);
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    polled.0.rx.extend([1, 2, 3]);
    assert_eq!(polled.read(&mut buf), Ok(3));
    assert_eq!(&buf[..3], &[1, 2, 3]);
    polled.write_all(b"hi").unwrap();
    assert_eq!(polled.into_inner().tx, b"hi");
}

#[test]
fn sim_clock_only_advances_when_idle() {
    // Sanity check of the harness: a clean run takes a few idle ticks per round trip.
    let sim = Sim::clean();
    let (result, _) = run(&sim, EchoConfig::seed(1));
    result.expect("echo completes");
    let elapsed = sim.now_ms();
    assert!(elapsed >= 11 * 2, "each reply takes 2 ms: {elapsed}");
    assert!(elapsed <= 20 * (2 + TICK_MS), "no timeouts: {elapsed}");
}
