//! The engine against `embedded-hal-mock` (`mock::MockBoard`): every command and every
//! report, with exact expectations on the pins. The mocks panic on any operation not expected.

mod common;
mod mock;

use banyan_onegpio::{Outcome, PinMode};
use banyan_proto::payload::Value;
use common::*;
use embedded_hal_mock::eh1::digital::{State, Transaction as Pin};
use embedded_hal_mock::eh1::pwm::Transaction as Pwm;
use mock::*;

// ---------------------------------------------------------------- commands

#[test]
fn set_mode_digital_output_drives_low_or_the_given_value() {
    let mut e = engine();
    make_output(&mut e, 1);
    assert_eq!(e.board().modes, [(1, PinMode::DigitalOutput)]);
    assert_eq!(e.mode(1), Some(PinMode::DigitalOutput));

    e.board_mut().expect_pin(2, &[Pin::set(State::High)]);
    ok(
        &mut e,
        &cmd_with("set_mode_digital_output", 2, "value", i(1)),
    );
    // Same mode again: no set_mode call, only the explicit value.
    e.board_mut().expect_pin(2, &[Pin::set(State::Low)]);
    ok(
        &mut e,
        &cmd_with("set_mode_digital_output", 2, "value", i(0)),
    );
    ok(&mut e, &cmd("set_mode_digital_output", 2));
    assert_eq!(e.board().modes.len(), 2);
    done(&mut e);
}

#[test]
fn digital_write_takes_ints_and_bools() {
    let mut e = engine();
    make_output(&mut e, 3);
    e.board_mut().expect_pin(
        3,
        &[
            Pin::set(State::High),
            Pin::set(State::Low),
            Pin::set(State::High),
            Pin::set(State::Low),
        ],
    );
    for v in [i(1), i(0), Value::Bool(true), Value::Bool(false)] {
        ok(&mut e, &cmd_with("digital_write", 3, "value", v));
    }
    done(&mut e);
}

#[test]
fn digital_input_reports_changes_with_timestamps() {
    let mut e = engine();
    let mut sink = Recorder::new();
    // Baseline read at set_mode, then the poll inside handle.
    e.board_mut()
        .expect_pin(0, &[Pin::get(State::Low), Pin::get(State::Low)]);
    assert_eq!(
        e.handle(TO, &cmd("set_mode_digital_input", 0), 0, &mut sink),
        Outcome::Done
    );
    assert_eq!(e.board().modes, [(0, PinMode::DigitalInput)]);
    done(&mut e);
    assert!(sink.take().is_empty());

    e.board_mut().expect_pin(
        0,
        &[
            Pin::get(State::High),
            Pin::get(State::High),
            Pin::get(State::Low),
        ],
    );
    e.poll(2_000_000, &mut sink);
    e.poll(2_500_000, &mut sink);
    e.poll(3_250_000, &mut sink);
    done(&mut e);
    let reports = sink.take();
    assert_eq!(reports.len(), 2);
    for (r, (value, t)) in reports.iter().zip([(1, 2.0), (0, 3.25)]) {
        assert_eq!(r.topic, FROM);
        assert_eq!(r.keys(), ["report", "pin", "value", "timestamp"]);
        assert_eq!(r.kind(), "digital_input");
        assert_eq!(
            (r.pin(), r.int("value"), r.timestamp()),
            (Some(0), Some(value), Some(t))
        );
    }
}

#[test]
fn digital_input_pullup() {
    let mut e = engine();
    e.board_mut()
        .expect_pin(5, &[Pin::get(State::High), Pin::get(State::High)]);
    ok(&mut e, &cmd("set_mode_digital_input_pullup", 5));
    assert_eq!(e.board().modes, [(5, PinMode::DigitalInputPullUp)]);
    done(&mut e);
}

#[test]
fn enable_and_disable_digital_reporting() {
    let mut e = engine();
    e.board_mut()
        .expect_pin(1, &[Pin::get(State::Low), Pin::get(State::Low)]);
    ok(&mut e, &cmd("set_mode_digital_input", 1));
    // Disabled: no reads at all.
    ok(&mut e, &cmd("disable_digital_reporting", 1));
    assert!(!e.digital_reporting(1));
    done(&mut e);
    // Enabled: new baseline (High), then the poll's read: no report.
    e.board_mut()
        .expect_pin(1, &[Pin::get(State::High), Pin::get(State::High)]);
    ok(&mut e, &cmd("enable_digital_reporting", 1));
    assert!(e.digital_reporting(1));
    done(&mut e);
}

#[test]
fn pwm_write_scales_to_the_channel() {
    let mut e = engine();
    make_pwm(&mut e, 4, false);
    assert_eq!(e.board().modes, [(4, PinMode::Pwm)]);
    e.board_mut().expect_pwm(
        4,
        &[
            Pwm::max_duty_cycle(MAX),
            Pwm::set_duty_cycle(MAX),
            Pwm::max_duty_cycle(MAX),
            Pwm::set_duty_cycle(501), // 128 * 1000 / 255
            Pwm::max_duty_cycle(MAX),
            Pwm::set_duty_cycle(0),
        ],
    );
    for v in [255, 128, 0] {
        ok(&mut e, &cmd_with("pwm_write", 4, "value", i(v)));
    }
    // The Tk demo's set_mode_pwm before every write changes nothing.
    ok(&mut e, &cmd("set_mode_pwm", 4));
    done(&mut e);
}

