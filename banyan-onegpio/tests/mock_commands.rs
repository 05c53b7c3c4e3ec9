//! The engine against `embedded-hal-mock`: every command, every report and every invalid
//! input, with exact expectations on the pins. The mocks panic on any operation not expected,
//! so a refused command that touched a pin fails the test.

mod common;

use std::collections::VecDeque;

use banyan_onegpio::{
    Adc, Board, Capabilities, Config, Engine, Field, HardwareError, Outcome, PinMode, Reason,
};
use banyan_proto::payload::Value;
use common::*;
use embedded_hal_mock::eh1::MockError;
use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as Pin};
use embedded_hal_mock::eh1::pwm::{Mock as PwmMock, Transaction as Pwm};

const PINS: u8 = 8;
/// `max_duty_cycle` of the mock PWM channels.
const MAX: u16 = 1000;

/// An ADC whose reads are scripted: `(channel, result)` in order.
#[derive(Debug, Default)]
struct ScriptedAdc {
    expected: VecDeque<(u8, Result<u16, ()>)>,
}

impl Adc for ScriptedAdc {
    type Error = ();
    fn read(&mut self, channel: u8) -> Result<u16, ()> {
        let (ch, result) = self
            .expected
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected ADC read of channel {channel}"));
        assert_eq!(ch, channel, "ADC read of the wrong channel");
        result
    }
}

/// Pins 0–3: GPIO; 4, 5: GPIO + PWM + servo; 6: GPIO + tone; 7: nothing. Two analog channels.
struct MockBoard {
    pins: Vec<PinMock>,
    pwms: Vec<PwmMock>,
    adc: ScriptedAdc,
    /// `set_mode` calls received.
    modes: Vec<(u8, PinMode)>,
    /// `tone` calls received.
    tones: Vec<(u8, u16)>,
    /// Make the next `set_mode` fail.
    fail_set_mode: bool,
}

impl MockBoard {
    fn new() -> Self {
        Self {
            pins: (0..PINS).map(|_| PinMock::new(&[])).collect(),
            pwms: (0..PINS).map(|_| PwmMock::new(&[])).collect(),
            adc: ScriptedAdc::default(),
            modes: vec![],
            tones: vec![],
            fail_set_mode: false,
        }
    }

    fn expect_pin(&mut self, pin: u8, transactions: &[Pin]) {
        self.pins[usize::from(pin)].update_expectations(transactions);
    }

    fn expect_pwm(&mut self, pin: u8, transactions: &[Pwm]) {
        self.pwms[usize::from(pin)].update_expectations(transactions);
    }

    /// Every expectation so far was met (the mocks stay usable: `update_expectations`
    /// checks that the previous ones were consumed, and may be called any number of times).
    fn done(&mut self) {
        for pin in &mut self.pins {
            pin.update_expectations(&[]);
        }
        for pwm in &mut self.pwms {
            pwm.update_expectations(&[]);
        }
        assert!(
            self.adc.expected.is_empty(),
            "ADC reads left: {:?}",
            self.adc.expected
        );
    }
}

impl Drop for MockBoard {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            for pin in &mut self.pins {
                pin.done();
            }
            for pwm in &mut self.pwms {
                pwm.done();
            }
        }
    }
}

impl Board for MockBoard {
    type Digital = PinMock;
    type Pwm = PwmMock;
    type Adc = ScriptedAdc;

    fn pin_count(&self) -> u8 {
        PINS
    }

    fn capabilities(&self, pin: u8) -> Capabilities {
        match pin {
            0..=3 => Capabilities::GPIO,
            4 | 5 => Capabilities::GPIO | Capabilities::PWM | Capabilities::SERVO,
            6 => Capabilities::GPIO | Capabilities::TONE,
            _ => Capabilities::NONE,
        }
    }

    fn set_mode(&mut self, pin: u8, mode: PinMode) -> Result<(), HardwareError> {
        if std::mem::take(&mut self.fail_set_mode) {
            return Err(HardwareError::Failed);
        }
        self.modes.push((pin, mode));
        Ok(())
    }

    fn digital(&mut self, pin: u8) -> Option<&mut PinMock> {
        self.pins.get_mut(usize::from(pin))
    }

    fn pwm(&mut self, pin: u8) -> Option<&mut PwmMock> {
        self.pwms.get_mut(usize::from(pin))
    }

    fn analog_channel_count(&self) -> u8 {
        2
    }

    fn adc(&mut self) -> &mut ScriptedAdc {
        &mut self.adc
    }

    fn tone(&mut self, pin: u8, freq_hz: u16) -> Result<(), HardwareError> {
        self.tones.push((pin, freq_hz));
        Ok(())
    }
}

type Mocked = Engine<MockBoard, 8, 2>;

fn engine() -> Mocked {
    Engine::new(
        MockBoard::new(),
        Config {
            debounce_us: 0,
            analog_interval_us: 10_000,
            ..Config::DEFAULT
        },
    )
}

fn done(engine: &mut Mocked) {
    engine.board_mut().done();
}

/// Runs a command that must succeed with no report.
fn ok(e: &mut Mocked, payload: &[u8]) {
    let mut sink = Recorder::new();
    assert_eq!(e.handle(TO, payload, 0, &mut sink), Outcome::Done);
    assert!(sink.take().is_empty());
}

fn make_output(e: &mut Mocked, pin: u8) {
    e.board_mut().expect_pin(pin, &[Pin::set(State::Low)]);
    ok(e, &cmd("set_mode_digital_output", pin.into()));
    done(e);
}

fn make_pwm(e: &mut Mocked, pin: u8, servo: bool) {
    e.board_mut().expect_pwm(pin, &[Pwm::set_duty_cycle(0)]);
    let name = if servo {
        "set_mode_servo"
    } else {
        "set_mode_pwm"
    };
    ok(e, &cmd(name, pin.into()));
    done(e);
}

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

// ---------------------------------------------------------------- invalid input

/// Sends `payload`, expects it refused for `reason` with one error report naming `command`
/// (and `pin` if given), and no pin operation (the mocks have no expectations).
fn refused(
    e: &mut Mocked,
    payload: &[u8],
    command: Option<&str>,
    pin: Option<i64>,
    reason: Reason,
) {
    let before: Vec<_> = (0..PINS).map(|p| e.mode(p)).collect();
    let modes_before = e.board().modes.len();
    let mut sink = Recorder::new();
    assert_eq!(
        e.handle(TO, payload, 0, &mut sink),
        Outcome::Rejected(reason),
        "{payload:02x?}"
    );
    let r = sink.take_error();
    assert_eq!(r.topic, FROM);
    assert_eq!(r.command(), command);
    assert_eq!(r.pin(), pin);
    assert_eq!(r.reason(), reason.to_string());
    let mut keys = vec!["report", "command"];
    if pin.is_some() {
        keys.push("pin");
    }
    keys.push("reason");
    assert_eq!(r.keys(), keys);
    let after: Vec<_> = (0..PINS).map(|p| e.mode(p)).collect();
    assert_eq!(before, after, "a refused command changed a mode");
    assert_eq!(
        e.board().modes.len(),
        modes_before,
        "a refused command reconfigured a pin"
    );
    done(e);
}

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
