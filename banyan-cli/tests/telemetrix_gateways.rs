//! `rpgw` and `esp32gw` against the Telemetrix device model (`banyan_testkit::telemetrix`,
//! the firmware's documented behaviour; see docs/telemetrix.md) and an in-process
//! backplane: OneGPIO commands become the Telemetrix frames s3-extend's gateways send, the
//! board's reports become their reports, a bad value gets an error report and the gateway
//! serves on, and a dropped link or a device reset is reopened, handshaken again and every
//! pin setting restored. `rpgw` opens the model's pty as a serial port; `esp32gw` learns the
//! board's address from the `ip_address` message; `ardgw --telemetrix` drives a
//! Telemetrix4Arduino on a pty. The comparison with s3-extend's own
//! gateways, step for step, is `banyan-gateways/tests/telemetrix_diff/diff.py` (CI step 35).
//! Needs `python3` for the model (standard library only): skipped when absent, a failure
//! under CI=true.

use std::process::Command;
use std::time::{Duration, Instant};

use banyan_host::{Backplane, Component};
use banyan_proto::payload::{self, MapReader, Value, ValueRef};
use banyan_proto::telemetrix::Family;
use banyan_testkit::telemetrix::{Board, TelemetrixDevice};
use banyan_testkit::{ChildGuard, Scenario, Step, backplane, ensure, require_tool, run_scenario};

const RPGW: &str = env!("CARGO_BIN_EXE_rpgw");
const ESP32GW: &str = env!("CARGO_BIN_EXE_esp32gw");
const ARDGW: &str = env!("CARGO_BIN_EXE_ardgw");
const TIMEOUT: Duration = Duration::from_secs(90);

fn gateway(
    scenario: &mut Scenario,
    program: &str,
    bp: &Backplane,
    extra: &[&str],
) -> Step<ChildGuard> {
    let mut command = Command::new(program);
    command.args([
        "-b",
        "127.0.0.1",
        "-p",
        &bp.publisher_port().to_string(),
        "-s",
        &bp.subscriber_port().to_string(),
        "--connect-timeout",
        "30",
        "--max-backoff",
        "0.5",
    ]);
    command.args(extra);
    let child = scenario.spawn(program.rsplit('/').next().unwrap_or(program), command)?;
    child.wait_stdout("using Back Plane IP address")?;
    Ok(child)
}

