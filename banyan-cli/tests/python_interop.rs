//! Interoperability with the real Python Banyan (python-banyan 3.17 from PyPI).
//!
//! Each test mixes Rust and Python backplanes and components on ephemeral ports and checks
//! what the processes print. The Python side is `tests/python/` (the seed's echo client and
//! server, written from its description, and helpers that publish/receive a payload with
//! every msgpack kind) plus python-banyan's own backplane and monitor.
//!
//! Needs a Python with python-banyan: `$BANYAN_PYTHON`, else `<repo>/.venv/bin/python`
//! (`python3 -m venv .venv && .venv/bin/pip install python-banyan==3.17`). Without one the
//! tests print a skip reason and pass, except under `CI=true`, where they fail.
//!
//! Python components and backplanes bind/connect to the machine's outward IPv4 address
//! (`banyan_host::net::outward_ipv4`), so the Python side is always given that address; the
//! Rust backplane listens on all interfaces (`0.0.0.0`), as its binary does by default.
//! Scenarios run one at a time (see `banyan_testkit::scenario::serial`), each within 60 s.

#[path = "python_interop/all_kinds.rs"]
mod all_kinds;

use std::process::Command;
use std::time::{Duration, Instant};

use all_kinds::all_kinds;
use banyan_host::net::outward_ipv4;
use banyan_host::{Backplane, BackplaneConfig, Component, ComponentConfig};
use banyan_proto::payload::{self, Value};
use banyan_testkit::interop::{
    byte_difference, interop_script, python_backplane, python_component, run_interop,
    rust_backplane, unhex,
};
use banyan_testkit::{ChildGuard, Scenario, Step, banyan_python, ensure, python_module};
use banyan_testkit::{backplane_ports, served_numbers, try_wait_for};

/// How long a Rust component waits for a (possibly still starting) backplane.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Interval between repeats of a message that a slow-joining subscriber may miss.
const REPEAT: Duration = Duration::from_millis(50);

/// Skips the test (returns) when no Python with python-banyan is available.
macro_rules! python_or_skip {
    ($test:literal) => {
        match banyan_python($test) {
            Some(python) => python,
            None => return,
        }
    };
}

fn outward() -> String {
    outward_ipv4().to_string()
}

fn rust_bin(name: &str) -> Command {
    let path = match name {
        "backplane" => env!("CARGO_BIN_EXE_backplane"),
        "simple-echo-server" => env!("CARGO_BIN_EXE_simple-echo-server"),
        "simple-echo-client" => env!("CARGO_BIN_EXE_simple-echo-client"),
        "monitor" => env!("CARGO_BIN_EXE_monitor"),
        other => panic!("no binary {other}"),
    };
    Command::new(path)
}

fn countdown() -> Vec<i64> {
    (0..=10).rev().collect()
}

/// Checks an echo run: the client exited 0 saying so, the server served 10 down to 0.
fn check_echo(client: &mut ChildGuard, server: &ChildGuard) -> Step {
    client.wait_success()?;
    client.wait_stdout("10 messages sent and received.")?;
    server.wait_stdout("Message number: 0")?;
    let served = served_numbers(server);
    ensure(served == countdown(), || {
        format!("server served {served:?}")
    })
}

#[test]
fn python_backplane_rust_echo_server_python_echo_client() {
    let python = python_or_skip!("python_backplane_rust_echo_server_python_echo_client");
    run_interop(
        "(a) python backplane + rust server + python client",
        |scenario| {
            let address = outward();
            let (_backplane, publisher, subscriber) = python_backplane(scenario, &python)?;

            let mut command = rust_bin("simple-echo-server");
            command.args(["-b", &address, "-p", &publisher, "-s", &subscriber]);
            command.args(["--connect-timeout", "30"]);
            let server = scenario.spawn("rust echo server", command)?;
            // The banner follows the proven connection and subscription.
            server.wait_stdout("EchoServer using Back Plane IP address")?;

            let command = python_component(
                &python,
                "simple_echo_client.py",
                &address,
                &publisher,
                &subscriber,
            );
            let mut client = scenario.spawn("python echo client", command)?;
            check_echo(&mut client, &server)
        },
    );
}

