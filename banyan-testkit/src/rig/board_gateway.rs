//! The board gateways' rig (`ardgw`, `rpgw`, `esp32gw` in banyan-cli's tests): the gateway
//! binary started on a backplane, OneGPIO commands built, reports awaited and read, the exit
//! line and the one-line flag errors checked; `ardgw`'s session with a StandardFirmata board
//! ([`standard_firmata_session`]) shared by its Linux and Wine tests.

use std::process::Command;
use std::time::{Duration, Instant};

use banyan_host::{Backplane, Component};
use banyan_proto::payload::{self, MapReader, Value, ValueRef};

use crate::firmata_board::FirmataBoard;
use crate::process::ChildGuard;
use crate::scenario::{Scenario, Step, ensure};
use crate::wait::try_wait_for;

/// How long [`next_report`] waits for a report.
pub const REPORT_WAIT: Duration = Duration::from_secs(20);

/// Starts the gateway binary `program` on `bp` (loopback, a 30 s connect timeout) with
/// `extra` flags, and waits for its banner.
pub fn start(
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
    ]);
    command.args(extra);
    let child = scenario.spawn(program.rsplit('/').next().unwrap_or(program), command)?;
    child.wait_stdout("using Back Plane IP address")?;
    Ok(child)
}

/// A OneGPIO command payload from its key/value pairs.
pub fn command(pairs: &[(&str, Value)]) -> Vec<u8> {
    payload::to_vec(&Value::map(pairs.iter().cloned())).expect("pack")
}

/// An integer value of [`command`].
pub fn int(n: i64) -> Value {
    Value::Int(n)
}

/// A string value of [`command`].
pub fn text(s: &str) -> Value {
    Value::Str(s.into())
}

/// The value of `key` in a report payload.
pub fn field<'a>(payload: &'a [u8], key: &str) -> Option<ValueRef<'a>> {
    MapReader::new(payload).ok()?.get(key)
}

/// The next payload on `topic` (other topics are skipped), within [`REPORT_WAIT`].
pub fn next_report(test: &mut Component, topic: &str) -> Step<Vec<u8>> {
    let until = Instant::now() + REPORT_WAIT;
    let what = format!("a report on {topic}");
    Ok(try_wait_for(until, &what, || -> Step<Option<Vec<u8>>> {
        let message = test
            .recv_timeout(Duration::from_millis(100))
            .map_err(|e| e.to_string())?;
        Ok(message
            .filter(|message| message.topic == topic)
            .map(|message| message.payload))
    })?)
}

/// `got` is an input report (`digital_input`, `analog_input`) of `pin` with `value`, stamped
/// with this minute's wall-clock time (Python's `time.time()`).
pub fn is_input_report(got: &[u8], kind: &str, pin: i64, value: i64) -> bool {
    let now = banyan_gateways::driver::wall_us() as f64 / 1e6;
    field(got, "report") == Some(ValueRef::Str(kind))
        && field(got, "pin") == Some(ValueRef::Int(pin))
        && field(got, "value") == Some(ValueRef::Int(value))
        && matches!(field(got, "timestamp"), Some(ValueRef::F64(t)) if (t - now).abs() < 60.0)
}

/// `got` is an `error` report with `reason`.
pub fn is_error(got: &[u8], reason: &str) -> bool {
    field(got, "report") == Some(ValueRef::Str("error"))
        && field(got, "reason") == Some(ValueRef::Str(reason))
}

/// Ends the gateway with SIGTERM; it must exit 0 and print an exit line that `exit_line`
/// accepts.
pub fn stop(gateway: &mut ChildGuard, exit_line: impl Fn(&str) -> bool) -> Step {
    let status = gateway.terminate()?;
    ensure(status.success(), || {
        format!("{} exited with {status:?}", gateway.name())
    })?;
    let stdout = gateway.stdout();
    ensure(stdout.iter().any(|line| exit_line(line)), || {
        format!("exit line: {stdout:?}")
    })
}

/// Runs `program ARGS` (no backplane needed: it fails first); it must fail with one line on
/// stderr, `NAME: error: …` containing `needle`.
pub fn assert_one_line_error(program: &str, args: &[&str], needle: &str) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} does not start: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let name = program.rsplit('/').next().unwrap_or(program);
    assert!(!output.status.success(), "{name} {args:?} succeeded");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "{name} {args:?}: {stderr}"
    );
    assert!(stderr.starts_with(&format!("{name}: error: ")), "{stderr}");
    assert!(stderr.contains(needle), "{name} {args:?}: {stderr}");
}

