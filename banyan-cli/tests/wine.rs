//! The Windows commands (`scripts/windows-build.sh` → `target/windows/*.exe`) under Wine, mixed
//! with native Linux components and Python Banyan: the Windows backplane carries the native
//! echo server and the seed's Python client; the Windows echo server and client and
//! `monitor.exe` work against a native backplane; `ws-gateway.exe` (tokio under Wine) carries
//! a Python page's WebSocket to a Python component; `bls.exe` runs a launch file written with
//! Windows command lines (backslash paths) and `blk` stops everything it started; Ctrl-C
//! (SIGINT, which Wine hands to the console control handlers) stops a Windows command cleanly.
//!
//! Skipped (with the reason printed) unless `BANYAN_WINDOWS_BIN` names the `.exe` directory:
//! `.ci/steps.d/40-windows.sh` builds them, prepares the Wine prefix and sets it. Loopback only,
//! OS-chosen or free ports; every process is a `ChildGuard`, ended by its PID.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use banyan_testkit::interop::{python_component, ws_page_and_device};
use banyan_testkit::wine::running;
use banyan_testkit::{
    ChildGuard, LOOPBACK, Scenario, Step, WindowsBins, backplane_ports, ensure, run_scenario,
    served_numbers, wait_closed, windows_bins,
};
use banyan_testkit::{banyan_python, free_port_pair, wait_until};
use nix::sys::signal::Signal;

/// Wine starts slowly (0.2–0.6 s a program, more for the first one of a prefix) and an echo
/// round trip takes milliseconds: generous.
const TIMEOUT: Duration = Duration::from_secs(120);

fn native(name: &str) -> Command {
    Command::new(match name {
        "backplane" => env!("CARGO_BIN_EXE_backplane"),
        "simple-echo-server" => env!("CARGO_BIN_EXE_simple-echo-server"),
        "simple-echo-client" => env!("CARGO_BIN_EXE_simple-echo-client"),
        "blk" => env!("CARGO_BIN_EXE_blk"),
        other => panic!("no binary {other}"),
    })
}

/// A backplane (native or Windows) on 127.0.0.1 and OS-chosen ports, with the ports.
fn backplane(
    scenario: &mut Scenario,
    name: &str,
    mut command: Command,
) -> Step<(ChildGuard, String, String)> {
    command.args(["--bind", "127.0.0.1", "-p", "0", "-s", "0"]);
    let backplane = scenario.spawn(name, command)?;
    let (publisher, subscriber) = backplane_ports(&backplane)?;
    Ok((backplane, publisher.to_string(), subscriber.to_string()))
}

/// `-b 127.0.0.1 -p P -s S` and generous timeouts for an echo component.
fn echo_flags(command: &mut Command, p: &str, s: &str) {
    command.args([
        "-b",
        "127.0.0.1",
        "-p",
        p,
        "-s",
        s,
        "--connect-timeout",
        "60",
    ]);
}

/// The echo finished: the client said so and exited 0, the server served 10 down to 0.
fn check_echo(client: &mut ChildGuard, server: &ChildGuard) -> Step {
    client.wait_success()?;
    client.wait_stdout("10 messages sent and received.")?;
    server.wait_stdout("Message number: 0")?;
    let served = served_numbers(server);
    ensure(
        served.ends_with(&(0..=10).rev().collect::<Vec<i64>>()),
        || format!("server served {served:?}"),
    )
}

/// Ctrl-C: the process exits by itself, successfully.
fn ctrl_c(process: &mut ChildGuard) -> Step {
    process.signal(Signal::SIGINT)?;
    let status = process.wait_exit()?;
    ensure(status.success(), || {
        format!("{} after Ctrl-C: {status:?}", process.name())
    })
}

