//! OneGPIO with real Python Banyan peers: `onegpio-sim` (the `banyan-onegpio` engine on the
//! virtual loopback bank, as a Banyan component) driven by python-banyan 3.17 components.
//!
//! * `onegpio_check.py` (the QEMU end-to-end check, `boards/qemu-lm3s6965/tests/python/`):
//!   digital loopback reports, analog reports, three invalid commands and their error reports,
//!   and service after them — all decoded by Python's msgpack.
//! * Python's own `blinker.py`, unchanged (`-d rpi`): its commands drive pin 2, and pin 3's
//!   `digital_input` reports follow the blinking.
//!
//! Everything on 127.0.0.1 with OS-chosen ports; Python components get `-b 127.0.0.1`. Needs a
//! Python with python-banyan (see `python_interop.rs`): skipped with a reason without one,
//! except under `CI=true`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use banyan_host::ComponentConfig;
use banyan_proto::payload::Value;
use banyan_testkit::backplane_ports;
use banyan_testkit::interop::run_interop;
use banyan_testkit::{
    ChildGuard, Scenario, Step, banyan_python, ensure, python_module, try_wait_for,
};

/// A Rust backplane on loopback with OS-chosen ports: (process, publisher, subscriber).
fn backplane(scenario: &mut Scenario) -> Step<(ChildGuard, String, String)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backplane"));
    command.args(["-p", "0", "-s", "0", "--bind", "127.0.0.1"]);
    let backplane = scenario.spawn("backplane", command)?;
    let (publisher, subscriber) = backplane_ports(&backplane)?;
    let (publisher, subscriber) = (publisher.to_string(), subscriber.to_string());
    Ok((backplane, publisher, subscriber))
}

/// `onegpio-sim` for `device`, connected and subscribed.
fn simulator(
    scenario: &mut Scenario,
    device: &str,
    publisher: &str,
    subscriber: &str,
) -> Step<ChildGuard> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_onegpio-sim"));
    command.args([
        "-b",
        "127.0.0.1",
        "-p",
        publisher,
        "-s",
        subscriber,
        "-d",
        device,
    ]);
    command.args(["--connect-timeout", "30"]);
    let sim = scenario.spawn("onegpio-sim", command)?;
    sim.wait_stdout("OneGPIO virtual pins ready")?;
    Ok(sim)
}

#[test]
fn python_onegpio_check_against_the_engine() {
    let Some(python) = banyan_python("python_onegpio_check_against_the_engine") else {
        return;
    };
    run_interop("python onegpio_check.py + onegpio-sim", |scenario| {
        let (_backplane, publisher, subscriber) = backplane(scenario)?;
        let _sim = simulator(scenario, "pico", &publisher, &subscriber)?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../boards/qemu-lm3s6965/tests/python/onegpio_check.py");
        let mut command = Command::new(&python);
        command.arg("-u").arg(script);
        command.args([
            "-b",
            "127.0.0.1",
            "-p",
            &publisher,
            "-s",
            &subscriber,
            "-t",
            "20",
        ]);
        command.env("PYTHONDONTWRITEBYTECODE", "1");
        let mut check = scenario.spawn("onegpio_check.py", command)?;
        check.wait_success()?;
        check.wait_stdout("onegpio_check: all steps passed")?;
        for step in ["step 1 ok", "step 2 ok", "step 3 ok", "step 4 ok"] {
            check.wait_stdout(step)?;
        }
        Ok(())
    });
}

#[test]
fn pythons_blinker_unchanged_drives_the_engine() {
    let Some(python) = banyan_python("pythons_blinker_unchanged_drives_the_engine") else {
        return;
    };
    run_interop(
        "python blinker.py -d rpi + onegpio-sim -d rpi",
        |scenario| {
            let (_backplane, publisher, subscriber) = backplane(scenario)?;
            let _sim = simulator(scenario, "rpi", &publisher, &subscriber)?;
            let port = |p: &str| p.parse::<u16>().map_err(|e| e.to_string());
            let mut observer = ComponentConfig::new("observer")
                .backplane("127.0.0.1", port(&publisher)?, port(&subscriber)?)
                .subscribe("from_rpi_gateway")
                .connect_timeout(Duration::from_secs(30))
                .connect()
                .map_err(|e| format!("observer: {e}"))?;

            // blinker.py -g 2: set_mode_digital_output on pin 2 tagged 'blinker', then
            // digital_write by tag alone every second. Pin 3 is wired to pin 2.
            let mut command = python_module(&python, "projects.OneGPIO.shared.blinker");
            command.args([
                "-b",
                "127.0.0.1",
                "-p",
                &publisher,
                "-s",
                &subscriber,
                "-d",
                "rpi",
                "-g",
                "2",
            ]);
            let _blinker = scenario.spawn("blinker.py", command)?;
            // Pin 3 is not an input until we say so (from this Rust component).
            observer
                .publish(
                    "to_rpi_gateway",
                    &Value::map([
                        ("command", Value::Str("set_mode_digital_input".into())),
                        ("pin", Value::Int(3)),
                    ]),
                )
                .map_err(|e| e.to_string())?;

            let mut values = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(30).min(scenario.remaining());
            let waited = try_wait_for(
                deadline,
                "three reports of pin 3",
                || -> Step<Option<()>> {
                    let Some(message) = observer
                        .recv_timeout(Duration::from_millis(200))
                        .map_err(|e| e.to_string())?
                    else {
                        return Ok(None);
                    };
                    let report = message.value().map_err(|e| e.to_string())?;
                    let kind = report.get("report").and_then(Value::as_str);
                    ensure(kind == Some("digital_input"), || {
                        format!("unexpected report {report}")
                    })?;
                    ensure(report.get("pin").and_then(Value::as_i64) == Some(3), || {
                        format!("report for another pin: {report}")
                    })?;
                    values.push(report.get("value").and_then(Value::as_i64).unwrap_or(-1));
                    Ok((values.len() >= 3).then_some(()))
                },
            );
            waited.map_err(|error| format!("{error}; pin 3 reported {values:?}"))?;
            ensure(values.len() >= 3, || {
                format!("pin 3 reported only {values:?}")
            })?;
            ensure(values.windows(2).all(|w| w[0] != w[1]), || {
                format!("pin 3 did not follow the blinking: {values:?}")
            })
        },
    );
}

#[test]
fn onegpio_sim_refuses_a_bad_device_name_in_one_line() {
    for (device, why) in [
        ("", "device name is empty"),
        (&*"d".repeat(33), "longer than 32"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_onegpio-sim"))
            .args(["-b", "127.0.0.1", "-p", "1", "-s", "1", "-d", device])
            .output()
            .expect("run onegpio-sim");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("onegpio-sim: error: --device: "),
            "{stderr}"
        );
        assert!(stderr.contains(why), "{stderr}");
    }
}
