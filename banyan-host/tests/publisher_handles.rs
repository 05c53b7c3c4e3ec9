//! `Publisher` handles: other threads publish through a component's one connection, in
//! order per handle, while the component receives; the component's own subscription sees
//! them like any other publisher's messages.

use std::time::{Duration, Instant};

use banyan_host::limits::Limits;
use banyan_host::{AccessControl, Error};

// Not every rig of the shared module is used here.
#[allow(dead_code)]
mod common;

use common::{WAIT, backplane, component};

#[test]
fn handles_publish_from_threads_through_the_receiving_component() {
    let backplane = backplane(Limits::default(), AccessControl::open());
    let mut listener = component(&backplane, "listener")
        .subscribe("from_threads")
        .connect()
        .unwrap();
    let mut bridge = component(&backplane, "bridge").connect().unwrap();
    let handle = bridge.publisher().unwrap();
    let threads: Vec<_> = (0..3i64)
        .map(|t| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                for n in 0..50i64 {
                    let payload = std::collections::BTreeMap::from([("n", t * 1000 + n)]);
                    handle.publish("from_threads", &payload).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // The bridge sends what the handles queued while it waits to receive.
    let stop = bridge.shutdown_handle();
    let driver = std::thread::spawn(move || {
        let result = bridge.recv();
        (bridge, result)
    });
    let mut seen: Vec<Vec<i64>> = vec![Vec::new(); 3];
    let deadline = Instant::now() + WAIT;
    while seen.iter().map(Vec::len).sum::<usize>() < 150 {
        assert!(Instant::now() < deadline, "only {seen:?} arrived");
        if let Some(message) = listener.recv_timeout(Duration::from_millis(100)).unwrap() {
            let value: std::collections::BTreeMap<String, i64> = message.decode().unwrap();
            let n = value["n"];
            seen[(n / 1000) as usize].push(n % 1000);
        }
    }
    for own in &seen {
        assert_eq!(
            own,
            &(0..50).collect::<Vec<i64>>(),
            "each handle's order kept"
        );
    }
    stop.shutdown().unwrap();
    let (bridge, result) = driver.join().unwrap();
    assert!(matches!(result, Err(Error::Shutdown)));
    assert_eq!(bridge.stats().handle_dropped, 0);
    assert_eq!(handle.dropped(), 0);
}

#[test]
fn a_handle_keeps_the_components_size_limit() {
    let limits = Limits {
        max_message: Some(1024),
        ..Limits::default()
    };
    let backplane = backplane(limits, AccessControl::open());
    let mut config = component(&backplane, "limited");
    config.limits = limits;
    let mut limited = config.connect().unwrap();
    let handle = limited.publisher().unwrap();
    assert!(matches!(
        handle.publish_raw(b"t", &[0u8; 2000]),
        Err(Error::MessageTooLarge {
            size: 2001,
            limit: 1024
        })
    ));
}
