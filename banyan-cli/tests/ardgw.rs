//! `ardgw` without the emulator: flag errors and the no-board message (one line, non-zero
//! exit), and the real binary against a fake StandardFirmata board on a TCP stream
//! (`banyan_testkit::FirmataBoard`, answering with bytes recorded from the real firmware)
//! and an in-process backplane: OneGPIO commands become the Firmata bytes, board messages
//! become Python's reports, a bad value gets an error report, a dropped link is reopened,
//! handshaken again and every pin setting restored, and so is a board that announces a reboot. The emulated Uno runs are in
//! `scripts/arduino-emu.sh` (CI step 33).

use std::process::Command;
use std::time::Duration;

use banyan_host::Backplane;
use banyan_testkit::board_gateway::{self, assert_one_line_error, stop};
use banyan_testkit::{ChildGuard, FirmataBoard, Scenario, Step, backplane, run_scenario};

const ARDGW: &str = env!("CARGO_BIN_EXE_ardgw");
const TIMEOUT: Duration = Duration::from_secs(60);

fn ardgw(scenario: &mut Scenario, board: &FirmataBoard, bp: &Backplane) -> Step<ChildGuard> {
    let tcp = format!("127.0.0.1:{}", board.port());
    board_gateway::start(scenario, ARDGW, bp, &["--tcp", &tcp])
}

#[test]
fn drives_a_standard_firmata_board_and_restores_it_after_a_dropped_link_and_a_reset() {
    run_scenario("ardgw: fake StandardFirmata", TIMEOUT, |scenario| {
        let bp = backplane();
        let board = FirmataBoard::start()?;
        let mut gateway = ardgw(scenario, &board, &bp)?;
        board_gateway::standard_firmata_session(&gateway, &board, &bp, TIMEOUT)?;

        // The board boots again (its unasked version and name): the same restore.
        board.clear();
        board.send(&banyan_testkit::firmata_board::recorded("identity"))?;
        gateway.wait_stderr("it was reset; restoring its pin settings")?;
        board.wait_for(&board_gateway::SESSION_RESTORE, TIMEOUT)?;

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