#[test]
fn windows_backplane_carries_native_components_and_the_python_seed_client() {
    let Some(windows) =
        windows_bins("windows_backplane_carries_native_components_and_the_python_seed_client")
    else {
        return;
    };
    let Some(python) =
        banyan_python("windows_backplane_carries_native_components_and_the_python_seed_client")
    else {
        return;
    };
    run_scenario(
        "wine: Windows backplane, native server, Python and native clients",
        TIMEOUT,
        |scenario| {
            let (mut backplane, p, s) =
                backplane(scenario, "backplane.exe", windows.command("backplane"))?;

            let mut command = native("simple-echo-server");
            echo_flags(&mut command, &p, &s);
            let server = scenario.spawn("native echo server", command)?;
            server.wait_stdout("EchoServer using Back Plane IP address")?;

            let command = python_component(&python, "simple_echo_client.py", "127.0.0.1", &p, &s);
            let mut client = scenario.spawn("python seed echo client", command)?;
            check_echo(&mut client, &server)?;

            let mut command = native("simple-echo-client");
            echo_flags(&mut command, &p, &s);
            command.args(["--reply-timeout", "60"]);
            let mut client = scenario.spawn("native echo client", command)?;
            check_echo(&mut client, &server)?;

            ctrl_c(&mut backplane)
        },
    );
}

#[test]
fn windows_echo_server_and_client_on_a_native_backplane() {
    let Some(windows) = windows_bins("windows_echo_server_and_client_on_a_native_backplane") else {
        return;
    };
    run_scenario(
        "wine: native backplane, Windows server and client",
        TIMEOUT,
        |scenario| {
            let (_backplane, p, s) = backplane(scenario, "native backplane", native("backplane"))?;

            let mut command = windows.command("simple-echo-server");
            echo_flags(&mut command, &p, &s);
            let mut server = scenario.spawn("simple-echo-server.exe", command)?;
            server.wait_stdout("EchoServer using Back Plane IP address")?;

            let mut command = windows.command("simple-echo-client");
            echo_flags(&mut command, &p, &s);
            command.args(["--reply-timeout", "60"]);
            let mut client = scenario.spawn("simple-echo-client.exe", command)?;
            check_echo(&mut client, &server)?;

            ctrl_c(&mut server)
        },
    );
}

#[test]
fn windows_monitor_prints_topic_and_readable_payload() {
    let Some(windows) = windows_bins("windows_monitor_prints_topic_and_readable_payload") else {
        return;
    };
    run_scenario("wine: monitor.exe", TIMEOUT, |scenario| {
        let backplane = banyan_testkit::backplane();
        let mut command = windows.command("monitor");
        command.args(["-b", "127.0.0.1"]);
        command.args(["-p", &backplane.publisher_port().to_string()]);
        command.args(["-s", &backplane.subscriber_port().to_string()]);
        command.args(["--connect-timeout", "60", "--count", "2"]);
        let mut monitor = scenario.spawn("monitor.exe", command)?;
        // The banner (between two rules) follows the proven subscription.
        monitor.wait_line("****")?;
        monitor.wait_line("****")?;

        let publisher = banyan_testkit::config(&backplane, "pub")
            .connect()
            .map_err(|e| e.to_string())?;
        banyan_testkit::publish_monitor_sample(&publisher).map_err(|e| e.to_string())?;
        monitor.wait_success()?;
        let printed = banyan_testkit::monitor_printed(monitor.stdout());
        ensure(printed == banyan_testkit::MONITOR_SAMPLE_PRINTED, || {
            format!("monitor.exe printed {printed:#?}")
        })
    });
}

/// `ws-gateway.exe` (tokio and axum under Wine) between a Python Banyan page (the
/// `websockets` package) and a Python Banyan component on a native backplane, the shapes of
/// Python's `ws_gateway.py` checked by the page (`banyan-cli/tests/python/ws_page.py`).
#[test]
fn windows_ws_gateway_between_a_python_page_and_a_python_component() {
    let test = "windows_ws_gateway_between_a_python_page_and_a_python_component";
    let Some(windows) = windows_bins(test) else {
        return;
    };
    let Some(python) = banyan_python(test) else {
        return;
    };
    if !banyan_testkit::python_websockets(&python, test) {
        return;
    }
    run_scenario(
        "wine: ws-gateway.exe, Python page and component",
        TIMEOUT,
        |scenario| {
            let backplane = banyan_testkit::backplane();
            let (p, s) = (
                backplane.publisher_port().to_string(),
                backplane.subscriber_port().to_string(),
            );
            let mut command = windows.command("ws-gateway");
            command.args(["-b", "127.0.0.1", "--port", "0", "-p", &p, "-s", &s]);
            command.args(["--connect-timeout", "60"]);
            let mut gateway = scenario.spawn("ws-gateway.exe", command)?;
            let line = gateway.wait_stdout("ws-gateway listening on")?;
            let address = line
                .split_whitespace()
                .last()
                .ok_or_else(|| format!("no address in {line:?}"))?
                .to_owned();
            ws_page_and_device(scenario, &python, &address, &p, &s)?;
            ctrl_c(&mut gateway)
        },
    );
}

