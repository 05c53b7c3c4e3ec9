//! The MCU echo client (`banyan-mcu`, the code the firmware runs) through the real serial
//! gateway, backplane and echo server. The link is a Unix socket pair; in the lossy test the
//! client's end drops and corrupts frames at seeded rates in both directions.
//!
//! QEMU runs the same client as firmware in `scripts/qemu-e2e.sh`.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use banyan_mcu::{EchoClient, EchoConfig, EchoSummary, Event, StdClock};
use banyan_testkit::{EchoServer, EmbeddedIo, FaultInjector, Faults, GatewayThread, backplane};

/// How long one `read` of the client's link may block (the client's polling interval).
const READ_POLL: Duration = Duration::from_millis(5);

/// The client's end of the link: an embedded-io transport over a Unix socket whose frames are
/// dropped or corrupted at seeded rates in both directions (none for a clean link).
type ClientLink = FaultInjector<EmbeddedIo<UnixStream>>;

fn client_link(gateway: &GatewayThread, seed: u64, faults: Faults) -> ClientLink {
    let stream = EmbeddedIo::unix(gateway.link(), READ_POLL).expect("read timeout");
    FaultInjector::new(stream, seed, faults, faults)
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
    let gateway = GatewayThread::start(&backplane);
    let mut link = client_link(&gateway, 1, Faults::NONE);

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
    let gateway = GatewayThread::start(&backplane);
    let faults = Faults {
        drop: 8 * banyan_testkit::PERCENT,
        corrupt: 8 * banyan_testkit::PERCENT,
        ..Faults::NONE
    };
    let mut link = client_link(&gateway, 7, faults);
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
    assert!(
        link.handle().stats().injected() > 0,
        "the link injected no faults"
    );

    let stats = gateway.stop();
    drop(server);
    // Every frame the gateway accepted had a valid CRC; damaged ones were counted, not used.
    assert!(stats.published >= 11, "{stats:?}");
}
