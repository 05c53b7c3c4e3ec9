//! `wsgw` carries the Scratch 3 OneGPIO extensions' messages: a Python page (the `websockets`
//! package, `tests/python/scratch_page.py`) sends exactly what the Arduino and the Raspberry
//! Pi Pico extensions send,
//! a Python Banyan board (`scratch_board.py`) records what reaches the bus and answers with
//! s3-extend's report shapes. The same run goes through s3-extend 1.35's own `wsgw` (PyPI,
//! `.ci/pip.d/classroom.txt`), and both must give the same bus messages and the same reports.
//!
//! Needs a Python with python-banyan and websockets (`$BANYAN_PYTHON`, else `.venv`), and
//! s3-extend for the comparison; without them the test prints why it skips and passes,
//! except under `CI=true`, where it fails.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use banyan_testkit::interop::{interop_script, run_interop, rust_backplane};
use banyan_testkit::{ChildGuard, Scenario, Step, banyan_python, ensure, python_module};

/// What reached the board (`got` lines) and what the page received (`report` lines).
#[derive(Debug, PartialEq)]
struct Run {
    bus: Vec<String>,
    reports: Vec<String>,
    raw: Vec<String>,
}

/// What the Arduino board must receive after the warm-up, as Python's `json.dumps` prints it.
const ARDUINO_BUS: [&str; 11] = [
    r#"{"command": "set_mode_digital_output", "pin": 13}"#,
    r#"{"command": "digital_write", "pin": 13, "value": 1}"#,
    r#"{"command": "set_mode_pwm", "pin": 9}"#,
    r#"{"command": "pwm_write", "pin": 9, "value": 128}"#,
    r#"{"command": "set_mode_tone", "pin": 3}"#,
    r#"{"command": "play_tone", "pin": 3, "freq": 1000, "duration": 500}"#,
    r#"{"command": "set_mode_servo", "pin": 5}"#,
    r#"{"command": "servo_position", "pin": 5, "position": 90}"#,
    r#"{"command": "set_mode_analog_input", "pin": 1}"#,
    r#"{"command": "set_mode_sonar", "trigger_pin": 7, "echo_pin": 8}"#,
    r#"{"command": "set_mode_digital_input", "pin": 4}"#,
];

/// What the Pico board must receive after the warm-up.
const RPI_PICO_BUS: [&str; 9] = [
    r#"{"command": "set_mode_digital_output", "pin": 13}"#,
    r#"{"command": "digital_write", "pin": 13, "value": 1}"#,
    r#"{"command": "set_mode_pwm", "pin": 9}"#,
    r#"{"command": "pwm_write", "pin": 9, "value": 50}"#,
    r#"{"command": "set_mode_servo", "pin": 5}"#,
    r#"{"command": "servo_position", "pin": 5, "position": 90}"#,
    r#"{"command": "set_mode_analog_input", "pin": 1}"#,
    r#"{"command": "set_mode_sonar", "trigger_pin": 7, "echo_pin": 8}"#,
    r#"{"command": "set_mode_digital_input", "pin": 4, "pull": "^"}"#,
];

/// One extension: its board name, what reaches the bus, its warm-up message.
struct Case {
    board: &'static str,
    bus: &'static [&'static str],
    warm_up: &'static str,
}

const CASES: [Case; 2] = [
    Case {
        board: "arduino",
        bus: &ARDUINO_BUS,
        warm_up: r#"{"command": "set_mode_digital_input", "pin": 2}"#,
    },
    Case {
        board: "rpi_pico",
        bus: &RPI_PICO_BUS,
        warm_up: r#"{"command": "set_mode_digital_input", "pin": 2, "pull": "^"}"#,
    },
];

/// What the page must receive (timestamps as local time text, the gateways run with TZ=UTC).
const EXPECTED_REPORTS: [&str; 3] = [
    r#"{"report": "analog_input", "pin": 1, "value": 512, "timestamp": "2023-11-14 22:13:20"}"#,
    r#"{"report": "sonar_data", "value": 42}"#,
    r#"{"report": "digital_input", "pin": 4, "value": 1, "timestamp": "2023-11-14 22:13:20"}"#,
];

/// Which `wsgw` runs.
#[derive(Debug, Clone, Copy)]
enum Gateway {
    Ours,
    S3Extend,
}

fn lines_after(proc: &ChildGuard, prefix: &str) -> Vec<String> {
    proc.stdout()
        .iter()
        .filter_map(|line| line.strip_prefix(prefix).map(str::to_owned))
        .collect()
}

