//! The async driver against the simulated gateway: the read future stays pending until bytes
//! arrive, and only the delay future lets simulated time pass, so the deadline logic runs
//! through the read/delay race.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use banyan_mcu::{ClientError, EchoClient, EchoConfig, EchoSummary, Event};
use common::{Faults, Host, LOSSY, Sim, TICK_MS, received_numbers};
use embedded_io::ErrorKind;

/// Polls `fut` to completion on this thread (the simulated futures never need a real wake-up).
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let mut polls = 0u64;
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        polls += 1;
        assert!(polls < 10_000_000, "the future never completes");
    }
}

struct AsyncSimTransport(Sim);

impl embedded_io_async::ErrorType for AsyncSimTransport {
    type Error = ErrorKind;
}

impl embedded_io_async::Read for AsyncSimTransport {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        std::future::poll_fn(|_| {
            if self.0.is_closed() {
                Poll::Ready(Ok(0))
            } else if self.0.has_bytes() {
                Poll::Ready(Ok(self.0.take_bytes(buf)))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

impl embedded_io_async::Write for AsyncSimTransport {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.receive_from_client(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// A delay in simulated time: each poll lets up to [`TICK_MS`] pass.
struct SimDelay(Sim);

impl embedded_hal_async::delay::DelayNs for SimDelay {
    async fn delay_ns(&mut self, ns: u32) {
        let target = self.0.now_ms() + u64::from(ns).div_ceil(1_000_000);
        std::future::poll_fn(|_| {
            let now = self.0.now_ms();
            if now >= target {
                return Poll::Ready(());
            }
            self.0.advance(TICK_MS.min(target - now));
            Poll::Pending
        })
        .await
    }
}

fn run_async(
    sim: &Sim,
    config: EchoConfig<'static>,
) -> (Result<EchoSummary, ClientError>, Vec<Event>) {
    let mut events = Vec::new();
    let mut client: EchoClient<'_> = EchoClient::new(config);
    let mut transport = AsyncSimTransport(sim.clone());
    let mut delay = SimDelay(sim.clone());
    let result = block_on(client.run_async(
        &mut transport,
        &sim.clock(),
        &mut delay,
        &mut |e: Event| events.push(e),
    ));
    (result, events)
}

#[test]
fn async_clean_link_completes() {
    let sim = Sim::clean();
    let (result, events) = run_async(&sim, EchoConfig::seed(1));
    let summary = result.expect("echo completes");
    assert_eq!(summary.received, 11);
    assert_eq!(summary.sent, 11);
    assert_eq!(
        received_numbers(&events),
        (0..=10).rev().collect::<Vec<_>>()
    );
    assert_eq!(sim.gateway_stats().hellos, 1);
    assert_eq!(sim.gateway_filter(), ["reply"]);
}

#[test]
fn async_lossy_link_completes_without_double_counting() {
    let faults = LOSSY;
    let host = Host {
        lose_reply: 50,
        ..Host::default()
    };
    let mut timeouts = 0;
    for seed in 100..110 {
        let sim = Sim::new(seed, faults, faults, host);
        let config = EchoConfig {
            timeout_ms: 200,
            max_retries: Some(50),
            ..EchoConfig::seed(seed as u32)
        };
        let (result, events) = run_async(&sim, config);
        let summary = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(summary.received, 11, "seed {seed}");
        assert_eq!(
            received_numbers(&events),
            (0..=10).rev().collect::<Vec<_>>(),
            "seed {seed}"
        );
        assert_eq!(sim.gateway_filter(), ["reply"], "seed {seed}");
        timeouts += summary.timeouts;
    }
    assert!(timeouts > 0, "the faults caused re-sends");
}

#[test]
fn async_silent_gateway_times_out_through_the_delay() {
    let host = Host {
        gateway_up: false,
        ..Host::default()
    };
    let sim = Sim::new(2, Faults::NONE, Faults::NONE, host);
    let config = EchoConfig {
        timeout_ms: 300,
        max_retries: Some(2),
        ..EchoConfig::seed(2)
    };
    let (result, _) = run_async(&sim, config);
    assert_eq!(
        result,
        Err(ClientError::NoReply {
            number: None,
            timeouts: 3
        })
    );
    // Three deadlines of 300 ms passed in simulated time, and not much more.
    let now = sim.now_ms();
    assert!((900..900 + 3 * TICK_MS + 10).contains(&now), "{now}");
}

/// The general client's async driver: handshake, subscription in force, a message each way,
/// and the link going down and up again — with time passing only through the delay.
#[test]
fn async_client_subscribes_receives_and_publishes() {
    use banyan_mcu::{Client, ClientConfig, Incoming, LinkEvent};

    let sim = Sim::clean();
    sim.peer_subscribe("mcu/");
    let mut client: Client = Client::new(ClientConfig {
        link_timeout_ms: 400,
        ping_interval_ms: 100,
        ..ClientConfig::new(77)
    });
    client.subscribe("cmd").unwrap();
    let mut transport = AsyncSimTransport(sim.clone());
    let mut delay = SimDelay(sim.clone());
    let clock = sim.clock();
    let mut links = Vec::new();
    let mut got = Vec::new();
    block_on(async {
        while !client.all_subscribed() {
            if let Some(Incoming::Link(e)) = client
                .poll_async(&mut transport, &clock, &mut delay)
                .await
                .unwrap()
            {
                links.push(e);
            }
        }
        sim.peer_publish("cmd", b"\x81\xa1n\x05");
        while got.is_empty() {
            if let Some(Incoming::Message(m)) = client
                .poll_async(&mut transport, &clock, &mut delay)
                .await
                .unwrap()
            {
                got.push((m.topic.to_vec(), m.payload.to_vec()));
            }
        }
        let sent = client
            .publish_async(
                &mut transport,
                "mcu/x",
                &[("k", 1u8)]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
            .await
            .unwrap();
        assert!(sent);
        // The gateway falls silent: Down after the timeout, through the delay alone.
        sim.gateway_down();
        while !links.contains(&LinkEvent::Down) {
            if let Some(Incoming::Link(e)) = client
                .poll_async(&mut transport, &clock, &mut delay)
                .await
                .unwrap()
            {
                links.push(e);
            }
        }
        sim.gateway_back();
        while !client.all_subscribed() {
            client
                .poll_async(&mut transport, &clock, &mut delay)
                .await
                .unwrap();
        }
    });
    assert_eq!(got, [(b"cmd".to_vec(), b"\x81\xa1n\x05".to_vec())]);
    assert_eq!(
        links[..2],
        [
            LinkEvent::Up {
                gateway_nonce: 0xB00F_0001
            },
            LinkEvent::Subscribed
        ]
    );
    for _ in 0..20 {
        sim.advance(TICK_MS);
    }
    let inbox = sim.peer_inbox();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].payload, b"\x81\xa1k\x01");
}
