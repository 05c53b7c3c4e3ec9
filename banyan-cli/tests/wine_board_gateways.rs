//! The classroom's programs as Windows programs. `ardgw.exe` (from
//! `scripts/windows-build.sh`) under Wine drives a StandardFirmata board on a TCP stream
//! (`banyan_testkit::FirmataBoard`, answering with bytes recorded from the real firmware)
//! through a native backplane: the handshake, a OneGPIO write becoming Firmata bytes, a board
//! report becoming Python's report, a bad value's error report, a dropped link reopened with
//! every pin setting restored, and Ctrl-C (SIGINT, which Wine hands to the console control
//! handlers) ending it with its exit line. The same steps as `tests/ardgw.rs` on Linux.
//! `s3x.exe` starts the classroom stack and stops it on Ctrl-C (as `tests/classroom.rs`).
//!
//! Skipped (with the reason printed) unless `BANYAN_WINDOWS_BIN` names the `.exe` directory:
//! `.ci/steps.d/40-windows.sh` builds them, prepares the Wine prefix and sets it. Loopback only,
//! OS-chosen ports; every process is a `ChildGuard`, ended by its PID.

use std::time::{Duration, Instant};

use banyan_testkit::board_gateway::{arduino_gateway_answers, standard_firmata_session};
use banyan_testkit::wine::running;
use banyan_testkit::{FirmataBoard, ensure, run_scenario, wait_until, windows_bins};
use nix::sys::signal::Signal;

/// Wine starts slowly (0.2–0.6 s a program, more for the first one of a prefix): generous.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn windows_ardgw_drives_a_firmata_board_and_restores_it_after_a_dropped_link() {
    let test = "windows_ardgw_drives_a_firmata_board_and_restores_it_after_a_dropped_link";
    let Some(windows) = windows_bins(test) else {
        return;
    };
    run_scenario(
        "wine: ardgw.exe, fake StandardFirmata",
        TIMEOUT,
        |scenario| {
            let bp = banyan_testkit::backplane();
            let board = FirmataBoard::start()?;
            let mut command_line = windows.command("ardgw");
            command_line.args(["-b", "127.0.0.1"]);
            command_line.args(["-p", &bp.publisher_port().to_string()]);
            command_line.args(["-s", &bp.subscriber_port().to_string()]);
            command_line.args(["--connect-timeout", "60"]);
            command_line.args(["--tcp", &format!("127.0.0.1:{}", board.port())]);
            let mut gateway = scenario.spawn("ardgw.exe", command_line)?;
            gateway.wait_stdout("using Back Plane IP address")?;
            standard_firmata_session(&gateway, &board, &bp, TIMEOUT)?;

            // Ctrl-C: it exits by itself, successfully, with its exit line.
            gateway.signal(Signal::SIGINT)?;
            let status = gateway.wait_exit()?;
            ensure(status.success(), || {
                format!("ardgw.exe exited with {status:?}")
            })?;
            let stdout = gateway.stdout();
            ensure(
                stdout
                    .iter()
                    .any(|line| line.starts_with("ardgw stopped: 2 connection(s), 1 lost")),
                || format!("exit line: {stdout:?}"),
            )
        },
    );
}

/// The classroom launcher as a Windows program: `s3x.exe` starts `backplane.exe`, `wsgw.exe`
/// and a board gateway (`onegpio-sim.exe`, the OneGPIO engine on virtual pins, standing in
/// for `ardgw.exe`) found next to itself, each one's output prefixed; the gateway answers a
/// native component through that backplane; Ctrl-C (the console's Ctrl-C under Wine) stops
/// all three in reverse order, and none of them is left running — no `taskkill`, no process
/// scan in the launcher.
#[test]
fn windows_s3x_runs_the_classroom_stack_and_ctrl_c_stops_all() {
    let test = "windows_s3x_runs_the_classroom_stack_and_ctrl_c_stops_all";
    let Some(windows) = windows_bins(test) else {
        return;
    };
    run_scenario("wine: s3x.exe, the classroom stack", TIMEOUT, |scenario| {
        let (publisher, subscriber) = banyan_testkit::free_port_pair()?;
        let (p, s) = (publisher.to_string(), subscriber.to_string());
        let mut command_line = windows.command("s3x");
        command_line.args(["-b", "127.0.0.1", "--ws-port", "0", "-p", &p, "-s", &s]);
        command_line.args(["onegpio-sim", "-d", "arduino"]);
        let mut s3x = scenario.spawn("s3x.exe", command_line)?;
        s3x.wait_stdout("[backplane] Backplane IP address")?;
        s3x.wait_stdout("[wsgw] wsgw listening on 127.0.0.1:")?;
        s3x.wait_stdout("[onegpio-sim] OneGPIO virtual pins ready")?;
        arduino_gateway_answers(publisher, subscriber, scenario.deadline())?;
        let children = ["backplane.exe", "wsgw.exe", "onegpio-sim.exe"];
        for child in children {
            ensure(!running(&[child, &p]).is_empty(), || {
                format!("{child} -p {p} not found running")
            })?;
        }

        s3x.signal(Signal::SIGINT)?;
        let status = s3x.wait_exit()?;
        ensure(status.success(), || {
            format!("s3x.exe exited with {status:?}")
        })?;
        s3x.wait_stdout("[s3x] stopped")?;
        // `stopped`: it exited on the Ctrl-Break s3x.exe sent its process group; `killed`:
        // its Job Object was terminated after the grace period (Wine 8 does not deliver
        // Ctrl-Break to another process group, as bls.exe's test finds too).
        let stopped: Vec<String> = s3x
            .stdout()
            .iter()
            .filter(|line| {
                line.starts_with("[s3x] ")
                    && (line.contains(") stopped (") || line.contains(") killed ("))
            })
            .map(|line| line.split(' ').nth(1).unwrap_or_default().to_owned())
            .collect();
        ensure(stopped == ["onegpio-sim", "wsgw", "backplane"], || {
            format!("stop order {stopped:?}")
        })?;
        let mut left = Vec::new();
        wait_until(
            Instant::now() + Duration::from_secs(20),
            "every process s3x.exe started gone",
            || {
                left = children
                    .iter()
                    .flat_map(|child| running(&[child, &p]))
                    .collect();
                left.is_empty()
            },
        )
        .map_err(|error| format!("{error}; still running: {left:?}"))?;
        Ok(())
    });
}