/// A scratch file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn windows_bls_runs_a_windows_launch_file_and_blk_stops_everything() {
    let Some(windows) =
        windows_bins("windows_bls_runs_a_windows_launch_file_and_blk_stops_everything")
    else {
        return;
    };
    run_scenario(
        "wine: bls.exe with a Windows launch file, blk",
        TIMEOUT,
        |scenario| {
            let (p, s) = free_port_pair()?;
            let (p, s) = (p.to_string(), s.to_string());
            let exe = |name: &str| WindowsBins::windows_path(&windows.exe(name));
            // Windows command lines: backslash paths (split by Windows' rules, not a shell's).
            let file = TempFile(
                std::env::temp_dir().join(format!("banyan-wine-{}-{p}.csv", std::process::id())),
            );
            std::fs::write(
                &file.0,
                format!(
                    "command_string,spawn,topic,append_bp_address,auto_restart,wait\n\
                 {bp} -p {p} -s {s} --bind 127.0.0.1,no,local,no,no,1\n\
                 {server} -p {p} -s {s} --connect-timeout 60,no,local,yes,no,0.5\n",
                    bp = exe("backplane"),
                    server = exe("simple-echo-server"),
                ),
            )
            .map_err(|e| e.to_string())?;
            let mut command = windows.command("bls");
            command.arg("-f").arg(WindowsBins::windows_path(&file.0));
            command.args([
                "-b",
                "127.0.0.1",
                "-p",
                &p,
                "-s",
                &s,
                "--connect-timeout",
                "60",
            ]);
            let mut bls = scenario.spawn("bls.exe", command)?;
            bls.wait_stdout("simple-echo-server.exe")?;

            // What bls.exe started answers: a native client's echo goes round.
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut command = native("simple-echo-client");
            echo_flags(&mut command, &p, &s);
            command.args(["--reply-timeout", "60"]);
            let mut client = scenario.spawn("native echo client", command)?;
            client.set_deadline(deadline);
            client.wait_success()?;
            client.wait_stdout("10 messages sent and received.")?;
            let server = running(&["simple-echo-server", &p]);
            let backplane = running(&["backplane.exe", &p]);
            ensure(!server.is_empty() && !backplane.is_empty(), || {
                format!("launched processes not found: server {server:?}, backplane {backplane:?}")
            })?;

            let mut command = windows.command("blk");
            command.args([
                "-b",
                "127.0.0.1",
                "-p",
                &p,
                "-s",
                &s,
                "--connect-timeout",
                "30",
            ]);
            scenario.spawn("blk.exe", command)?.wait_success()?;
            bls.wait_success()?;
            for line in ["simple-echo-server.exe", "backplane.exe"] {
                // STOPPED: it exited on Ctrl-Break; KILLED: its job was terminated after the
                // grace period.
                let stopped = bls
                    .stdout()
                    .into_iter()
                    .find(|l| l.contains(line) && (l.contains("STOPPED") || l.contains("KILLED")));
                ensure(stopped.is_some(), || {
                    format!("bls.exe did not report {line} stopped")
                })?;
                eprintln!("bls.exe: {}", stopped.unwrap_or_default());
            }
            // Nothing it started is left: the processes are gone and the ports closed.
            let until = Instant::now() + Duration::from_secs(20);
            let mut left = Vec::new();
            wait_until(until, "everything bls.exe started gone after blk", || {
                left = running(&["simple-echo-server", &p]);
                left.extend(running(&["backplane.exe", &p]));
                left.is_empty()
            })
            .map_err(|error| format!("{error}; left running: {left:?}"))?;
            let port: u16 = p.parse().map_err(|e| format!("{e}"))?;
            ensure(
                wait_closed(LOOPBACK, port, Instant::now() + Duration::from_secs(10)),
                || format!("port {port} still open after blk"),
            )
        },
    );
}
