//! Reports byte-identical to Python msgpack's, and Python's own command payloads accepted.
//! The golden bytes come from `golden/gen_reports.py` (real Python `msgpack.packb`).

mod common;

use std::collections::HashMap;

use banyan_onegpio::loopback::{LoopbackBank, Wires};
use banyan_onegpio::{Config, Engine, Outcome};
use common::*;

fn golden() -> HashMap<&'static str, Vec<u8>> {
    include_str!("../golden/payloads.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("name hex");
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (name, bytes)
        })
        .collect()
}

fn engine(wires: &Wires) -> Engine<LoopbackBank<'_>, 16, 4> {
    Engine::new(
        LoopbackBank::new(wires),
        Config {
            debounce_us: 0,
            ..Config::DEFAULT
        },
    )
}

#[test]
fn digital_report_bytes_are_pythons() {
    let g = golden();
    let wires = Wires::new();
    let mut e = engine(&wires);
    let mut sink = Recorder::new();
    e.handle(TO, &cmd("set_mode_digital_input", 3), 0, &mut sink);
    e.handle(TO, &cmd("set_mode_digital_input", 15), 0, &mut sink);
    wires.set_external(15, Some(true));
    e.poll(1, &mut sink);
    sink.take();
    wires.set_external(3, Some(true));
    e.poll(1_500_000, &mut sink);
    assert_eq!(sink.take()[0].bytes, g["report_digital"]);
    wires.set_external(15, Some(false));
    e.poll(123, &mut sink);
    assert_eq!(sink.take()[0].bytes, g["report_digital_low"]);
}

#[test]
fn analog_report_bytes_are_pythons() {
    let g = golden();
    let wires = Wires::new();
    let mut e = engine(&wires);
    let mut sink = Recorder::new();
    // Channel 3's ramp starts at 3072 and steps by 64 modulo 4096: 3072, …, 4032, 0, 64.
    e.handle(
        TO,
        &cmd_with("enable_analog_reporting", 3, "change_diff", i(0)),
        0,
        &mut sink,
    );
    for k in 1..=17u64 {
        e.poll(k * 100_000, &mut sink);
    }
    let last = sink.take().pop().unwrap();
    assert_eq!(last.int("value"), Some(64));
    // Timestamp 1.7 is not 0.0: compare everything but the timestamp against Python's bytes
    // made with 0.0, then a 0.25 s report byte for byte.
    let mut made = last.bytes.clone();
    let n = made.len();
    made[n - 8..].copy_from_slice(&0.0f64.to_be_bytes());
    assert_eq!(made, g["report_analog_small"]);

    // Channel 0 ramps 0, 64, …: its 17th read is 1024; sample every µs up to it.
    let wires = Wires::new();
    let mut e = Engine::<_, 16, 4>::new(
        LoopbackBank::new(&wires),
        Config {
            analog_interval_us: 1,
            ..Config::DEFAULT
        },
    );
    e.handle(TO, &cmd("set_mode_analog_input", 0), 0, &mut sink);
    for t in 1..=15u64 {
        e.poll(t, &mut sink);
    }
    sink.take();
    e.poll(250_000, &mut sink);
    let reports = sink.take();
    let r = reports
        .iter()
        .find(|r| r.int("value") == Some(1024))
        .expect("ramp reaches 1024");
    assert_eq!(r.timestamp(), Some(0.25));
    assert_eq!(r.bytes, g["report_analog"]);
}

#[test]
fn error_report_bytes_are_pythons() {
    let g = golden();
    let wires = Wires::new();
    let mut e = engine(&wires);
    let mut sink = Recorder::new();
    e.handle(TO, &cmd("set_mode_digital_input", 2), 0, &mut sink);
    let write = map(&[
        ("command", s("digital_write")),
        ("pin", i(2)),
        ("value", i(1)),
    ]);
    e.handle(TO, &write, 0, &mut sink);
    assert_eq!(sink.take_error().bytes, g["report_error"]);
    e.handle(TO, &cmd("blink", 2), 0, &mut sink);
    assert_eq!(sink.take_error().bytes, g["report_error_unknown"]);
    e.handle(TO, &map(&[("pin", i(2))]), 0, &mut sink);
    assert_eq!(sink.take_error().bytes, g["report_error_no_command"]);
}

#[test]
fn pythons_command_payloads_are_carried_out() {
    let g = golden();
    let wires = Wires::new();
    let mut e = engine(&wires);
    let mut sink = Recorder::new();
    for name in [
        "cmd_blinker_mode",
        "cmd_blinker_on",
        "cmd_blinker_off",
        "cmd_tk_output",
        "cmd_tk_write",
        "cmd_tk_pwm_mode",
        "cmd_tk_pwm_write",
        "cmd_tk_tone",
        "cmd_tk_input",
        "cmd_servo_mode",
        "cmd_servo_position",
        "cmd_analog_mode",
        "cmd_analog_enable",
        "cmd_pullup",
        "cmd_disable_digital",
    ] {
        assert_eq!(
            e.handle(TO, &g[name], 0, &mut sink),
            Outcome::Done,
            "{name}"
        );
    }
    assert!(sink.take().iter().all(|r| r.kind() != "error"));
    assert!(wires.level(2), "cmd_tk_write left pin 2 high");
    assert_eq!(wires.duty(4), banyan_onegpio::loopback::MAX_DUTY);
    assert_eq!(wires.tone(6), 1000);
    assert_eq!(e.tag_pin("servo"), Some(8));
    assert_eq!(e.tag_pin("pot"), Some(1));
    assert!(!e.digital_reporting(3));
}

#[test]
fn i2c_and_sonar_report_bytes_are_pythons() {
    use banyan_onegpio::report::{I2C_REPORT_BUF_LEN, i2c_data, sonar_data};
    let g = golden();
    let mut buf = [0u8; I2C_REPORT_BUF_LEN];
    let n = i2c_data(&mut buf, 72, 0, &[18, 52], 1_765_000_000_250_000).unwrap();
    assert_eq!(buf[..n], g["report_i2c"]);
    for (cm, name) in [(25, "report_sonar"), (400, "report_sonar_far")] {
        let n = sonar_data(&mut buf, cm).unwrap();
        assert_eq!(buf[..n], g[name], "{name}");
    }
}
