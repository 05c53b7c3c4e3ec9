//! [`PinTable`]: what the bus asked of every pin — its mode, its reporting, its last output —
//! kept across reconnects and resets, so the gateway can put the board back as it was; and
//! the Firmata messages that make the board match it.

use banyan_proto::firmata::{Capabilities, Command as Fm, PinMode as FmMode, StepperPins};

/// Servo pulse range sent with SERVO_CONFIG (µs): pymata-express's defaults, Arduino's
/// `Servo` library's.
pub const SERVO_MIN_US: u16 = 544;
/// See [`SERVO_MIN_US`].
pub const SERVO_MAX_US: u16 = 2400;

/// What the bus set a pin to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Digital input without pull-up.
    Input,
    /// Digital input with the pull-up on.
    InputPullup,
    /// Digital output.
    Output,
    /// PWM output (0–255).
    Pwm,
    /// Servo output (degrees).
    Servo,
    /// Tone output (FirmataExpress).
    Tone,
    /// Analog input on the pin's channel.
    Analog,
    /// One of the two pins of a sonar (FirmataExpress).
    Sonar,
    /// One of the pins of the stepper (FirmataExpress).
    Stepper,
}

impl Mode {
    /// `true` for the two digital input modes.
    pub fn is_input(self) -> bool {
        matches!(self, Mode::Input | Mode::InputPullup)
    }
}

/// One pin's wanted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinState {
    /// The mode, `None` until the bus sets one.
    pub mode: Option<Mode>,
    /// Reports on (digital inputs: changes; analog: samples).
    pub reporting: bool,
    /// Last written value: a digital level (0/1), a PWM duty or a servo angle.
    pub output: Option<u16>,
    /// Last reported input level or analog value (`None`: report the next one).
    pub last_input: Option<u16>,
    /// Analog change threshold (`differential`; 1 = any change).
    pub differential: u16,
}

/// The wanted state of the whole board (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct PinTable {
    pins: Vec<PinState>,
    /// `(trigger, echo)` of each configured sonar.
    pub sonars: Vec<(u8, u8)>,
    /// The stepper's configuration.
    pub stepper: Option<(u16, StepperPins)>,
    /// `set_mode_i2c` was done.
    pub i2c: bool,
}

impl PinTable {
    /// A pin's state (default for pins never touched).
    pub fn get(&self, pin: u8) -> PinState {
        self.pins.get(usize::from(pin)).copied().unwrap_or_default()
    }

    /// A pin's state, to change (grows the table; pins are < 128).
    pub fn get_mut(&mut self, pin: u8) -> &mut PinState {
        let index = usize::from(pin);
        if self.pins.len() <= index {
            self.pins.resize(index + 1, PinState::default());
        }
        &mut self.pins[index]
    }

