//! The engine against `embedded-hal-mock` (`mock::MockBoard`): every invalid input is refused
//! with one error report naming the command and the reason, and touches no pin — the mocks
//! have no expectations then, and panic on any operation.

mod common;
mod mock;

use banyan_onegpio::{Field, Outcome, PinMode, Reason};
use banyan_proto::payload::Value;
use common::*;
use embedded_hal_mock::eh1::MockError;
use embedded_hal_mock::eh1::digital::{State, Transaction as Pin};
use mock::*;

#[test]
fn payloads_that_are_not_commands() {
    let mut e = engine();
    use banyan_proto::payload::PayloadError as P;
    refused(
        &mut e,
        b"",
        None,
        None,
        Reason::InvalidPayload(P::UnexpectedEof),
    );
    refused(
        &mut e,
        b"\x92\x01\x02",
        None,
        None,
        Reason::InvalidPayload(P::NotAMap),
    );
    refused(
        &mut e,
        b"\xc1",
        None,
        None,
        Reason::InvalidPayload(P::InvalidMarker),
    );
    refused(
        &mut e,
        b"\x81\xa1a",
        None,
        None,
        Reason::InvalidPayload(P::UnexpectedEof),
    );
    refused(
        &mut e,
        b"\x80\x80",
        None,
        None,
        Reason::InvalidPayload(P::TrailingBytes),
    );
    refused(
        &mut e,
        b"{\"command\": \"x\"}",
        None,
        None,
        Reason::InvalidPayload(P::TrailingBytes),
    );
    refused(
        &mut e,
        &map(&[("pin", i(1))]),
        None,
        None,
        Reason::Missing(Field::Command),
    );
    refused(
        &mut e,
        &map(&[("command", i(1)), ("pin", i(1))]),
        None,
        None,
        Reason::WrongType(Field::Command),
    );
    refused(
        &mut e,
        &cmd("blink", 1),
        Some("blink"),
        None,
        Reason::UnknownCommand,
    );
    for name in [
        "i2c_read",
        "i2c_write",
        "set_mode_i2c",
        "set_mode_sonar",
        "set_mode_stepper",
        "stepper_write",
        "analog_write",
    ] {
        refused(
            &mut e,
            &cmd(name, 1),
            Some(name),
            None,
            Reason::UnsupportedCommand,
        );
    }
    // A very long command name is echoed cut to 40 bytes.
    let long = "c".repeat(500);
    let mut sink = Recorder::new();
    e.handle(TO, &cmd(&long, 1), 0, &mut sink);
    assert_eq!(sink.take_error().command(), Some(&long[..40]));
    assert_eq!(e.stats().rejected, 17);
}

#[test]
fn bad_pins() {
    let mut e = engine();
    let name = "set_mode_digital_output";
    let c = Some(name);
    refused(
        &mut e,
        &map(&[("command", s(name))]),
        c,
        None,
        Reason::Missing(Field::Pin),
    );
    for bad in [
        s("2"),
        Value::F64(2.0),
        Value::Bool(true),
        Value::Nil,
        Value::Array(vec![i(2)]),
    ] {
        refused(
            &mut e,
            &map(&[("command", s(name)), ("pin", bad)]),
            c,
            None,
            Reason::WrongType(Field::Pin),
        );
    }
    for bad in [-1, 8, 255, 256, 1 << 40, i64::MIN] {
        refused(
            &mut e,
            &cmd(name, bad),
            c,
            None,
            Reason::OutOfRange(Field::Pin),
        );
    }
    refused(
        &mut e,
        &map(&[("command", s(name)), ("pin", Value::UInt(u64::MAX))]),
        c,
        None,
        Reason::OutOfRange(Field::Pin),
    );
    // Analog channels are their own range (2 here).
    refused(
        &mut e,
        &cmd("enable_analog_reporting", 2),
        Some("enable_analog_reporting"),
        None,
        Reason::OutOfRange(Field::Pin),
    );
    refused(
        &mut e,
        &cmd("set_mode_analog_input", 7),
        Some("set_mode_analog_input"),
        None,
        Reason::OutOfRange(Field::Pin),
    );
    // A pin the board has but cannot use, and capabilities per mode.
    refused(
        &mut e,
        &cmd(name, 7),
        c,
        Some(7),
        Reason::ModeNotSupported(PinMode::DigitalOutput),
    );
    refused(
        &mut e,
        &cmd("set_mode_pwm", 0),
        Some("set_mode_pwm"),
        Some(0),
        Reason::ModeNotSupported(PinMode::Pwm),
    );
    refused(
        &mut e,
        &cmd("set_mode_servo", 6),
        Some("set_mode_servo"),
        Some(6),
        Reason::ModeNotSupported(PinMode::Servo),
    );
    refused(
        &mut e,
        &cmd("set_mode_tone", 4),
        Some("set_mode_tone"),
        Some(4),
        Reason::ModeNotSupported(PinMode::Tone),
    );
    let tone = map(&[("command", s("play_tone")), ("pin", i(1)), ("freq", i(440))]);
    refused(
        &mut e,
        &tone,
        Some("play_tone"),
        Some(1),
        Reason::ModeNotSupported(PinMode::Tone),
    );
}