/// One run: a Rust backplane, the board, the gateway, the page.
fn run(scenario: &mut Scenario, python: &Path, gateway: Gateway, case: &Case) -> Step<Run> {
    let (_backplane, publisher, subscriber) = rust_backplane(scenario)?;
    let mut board = interop_script(python, "scratch_board.py");
    board.args([
        "-d",
        case.board,
        "-b",
        "127.0.0.1",
        "-p",
        &publisher,
        "-s",
        &subscriber,
    ]);
    let board = scenario.spawn("python scratch board", board)?;
    board.wait_stdout("ready")?;

    // The gateway's guard lives until the run's end (dropping it ends the process).
    let (_wsgw, address) = match gateway {
        Gateway::Ours => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_wsgw"));
            command.args([
                "-b",
                "127.0.0.1",
                "-p",
                &publisher,
                "-s",
                &subscriber,
                "-i",
                "0",
            ]);
            command.env("TZ", "UTC");
            let wsgw = scenario.spawn("wsgw", command)?;
            let line = wsgw.wait_stdout("wsgw listening on")?;
            let address = line
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .to_owned();
            (wsgw, address)
        }
        Gateway::S3Extend => {
            // s3-extend's wsgw takes a fixed port (-i); it binds 0.0.0.0.
            let port = banyan_testkit::free_port().map_err(|e| e.to_string())?;
            let mut command = python_module(python, "s3_extend.gateways.ws_gateway");
            command.args(["-b", "127.0.0.1", "-p", &publisher, "-s", &subscriber]);
            command.args(["-i", &port.to_string()]);
            command.env("TZ", "UTC");
            let wsgw = scenario.spawn("s3-extend wsgw", command)?;
            banyan_testkit::wait_listening(Ipv4Addr::LOCALHOST.into(), port, scenario.deadline())
                .map_err(|e| format!("s3-extend's wsgw: {e}\n{}", wsgw.output_report()))?;
            (wsgw, format!("127.0.0.1:{port}"))
        }
    };

    let mut page = interop_script(python, "scratch_page.py");
    page.arg(format!("ws://{address}/")).arg(case.board);
    let mut page = scenario.spawn("python scratch page", page)?;
    page.wait_success()?;
    page.wait_stdout("PAGE DONE")?;
    board.wait_stdout(case.bus[case.bus.len() - 1])?;
    let bus = lines_after(&board, "got ")
        .into_iter()
        .filter(|line| line != case.warm_up)
        .collect();
    Ok(Run {
        bus,
        reports: lines_after(&page, "report "),
        raw: lines_after(&page, "raw "),
    })
}

/// Whether `python` has s3-extend's `wsgw` module. `false` (after printing why) when not;
/// fails instead under `CI=true` (`.ci/pip.d/classroom.txt` installs it).
fn s3_extend(python: &Path) -> bool {
    let present = Command::new(python)
        .args(["-c", "import s3_extend.gateways.ws_gateway"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        present || !banyan_testkit::in_ci(),
        "s3-extend is required under CI=true (.ci/pip.d/classroom.txt)"
    );
    if !present {
        eprintln!(
            "skipping the s3-extend half: s3-extend is not installed (pip install s3-extend==1.35)"
        );
    }
    present
}

#[test]
fn scratch_extensions_messages_through_wsgw_and_s3_extends_wsgw() {
    const TEST: &str = "scratch_extensions_messages_through_wsgw_and_s3_extends_wsgw";
    let Some(python) = banyan_python(TEST) else {
        return;
    };
    if !banyan_testkit::python_websockets(&python, TEST) {
        return;
    }
    let compare = s3_extend(&python);
    run_interop("Scratch extensions ⇄ wsgw ⇄ board", |scenario| {
        for case in &CASES {
            let ours = run(scenario, &python, Gateway::Ours, case)?;
            ensure(ours.bus == case.bus, || {
                format!("{}: bus messages through wsgw: {:#?}", case.board, ours.bus)
            })?;
            ensure(ours.reports == EXPECTED_REPORTS, || {
                format!("{}: reports through wsgw: {:#?}", case.board, ours.reports)
            })?;
            if !compare {
                continue;
            }
            let theirs = run(scenario, &python, Gateway::S3Extend, case)?;
            ensure(theirs.bus == ours.bus, || {
                format!(
                    "{}: s3-extend's wsgw put other messages on the bus: {:#?} (ours: {:#?})",
                    case.board, theirs.bus, ours.bus
                )
            })?;
            ensure(theirs.reports == ours.reports, || {
                format!(
                    "{}: s3-extend's wsgw sent other reports: {:#?} (ours: {:#?})",
                    case.board, theirs.reports, ours.reports
                )
            })?;
            // The JSON text differs on purpose only in spacing: Python's json.dumps writes
            // `{"a": 1}`, serde_json `{"a":1}` (the extensions parse both with JSON.parse).
            ensure(theirs.raw.len() == ours.raw.len(), || {
                format!("raw reports: {:#?} vs {:#?}", theirs.raw, ours.raw)
            })?;
        }
        Ok(())
    });
}

#[test]
fn wsgw_without_backplane_says_so_in_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_wsgw"))
        .args(["-b", "127.0.0.1", "-p", "1", "-s", "2", "-i", "0"])
        .args(["--connect-timeout", "0.3"])
        .output()
        .expect("run wsgw");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("wsgw: error: no backplane reachable"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
