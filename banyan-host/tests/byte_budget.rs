//! The backplane's byte budget with messages far over the 1 KiB the count bound is sized for:
//! a subscriber that reads nothing is evicted once its queue passes the budget, well before
//! the stall timeout (here: never), and a subscriber that keeps up loses nothing.
//!
//! One test in its own binary: the budget is measured on the process's heap, which other
//! tests running in parallel threads would share.

// Linux with glibc only: the budget is measured there (see banyan-host/src/sys/mod.rs).
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::time::{Duration, Instant};

use banyan_host::access::AccessControl;
use banyan_host::limits::Limits;

use banyan_testkit::{WAIT, config, frozen_subscriber, limited_backplane, wait_until};

const BUDGET: usize = 16 << 20;
const MESSAGE: usize = 256 * 1024;
/// 400 MiB in all: 25 budgets.
const COUNT: usize = 1600;
/// Messages the publisher runs ahead of the live subscriber: 8 MiB, so that one is never
/// behind by more than half the budget, even on a loaded machine.
const AHEAD: usize = 32;

#[test]
fn a_frozen_subscriber_of_big_messages_is_evicted_at_the_budget_and_the_live_one_loses_nothing() {
    let limits = Limits {
        queue_budget: Some(BUDGET),
        stall_timeout: None,
        ..Limits::default()
    };
    let backplane = limited_backplane(limits, AccessControl::open());

    // The frozen one: subscribed to everything, reads nothing, buffers almost nothing.
    let ctx = zmq::Context::new();
    let frozen = frozen_subscriber(&ctx);
    frozen
        .connect(&format!("tcp://127.0.0.1:{}", backplane.subscriber_port()))
        .unwrap();

    let mut live = config(&backplane, "live")
        .subscribe("big")
        .connect()
        .unwrap();
    let publisher = config(&backplane, "flooder").connect().unwrap();
    // The frozen subscriber is connected (and subscribed) once it holds a message.
    wait_until(
        Instant::now() + WAIT,
        "the frozen subscriber connected",
        || {
            if frozen.poll(zmq::POLLIN, 0).unwrap() > 0 {
                return true;
            }
            publisher.publish_raw(b"hello", b"").unwrap();
            std::thread::sleep(Duration::from_millis(20));
            false
        },
    )
    .unwrap();

    let payload = vec![0x3cu8; MESSAGE];
    let mut received = 0usize;
    for sent in 0..COUNT {
        while sent >= received + AHEAD {
            take(&mut live, &mut received, sent);
        }
        publisher.publish_raw(b"big", &payload).unwrap();
    }
    while received < COUNT {
        take(&mut live, &mut received, COUNT);
    }
    let stats = backplane.forward_stats();
    assert!(
        stats.evicted() >= 1,
        "the frozen subscriber was never evicted (queued peak {} MiB)",
        stats.queued_peak() >> 20
    );
    // Without the budget the frozen subscriber's queue would hold all 400 MiB (its count
    // bound is 43 690 messages). With it, the peak is the budget plus what arrives while an
    // eviction is confirmed and carried out, plus this process's own queues (publisher and
    // live subscriber, at most `AHEAD` messages each).
    let peak = stats.queued_peak() as usize;
    eprintln!(
        "{COUNT} x {} KiB: evicted {}, queued peak {:.1} MiB (budget {} MiB)",
        MESSAGE >> 10,
        stats.evicted(),
        peak as f64 / f64::from(1 << 20),
        BUDGET >> 20
    );
    assert!(
        peak < BUDGET * 4,
        "queued peak {} MiB over a {} MiB budget",
        peak >> 20,
        BUDGET >> 20
    );
}

/// Receives one message of the flood at `live`, counting it.
fn take(live: &mut banyan_host::Component, received: &mut usize, sent: usize) {
    let message = live
        .recv_ref_timeout(WAIT)
        .unwrap()
        .unwrap_or_else(|| panic!("the live subscriber got {received} of {sent}"));
    assert_eq!(message.payload.len(), MESSAGE);
    *received += 1;
}
