//! `Publisher` handles: other threads publish through a component's one connection, in
//! order per handle, while the component receives; the component's own subscription sees
//! them like any other publisher's messages.
// The test kit is Unix-only (banyan-host/Cargo.toml).
#![cfg(unix)]

use std::time::{Duration, Instant};

use banyan_host::limits::Limits;
use banyan_host::{AccessControl, Error};

// Not every rig of the shared module is used here.
#[allow(dead_code)]
use banyan_testkit::{WAIT, config, limited_backplane, wait_until};

#[test]
fn handles_publish_from_threads_through_the_receiving_component() {
    let backplane = limited_backplane(Limits::default(), AccessControl::open());
    let mut listener = config(&backplane, "listener")
        .subscribe("from_threads")
        .connect()
        .unwrap();
    let mut bridge = config(&backplane, "bridge").connect().unwrap();
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
    let arrived = wait_until(Instant::now() + WAIT, "150 messages", || {
        if let Some(message) = listener.recv_timeout(Duration::from_millis(100)).unwrap() {
            let value: std::collections::BTreeMap<String, i64> = message.decode().unwrap();
            let n = value["n"];
            seen[(n / 1000) as usize].push(n % 1000);
        }
        seen.iter().map(Vec::len).sum::<usize>() >= 150
    });
    if let Err(error) = arrived {
        panic!("{error}: only {seen:?} arrived");
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
    let backplane = limited_backplane(limits, AccessControl::open());
    let mut config = config(&backplane, "limited");
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