#[test]
fn pins_in_the_wrong_mode() {
    let mut e = engine();
    let write = |pin: i64| cmd_with("digital_write", pin, "value", i(1));
    // Unset pins.
    refused(
        &mut e,
        &write(0),
        Some("digital_write"),
        Some(0),
        Reason::WrongMode(PinMode::DigitalOutput),
    );
    refused(
        &mut e,
        &cmd_with("pwm_write", 4, "value", i(1)),
        Some("pwm_write"),
        Some(4),
        Reason::WrongMode(PinMode::Pwm),
    );
    refused(
        &mut e,
        &cmd_with("servo_position", 5, "position", i(1)),
        Some("servo_position"),
        Some(5),
        Reason::WrongMode(PinMode::Servo),
    );
    refused(
        &mut e,
        &cmd("enable_digital_reporting", 0),
        Some("enable_digital_reporting"),
        Some(0),
        Reason::NotAnInput,
    );
    refused(
        &mut e,
        &cmd("disable_digital_reporting", 0),
        Some("disable_digital_reporting"),
        Some(0),
        Reason::NotAnInput,
    );
    // Configured pins used for something else.
    make_pwm(&mut e, 4, false);
    make_pwm(&mut e, 5, true);
    make_output(&mut e, 6);
    refused(
        &mut e,
        &write(4),
        Some("digital_write"),
        Some(4),
        Reason::WrongMode(PinMode::DigitalOutput),
    );
    refused(
        &mut e,
        &cmd_with("servo_position", 4, "position", i(1)),
        Some("servo_position"),
        Some(4),
        Reason::WrongMode(PinMode::Servo),
    );
    refused(
        &mut e,
        &cmd_with("pwm_write", 5, "value", i(1)),
        Some("pwm_write"),
        Some(5),
        Reason::WrongMode(PinMode::Pwm),
    );
    refused(
        &mut e,
        &cmd("enable_digital_reporting", 6),
        Some("enable_digital_reporting"),
        Some(6),
        Reason::NotAnInput,
    );
    let tone = map(&[("command", s("play_tone")), ("pin", i(6)), ("freq", i(440))]);
    refused(
        &mut e,
        &tone,
        Some("play_tone"),
        Some(6),
        Reason::WrongMode(PinMode::Tone),
    );
    // An input cannot be written.
    e.board_mut()
        .expect_pin(2, &[Pin::get(State::Low), Pin::get(State::Low)]);
    ok(&mut e, &cmd("set_mode_digital_input", 2));
    done(&mut e);
    e.board_mut().expect_pin(2, &[Pin::get(State::Low)]); // the poll inside handle
    let mut sink = Recorder::new();
    assert_eq!(
        e.handle(TO, &write(2), 0, &mut sink),
        Outcome::Rejected(Reason::WrongMode(PinMode::DigitalOutput))
    );
    sink.take_error();
    done(&mut e);
}

