//! `Component::connect_in_background`: a component started before its backplane (as Python
//! Banyan's `BanyanBase` given an address, which `rust_banyan` mirrors) proves its path by
//! itself once the backplane is up, with the subscriptions made meanwhile in force.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use banyan_host::Component;
use banyan_host::component::PathState;
use banyan_host::{Backplane, BackplaneConfig};
use banyan_testkit::{backplane, config};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_component_connected_in_background_proves_its_path_when_the_backplane_comes() {
    // Ports of a backplane that is then stopped: the component starts with none running.
    let first = backplane();
    let (address, publisher_port, subscriber_port) = (
        first.address().to_owned(),
        first.publisher_port(),
        first.subscriber_port(),
    );
    let early_config = config(&first, "early");
    first.shutdown().unwrap();
    let mut early = Component::connect_in_background(early_config).unwrap();
    assert_eq!(early.path_state(), PathState::Lost);
    early.subscribe_unproven("late_news").unwrap();
    assert!(
        early
            .recv_timeout(Duration::from_millis(200))
            .unwrap()
            .is_none()
    );
    assert_ne!(early.path_state(), PathState::Proven, "no backplane yet");

    let second = bind_retrying(&BackplaneConfig {
        bind: address,
        publisher_port,
        subscriber_port,
        ..BackplaneConfig::ephemeral_loopback()
    });

    // Receiving drives the background proof.
    let give_up = Instant::now() + WAIT;
    while early.path_state() != PathState::Proven {
        assert!(Instant::now() < give_up, "path never proven");
        assert!(
            early
                .recv_timeout(Duration::from_millis(50))
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(early.stats().reproofs, 1);

    // The subscription made before the backplane existed is in force: the first message
    // published after a proven connect arrives.
    let publisher = config(&second, "publisher").connect().unwrap();
    publisher
        .publish("late_news", &BTreeMap::from([("n", 1)]))
        .unwrap();
    let message = early.recv_timeout(WAIT).unwrap().expect("message arrived");
    assert_eq!(message.topic, "late_news");
    assert_eq!(message.decode::<BTreeMap<String, i64>>().unwrap()["n"], 1);
}

/// Binds `config`, retrying while its ports are not free yet (just released).
fn bind_retrying(config: &BackplaneConfig) -> Backplane {
    let give_up = Instant::now() + WAIT;
    loop {
        match Backplane::bind(config) {
            Ok(backplane) => return backplane,
            Err(banyan_host::Error::PortInUse { .. }) if Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(error) => panic!("bind backplane: {error}"),
        }
    }
}