fn command(pairs: &[(&str, Value)]) -> Vec<u8> {
    payload::to_vec(&Value::map(pairs.iter().cloned())).expect("pack")
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn text(s: &str) -> Value {
    Value::Str(s.into())
}

/// Every frame the device received is kept here, so that waits look at the whole history.
struct Frames {
    seen: Vec<Vec<u8>>,
}

impl Frames {
    fn new() -> Self {
        Self { seen: Vec::new() }
    }

    fn clear(&mut self, device: &mut TelemetrixDevice) -> Step {
        device.take_frames().map_err(|e| e.to_string())?;
        self.seen.clear();
        Ok(())
    }

    /// Waits until the device has received `expect`, in order and back to back.
    fn wait_for(
        &mut self,
        device: &mut TelemetrixDevice,
        expect: &[&[u8]],
        timeout: Duration,
    ) -> Step {
        let until = Instant::now() + timeout;
        loop {
            self.seen
                .extend(device.take_frames().map_err(|e| e.to_string())?);
            if self
                .seen
                .windows(expect.len())
                .any(|w| w.iter().zip(expect).all(|(a, b)| a.as_slice() == *b))
            {
                return Ok(());
            }
            ensure(Instant::now() < until, || {
                format!(
                    "the device never received {expect:02x?}; it got {:02x?}",
                    self.seen
                )
            })?;
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Sends `payload` on `topic` until the device has received `expect` (the gateway's
/// subscription may not be in force for the first ones).
fn send_until(
    test: &Component,
    topic: &str,
    device: &mut TelemetrixDevice,
    frames: &mut Frames,
    payload: &[u8],
    expect: &[&[u8]],
    deadline: Instant,
) -> Step {
    loop {
        test.publish_raw(topic.as_bytes(), payload)
            .map_err(|e| e.to_string())?;
        if frames
            .wait_for(device, expect, Duration::from_millis(700))
            .is_ok()
        {
            return Ok(());
        }
        ensure(Instant::now() < deadline, || {
            format!("the device never received {expect:02x?}")
        })?;
    }
}

/// The next report on `topic`.
fn report(test: &mut Component, topic: &str) -> Step<Vec<u8>> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(message) = test
            .recv_timeout(Duration::from_millis(100))
            .map_err(|e| e.to_string())?
            && message.topic == topic
        {
            return Ok(message.payload);
        }
        ensure(Instant::now() < until, || format!("no report on {topic}"))?;
    }
}

fn field<'a>(payload: &'a [u8], key: &str) -> Option<ValueRef<'a>> {
    MapReader::new(payload).ok()?.get(key)
}

fn is_input_report(got: &[u8], kind: &str, pin: i64, value: i64) -> bool {
    field(got, "report") == Some(ValueRef::Str(kind))
        && field(got, "pin") == Some(ValueRef::Int(pin))
        && field(got, "value") == Some(ValueRef::Int(value))
        && matches!(field(got, "timestamp"), Some(ValueRef::F64(t))
            if (t - banyan_gateways::driver::wall_us() as f64 / 1e6).abs() < 60.0)
}

fn is_error(got: &[u8], reason: &str) -> bool {
    field(got, "report") == Some(ValueRef::Str("error"))
        && field(got, "reason") == Some(ValueRef::Str(reason))
}

fn start(family: Family, board: Board, test: &str) -> Option<TelemetrixDevice> {
    let python = require_tool(test, "python3")?;
    Some(TelemetrixDevice::start(&python, family, board).expect("the device model starts"))
}

#[test]
fn rpgw_drives_a_pico_and_restores_it_after_an_unplug_and_a_reset() {
    let Some(mut device) = start(Family::RpiPico, Board::Pty, "rpgw") else {
        return;
    };
    run_scenario("rpgw: Telemetrix4RpiPico model", TIMEOUT, |scenario| {
        let bp = backplane();
        let pty = device.pty_path().expect("a pty").display().to_string();
        let mut frames = Frames::new();
        let mut rpgw = gateway(scenario, RPGW, &bp, &["-c", &pty])?;
        // The handshake, as tmx-pico-aio: unique id, then firmware version.
        frames.wait_for(&mut device, &[&[1, 6], &[1, 5]], TIMEOUT)?;
        rpgw.wait_stderr("ready")?;
        let mut test = banyan_testkit::config(&bp, "test")
            .subscribe("from_rpi_pico_gateway")
            .connect()
            .map_err(|e| e.to_string())?;
        let deadline = scenario.deadline();
        let to = "to_rpi_pico_gateway";

        let output = command(&[
            ("command", text("set_mode_digital_output")),
            ("pin", int(25)),
        ]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &output,
            &[&[3, 1, 25, 1]],
            deadline,
        )?;
        let high = command(&[
            ("command", text("digital_write")),
            ("pin", int(25)),
            ("value", int(1)),
        ]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &high,
            &[&[3, 2, 25, 1]],
            deadline,
        )?;

        // rpgw's digital input is a pull-up input with reporting on; it idles high.
        let input = command(&[
            ("command", text("set_mode_digital_input")),
            ("pin", int(15)),
        ]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &input,
            &[&[4, 1, 15, 3, 1]],
            deadline,
        )?;
        let got = report(&mut test, "from_rpi_pico_gateway")?;
        ensure(is_input_report(&got, "digital_input", 15, 1), || {
            format!("report {got:02x?}")
        })?;
        device.input(15, 0).map_err(|e| e.to_string())?;
        let got = report(&mut test, "from_rpi_pico_gateway")?;
        ensure(is_input_report(&got, "digital_input", 15, 0), || {
            format!("report {got:02x?}")
        })?;

        // PWM as a percentage of the 20 000-step period.
        let pwm = command(&[("command", text("set_mode_pwm")), ("pin", int(16))]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &pwm,
            &[&[3, 1, 16, 2]],
            deadline,
        )?;
        let half = command(&[
            ("command", text("pwm_write")),
            ("pin", int(16)),
            ("value", int(50)),
        ]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &half,
            &[&[4, 3, 16, 0x27, 0x10]],
            deadline,
        )?;

        // A bad value: an error report, nothing sent, the gateway serves on.
        let bad = command(&[
            ("command", text("pwm_write")),
            ("pin", int(16)),
            ("value", int(100)),
        ]);
        test.publish_raw(to.as_bytes(), &bad)
            .map_err(|e| e.to_string())?;
        let got = report(&mut test, "from_rpi_pico_gateway")?;
        ensure(is_error(&got, "'value' out of range"), || {
            format!("report {got:02x?}")
        })?;

        // Unplugged and back: handshake again, then every pin as the bus left it.
        let restored: &[&[u8]] = &[
            &[1, 6],
            &[1, 5],
            &[4, 1, 15, 3, 1],
            &[3, 1, 16, 2],
            &[3, 1, 25, 1],
            &[4, 3, 16, 0x27, 0x10],
            &[3, 2, 25, 1],
        ];
        frames.clear(&mut device)?;
        device.drop_link().map_err(|e| e.to_string())?;
        frames.wait_for(&mut device, restored, TIMEOUT)?;
        rpgw.wait_stderr("pin settings restored (5 commands)")?;

        // The board reset (its state cleared, the port gone and back): the same restore.
        frames.clear(&mut device)?;
        device.reset().map_err(|e| e.to_string())?;
        frames.wait_for(&mut device, restored, TIMEOUT)?;
        let state = device.state().map_err(|e| e.to_string())?;
        ensure(state["outputs"]["25"] == 1, || {
            format!("device state {state}")
        })?;

        let status = rpgw.terminate()?;
        ensure(status.success(), || format!("rpgw exited with {status:?}"))?;
        let stdout = rpgw.stdout();
        ensure(
            stdout
                .iter()
                .any(|l| l.starts_with("rpgw stopped: 3 connection(s), 2 lost")),
            || format!("exit line: {stdout:?}"),
        )?;
        Ok(())
    });
}

#[test]
fn esp32gw_takes_its_address_from_the_bus_and_restores_the_board_after_a_reset() {
    let Some(mut device) = start(Family::Esp32, Board::Tcp, "esp32gw") else {
        return;
    };
    run_scenario("esp32gw: Telemetrix4Esp32 model", TIMEOUT, |scenario| {
        let bp = backplane();
        let address = device.tcp_addr().expect("a TCP board").to_string();
        let mut frames = Frames::new();
        let mut esp32gw = gateway(scenario, ESP32GW, &bp, &[])?;
        let mut test = banyan_testkit::config(&bp, "test")
            .subscribe("from_esp32_gateway")
            .connect()
            .map_err(|e| e.to_string())?;
        let deadline = scenario.deadline();
        let to = "to_esp32_gateway";

        // No address yet: nothing connects. Then the Scratch extension's ip_address message.
        let ip = command(&[("command", text("ip_address")), ("address", text(&address))]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &ip,
            &[&[1, 5], &[1, 16]],
            deadline,
        )?;
        esp32gw.wait_stderr("ready")?;

        let output = command(&[
            ("command", text("set_mode_digital_output")),
            ("pin", int(2)),
        ]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &output,
            &[&[3, 1, 2, 1]],
            deadline,
        )?;
        let high = command(&[
            ("command", text("digital_write")),
            ("pin", int(2)),
            ("value", int(1)),
        ]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &high,
            &[&[3, 2, 2, 1]],
            deadline,
        )?;

        // Analog input on GPIO 32 with reporting on; the board's reading is published.
        let analog = command(&[("command", text("set_mode_analog_input")), ("pin", int(32))]);
        send_until(
            &test,
            to,
            &mut device,
            &mut frames,
            &analog,
            &[&[6, 1, 32, 3, 0, 0, 1]],
            deadline,
        )?;
        device.analog(32, 1234).map_err(|e| e.to_string())?;
        let got = report(&mut test, "from_esp32_gateway")?;
        ensure(is_input_report(&got, "analog_input", 32, 1234), || {
            format!("report {got:02x?}")
        })?;

        // GPIO 34 is input-only on an ESP32: an error report, the gateway serves on.
        let bad = command(&[
            ("command", text("set_mode_digital_output")),
            ("pin", int(34)),
        ]);
        test.publish_raw(to.as_bytes(), &bad)
            .map_err(|e| e.to_string())?;
        let got = report(&mut test, "from_esp32_gateway")?;
        ensure(is_error(&got, "'pin' out of range"), || {
            format!("report {got:02x?}")
        })?;

        // The board resets (state cleared, TCP dropped): reconnect, handshake, restore.
        frames.clear(&mut device)?;
        device.reset().map_err(|e| e.to_string())?;
        frames.wait_for(
            &mut device,
            &[
                &[1, 5],
                &[1, 16],
                &[3, 1, 2, 1],
                &[3, 2, 2, 1],
                &[6, 1, 32, 3, 0, 0, 1],
            ],
            TIMEOUT,
        )?;
        esp32gw.wait_stderr("pin settings restored (3 commands)")?;
        let state = device.state().map_err(|e| e.to_string())?;
        ensure(state["outputs"]["2"] == 1, || {
            format!("device state {state}")
        })?;

        let status = esp32gw.terminate()?;
        ensure(status.success(), || {
            format!("esp32gw exited with {status:?}")
        })?;
        let stdout = esp32gw.stdout();
        ensure(
            stdout
                .iter()
                .any(|l| l.starts_with("esp32gw stopped: 2 connection(s), 1 lost")),
            || format!("exit line: {stdout:?}"),
        )?;
        Ok(())
    });
}

#[test]
fn ardgw_telemetrix_drives_a_telemetrix4arduino_and_restores_it_after_an_unplug() {
    let Some(mut device) = start(Family::Arduino, Board::Pty, "ardgw --telemetrix") else {
        return;
    };
    run_scenario(
        "ardgw --telemetrix: Telemetrix4Arduino model",
        TIMEOUT,
        |scenario| {
            let bp = backplane();
            let pty = device.pty_path().expect("a pty").display().to_string();
            let mut frames = Frames::new();
            let mut ardgw = gateway(scenario, ARDGW, &bp, &["--telemetrix", "-c", &pty])?;
            // ARE_U_THERE, GET_FIRMWARE_VERSION, then ENABLE_ALL_REPORTS once I_AM_HERE is 1.
            frames.wait_for(&mut device, &[&[1, 6], &[1, 5]], TIMEOUT)?;
            frames.wait_for(&mut device, &[&[1, 17]], TIMEOUT)?;
            ardgw.wait_stderr("ready")?;
            let mut test = banyan_testkit::config(&bp, "test")
                .subscribe("from_arduino_gateway")
                .connect()
                .map_err(|e| e.to_string())?;
            let deadline = scenario.deadline();
            let to = "to_arduino_gateway";

            let output = command(&[
                ("command", text("set_mode_digital_output")),
                ("pin", int(13)),
            ]);
            send_until(
                &test,
                to,
                &mut device,
                &mut frames,
                &output,
                &[&[3, 1, 13, 1]],
                deadline,
            )?;
            let high = command(&[
                ("command", text("digital_write")),
                ("pin", int(13)),
                ("value", int(1)),
            ]);
            send_until(
                &test,
                to,
                &mut device,
                &mut frames,
                &high,
                &[&[3, 2, 13, 1]],
                deadline,
            )?;
            let input = command(&[("command", text("set_mode_digital_input")), ("pin", int(2))]);
            send_until(
                &test,
                to,
                &mut device,
                &mut frames,
                &input,
                &[&[4, 1, 2, 0, 1]],
                deadline,
            )?;
            device.input(2, 1).map_err(|e| e.to_string())?;
            let got = report(&mut test, "from_arduino_gateway")?;
            ensure(is_input_report(&got, "digital_input", 2, 1), || {
                format!("report {got:02x?}")
            })?;
            // Telemetrix has no tone: an error report, the gateway serves on.
            let tone = command(&[
                ("command", text("play_tone")),
                ("pin", int(3)),
                ("freq", int(440)),
            ]);
            test.publish_raw(to.as_bytes(), &tone)
                .map_err(|e| e.to_string())?;
            let got = report(&mut test, "from_arduino_gateway")?;
            ensure(
                is_error(&got, "command not supported by Telemetrix4Arduino"),
                || format!("report {got:02x?}"),
            )?;

            frames.clear(&mut device)?;
            device.drop_link().map_err(|e| e.to_string())?;
            frames.wait_for(
                &mut device,
                &[&[1, 17], &[4, 1, 2, 0, 1], &[3, 1, 13, 1], &[3, 2, 13, 1]],
                TIMEOUT,
            )?;
            ardgw.wait_stderr("pin settings restored (3 commands)")?;

            let status = ardgw.terminate()?;
            ensure(status.success(), || format!("ardgw exited with {status:?}"))?;
            let stdout = ardgw.stdout();
            ensure(
                stdout
                    .iter()
                    .any(|l| l.starts_with("ardgw stopped: 2 connection(s), 1 lost")),
                || format!("exit line: {stdout:?}"),
            )?;
            Ok(())
        },
    );
}

#[test]
fn rpgw_without_a_port_and_no_pico_plugged_in_says_so() {
    // A test machine with a Pico plugged in would find it: skip then.
    if !banyan_gateways::firmata::discover::picos().is_empty() {
        eprintln!("a Pico serial port is present: the no-board message is not tested");
        return;
    }
    let output = Command::new(RPGW).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("rpgw: error: no Raspberry Pi Pico found among the serial ports"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_one_line_and_a_failure() {
    for (program, args, needle) in [
        (
            RPGW,
            &["-l", "loud"][..],
            "-l takes True, False or a log level",
        ),
        (
            RPGW,
            &["-c", "/dev/x", "--tcp", "127.0.0.1:1"],
            "cannot be used with",
        ),
        (
            ESP32GW,
            &["-c", "COM3"],
            "esp32gw reaches the ESP32 over Wi-Fi",
        ),
        (ESP32GW, &["--bogus"], "unexpected argument '--bogus'"),
    ] {
        let output = Command::new(program).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = program.rsplit('/').next().unwrap();
        assert!(!output.status.success(), "{name} {args:?} succeeded");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{name} {args:?}: {stderr}"
        );
        assert!(stderr.starts_with(&format!("{name}: error: ")), "{stderr}");
        assert!(stderr.contains(needle), "{name} {args:?}: {stderr}");
    }
}
