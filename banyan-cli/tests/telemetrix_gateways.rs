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

use std::time::{Duration, Instant};

use banyan_host::{Backplane, Component};
use banyan_proto::payload::Value;
use banyan_proto::telemetrix::Family;
use banyan_testkit::board_gateway::{
    self, assert_one_line_error, command, int, is_error, is_input_report, next_report, stop, text,
};
use banyan_testkit::telemetrix::{Board, TelemetrixDevice};
use banyan_testkit::{
    ChildGuard, Scenario, Step, backplane, ensure, require_tool, run_scenario, try_wait_for,
};

const RPGW: &str = env!("CARGO_BIN_EXE_rpgw");
const ESP32GW: &str = env!("CARGO_BIN_EXE_esp32gw");
const ARDGW: &str = env!("CARGO_BIN_EXE_ardgw");
const TIMEOUT: Duration = Duration::from_secs(90);

/// The gateway on `bp`, reopening the board's link quickly.
fn gateway(
    scenario: &mut Scenario,
    program: &str,
    bp: &Backplane,
    extra: &[&str],
) -> Step<ChildGuard> {
    let mut flags = vec!["--max-backoff", "0.5"];
    flags.extend_from_slice(extra);
    board_gateway::start(scenario, program, bp, &flags)
}

/// The device model and every frame it received, so that waits look at the whole history.
struct Model {
    device: TelemetrixDevice,
    seen: Vec<Vec<u8>>,
}

impl Model {
    /// The model of `family`'s firmware on `board`; `None` (the test skipped) without
    /// `python3` outside CI.
    fn start(family: Family, board: Board, test: &str) -> Option<Self> {
        let python = require_tool(test, "python3")?;
        let device =
            TelemetrixDevice::start(&python, family, board).expect("the device model starts");
        Some(Self {
            device,
            seen: Vec::new(),
        })
    }

    fn clear(&mut self) -> Step {
        self.device.take_frames().map_err(|e| e.to_string())?;
        self.seen.clear();
        Ok(())
    }

