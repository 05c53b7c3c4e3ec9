//! The binaries as a user runs them: busy port, clean signal shutdown, echo between processes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use banyan_host::{Backplane, BackplaneConfig};

/// Kills the child on drop, so a failing test leaves no process behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "process did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
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
    let mut backplane = Guard(
        Command::new(env!("CARGO_BIN_EXE_backplane"))
            .args(["--bind", "127.0.0.1", "-p", "0", "-s", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(backplane.0.stdout.take().unwrap()).lines();
    let mut port_of = |label: &str| loop {
        let line = lines.next().expect("banner line").unwrap();
        if let Some(port) = line.strip_prefix(label) {
            break port.trim().to_owned();
        }
    };
    let sub = port_of("Subscriber Port =");
    let publ = port_of("Publisher  Port =");
    let flags = ["-b", "127.0.0.1", "-p", publ.as_str(), "-s", sub.as_str()];

    let mut server = Guard(
        Command::new(env!("CARGO_BIN_EXE_simple-echo-server"))
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut server_lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    // The banner is printed once the server's subscription is proven.
    assert!(
        server_lines
            .by_ref()
            .map(Result::unwrap)
            .any(|line| line.starts_with("****")),
        "server banner"
    );
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

    let numbers: Vec<String> = server_lines
        .map(Result::unwrap)
        .filter(|line| line.starts_with("Message number"))
        .take(11)
        .collect();
    let expected: Vec<String> = (0..=10)
        .rev()
        .map(|n| format!("Message number: {n}"))
        .collect();
    assert_eq!(numbers, expected);

    for child in [&mut server.0, &mut backplane.0] {
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = wait_exit(child, Duration::from_secs(10));
        assert!(status.success(), "exit status after SIGTERM: {status:?}");
    }
}

#[test]
fn monitor_prints_topic_and_readable_payload() {
    let backplane = Backplane::bind(&BackplaneConfig::ephemeral_loopback()).unwrap();
    let (publ, sub) = (
        backplane.publisher_port().to_string(),
        backplane.subscriber_port().to_string(),
    );
    let mut monitor = Guard(
        Command::new(env!("CARGO_BIN_EXE_monitor"))
            .args(["-b", "127.0.0.1", "-p", &publ, "-s", &sub, "--count", "2"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(monitor.0.stdout.take().unwrap()).lines();
    // The banner (between two rules) is printed once the monitor's subscription is proven.
    let rules = lines
        .by_ref()
        .map(Result::unwrap)
        .filter(|line| line.starts_with("****"))
        .take(2)
        .count();
    assert_eq!(rules, 2, "monitor banner");

    let publisher = banyan_host::ComponentConfig::new("pub")
        .backplane(
            "127.0.0.1",
            backplane.publisher_port(),
            backplane.subscriber_port(),
        )
        .connect()
        .unwrap();
    #[derive(serde::Serialize)]
    struct Reading<'a> {
        message_number: i32,
        name: &'a str,
        #[serde(with = "serde_bytes")]
        raw: &'a [u8],
    }
    let reading = Reading {
        message_number: -3,
        name: "x",
        raw: &[0x0a, 0xff],
    };
    publisher.publish("sensor", &reading).unwrap();
    publisher.publish_raw(b"broken", b"\xc1").unwrap();

    let printed: Vec<String> = lines
        .map(Result::unwrap)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        printed,
        [
            r#"sensor  {"message_number": -3, "name": "x", "raw": b"0aff"}"#.to_owned(),
            "broken  <not a msgpack payload (invalid msgpack marker byte 0xc1): c1>".to_owned(),
        ]
    );
    assert!(wait_exit(&mut monitor.0, Duration::from_secs(10)).success());
}