/// A OneGPIO board gateway on the backplane at `127.0.0.1:publisher/subscriber` answers:
/// `set_mode_analog_input` on pin 0 is sent on `to_arduino_gateway` until a report comes back
/// on `from_arduino_gateway`, by `deadline` (the gateway may still be starting).
pub fn arduino_gateway_answers(publisher: u16, subscriber: u16, deadline: Instant) -> Step {
    let config = banyan_host::component::ComponentConfig {
        backplane: Some("127.0.0.1".into()),
        publisher_port: publisher,
        subscriber_port: subscriber,
        connect_timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let mut component = config
        .subscribe("from_arduino_gateway")
        .connect()
        .map_err(|e| format!("component: {e}"))?;
    let command = Value::map([
        ("command", Value::from("set_mode_analog_input")),
        ("pin", Value::Int(0)),
    ]);
    let report = try_wait_for(
        deadline,
        "an analog_input report on from_arduino_gateway",
        || -> Step<Option<Value>> {
            component
                .publish("to_arduino_gateway", &command)
                .map_err(|e| format!("publish: {e}"))?;
            let message = component
                .recv_timeout(Duration::from_millis(300))
                .map_err(|e| format!("receive: {e}"))?;
            message
                .map(|message| message.value().map_err(|e| format!("decode: {e}")))
                .transpose()
        },
    )?;
    ensure(report.get("report").is_some(), || {
        format!("no report field in {report:?}")
    })
}

/// Sends `payload` on `to_arduino_gateway` until `board` has received `expect`, by
/// `deadline` (the gateway's subscription may not be in force for the first ones).
pub fn send_until_board_has(
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

/// Pin settings the session of [`standard_firmata_session`] leaves on the board, as the
/// Firmata bytes a restore sends: D2 input, D13 output, port 1 with D13 high, D2 reported.
pub const SESSION_RESTORE: [u8; 11] = [0xF4, 2, 0, 0xF4, 13, 1, 0x91, 0x20, 0, 0xD0, 1];

/// What `ardgw` (the Linux binary or `ardgw.exe` under Wine) must do with a StandardFirmata
/// board ([`FirmataBoard`]) on `bp`, the steps its tests share: the handshake (version,
/// firmware, are-you-there; capabilities and analog mapping) and the `ready` line; D13 as an
/// output driven high; D2 as an input whose port report becomes Python's `digital_input`
/// report; a bad pin's `error` report; then the link dropped, reopened, handshaken again and
/// every pin setting restored ([`SESSION_RESTORE`]), with the `pin settings restored` line.
pub fn standard_firmata_session(
    gateway: &ChildGuard,
    board: &FirmataBoard,
    bp: &Backplane,
    timeout: Duration,
) -> Step {
    let deadline = Instant::now() + timeout;
    board.wait_for(&[0xF9, 0xF0, 0x79, 0xF7, 0xF0, 0x51, 0xF7], timeout)?;
    board.wait_for(&[0xF0, 0x6B, 0xF7, 0xF0, 0x69, 0xF7], timeout)?;
    gateway.wait_stderr("ready, 20 pins, 6 analog channels")?;
    let mut test = crate::config(bp, "test")
        .subscribe("from_arduino_gateway")
        .connect()
        .map_err(|e| e.to_string())?;

    // D13 output high: mode, port 1 low, then port 1 with bit 5.
    let output = command(&[
        ("command", text("set_mode_digital_output")),
        ("pin", int(13)),
    ]);
    send_until_board_has(&test, board, &output, &[0xF4, 13, 1, 0x91, 0, 0], deadline)?;
    let high = command(&[
        ("command", text("digital_write")),
        ("pin", int(13)),
        ("value", int(1)),
    ]);
    send_until_board_has(&test, board, &high, &[0x91, 0x20, 0], deadline)?;

    // D2 input: the board's port report becomes Python's digital_input report.
    let input = command(&[("command", text("set_mode_digital_input")), ("pin", int(2))]);
    send_until_board_has(&test, board, &input, &[0xF4, 2, 0, 0xD0, 1], deadline)?;
    board.send(&[0x90, 0x04, 0x00])?;
    let got = next_report(&mut test, "from_arduino_gateway")?;
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
    let got = next_report(&mut test, "from_arduino_gateway")?;
    ensure(is_error(&got, "'pin' out of range"), || {
        format!("report {got:02x?}")
    })?;

    // The link drops: the gateway reopens it, handshakes again and restores D2 and D13.
    board.clear();
    board.drop_connection();
    board.wait_for(&[0xF0, 0x6B, 0xF7], timeout)?;
    board.wait_for(&SESSION_RESTORE, timeout)?;
    ensure(board.connections() == 2, || {
        format!("{} connections", board.connections())
    })?;
    gateway.wait_stderr("pin settings restored")?;
    Ok(())
}
