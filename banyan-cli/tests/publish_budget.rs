//! A component's publishing queue keeps its byte budget: with the `backplane` process frozen
//! (SIGSTOP), a component publishing 256 KiB messages queues about the budget and drops (and
//! counts) the rest instead of queueing them all; once the backplane runs again, publishing
//! gets through again.
//!
//! One test in its own binary: it measures this process's peak memory.

// Linux with glibc only: the budget is measured there (see banyan-host/src/sys/mod.rs).
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::process::Command;
use std::time::{Duration, Instant};

use banyan_host::ComponentConfig;
use banyan_host::limits::Limits;
use banyan_testkit::{ChildGuard, backplane_ports};

const BUDGET: usize = 16 << 20;
const MESSAGE: usize = 256 * 1024;
/// 250 MiB in all: without the byte budget libzmq's count bound (43 690) would queue all.
const COUNT: usize = 1000;
const WAIT: Duration = Duration::from_secs(60);

/// This process's peak resident memory (VmHWM), in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

#[test]
fn a_frozen_backplane_costs_a_publisher_its_budget_and_publishing_resumes() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backplane"));
    command.args(["--bind", "127.0.0.1", "-p", "0", "-s", "0"]);
    let mut backplane = ChildGuard::spawn("backplane", command).unwrap();
    let (publ, sub) = backplane_ports(&backplane).unwrap();
    let config = |name: &str| ComponentConfig {
        limits: Limits {
            queue_budget: Some(BUDGET),
            ..Limits::default()
        },
        ..ComponentConfig::new(name)
            .backplane("127.0.0.1", publ, sub)
            .connect_timeout(WAIT)
    };
    let publisher = config("flooder").connect().unwrap();
    let mut watcher = config("watcher").subscribe("after").connect().unwrap();

    backplane.suspend().unwrap();
    let payload = vec![0x5au8; MESSAGE];
    let before = peak_rss();
    for _ in 0..COUNT {
        publisher.publish_raw(b"big", &payload).unwrap();
    }
    let growth = peak_rss().saturating_sub(before);
    let dropped = publisher.stats().publish_dropped;
    eprintln!(
        "{COUNT} x {} KiB to a frozen backplane: dropped {dropped}, peak RSS grew {:.1} MiB \
         (budget {} MiB)",
        MESSAGE >> 10,
        growth as f64 / f64::from(1 << 20),
        BUDGET >> 20
    );
    assert!(
        dropped > COUNT as u64 / 2,
        "only {dropped} of {COUNT} dropped: the queue took the rest"
    );
    // The budget, plus what the kernel's socket buffers took (not this process's memory, but
    // written, so it left room), plus allocator slack.
    assert!(
        growth < 2 * BUDGET,
        "peak RSS grew {} MiB over a {} MiB budget",
        growth >> 20,
        BUDGET >> 20
    );

    // The backplane runs again: the queue drains and new messages get through.
    backplane.resume().unwrap();
    banyan_testkit::wait_until(Instant::now() + WAIT, "publishing through again", || {
        publisher.publish_raw(b"after", b"\x80").unwrap();
        let Some(message) = watcher.recv_timeout(Duration::from_millis(100)).unwrap() else {
            return false;
        };
        assert_eq!(message.topic, "after");
        true
    })
    .unwrap();
}