    /// Every pin with a mode.
    pub fn configured(&self) -> impl Iterator<Item = (u8, PinState)> + '_ {
        self.pins
            .iter()
            .enumerate()
            .filter(|(_, p)| p.mode.is_some())
            .map(|(i, p)| (u8::try_from(i).unwrap_or(u8::MAX), *p))
    }

    /// Forgets the last reported inputs (after a reset the board's report is news).
    pub fn forget_inputs(&mut self) {
        for pin in &mut self.pins {
            pin.last_input = None;
        }
    }

    /// The DIGITAL_MESSAGE byte of `port`: output levels, and 1 for pull-up inputs (how
    /// Firmata 2.4 turns a pull-up on: write 1 to an input).
    pub fn port_value(&self, port: u8, native_pullup: bool) -> u8 {
        let mut value = 0u8;
        for bit in 0..8u8 {
            let pin = port * 8 + bit;
            let state = self.get(pin);
            let high = match state.mode {
                Some(Mode::Output) => state.output.unwrap_or(0) != 0,
                Some(Mode::InputPullup) => !native_pullup,
                _ => false,
            };
            if high {
                value |= 1 << bit;
            }
        }
        value
    }

    /// `true` if any pin of `port` is a digital input with reporting on.
    pub fn port_reporting(&self, port: u8) -> bool {
        (0..8u8).any(|bit| {
            let state = self.get(port * 8 + bit);
            state.reporting && state.mode.is_some_and(Mode::is_input)
        })
    }

    /// `true` if any pin of `port` is an output or a pull-up input (its port byte matters).
    pub fn port_driven(&self, port: u8) -> bool {
        (0..8u8).any(|bit| {
            matches!(
                self.get(port * 8 + bit).mode,
                Some(Mode::Output | Mode::InputPullup)
            )
        })
    }

    /// The messages that put `pin` in its mode (not its output value, not reporting).
    /// `native_pullup`: the firmware takes Firmata's PULLUP mode (protocol 2.5+ with the
    /// mode in its capability report). Modes the capability report does not list are never
    /// sent (a tone or sonar pin then gets only its sysex).
    pub fn mode_messages(
        &self,
        pin: u8,
        caps: &Capabilities,
        native_pullup: bool,
        out: &mut Vec<Fm<'static>>,
    ) {
        let state = self.get(pin);
        let set = |mode| Fm::SetPinMode { pin, mode };
        match state.mode {
            None => {}
            Some(Mode::Input) => out.push(set(FmMode::Input)),
            Some(Mode::InputPullup) if native_pullup => out.push(set(FmMode::Pullup)),
            Some(Mode::InputPullup) => out.push(set(FmMode::Input)),
            Some(Mode::Output) => out.push(set(FmMode::Output)),
            Some(Mode::Pwm) => out.push(set(FmMode::Pwm)),
            // SERVO_CONFIG attaches the servo and sets the pin's mode (StandardFirmata).
            Some(Mode::Servo) => out.push(Fm::ServoConfig {
                pin,
                min_pulse_us: SERVO_MIN_US,
                max_pulse_us: SERVO_MAX_US,
            }),
            Some(Mode::Tone) if caps.supports(pin, FmMode::Tone) => out.push(set(FmMode::Tone)),
            Some(Mode::Tone) => {}
            Some(Mode::Analog) => out.push(set(FmMode::Analog)),
            Some(Mode::Sonar | Mode::Stepper) => {}
        }
    }

    /// The value message of an output pin (PWM duty, servo angle), if it has one.
    pub fn value_message(&self, pin: u8) -> Option<Fm<'static>> {
        let state = self.get(pin);
        match (state.mode, state.output) {
            (Some(Mode::Pwm | Mode::Servo), Some(value)) => Some(Fm::AnalogWrite {
                pin,
                value: u32::from(value),
            }),
            _ => None,
        }
    }

    /// Everything that restores the board after a reconnect or a reset: every mode, then
    /// the i2c, sonar and stepper set-up, the output values, the port bytes and the
    /// reporting settings.
    pub fn restore_messages(
        &self,
        caps: &Capabilities,
        native_pullup: bool,
        out: &mut Vec<Fm<'static>>,
    ) {
        let pins: Vec<(u8, PinState)> = self.configured().collect();
        for &(pin, _) in &pins {
            self.mode_messages(pin, caps, native_pullup, out);
        }
        if self.i2c {
            out.push(Fm::I2cConfig { delay_us: 0 });
        }
        for &(trigger_pin, echo_pin) in &self.sonars {
            sonar_messages(trigger_pin, echo_pin, caps, out);
        }
        if let Some((steps_per_revolution, pins)) = self.stepper {
            out.push(Fm::StepperConfig {
                steps_per_revolution,
                pins,
            });
        }
        for &(pin, _) in &pins {
            out.extend(self.value_message(pin));
        }
        let ports = caps.pin_count().div_ceil(8).min(16);
        for port in 0..ports as u8 {
            if self.port_driven(port) {
                out.push(Fm::DigitalPort {
                    port,
                    pins: self.port_value(port, native_pullup),
                });
            }
        }
        for port in 0..ports as u8 {
            if self.port_reporting(port) {
                out.push(Fm::ReportDigital { port, enable: true });
            }
        }
        for &(pin, state) in &pins {
            if state.mode == Some(Mode::Analog)
                && let Some(channel) = caps.analog_channel(pin)
            {
                // StandardFirmata switched it on with the mode; say so explicitly either way.
                out.push(Fm::ReportAnalog {
                    channel,
                    enable: state.reporting,
                });
            }
        }
    }
}

/// The messages that attach a sonar: both pins to SONAR mode where the capability report
/// lists it (as pymata does), then SONAR_CONFIG.
pub fn sonar_messages(
    trigger_pin: u8,
    echo_pin: u8,
    caps: &Capabilities,
    out: &mut Vec<Fm<'static>>,
) {
    for pin in [trigger_pin, echo_pin] {
        if caps.supports(pin, FmMode::Sonar) {
            out.push(Fm::SetPinMode {
                pin,
                mode: FmMode::Sonar,
            });
        }
    }
    out.push(Fm::SonarConfig {
        trigger_pin,
        echo_pin,
        // pymata-express's timeout=80000 as it reaches the wire (80000 mod 2^14).
        max_distance: 14464,
    });
}