#[test]
fn servo_position_is_a_pulse_width_at_50_hz() {
    let mut e = engine();
    make_pwm(&mut e, 5, true);
    assert_eq!(e.board().modes, [(5, PinMode::Servo)]);
    // Pulse 544 µs at 0°, 1472 µs at 90°, 2400 µs at 180°, of a 20 000 µs period.
    e.board_mut().expect_pwm(
        5,
        &[
            Pwm::max_duty_cycle(20_000),
            Pwm::set_duty_cycle(544),
            Pwm::max_duty_cycle(40_000),
            Pwm::set_duty_cycle(2944),
            Pwm::max_duty_cycle(20_000),
            Pwm::set_duty_cycle(2400),
        ],
    );
    for p in [0, 90, 180] {
        ok(&mut e, &cmd_with("servo_position", 5, "position", i(p)));
    }
    done(&mut e);
}

#[test]
fn tone_mode_and_play_tone_with_duration() {
    let mut e = engine();
    ok(&mut e, &cmd("set_mode_tone", 6));
    assert_eq!(e.board().modes, [(6, PinMode::Tone)]);
    let mut sink = Recorder::new();
    let tone = map(&[
        ("command", s("play_tone")),
        ("pin", i(6)),
        ("freq", i(2000)),
        ("duration", i(100)),
    ]);
    assert_eq!(e.handle(TO, &tone, 1_000, &mut sink), Outcome::Done);
    assert_eq!(e.board().tones, [(6, 2000)]);
    e.poll(100_999, &mut sink);
    assert_eq!(e.board().tones.len(), 1);
    e.poll(101_000, &mut sink);
    assert_eq!(e.board().tones, [(6, 2000), (6, 0)]);
    // Leaving tone mode silences the pin before reconfiguring it.
    let tone = map(&[("command", s("play_tone")), ("pin", i(6)), ("freq", i(300))]);
    assert_eq!(e.handle(TO, &tone, 200_000, &mut sink), Outcome::Done);
    e.board_mut().expect_pin(6, &[Pin::set(State::Low)]);
    assert_eq!(
        e.handle(TO, &cmd("set_mode_digital_output", 6), 300_000, &mut sink),
        Outcome::Done
    );
    assert_eq!(e.board().tones, [(6, 2000), (6, 0), (6, 300), (6, 0)]);
    assert!(sink.take().is_empty());
    done(&mut e);
}

#[test]
fn analog_input_reports_rate_threshold_and_disable() {
    let mut e = engine();
    let mut sink = Recorder::new();
    e.board_mut().adc.expected.extend([(0, Ok(100))]);
    let set = cmd_with("set_mode_analog_input", 0, "differential", i(10));
    assert_eq!(e.handle(TO, &set, 0, &mut sink), Outcome::Done);
    let r = sink.take();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].keys(), ["report", "pin", "value", "timestamp"]);
    assert_eq!(
        (r[0].kind(), r[0].pin(), r[0].int("value"), r[0].timestamp()),
        ("analog_input", Some(0), Some(100), Some(0.0))
    );
    // Every 10 ms; reported when |Δ| ≥ 10 from the last report.
    e.board_mut().adc.expected.extend([
        (0, Ok(105)),
        (0, Ok(109)),
        (0, Ok(90)),
        (0, Err(())),
        (0, Ok(4095)),
    ]);
    for t in [5_000, 10_000, 20_000, 30_000, 40_000, 50_000] {
        e.poll(t, &mut sink);
    }
    let values: Vec<_> = sink
        .take()
        .iter()
        .map(|r| r.int("value").unwrap())
        .collect();
    assert_eq!(values, [90, 4095]);
    assert_eq!(e.stats().hardware_errors, 1);
    // Channel 1 joins with enable_analog_reporting, default threshold 1.
    // Channel 0 keeps its threshold of 10: 4094 is no change, 4080 is.
    e.board_mut().adc.expected.extend([
        (0, Ok(4095)),
        (1, Ok(7)),
        (0, Ok(4094)),
        (1, Ok(7)),
        (0, Ok(4080)),
        (1, Ok(8)),
    ]);
    ok_with_reports(
        &mut e,
        &cmd("enable_analog_reporting", 1),
        60_000,
        &mut sink,
    );
    e.poll(70_000, &mut sink);
    e.poll(80_000, &mut sink);
    let got: Vec<_> = sink
        .take()
        .iter()
        .map(|r| (r.pin().unwrap(), r.int("value").unwrap()))
        .collect();
    assert_eq!(got, [(1, 7), (0, 4080), (1, 8)]);
    // Disabled: no reads.
    ok_with_reports(
        &mut e,
        &cmd("disable_analog_reporting", 0),
        85_000,
        &mut sink,
    );
    ok_with_reports(
        &mut e,
        &cmd("disable_analog_reporting", 1),
        85_000,
        &mut sink,
    );
    sink.take();
    e.poll(1_000_000, &mut sink);
    assert!(sink.take().is_empty());
    assert!(!e.analog_reporting(0) && !e.analog_reporting(1));
    done(&mut e);
}

fn ok_with_reports(e: &mut Mocked, payload: &[u8], now: u64, sink: &mut Recorder) {
    assert_eq!(e.handle(TO, payload, now, sink), Outcome::Done);
}

#[test]
fn tags_stand_for_pins() {
    let mut e = engine();
    e.board_mut()
        .expect_pin(2, &[Pin::set(State::Low), Pin::set(State::High)]);
    ok(
        &mut e,
        &map(&[
            ("command", s("set_mode_digital_output")),
            ("pin", i(2)),
            ("tag", s("led")),
        ]),
    );
    ok(
        &mut e,
        &map(&[
            ("command", s("digital_write")),
            ("tag", s("led")),
            ("value", i(1)),
        ]),
    );
    done(&mut e);
}