#[test]
fn rust_backplane_python_echo_server_rust_echo_client() {
    let python = python_or_skip!("rust_backplane_python_echo_server_rust_echo_client");
    run_interop(
        "(b) rust backplane + python server + rust client",
        |scenario| {
            let (_backplane, publisher, subscriber) = rust_backplane(scenario)?;

            let command = python_component(
                &python,
                "simple_echo_server.py",
                &outward(),
                &publisher,
                &subscriber,
            );
            let server = scenario.spawn("python echo server", command)?;
            server.wait_stdout("EchoServer ready")?;

            // Loopback, while Python uses the outward address: the backplane listens on both.
            let mut command = rust_bin("simple-echo-client");
            command.args(["-b", "127.0.0.1", "-p", &publisher, "-s", &subscriber]);
            command.args(["--connect-timeout", "30", "--reply-timeout", "20"]);
            let mut client = scenario.spawn("rust echo client", command)?;
            check_echo(&mut client, &server)
        },
    );
}

#[test]
fn rust_backplane_runs_the_python_seed_unchanged() {
    let python = python_or_skip!("rust_backplane_runs_the_python_seed_unchanged");
    run_interop(
        "(c) rust backplane + python server + python client",
        |scenario| {
            let (_backplane, publisher, subscriber) = rust_backplane(scenario)?;
            // No -b and no --prove: as the seed, the scripts find the backplane by scanning the
            // process list for "backplane" and connect to the outward address after sleeping.
            let mut command = interop_script(&python, "simple_echo_server.py");
            command.args(["-p", &publisher, "-s", &subscriber]);
            let server = scenario.spawn("python echo server", command)?;
            server.wait_stdout("EchoServer ready")?;
            let banner = server.wait_stdout("using Back Plane IP address")?;
            ensure(banner.ends_with(&format!(": {}", outward())), || {
                format!("python server chose another address: {banner:?}")
            })?;

            let mut command = interop_script(&python, "simple_echo_client.py");
            command.args(["-p", &publisher, "-s", &subscriber]);
            let mut client = scenario.spawn("python echo client", command)?;
            check_echo(&mut client, &server)
        },
    );
}

/// Python's `msgpack.packb(ALL_KINDS, use_bin_type=True)`, asked from Python.
fn python_all_kinds_bytes(scenario: &mut Scenario, python: &std::path::Path) -> Step<Vec<u8>> {
    let mut packer = scenario.spawn(
        "python all_kinds.py",
        interop_script(python, "all_kinds.py"),
    )?;
    packer.wait_success()?;
    unhex(packer.stdout().first().map(String::as_str).unwrap_or(""))
}

#[test]
fn all_kinds_encode_to_python_bytes_and_back() {
    let python = python_or_skip!("all_kinds_encode_to_python_bytes_and_back");
    run_interop("all kinds: rust bytes == python packb bytes", |scenario| {
        let python_bytes = python_all_kinds_bytes(scenario, &python)?;
        let rust_bytes = payload::to_vec(&all_kinds()).map_err(|e| format!("encode: {e}"))?;
        ensure(rust_bytes == python_bytes, || {
            format!(
                "rust encodes ALL_KINDS unlike python: {}",
                byte_difference(&rust_bytes, &python_bytes)
            )
        })?;
        let decoded: Value =
            payload::from_slice(&python_bytes).map_err(|e| format!("decode: {e}"))?;
        ensure(decoded == all_kinds(), || format!("decoded {decoded}"))
    });
}

/// A component on `backplane`, reached at the outward address like a Python component.
fn rust_component(name: &str, publisher: u16, subscriber: u16, topics: &[&str]) -> Step<Component> {
    let mut config = ComponentConfig::new(name)
        .backplane(outward(), publisher, subscriber)
        .connect_timeout(CONNECT_TIMEOUT);
    for topic in topics {
        config = config.subscribe(*topic);
    }
    config
        .connect()
        .map_err(|error| format!("{name}: connect: {error}"))
}

fn rust_backplane_in_process() -> Step<Backplane> {
    Backplane::bind(&BackplaneConfig {
        bind: "0.0.0.0".into(),
        publisher_port: 0,
        subscriber_port: 0,
        ..BackplaneConfig::default()
    })
    .map_err(|error| format!("backplane: {error}"))
}

#[test]
fn rust_publisher_python_subscriber_all_kinds() {
    let python = python_or_skip!("rust_publisher_python_subscriber_all_kinds");
    run_interop(
        "(d) rust publishes every kind, python decodes it",
        |scenario| {
            let backplane = rust_backplane_in_process()?;
            let (publisher, subscriber) = (backplane.publisher_port(), backplane.subscriber_port());
            let mut command = interop_script(&python, "sub_print.py");
            command.args(["-b", &outward(), "-p", &publisher.to_string()]);
            command.args([
                "-s",
                &subscriber.to_string(),
                "--topic",
                "all_kinds",
                "--expect",
                "all_kinds",
            ]);
            let mut sub = scenario.spawn("python sub_print", command)?;
            sub.wait_stdout("ready")?;

            let rust = rust_component("RustAllKinds", publisher, subscriber, &[])?;
            // Python's subscription reaches the backplane at an unknown moment: repeat until the
            // subscriber got one and exited.
            let done = "the Python subscriber done";
            try_wait_for(scenario.deadline(), done, || -> Step<Option<()>> {
                if !sub.is_running() {
                    return Ok(Some(()));
                }
                rust.publish("all_kinds", &all_kinds())
                    .map_err(|e| format!("publish: {e}"))?;
                std::thread::sleep(REPEAT);
                Ok(None)
            })?;
            sub.wait_success()?;
            sub.wait_stdout("MATCH")?;
            Ok(())
        },
    );
}

