//! The echo binaries through restarts: the `backplane` process killed (SIGKILL) and started
//! again on the same ports mid-echo, the `simple-echo-server` process killed and started
//! again mid-echo; `simple-echo-client` finishes its count. And a huge `-m` allocates nothing
//! sized by the count. Loopback, OS-chosen ports, every child killed by its guard.

use std::process::Command;
use std::time::{Duration, Instant};

use banyan_testkit::{ChildGuard, backplane_ports};

/// How long any one expected line or exit may take on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);

/// Starts `program` with `args` under the kit's guard (killed and reaped on drop, output
/// captured).
fn spawn(name: &str, program: &str, args: &[&str]) -> ChildGuard {
    let mut command = Command::new(program);
    command.args(args);
    ChildGuard::spawn(name, command).unwrap_or_else(|error| panic!("{error}"))
}

/// The next stdout line of `child` starting with `prefix` (its rest, trimmed); on failure the
/// panic shows the child's whole output.
fn line_after(child: &mut ChildGuard, prefix: &str) -> String {
    match child.wait_line_until(prefix, Instant::now() + WAIT) {
        Ok(rest) => rest,
        Err(error) => panic!("{error}\n{}", child.output_report()),
    }
}

/// Waits until the echo server printed `Message number: n` with `n <= until`.
fn served_down_to(server: &mut ChildGuard, until: i64) {
    loop {
        let number: i64 = line_after(server, "Message number:").parse().unwrap();
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
fn start_backplane() -> (ChildGuard, Ports) {
    let backplane = spawn(
        "backplane",
        env!("CARGO_BIN_EXE_backplane"),
        &["--bind", "127.0.0.1", "-p", "0", "-s", "0"],
    );
    let (publisher, subscriber) =
        backplane_ports(&backplane).unwrap_or_else(|error| panic!("{error}"));
    (
        backplane,
        Ports {
            publisher: publisher.to_string(),
            subscriber: subscriber.to_string(),
        },
    )
}

/// A backplane process on `ports` again (retried while the old one's ports are not free).
fn restart_backplane(ports: &Ports) -> ChildGuard {
    let back = banyan_testkit::wait_for(
        Instant::now() + WAIT,
        "the backplane back on its ports",
        || {
            let mut backplane = spawn(
                "backplane (restarted)",
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
            let banner = backplane.wait_line_until("", Instant::now() + WAIT);
            if banner.is_ok() && backplane.try_status().is_none() {
                return Some(backplane);
            }
            backplane.kill();
            std::thread::sleep(Duration::from_millis(100));
            None
        },
    );
    back.unwrap_or_else(|error| panic!("{error}"))
}

fn start_server(ports: &Ports) -> ChildGuard {
    let mut server = spawn(
        "simple-echo-server",
        env!("CARGO_BIN_EXE_simple-echo-server"),
        &ports.component_flags(),
    );
    // The banner is printed once the server's subscription is proven.
    line_after(&mut server, "****");
    server
}

fn start_client(ports: &Ports, messages: &str) -> ChildGuard {
    let mut flags = ports.component_flags();
    flags.extend(["-m", messages, "--resend-after", "0.3"]);
    let mut client = spawn(
        "simple-echo-client",
        env!("CARGO_BIN_EXE_simple-echo-client"),
        &flags,
    );
    line_after(&mut client, "****");
    client
}

fn wait_success(mut client: ChildGuard) {
    client.set_deadline(Instant::now() + WAIT);
    client
        .wait_success()
        .unwrap_or_else(|error| panic!("{error}"));
}

#[test]
fn echo_client_finishes_through_backplane_and_server_kills() {
    let (mut backplane, ports) = start_backplane();
    let mut server = start_server(&ports);
    let mut client = start_client(&ports, "400");

    served_down_to(&mut server, 320);
    backplane.kill();
    let mut backplane = restart_backplane(&ports);

    served_down_to(&mut server, 200);
    server.kill();
    let mut server = start_server(&ports);

    served_down_to(&mut server, 100);
    backplane.kill();
    let backplane = restart_backplane(&ports);

    assert_eq!(
        line_after(&mut client, "400 messages"),
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
    let mut server = start_server(&ports);
    let mut client = start_client(&ports, "4294967295");
    // The count starts at u32::MAX; a thousand replies in, the client runs in a few MiB.
    served_down_to(&mut server, 4_294_967_295 - 1_000);
    assert!(
        client.try_status().is_none(),
        "the client must still be counting"
    );
    let rss = rss_kib(client.pid());
    assert!(rss < 64 * 1024, "client RSS {rss} KiB");
}
