//! The relays and proxies carry bytes between real sockets and damage them as told.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use banyan_testkit::{FaultProxy, FaultRelay, Faults, PERCENT};

fn read_exactly(stream: &mut impl Read, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    stream.read_exact(&mut got).unwrap();
    got
}

#[test]
fn clean_relay_passes_bytes_both_ways() {
    let (mut a, mut b, relay) = FaultRelay::unix(1, Faults::NONE, Faults::NONE).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    b.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    a.write_all(b"ping\0").unwrap();
    assert_eq!(read_exactly(&mut b, 5), b"ping\0");
    b.write_all(b"pong\0").unwrap();
    assert_eq!(read_exactly(&mut a, 5), b"pong\0");
    relay.cut();
    let mut buf = [0u8; 4];
    assert_eq!(
        a.read(&mut buf).unwrap_or(0),
        0,
        "a cut link reads end of file"
    );
}

#[test]
fn proxy_drops_frames_and_counts_them() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let faults = Faults {
        drop: 50 * PERCENT,
        ..Faults::NONE
    };
    let proxy = FaultProxy::tcp(upstream.local_addr().unwrap(), 5, faults, Faults::NONE).unwrap();
    let mut client = TcpStream::connect(proxy.address()).unwrap();
    let (mut server, _) = upstream.accept().unwrap();
    let frames: Vec<u8> = (0..200u8).flat_map(|i| [i | 1, 0]).collect();
    client.write_all(&frames).unwrap();
    drop(client);
    let mut got = Vec::new();
    server
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    server.read_to_end(&mut got).unwrap();
    let delivered = got.iter().filter(|&&b| b == 0).count();
    assert!(
        delivered > 20 && delivered < 180,
        "{delivered} of 200 delivered"
    );
    // Totals are folded in by the acceptor; wait for them.
    let deadline = std::time::Instant::now() + banyan_testkit::WAIT;
    // On a timeout the counts below say what was folded in.
    let _ = banyan_testkit::wait_until(deadline, "the proxy's totals", || {
        proxy.to_upstream().frames >= 200
    });
    let stats = proxy.to_upstream();
    assert_eq!(stats.frames, 200);
    assert_eq!(stats.dropped as usize, 200 - delivered);
}