#[test]
fn python_publisher_rust_subscriber_all_kinds() {
    let python = python_or_skip!("python_publisher_rust_subscriber_all_kinds");
    run_interop(
        "(d) python publishes every kind, rust decodes it",
        |scenario| {
            let python_bytes = python_all_kinds_bytes(scenario, &python)?;
            let backplane = rust_backplane_in_process()?;
            let (publisher, subscriber) = (backplane.publisher_port(), backplane.subscriber_port());
            let mut rust = rust_component("RustAllKinds", publisher, subscriber, &["all_kinds"])?;

            let mut command = interop_script(&python, "pub_all_kinds.py");
            command.args(["-b", &outward(), "-p", &publisher.to_string()]);
            command.args(["-s", &subscriber.to_string(), "--topic", "all_kinds"]);
            command.args(["--ack-topic", "ack_all_kinds"]);
            let mut publisher_proc = scenario.spawn("python pub_all_kinds", command)?;

            let message = loop {
                let message = rust
                    .recv_timeout(scenario.remaining())
                    .map_err(|e| format!("recv: {e}"))?
                    .ok_or("no all_kinds message from python in time")?;
                if message.topic == "all_kinds" {
                    break message;
                }
            };
            ensure(message.payload == python_bytes, || {
                format!(
                    "payload is not packb's bytes: {}",
                    byte_difference(&message.payload, &python_bytes)
                )
            })?;
            let value = message.value().map_err(|e| format!("decode: {e}"))?;
            ensure(value == all_kinds(), || format!("decoded {value}"))?;

            let ack = Value::map([("ack", Value::Bool(true))]);
            let done = "the Python publisher done";
            try_wait_for(scenario.deadline(), done, || -> Step<Option<()>> {
                if !publisher_proc.is_running() {
                    return Ok(Some(()));
                }
                rust.publish("ack_all_kinds", &ack)
                    .map_err(|e| format!("publish: {e}"))?;
                std::thread::sleep(REPEAT);
                Ok(None)
            })?;
            publisher_proc.wait_success()?;
            publisher_proc.wait_stdout("acknowledged on ack_all_kinds")?;
            Ok(())
        },
    );
}

/// python-banyan's `monitor`: its console script next to the interpreter when there is one.
fn python_monitor(python: &std::path::Path) -> Command {
    let script = python.with_file_name("monitor");
    if script.is_file() {
        let mut command = Command::new(python);
        command
            .arg("-u")
            .arg(script)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        command
    } else {
        python_module(python, "python_banyan.utils.monitor.monitor")
    }
}

/// Publishes `{'marker': n}` on `topic` from `component` until `monitor` prints the topic.
fn until_monitor_prints(
    component: &Component,
    topic: &str,
    monitor: &mut ChildGuard,
    deadline: Instant,
) -> Step {
    let prefix = format!("{topic} ");
    let mut n = 0i64;
    let what = format!("the monitor printing {topic}");
    try_wait_for(deadline, &what, || -> Step<Option<()>> {
        if monitor
            .stdout()
            .iter()
            .any(|line| line.starts_with(&prefix))
        {
            return Ok(Some(()));
        }
        ensure(monitor.is_running(), || "python monitor exited".into())?;
        component
            .publish(topic, &Value::map([("marker", Value::Int(n))]))
            .map_err(|e| format!("publish: {e}"))?;
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
        Ok(None)
    })?;
    Ok(())
}

