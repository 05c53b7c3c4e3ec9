//! `MockBoard`: a `Board` of `embedded-hal-mock` pins and PWM channels and a scripted ADC,
//! and the helpers the mock tests share.
#![allow(dead_code)]

use std::collections::VecDeque;

use banyan_onegpio::{
    Adc, Board, Capabilities, Config, Engine, HardwareError, Outcome, PinMode, Reason,
};
use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as Pin};
use embedded_hal_mock::eh1::pwm::{Mock as PwmMock, Transaction as Pwm};

use crate::common::*;

pub const PINS: u8 = 8;
/// `max_duty_cycle` of the mock PWM channels.
pub const MAX: u16 = 1000;

/// An ADC whose reads are scripted: `(channel, result)` in order.
#[derive(Debug, Default)]
pub struct ScriptedAdc {
    pub expected: VecDeque<(u8, Result<u16, ()>)>,
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
pub struct MockBoard {
    pub pins: Vec<PinMock>,
    pub pwms: Vec<PwmMock>,
    pub adc: ScriptedAdc,
    /// `set_mode` calls received.
    pub modes: Vec<(u8, PinMode)>,
    /// `tone` calls received.
    pub tones: Vec<(u8, u16)>,
    /// Make the next `set_mode` fail.
    pub fail_set_mode: bool,
}

impl MockBoard {
    pub fn new() -> Self {
        Self {
            pins: (0..PINS).map(|_| PinMock::new(&[])).collect(),
            pwms: (0..PINS).map(|_| PwmMock::new(&[])).collect(),
            adc: ScriptedAdc::default(),
            modes: vec![],
            tones: vec![],
            fail_set_mode: false,
        }
    }

    pub fn expect_pin(&mut self, pin: u8, transactions: &[Pin]) {
        self.pins[usize::from(pin)].update_expectations(transactions);
    }

    pub fn expect_pwm(&mut self, pin: u8, transactions: &[Pwm]) {
        self.pwms[usize::from(pin)].update_expectations(transactions);
    }

    /// Every expectation so far was met (the mocks stay usable: `update_expectations`
    /// checks that the previous ones were consumed, and may be called any number of times).
    pub fn done(&mut self) {
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
        assert!(pin < PINS, "Board contract: pin {pin} >= pin_count");
        match pin {
            0..=3 => Capabilities::GPIO,
            4 | 5 => Capabilities::GPIO | Capabilities::PWM | Capabilities::SERVO,
            6 => Capabilities::GPIO | Capabilities::TONE,
            _ => Capabilities::NONE,
        }
    }

    fn set_mode(&mut self, pin: u8, mode: PinMode) -> Result<(), HardwareError> {
        assert!(pin < PINS, "Board contract: pin {pin} >= pin_count");
        if std::mem::take(&mut self.fail_set_mode) {
            return Err(HardwareError::Failed);
        }
        self.modes.push((pin, mode));
        Ok(())
    }

    fn digital(&mut self, pin: u8) -> Option<&mut PinMock> {
        assert!(pin < PINS, "Board contract: pin {pin} >= pin_count");
        self.pins.get_mut(usize::from(pin))
    }

    fn pwm(&mut self, pin: u8) -> Option<&mut PwmMock> {
        assert!(pin < PINS, "Board contract: pin {pin} >= pin_count");
        self.pwms.get_mut(usize::from(pin))
    }

    fn analog_channel_count(&self) -> u8 {
        2
    }

    fn adc(&mut self) -> &mut ScriptedAdc {
        &mut self.adc
    }

    fn tone(&mut self, pin: u8, freq_hz: u16) -> Result<(), HardwareError> {
        assert!(pin < PINS, "Board contract: pin {pin} >= pin_count");
        self.tones.push((pin, freq_hz));
        Ok(())
    }
}

pub type Mocked = Engine<MockBoard, 8, 2>;

pub fn engine() -> Mocked {
    Engine::new(
        MockBoard::new(),
        Config {
            debounce_us: 0,
            analog_interval_us: 10_000,
            ..Config::DEFAULT
        },
    )
}

pub fn done(engine: &mut Mocked) {
    engine.board_mut().done();
}

/// Runs a command that must succeed with no report.
pub fn ok(e: &mut Mocked, payload: &[u8]) {
    let mut sink = Recorder::new();
    assert_eq!(e.handle(TO, payload, 0, &mut sink), Outcome::Done);
    assert!(sink.take().is_empty());
}

pub fn make_output(e: &mut Mocked, pin: u8) {
    e.board_mut().expect_pin(pin, &[Pin::set(State::Low)]);
    ok(e, &cmd("set_mode_digital_output", pin.into()));
    done(e);
}

pub fn make_pwm(e: &mut Mocked, pin: u8, servo: bool) {
    e.board_mut().expect_pwm(pin, &[Pwm::set_duty_cycle(0)]);
    let name = if servo {
        "set_mode_servo"
    } else {
        "set_mode_pwm"
    };
    ok(e, &cmd(name, pin.into()));
    done(e);
}

// ---------------------------------------------------------------- invalid input

/// Sends `payload`, expects it refused for `reason` with one error report naming `command`
/// (and `pin` if given), and no pin operation (the mocks have no expectations).
pub fn refused(
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
