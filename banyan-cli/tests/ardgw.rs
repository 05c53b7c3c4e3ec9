//! `ardgw` without the emulator: flag errors and the no-board message (one line, non-zero
//! exit), and the real binary against a fake StandardFirmata board on a TCP stream
//! (`banyan_testkit::FirmataBoard`, answering with bytes recorded from the real firmware)
//! and an in-process backplane: OneGPIO commands become the Firmata bytes, board messages
//! become Python's reports, a bad value gets an error report, a dropped link is reopened,
//! handshaken again and every pin setting restored, and so is a board that announces a reboot. The emulated Uno runs are in
//! `scripts/arduino-emu.sh` (CI step 33).

use std::process::Command;
use std::time::{Duration, Instant};

use banyan_host::{Backplane, Component};
use banyan_testkit::board_gateway::{
    self, assert_one_line_error, command, int, is_error, is_input_report, next_report, stop, text,
};
use banyan_testkit::{
    ChildGuard, FirmataBoard, Scenario, Step, backplane, ensure, run_scenario, try_wait_for,
};

const ARDGW: &str = env!("CARGO_BIN_EXE_ardgw");
const TIMEOUT: Duration = Duration::from_secs(60);

fn ardgw(scenario: &mut Scenario, board: &FirmataBoard, bp: &Backplane) -> Step<ChildGuard> {
    let tcp = format!("127.0.0.1:{}", board.port());
    board_gateway::start(scenario, ARDGW, bp, &["--tcp", &tcp])
}

/// Sends `payload` on `to_arduino_gateway` until the board has received `expect` (the
/// gateway's subscription may not be in force for the first ones).
fn send_until(
    test: &Component,
    board: &FirmataBoard,
    payload: &[u8],
    expect: &[u8],
    deadline: Instant,
) -> Step {
    let what = format!("the board to receive {expect:02x?}");
    Ok(try_wait_for(deadline, &what, || -> Step<Option<()>> {
        test.publish_raw(b"to_arduino_gateway", payload)
            .map_err(|e| e.to_string())?;
        Ok(board
            .wait_for(expect, Duration::from_millis(500))
            .is_ok()
            .then_some(()))
    })?)
}

/// The next report on `from_arduino_gateway`.
fn report(test: &mut Component) -> Step<Vec<u8>> {
    next_report(test, "from_arduino_gateway")
}

#[test]
fn drives_a_standard_firmata_board_and_restores_it_after_a_dropped_link_and_a_reset() {
    run_scenario("ardgw: fake StandardFirmata", TIMEOUT, |scenario| {
        let bp = backplane();
        let board = FirmataBoard::start()?;
        let mut gateway = ardgw(scenario, &board, &bp)?;
        // The handshake: version, firmware, are-you-there; then capabilities and mapping.
        board.wait_for(&[0xF9, 0xF0, 0x79, 0xF7, 0xF0, 0x51, 0xF7], TIMEOUT)?;
        board.wait_for(&[0xF0, 0x6B, 0xF7, 0xF0, 0x69, 0xF7], TIMEOUT)?;
        gateway.wait_stderr("ready, 20 pins, 6 analog channels")?;
        let mut test = banyan_testkit::config(&bp, "test")
            .subscribe("from_arduino_gateway")
            .connect()
            .map_err(|e| e.to_string())?;
        let deadline = scenario.deadline();

        // D13 output high: mode, port 1 low, then port 1 with bit 5.
        let output = command(&[
            ("command", text("set_mode_digital_output")),
            ("pin", int(13)),
        ]);
        send_until(&test, &board, &output, &[0xF4, 13, 1, 0x91, 0, 0], deadline)?;
        let high = command(&[
            ("command", text("digital_write")),
            ("pin", int(13)),
            ("value", int(1)),
        ]);
        send_until(&test, &board, &high, &[0x91, 0x20, 0], deadline)?;

        // D2 input: the board's port report becomes Python's digital_input report.
        let input = command(&[("command", text("set_mode_digital_input")), ("pin", int(2))]);
        send_until(&test, &board, &input, &[0xF4, 2, 0, 0xD0, 1], deadline)?;
        board.send(&[0x90, 0x04, 0x00])?;
        let got = report(&mut test)?;
        ensure(is_input_report(&got, "digital_input", 2, 1), || {
            format!("report {got:02x?}")
        })?;

        // A bad value: an error report, nothing sent, the gateway serves on.
        let bad = command(&[
            ("command", text("digital_write")),
            ("pin", int(99)),
            ("value", int(1)),
        ]);
        test.publish_raw(b"to_arduino_gateway", &bad)
            .map_err(|e| e.to_string())?;
        let got = report(&mut test)?;
        ensure(is_error(&got, "'pin' out of range"), || {
            format!("report {got:02x?}")
        })?;

        // The link drops: ardgw reopens it, handshakes again and restores D2 and D13.
        board.clear();
        board.drop_connection();
        board.wait_for(&[0xF0, 0x6B, 0xF7], TIMEOUT)?;
        board.wait_for(&[0xF4, 2, 0, 0xF4, 13, 1, 0x91, 0x20, 0, 0xD0, 1], TIMEOUT)?;
        ensure(board.connections() == 2, || {
            format!("{} connections", board.connections())
        })?;
        gateway.wait_stderr("pin settings restored")?;

        // The board boots again (its unasked version and name): the same restore.
        board.clear();
        board.send(&banyan_testkit::firmata_board::recorded("identity"))?;
        gateway.wait_stderr("it was reset; restoring its pin settings")?;
        board.wait_for(&[0xF4, 2, 0, 0xF4, 13, 1, 0x91, 0x20, 0, 0xD0, 1], TIMEOUT)?;

        stop(&mut gateway, |line| {
            line.starts_with("ardgw stopped: 2 connection(s), 1 lost")
                && line.ends_with("1 resets seen")
        })
    });
}

#[test]
fn bad_flags_and_no_board_are_one_line_and_a_failure() {
    for (args, needle) in [
        (&["-i", "300"][..], "-i takes an instance id from 1 to 127"),
        (&["-k", "maybe"], "-k takes True or False"),
        (&["--baud", "5"], "--baud 5 is not a serial rate"),
        (&["-l", "loud"], "-l takes True, False or a log level"),
        (&["--tcp", "nohost"], "--tcp nohost: expected HOST:PORT"),
        (&["--tcp", "127.0.0.1:0"], "expected HOST:PORT"),
        (&["--bogus"], "unexpected argument '--bogus'"),
        (
            &["-c", "/dev/x", "--tcp", "127.0.0.1:1"],
            "cannot be used with",
        ),
    ] {
        assert_one_line_error(ARDGW, args, needle);
    }
}

#[test]
fn without_a_port_and_no_arduino_plugged_in_it_says_so() {
    // A test machine with an Arduino plugged in would find it: skip then.
    if !banyan_gateways::firmata::discover::arduinos().is_empty() {
        eprintln!("an Arduino-like serial port is present: the no-board message is not tested");
        return;
    }
    let output = Command::new(ARDGW).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("ardgw: error: no Arduino found among the serial ports"),
        "{stderr}"
    );
    assert!(stderr.contains("-c PORT or --tcp HOST:PORT"), "{stderr}");
}
