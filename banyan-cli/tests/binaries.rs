//! The binaries as a user runs them: busy port, clean signal shutdown, echo between processes.

use std::process::Command;
use std::time::{Duration, Instant};

use banyan_host::{Backplane, BackplaneConfig};
use banyan_testkit::{ChildGuard, WAIT, backplane_ports, wait_until};

/// Spawns binary `path` with `args`, output captured, killed on drop.
fn spawn(name: &str, path: &str, args: &[&str]) -> ChildGuard {
    let mut command = Command::new(path);
    command.args(args);
    ChildGuard::spawn(name, command).unwrap()
}

#[test]
fn backplane_on_a_busy_port_names_it_and_fails() {
    let running = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
    let port = running.publisher_port();
    let output = Command::new(env!("CARGO_BIN_EXE_backplane"))
        .args(["--bind", "127.0.0.1", "-p", &port.to_string(), "-s", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.contains(&port.to_string()), "{stderr}");
    assert!(
        stderr.contains("another backplane is probably running"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn client_without_backplane_fails_with_one_line() {
    let port = banyan_testkit::free_port().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_simple-echo-client"))
        .args([
            "-b",
            "127.0.0.1",
            "-p",
            &port,
            "-s",
            &port,
            "--connect-timeout",
            "0.3",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no backplane reachable at 127.0.0.1"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn three_processes_echo_and_sigterm_stops_cleanly() {
    // Backplane process on OS-chosen ports: read them from its banner.
    let mut backplane = spawn(
        "backplane",
        env!("CARGO_BIN_EXE_backplane"),
        &["--bind", "127.0.0.1", "-p", "0", "-s", "0"],
    );
    let (publ, sub) = backplane_ports(&backplane).unwrap();
    let (publ, sub) = (publ.to_string(), sub.to_string());
    let flags = ["-b", "127.0.0.1", "-p", publ.as_str(), "-s", sub.as_str()];

    let mut server = spawn(
        "simple-echo-server",
        env!("CARGO_BIN_EXE_simple-echo-server"),
        &flags,
    );
    // The banner is printed once the server's subscription is proven.
    server.wait_line("****").expect("server banner");
    let client = Command::new(env!("CARGO_BIN_EXE_simple-echo-client"))
        .args(flags)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success(),
        "client failed: {stdout} {}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(
        stdout.contains("10 messages sent and received."),
        "{stdout}"
    );

    server.wait_stdout("Message number: 0").unwrap();
    let numbers: Vec<String> = server
        .stdout()
        .into_iter()
        .filter(|line| line.starts_with("Message number"))
        .take(11)
        .collect();
    let expected: Vec<String> = (0..=10)
        .rev()
        .map(|n| format!("Message number: {n}"))
        .collect();
    assert_eq!(numbers, expected);

    for child in [&mut server, &mut backplane] {
        child.set_deadline(Instant::now() + Duration::from_secs(10));
        let status = child.terminate().unwrap();
        assert!(status.success(), "exit status after SIGTERM: {status:?}");
    }
}

#[test]
fn monitor_prints_topic_and_readable_payload() {
    let backplane = banyan_testkit::backplane();
    let (publ, sub) = (
        backplane.publisher_port().to_string(),
        backplane.subscriber_port().to_string(),
    );
    let mut monitor = spawn(
        "monitor",
        env!("CARGO_BIN_EXE_monitor"),
        &["-b", "127.0.0.1", "-p", &publ, "-s", &sub, "--count", "2"],
    );
    // The banner (between two rules) is printed once the monitor's subscription is proven.
    monitor.wait_line("****").expect("monitor banner");
    monitor.wait_line("****").expect("monitor banner end");

    let publisher = banyan_testkit::config(&backplane, "pub").connect().unwrap();
    banyan_testkit::publish_monitor_sample(&publisher).unwrap();

    monitor.set_deadline(Instant::now() + Duration::from_secs(10));
    assert!(monitor.wait_exit().unwrap().success());
    assert_eq!(
        banyan_testkit::monitor_printed(monitor.stdout()),
        banyan_testkit::MONITOR_SAMPLE_PRINTED
    );
}

/// Messages over `--max-message` in total are dropped, logged once per sending peer (with its
/// address), and all counted in the exit line; messages within the limit still flow.
#[test]
fn oversized_messages_are_logged_once_per_peer_and_counted() {
    let mut backplane = spawn(
        "backplane",
        env!("CARGO_BIN_EXE_backplane"),
        &[
            "--bind",
            "127.0.0.1",
            "-p",
            "0",
            "-s",
            "0",
            "--max-message",
            "1K",
        ],
    );
    let (publ, sub) = backplane_ports(&backplane).unwrap();
    let ctx = zmq::Context::new();
    let subscriber = ctx.socket(zmq::SUB).unwrap();
    subscriber.set_subscribe(b"").unwrap();
    subscriber.set_rcvtimeo(200).unwrap();
    subscriber
        .connect(&format!("tcp://127.0.0.1:{sub}"))
        .unwrap();
    // Two publishers from two source addresses (127.0.0.2 and 127.0.0.3, both loopback).
    let publishers: Vec<zmq::Socket> = ["127.0.0.2", "127.0.0.3"]
        .iter()
        .map(|source| {
            let socket = ctx.socket(zmq::PUB).unwrap();
            socket.set_linger(0).unwrap();
            socket
                .connect(&format!("tcp://{source}:0;127.0.0.1:{publ}"))
                .unwrap();
            socket
        })
        .collect();
    // Wait until both publishers' small messages come through: then both are connected.
    let mut seen = [false; 2];
    wait_until(Instant::now() + WAIT, "both publishers through", || {
        for (index, publisher) in publishers.iter().enumerate() {
            publisher
                .send_multipart([format!("small{index}").as_bytes(), b"x"], 0)
                .unwrap();
        }
        while let Ok(parts) = subscriber.recv_multipart(0) {
            match parts[0].as_slice() {
                b"small0" => seen[0] = true,
                b"small1" => seen[1] = true,
                _ => {}
            }
        }
        seen == [true; 2]
    })
    .unwrap();
    // Topic and payload each within the limit, together over it: the forwarder's check.
    let payload = vec![0u8; 600];
    for publisher in &publishers {
        for _ in 0..3 {
            publisher
                .send_multipart([&[b'b'; 500][..], &payload], 0)
                .unwrap();
        }
        publisher.send_multipart([&b"after"[..], b"ok"], 0).unwrap();
    }
    let mut after = 0;
    wait_until(
        Instant::now() + WAIT,
        "both messages after the big ones",
        || {
            if let Ok(parts) = subscriber.recv_multipart(0) {
                assert!(
                    parts.iter().map(Vec::len).sum::<usize>() <= 1024,
                    "an oversized message was forwarded"
                );
                after += usize::from(parts[0] == b"after");
            }
            after >= 2
        },
    )
    .unwrap();
    backplane.set_deadline(Instant::now() + Duration::from_secs(10));
    assert!(backplane.terminate().unwrap().success());
    let stderr = backplane.stderr();
    let logged: Vec<&String> = stderr
        .iter()
        .filter(|line| line.contains("exceed --max-message"))
        .collect();
    assert_eq!(logged.len(), 2, "one line per peer: {stderr:#?}");
    for source in ["127.0.0.2", "127.0.0.3"] {
        assert!(
            logged.iter().any(|line| line.contains(source)),
            "no line names {source}: {logged:#?}"
        );
    }
    assert!(
        stderr
            .iter()
            .any(|line| line.contains("dropped 6 over --max-message")),
        "exit line: {stderr:#?}"
    );
}