    /// Waits until the device has received `expect`, in order and back to back (the
    /// model's frames are asked for every 50 ms, not at the kit's pace: each ask is a
    /// request to the Python model).
    fn wait_for(&mut self, expect: &[&[u8]], timeout: Duration) -> Step {
        let until = Instant::now() + timeout;
        loop {
            self.seen
                .extend(self.device.take_frames().map_err(|e| e.to_string())?);
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

/// The test's component on the bus: commands to the gateway's topic, its reports read.
struct Bus {
    test: Component,
    to: &'static str,
    from: &'static str,
    deadline: Instant,
}

impl Bus {
    fn connect(
        bp: &Backplane,
        to: &'static str,
        from: &'static str,
        deadline: Instant,
    ) -> Step<Self> {
        let test = banyan_testkit::config(bp, "test")
            .subscribe(from)
            .connect()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            test,
            to,
            from,
            deadline,
        })
    }

    /// Sends the command until the device has received `expect` (the gateway's
    /// subscription may not be in force for the first ones).
    fn send(&self, model: &mut Model, pairs: &[(&str, Value)], expect: &[&[u8]]) -> Step {
        let payload = command(pairs);
        let what = format!("the device to receive {expect:02x?}");
        Ok(try_wait_for(
            self.deadline,
            &what,
            || -> Step<Option<()>> {
                self.test
                    .publish_raw(self.to.as_bytes(), &payload)
                    .map_err(|e| e.to_string())?;
                Ok(model
                    .wait_for(expect, Duration::from_millis(700))
                    .is_ok()
                    .then_some(()))
            },
        )?)
    }

    /// Sends the command once: the gateway refuses it with an error report saying `reason`.
    fn refused(&mut self, pairs: &[(&str, Value)], reason: &str) -> Step {
        self.test
            .publish_raw(self.to.as_bytes(), &command(pairs))
            .map_err(|e| e.to_string())?;
        let got = next_report(&mut self.test, self.from)?;
        ensure(is_error(&got, reason), || format!("report {got:02x?}"))
    }

    /// The next report is `kind` (`digital_input`, `analog_input`) of `pin` with `value`.
    fn input_report(&mut self, kind: &str, pin: i64, value: i64) -> Step {
        let got = next_report(&mut self.test, self.from)?;
        ensure(is_input_report(&got, kind, pin, value), || {
            format!("report {got:02x?}")
        })
    }
}

#[test]
fn rpgw_drives_a_pico_and_restores_it_after_an_unplug_and_a_reset() {
    let Some(mut model) = Model::start(Family::RpiPico, Board::Pty, "rpgw") else {
        return;
    };
    run_scenario("rpgw: Telemetrix4RpiPico model", TIMEOUT, |scenario| {
        let bp = backplane();
        let pty = model
            .device
            .pty_path()
            .expect("a pty")
            .display()
            .to_string();
        let mut rpgw = gateway(scenario, RPGW, &bp, &["-c", &pty])?;
        // The handshake, as tmx-pico-aio: unique id, then firmware version.
        model.wait_for(&[&[1, 6], &[1, 5]], TIMEOUT)?;
        rpgw.wait_stderr("ready")?;
        let mut bus = Bus::connect(
            &bp,
            "to_rpi_pico_gateway",
            "from_rpi_pico_gateway",
            scenario.deadline(),
        )?;

        let output = [
            ("command", text("set_mode_digital_output")),
            ("pin", int(25)),
        ];
        bus.send(&mut model, &output, &[&[3, 1, 25, 1]])?;
        let high = [
            ("command", text("digital_write")),
            ("pin", int(25)),
            ("value", int(1)),
        ];
        bus.send(&mut model, &high, &[&[3, 2, 25, 1]])?;

        // rpgw's digital input is a pull-up input with reporting on; it idles high.
        let input = [
            ("command", text("set_mode_digital_input")),
            ("pin", int(15)),
        ];
        bus.send(&mut model, &input, &[&[4, 1, 15, 3, 1]])?;
        bus.input_report("digital_input", 15, 1)?;
        model.device.input(15, 0).map_err(|e| e.to_string())?;
        bus.input_report("digital_input", 15, 0)?;

        // PWM as a percentage of the 20 000-step period.
        let pwm = [("command", text("set_mode_pwm")), ("pin", int(16))];
        bus.send(&mut model, &pwm, &[&[3, 1, 16, 2]])?;
        let half = [
            ("command", text("pwm_write")),
            ("pin", int(16)),
            ("value", int(50)),
        ];
        bus.send(&mut model, &half, &[&[4, 3, 16, 0x27, 0x10]])?;

        // A bad value: an error report, nothing sent, the gateway serves on.
        let bad = [
            ("command", text("pwm_write")),
            ("pin", int(16)),
            ("value", int(100)),
        ];
        bus.refused(&bad, "'value' out of range")?;

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
        model.clear()?;
        model.device.drop_link().map_err(|e| e.to_string())?;
        model.wait_for(restored, TIMEOUT)?;
        rpgw.wait_stderr("pin settings restored (5 commands)")?;

        // The board reset (its state cleared, the port gone and back): the same restore.
        model.clear()?;
        model.device.reset().map_err(|e| e.to_string())?;
        model.wait_for(restored, TIMEOUT)?;
        let state = model.device.state().map_err(|e| e.to_string())?;
        ensure(state["outputs"]["25"] == 1, || {
            format!("device state {state}")
        })?;

        stop(&mut rpgw, |line| {
            line.starts_with("rpgw stopped: 3 connection(s), 2 lost")
        })
    });
}

#[test]
fn esp32gw_takes_its_address_from_the_bus_and_restores_the_board_after_a_reset() {
    let Some(mut model) = Model::start(Family::Esp32, Board::Tcp, "esp32gw") else {
        return;
    };
    run_scenario("esp32gw: Telemetrix4Esp32 model", TIMEOUT, |scenario| {
        let bp = backplane();
        let address = model.device.tcp_addr().expect("a TCP board").to_string();
        let mut esp32gw = gateway(scenario, ESP32GW, &bp, &[])?;
        let mut bus = Bus::connect(
            &bp,
            "to_esp32_gateway",
            "from_esp32_gateway",
            scenario.deadline(),
        )?;

        // No address yet: nothing connects. Then the Scratch extension's ip_address message.
        let ip = [("command", text("ip_address")), ("address", text(&address))];
        bus.send(&mut model, &ip, &[&[1, 5], &[1, 16]])?;
        esp32gw.wait_stderr("ready")?;

        let output = [
            ("command", text("set_mode_digital_output")),
            ("pin", int(2)),
        ];
        bus.send(&mut model, &output, &[&[3, 1, 2, 1]])?;
        let high = [
            ("command", text("digital_write")),
            ("pin", int(2)),
            ("value", int(1)),
        ];
        bus.send(&mut model, &high, &[&[3, 2, 2, 1]])?;

        // Analog input on GPIO 32 with reporting on; the board's reading is published.
        let analog = [("command", text("set_mode_analog_input")), ("pin", int(32))];
        bus.send(&mut model, &analog, &[&[6, 1, 32, 3, 0, 0, 1]])?;
        model.device.analog(32, 1234).map_err(|e| e.to_string())?;
        bus.input_report("analog_input", 32, 1234)?;

        // GPIO 34 is input-only on an ESP32: an error report, the gateway serves on.
        let bad = [
            ("command", text("set_mode_digital_output")),
            ("pin", int(34)),
        ];
        bus.refused(&bad, "'pin' out of range")?;

        // The board resets (state cleared, TCP dropped): reconnect, handshake, restore.
        model.clear()?;
        model.device.reset().map_err(|e| e.to_string())?;
        model.wait_for(
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
        let state = model.device.state().map_err(|e| e.to_string())?;
        ensure(state["outputs"]["2"] == 1, || {
            format!("device state {state}")
        })?;

        stop(&mut esp32gw, |line| {
            line.starts_with("esp32gw stopped: 2 connection(s), 1 lost")
        })
    });
}

#[test]
fn ardgw_telemetrix_drives_a_telemetrix4arduino_and_restores_it_after_an_unplug() {
    let Some(mut model) = Model::start(Family::Arduino, Board::Pty, "ardgw --telemetrix") else {
        return;
    };
    run_scenario(
        "ardgw --telemetrix: Telemetrix4Arduino model",
        TIMEOUT,
        |scenario| {
            let bp = backplane();
            let pty = model
                .device
                .pty_path()
                .expect("a pty")
                .display()
                .to_string();
            let mut ardgw = gateway(scenario, ARDGW, &bp, &["--telemetrix", "-c", &pty])?;
            // ARE_U_THERE, GET_FIRMWARE_VERSION, then ENABLE_ALL_REPORTS once I_AM_HERE is 1.
            model.wait_for(&[&[1, 6], &[1, 5]], TIMEOUT)?;
            model.wait_for(&[&[1, 17]], TIMEOUT)?;
            ardgw.wait_stderr("ready")?;
            let mut bus = Bus::connect(
                &bp,
                "to_arduino_gateway",
                "from_arduino_gateway",
                scenario.deadline(),
            )?;

            let output = [
                ("command", text("set_mode_digital_output")),
                ("pin", int(13)),
            ];
            bus.send(&mut model, &output, &[&[3, 1, 13, 1]])?;
            let high = [
                ("command", text("digital_write")),
                ("pin", int(13)),
                ("value", int(1)),
            ];
            bus.send(&mut model, &high, &[&[3, 2, 13, 1]])?;
            let input = [("command", text("set_mode_digital_input")), ("pin", int(2))];
            bus.send(&mut model, &input, &[&[4, 1, 2, 0, 1]])?;
            model.device.input(2, 1).map_err(|e| e.to_string())?;
            bus.input_report("digital_input", 2, 1)?;
            // Telemetrix has no tone: an error report, the gateway serves on.
            let tone = [
                ("command", text("play_tone")),
                ("pin", int(3)),
                ("freq", int(440)),
            ];
            bus.refused(&tone, "command not supported by Telemetrix4Arduino")?;

            model.clear()?;
            model.device.drop_link().map_err(|e| e.to_string())?;
            model.wait_for(
                &[&[1, 17], &[4, 1, 2, 0, 1], &[3, 1, 13, 1], &[3, 2, 13, 1]],
                TIMEOUT,
            )?;
            ardgw.wait_stderr("pin settings restored (3 commands)")?;

            stop(&mut ardgw, |line| {
                line.starts_with("ardgw stopped: 2 connection(s), 1 lost")
            })
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
    assert_one_line_error(
        RPGW,
        &[],
        "rpgw: error: no Raspberry Pi Pico found among the serial ports",
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
        assert_one_line_error(program, args, needle);
    }
}