#[test]
fn bad_fields() {
    let mut e = engine();
    make_output(&mut e, 0);
    make_pwm(&mut e, 4, false);
    make_pwm(&mut e, 5, true);
    let dw = Some("digital_write");
    refused(
        &mut e,
        &cmd("digital_write", 0),
        dw,
        Some(0),
        Reason::Missing(Field::Value),
    );
    for bad in [s("1"), Value::F64(1.0), Value::Nil, Value::Bin(vec![1])] {
        refused(
            &mut e,
            &cmd_with("digital_write", 0, "value", bad),
            dw,
            Some(0),
            Reason::WrongType(Field::Value),
        );
    }
    for bad in [2, -1, 255] {
        refused(
            &mut e,
            &cmd_with("digital_write", 0, "value", i(bad)),
            dw,
            Some(0),
            Reason::OutOfRange(Field::Value),
        );
    }
    refused(
        &mut e,
        &cmd_with("set_mode_digital_output", 0, "value", i(3)),
        Some("set_mode_digital_output"),
        Some(0),
        Reason::OutOfRange(Field::Value),
    );

    let pw = Some("pwm_write");
    refused(
        &mut e,
        &cmd("pwm_write", 4),
        pw,
        Some(4),
        Reason::Missing(Field::Value),
    );
    refused(
        &mut e,
        &cmd_with("pwm_write", 4, "value", Value::F64(0.5)),
        pw,
        Some(4),
        Reason::WrongType(Field::Value),
    );
    for bad in [256, -1, 1 << 20] {
        refused(
            &mut e,
            &cmd_with("pwm_write", 4, "value", i(bad)),
            pw,
            Some(4),
            Reason::OutOfRange(Field::Value),
        );
    }

    let sp = Some("servo_position");
    refused(
        &mut e,
        &cmd("servo_position", 5),
        sp,
        Some(5),
        Reason::Missing(Field::Position),
    );
    refused(
        &mut e,
        &cmd_with("servo_position", 5, "position", s("90")),
        sp,
        Some(5),
        Reason::WrongType(Field::Position),
    );
    for bad in [181, -1] {
        refused(
            &mut e,
            &cmd_with("servo_position", 5, "position", i(bad)),
            sp,
            Some(5),
            Reason::OutOfRange(Field::Position),
        );
    }

    let pt = Some("play_tone");
    refused(
        &mut e,
        &cmd("play_tone", 6),
        pt,
        Some(6),
        Reason::Missing(Field::Freq),
    );
    let tone = |freq: Value, duration: Value| {
        map(&[
            ("command", s("play_tone")),
            ("pin", i(6)),
            ("freq", freq),
            ("duration", duration),
        ])
    };
    refused(
        &mut e,
        &tone(s("440"), i(1)),
        pt,
        Some(6),
        Reason::WrongType(Field::Freq),
    );
    refused(
        &mut e,
        &tone(i(70_000), i(1)),
        pt,
        Some(6),
        Reason::OutOfRange(Field::Freq),
    );
    refused(
        &mut e,
        &tone(i(440), i(-1)),
        pt,
        Some(6),
        Reason::OutOfRange(Field::Duration),
    );
    refused(
        &mut e,
        &tone(i(440), Value::F64(0.5)),
        pt,
        Some(6),
        Reason::WrongType(Field::Duration),
    );
    assert!(e.board().tones.is_empty());

    let an = Some("set_mode_analog_input");
    refused(
        &mut e,
        &cmd_with("set_mode_analog_input", 0, "change_diff", s("5")),
        an,
        Some(0),
        Reason::WrongType(Field::ChangeDiff),
    );
    refused(
        &mut e,
        &cmd_with("set_mode_analog_input", 0, "change_diff", i(-5)),
        an,
        Some(0),
        Reason::OutOfRange(Field::ChangeDiff),
    );
    refused(
        &mut e,
        &cmd_with("set_mode_analog_input", 0, "differential", i(70_000)),
        an,
        Some(0),
        Reason::OutOfRange(Field::ChangeDiff),
    );
    refused(
        &mut e,
        &cmd_with(
            "enable_analog_reporting",
            1,
            "differential",
            Value::F64(1.0),
        ),
        Some("enable_analog_reporting"),
        Some(1),
        Reason::WrongType(Field::ChangeDiff),
    );
    assert!(!e.analog_reporting(0) && !e.analog_reporting(1));
}

#[test]
fn bad_tags() {
    let mut e = engine();
    let c = Some("set_mode_digital_output");
    let with_tag = |tag: Value| {
        map(&[
            ("command", s("set_mode_digital_output")),
            ("pin", i(1)),
            ("tag", tag),
        ])
    };
    refused(
        &mut e,
        &with_tag(i(5)),
        c,
        None,
        Reason::WrongType(Field::Tag),
    );
    refused(
        &mut e,
        &with_tag(Value::Array(vec![])),
        c,
        None,
        Reason::WrongType(Field::Tag),
    );
    refused(
        &mut e,
        &with_tag(s(&"t".repeat(25))),
        c,
        None,
        Reason::TagTooLong,
    );
    refused(
        &mut e,
        &map(&[
            ("command", s("digital_write")),
            ("tag", s("ghost")),
            ("value", i(1)),
        ]),
        Some("digital_write"),
        None,
        Reason::UnknownTag,
    );
    assert_eq!(e.tag_pin("ghost"), None);
}

#[test]
fn hardware_errors_are_reported_and_leave_the_pin_unset() {
    let mut e = engine();
    let mut sink = Recorder::new();
    e.board_mut().fail_set_mode = true;
    let out = cmd("set_mode_digital_output", 1);
    assert_eq!(
        e.handle(TO, &out, 0, &mut sink),
        Outcome::Rejected(Reason::Hardware)
    );
    let r = sink.take_error();
    assert_eq!(
        (r.command(), r.pin(), r.reason()),
        (Some("set_mode_digital_output"), Some(1), "hardware error")
    );
    assert_eq!(e.mode(1), Some(PinMode::Unset));

    // A pin write that fails.
    e.board_mut().expect_pin(
        1,
        &[Pin::set(State::Low).with_error(MockError::Io(std::io::ErrorKind::Other))],
    );
    assert_eq!(
        e.handle(TO, &out, 0, &mut sink),
        Outcome::Rejected(Reason::Hardware)
    );
    sink.take_error();
    assert_eq!(e.mode(1), Some(PinMode::Unset));
    done(&mut e);

    // A failed read while sampling is counted, not reported.
    e.board_mut()
        .expect_pin(2, &[Pin::get(State::Low), Pin::get(State::Low)]);
    ok(&mut e, &cmd("set_mode_digital_input", 2));
    e.board_mut().expect_pin(
        2,
        &[Pin::get(State::High).with_error(MockError::Io(std::io::ErrorKind::Other))],
    );
    e.poll(1, &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(e.stats().hardware_errors, 1);
    done(&mut e);
}