#[test]
fn python_monitor_prints_rust_probes_and_payloads_without_crashing() {
    let python = python_or_skip!("python_monitor_prints_rust_probes_and_payloads_without_crashing");
    run_interop("python monitor on the rust backplane", |scenario| {
        let (_backplane, publisher, subscriber) = rust_backplane(scenario)?;
        let mut command = python_monitor(&python);
        command.args(["-b", &outward(), "-p", &publisher, "-s", &subscriber]);
        let mut monitor = scenario.spawn("python monitor", command)?;
        monitor.wait_stdout("Loop Time")?;
        let (publisher, subscriber) = (
            publisher.parse().map_err(|_| "port")?,
            subscriber.parse().map_err(|_| "port")?,
        );

        // Once the monitor prints a marker, its subscription to everything is in force...
        let first = rust_component("RustMarker", publisher, subscriber, &[])?;
        until_monitor_prints(&first, "monitor_check", &mut monitor, scenario.deadline())?;
        // ...so it sees all of this component's probes, then its payload, then its marker
        // (one connection keeps order).
        let second = rust_component("RustProbeCheck", publisher, subscriber, &[])?;
        second
            .publish("all_kinds", &all_kinds())
            .map_err(|e| format!("publish: {e}"))?;
        until_monitor_prints(&second, "monitor_done", &mut monitor, scenario.deadline())?;

        let lines = monitor.stdout();
        let probe = lines
            .iter()
            .find(|line| line.starts_with("_banyan_probe/RustProbeCheck/"))
            .ok_or("the monitor printed no probe of RustProbeCheck")?;
        ensure(probe.contains("'component': 'RustProbeCheck'"), || {
            format!("probe printed as {probe:?}")
        })?;
        ensure(
            lines
                .iter()
                .any(|line| line.starts_with("all_kinds {'array_empty': []")),
            || "the monitor did not print the all_kinds payload".into(),
        )?;
        ensure(monitor.is_running(), || "the python monitor exited".into())?;
        let stderr = monitor.stderr();
        ensure(stderr.is_empty(), || {
            format!("the python monitor wrote to stderr: {stderr:?}")
        })
    });
}

#[test]
fn rust_monitor_prints_python_payload_from_python_backplane() {
    let python = python_or_skip!("rust_monitor_prints_python_payload_from_python_backplane");
    run_interop("rust monitor on the python backplane", |scenario| {
        let (_backplane, publisher, subscriber) = python_backplane(scenario, &python)?;
        let address = outward();
        // No -b: the Rust monitor finds the outward address itself, as Python components do,
        // which is the only address python-banyan's backplane listens on.
        let mut command = rust_bin("monitor");
        command.args(["-p", &publisher, "-s", &subscriber]);
        command.args([
            "--connect-timeout",
            "30",
            "--topic",
            "all_kinds",
            "--count",
            "1",
        ]);
        let mut monitor = scenario.spawn("rust monitor", command)?;
        let banner = monitor.wait_stdout("using Back Plane IP address")?;
        ensure(banner.ends_with(&format!(": {address}")), || {
            format!("rust monitor chose another address: {banner:?}")
        })?;

        let mut command = interop_script(&python, "pub_all_kinds.py");
        command.args([
            "-b",
            &address,
            "-p",
            &publisher,
            "-s",
            &subscriber,
            "--topic",
            "all_kinds",
        ]);
        let _publisher = scenario.spawn("python pub_all_kinds", command)?;
        monitor.wait_success()?;
        let expected = format!("all_kinds  {}", all_kinds());
        let printed = monitor.wait_stdout("all_kinds  ")?;
        ensure(printed == expected, || {
            format!("printed {printed}\nexpected {expected}")
        })
    });
}

#[test]
fn python_seed_works_unchanged_through_an_allowlist() {
    let python = python_or_skip!("python_seed_works_unchanged_through_an_allowlist");
    run_interop(
        "rust backplane with --allow + python server + python client",
        |scenario| {
            let outward = format!("{}/32", outward());
            let mut command = rust_bin("backplane");
            command.args([
                "-p",
                "0",
                "-s",
                "0",
                "--allow",
                "127.0.0.1/32",
                "--allow",
                &outward,
            ]);
            let backplane = scenario.spawn("rust backplane", command)?;
            let (publisher, subscriber) = backplane_ports(&backplane)?;
            let (publisher, subscriber) = (publisher.to_string(), subscriber.to_string());
            let mut command = interop_script(&python, "simple_echo_server.py");
            command.args(["-p", &publisher, "-s", &subscriber]);
            let server = scenario.spawn("python echo server", command)?;
            server.wait_stdout("EchoServer ready")?;
            let mut command = interop_script(&python, "simple_echo_client.py");
            command.args(["-p", &publisher, "-s", &subscriber]);
            let mut client = scenario.spawn("python echo client", command)?;
            check_echo(&mut client, &server)?;
            let refusals = backplane.stderr();
            ensure(
                !refusals.iter().any(|line| line.contains("refused")),
                || format!("allowed Python components were refused: {refusals:?}"),
            )
        },
    );
}
