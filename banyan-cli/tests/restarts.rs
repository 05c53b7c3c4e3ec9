//! The echo binaries through restarts: the `backplane` process killed (SIGKILL) and started
//! again on the same ports mid-echo, the `simple-echo-server` process killed and started
//! again mid-echo; `simple-echo-client` finishes its count. And a huge `-m` allocates nothing
//! sized by the count. Loopback, OS-chosen ports, every child killed by its guard.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// Kills the child on drop, so a failing test leaves no process behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Guard {
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

/// Starts `program` with `args`; its stdout lines arrive on the receiver.
fn spawn(program: &str, args: &[&str]) -> (Guard, Receiver<String>) {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {program}: {error}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    // Reads to the end even when nobody listens any more: a closed pipe would make the
    // child's next print fail.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    (Guard(child), rx)
}

/// The next line starting with `prefix` (its rest, trimmed).
fn line_after(lines: &Receiver<String>, prefix: &str) -> String {
    let give_up = Instant::now() + WAIT;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line starting with {prefix:?} within {WAIT:?}"));
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.trim().to_owned();
        }
    }
}

/// Waits until the echo server printed `Message number: n` with `n <= until`.
fn served_down_to(lines: &Receiver<String>, until: i64) {
    loop {
        let number: i64 = line_after(lines, "Message number:").parse().unwrap();
        if number <= until {
            return;
        }
    }
}

struct Ports {
    publisher: String,
    subscriber: String,
}

impl Ports {
    fn component_flags(&self) -> Vec<&str> {
        vec![
            "-b",
            "127.0.0.1",
            "-p",
            &self.publisher,
            "-s",
            &self.subscriber,
        ]
    }
}

/// A backplane process on OS-chosen ports.
fn start_backplane() -> (Guard, Ports) {
    let (guard, lines) = spawn(
        env!("CARGO_BIN_EXE_backplane"),
        &["--bind", "127.0.0.1", "-p", "0", "-s", "0"],
    );
    let subscriber = line_after(&lines, "Subscriber Port =");
    let publisher = line_after(&lines, "Publisher  Port =");
    (
        guard,
        Ports {
            publisher,
            subscriber,
        },
    )
}

/// A backplane process on `ports` again (retried while the old one's ports are not free).
fn restart_backplane(ports: &Ports) -> Guard {
    let give_up = Instant::now() + WAIT;
    loop {
        let (mut guard, lines) = spawn(
            env!("CARGO_BIN_EXE_backplane"),
            &[
                "--bind",
                "127.0.0.1",
                "-p",
                &ports.publisher,
                "-s",
                &ports.subscriber,
            ],
        );
        // The banner comes after both binds succeeded; a failed bind exits instead.
        match lines.recv_timeout(WAIT) {
            Ok(_) if guard.0.try_wait().unwrap().is_none() => return guard,
            _ => {
                let _ = guard.0.wait();
                assert!(Instant::now() < give_up, "backplane did not come back");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn start_server(ports: &Ports) -> (Guard, Receiver<String>) {
    let (guard, lines) = spawn(
        env!("CARGO_BIN_EXE_simple-echo-server"),
        &ports.component_flags(),
    );
    // The banner is printed once the server's subscription is proven.
    line_after(&lines, "****");
    (guard, lines)
}

fn start_client(ports: &Ports, messages: &str) -> (Guard, Receiver<String>) {
    let mut flags = ports.component_flags();
    flags.extend(["-m", messages, "--resend-after", "0.3"]);
    let (guard, lines) = spawn(env!("CARGO_BIN_EXE_simple-echo-client"), &flags);
    line_after(&lines, "****");
    (guard, lines)
}

fn wait_success(mut client: Guard) {
    let give_up = Instant::now() + WAIT;
    loop {
        if let Some(status) = client.0.try_wait().unwrap() {
            assert!(status.success(), "client exit status {status:?}");
            return;
        }
        assert!(Instant::now() < give_up, "client did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn echo_client_finishes_through_backplane_and_server_kills() {
    let (backplane, ports) = start_backplane();
    let (server, server_lines) = start_server(&ports);
    let (client, client_lines) = start_client(&ports, "400");

    served_down_to(&server_lines, 320);
    backplane.kill();
    let backplane = restart_backplane(&ports);

    served_down_to(&server_lines, 200);
    server.kill();
    let (server, server_lines) = start_server(&ports);

    served_down_to(&server_lines, 100);
    backplane.kill();
    let backplane = restart_backplane(&ports);

    assert_eq!(
        line_after(&client_lines, "400 messages"),
        "sent and received."
    );
    wait_success(client);
    drop((server, backplane));
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn huge_message_count_allocates_nothing_sized_by_it() {
    let (_backplane, ports) = start_backplane();
    let (_server, server_lines) = start_server(&ports);
    let (mut client, _client_lines) = start_client(&ports, "4294967295");
    // The count starts at u32::MAX; a thousand replies in, the client runs in a few MiB.
    served_down_to(&server_lines, 4_294_967_295 - 1_000);
    assert!(
        client.0.try_wait().unwrap().is_none(),
        "the client must still be counting"
    );
    let rss = rss_kib(client.0.id());
    assert!(rss < 64 * 1024, "client RSS {rss} KiB");
}
