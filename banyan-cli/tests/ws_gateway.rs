//! The `ws-gateway` and `monitor --stats` binaries: a Python Banyan page (the `websockets`
//! package) and a Python Banyan component talk through `ws-gateway`, and the message shapes
//! are those of Python's `ws_gateway.py`; `monitor --stats` prints the per-topic table.
//!
//! The Python test needs a Python with python-banyan and websockets (`$BANYAN_PYTHON`, else
//! `<repo>/.venv/bin/python`); without one it prints a skip reason and passes, except under
//! `CI=true`, where it fails.

use std::process::Command;
use std::time::Duration;

use banyan_host::Backplane;
use banyan_proto::payload::Value;
use banyan_testkit::interop::{run_interop, ws_page_and_device};
use banyan_testkit::{Step, banyan_python, ensure, try_wait_for};

fn backplane() -> Step<Backplane> {
    Ok(banyan_testkit::backplane())
}

fn ws_gateway(backplane: &Backplane) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ws-gateway"));
    command.args(["-b", "127.0.0.1", "--port", "0"]);
    command.args(["-p", &backplane.publisher_port().to_string()]);
    command.args(["-s", &backplane.subscriber_port().to_string()]);
    command
}

/// The `host:port` from `ws-gateway listening on HOST:PORT`.
fn listening(line: &str) -> Step<String> {
    line.split_whitespace()
        .last()
        .map(str::to_owned)
        .ok_or_else(|| format!("no address in {line:?}"))
}

#[test]
fn python_page_and_python_component_through_ws_gateway() {
    let Some(python) = banyan_python("python_page_and_python_component_through_ws_gateway") else {
        return;
    };
    if !banyan_testkit::python_websockets(
        &python,
        "python_page_and_python_component_through_ws_gateway",
    ) {
        return;
    }
    run_interop(
        "python page ⇄ ws-gateway ⇄ python component",
        |scenario| {
            let backplane = backplane()?;
            let gateway = scenario.spawn("ws-gateway", ws_gateway(&backplane))?;
            let address = listening(&gateway.wait_stdout("ws-gateway listening on")?)?;
            ws_page_and_device(
                scenario,
                &python,
                &address,
                &backplane.publisher_port().to_string(),
                &backplane.subscriber_port().to_string(),
            )
        },
    );
}

#[test]
fn ws_gateway_without_backplane_says_so_in_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_ws-gateway"))
        .args(["-b", "127.0.0.1", "-p", "1", "-s", "2", "--port", "0"])
        .args(["--connect-timeout", "0.3"])
        .output()
        .expect("run ws-gateway");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("ws-gateway: error: no backplane reachable"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_ws-gateway"))
        .args(["--allow", "not-a-network"])
        .output()
        .expect("run ws-gateway");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid --allow entry"), "{stderr}");
}

#[test]
fn monitor_stats_prints_the_per_topic_table() {
    run_interop("monitor --stats", |scenario| {
        let backplane = backplane()?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_monitor"));
        command.args([
            "-b",
            "127.0.0.1",
            "--stats",
            "--interval",
            "0.2",
            "--width",
            "100",
        ]);
        command.args(["-p", &backplane.publisher_port().to_string()]);
        command.args(["-s", &backplane.subscriber_port().to_string()]);
        let monitor = scenario.spawn("monitor --stats", command)?;
        monitor.wait_stdout("Banyan bus:")?;
        let publisher = banyan_testkit::config(&backplane, "publisher")
            .connect_timeout(Duration::from_secs(20))
            .connect()
            .map_err(|e| format!("publisher: {e}"))?;
        // Publish until the table shows the topic with its last payload.
        let shown = "the table showing stats/demo";
        let line = try_wait_for(scenario.deadline(), shown, || -> Step<Option<String>> {
            publisher
                .publish("stats/demo", &Value::map([("n", Value::Int(7))]))
                .map_err(|e| format!("publish: {e}"))?;
            let line = monitor
                .stdout()
                .into_iter()
                .find(|l| l.starts_with("stats/demo") && l.contains("{\"n\":7}"));
            if line.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(line)
        })?;
        let columns: Vec<&str> = line.split_whitespace().collect();
        ensure(columns.len() >= 6, || format!("short row {line:?}"))?;
        let rate: f64 = columns[1]
            .parse()
            .map_err(|_| format!("rate in {line:?}"))?;
        ensure(rate > 0.0, || format!("zero rate in {line:?}"))
    });
}
