//! The boards' pins as the Python clients know them, and the [`PinTable`]: what the bus
//! asked of every pin — its mode, its reporting, its last output — kept across reconnects
//! and device resets, with the Telemetrix commands that put a board back as it was.

use std::collections::BTreeMap;

use banyan_proto::telemetrix::{Command as Tx, Family, PinMode as TxMode};

/// The ESP32 GPIOs `telemetrix_aio_esp32` takes as digital inputs (and servos).
pub const ESP32_INPUTS: [u8; 17] = [
    4, 5, 12, 13, 14, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33,
];
/// The ESP32 GPIOs it takes as outputs (digital, PWM).
pub const ESP32_OUTPUTS: [u8; 18] = [
    2, 4, 5, 12, 13, 14, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33,
];
/// The ESP32 GPIOs it takes as analog inputs (ADC1).
pub const ESP32_ANALOG: [u8; 6] = [32, 33, 34, 35, 36, 39];
/// Most LEDC channels of an ESP32 (one per PWM pin).
pub const ESP32_LEDC_CHANNELS: u8 = 16;
/// ESP32 LEDC set-up of `esp32gw`'s `set_pin_mode_analog_output` defaults: 8 bits at 5 kHz.
pub const ESP32_PWM_RESOLUTION: u8 = 8;
/// See [`ESP32_PWM_RESOLUTION`].
pub const ESP32_PWM_FREQUENCY: f64 = 5000.0;
/// Servo pulse range `esp32gw` attaches with (the client's defaults, µs).
pub const ESP32_SERVO_US: (u16, u16) = (544, 2400);

/// The Pico's PWM period in raw duty steps (`MAX_RAW_DUTY_CYCLE`, 50 Hz).
pub const PICO_DUTY_STEPS: u32 = 20_000;
/// The servo range `rpgw` sets (`set_pin_mode_servo(pin, min_pulse=300, max_pulse=1900)`),
/// in raw duty steps.
pub const PICO_SERVO_DUTY: (u16, u16) = (300, 1900);
/// The Pico's ADC inputs (ADC0–ADC2 on GPIO 26–28, ADC3 VSYS/3, ADC4 the temperature).
pub const PICO_ADCS: u8 = 5;

/// Digital pins accepted for a Telemetrix4Arduino (an Arduino Mega's 70).
pub const ARDUINO_PINS: u8 = 70;
/// Analog inputs accepted for it (A0–A15, a Mega's).
pub const ARDUINO_ANALOG: u8 = 16;
/// Servo pulse range `ardgw --telemetrix` attaches with (the `telemetrix` client's, µs).
pub const ARDUINO_SERVO_US: (u16, u16) = (544, 2400);

/// Whether `pin` is a GPIO of the family's board that can be an output (`output`) or an
/// input.
pub fn gpio_ok(family: Family, pin: u8, output: bool) -> bool {
    match family {
        // tmx_pico_aio's pico_pins: GPIO 0–22 and 25–28.
        Family::RpiPico => pin <= 22 || (25..=28).contains(&pin),
        // Telemetrix4Arduino has no capability query: any pin of the largest board it
        // runs on (a Mega's 70).
        Family::Arduino => pin < ARDUINO_PINS,
        Family::Esp32 if output => ESP32_OUTPUTS.contains(&pin),
        Family::Esp32 => ESP32_INPUTS.contains(&pin),
    }
}

/// Whether `pin` names an analog input: an ADC number on the Pico, a GPIO on the ESP32.
pub fn analog_ok(family: Family, pin: u8) -> bool {
    match family {
        Family::RpiPico => pin < PICO_ADCS,
        Family::Arduino => pin < ARDUINO_ANALOG,
        Family::Esp32 => ESP32_ANALOG.contains(&pin),
    }
}

/// What the bus set a GPIO to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Digital input (on the Pico: with the pull-up, as `rpgw` does).
    Input,
    /// Digital input with the pull-up on.
    InputPullup,
    /// Digital output.
    Output,
    /// PWM output; on the ESP32 with its LEDC channel.
    Pwm {
        /// LEDC channel (ESP32; 0 on the Pico).
        channel: u8,
    },
    /// Servo output.
    Servo,
    /// A sonar's trigger or echo pin.
    Sonar,
}

impl Mode {
    /// `true` for the two digital input modes.
    pub fn is_input(self) -> bool {
        matches!(self, Mode::Input | Mode::InputPullup)
    }
}

/// One GPIO's wanted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinState {
    /// The mode.
    pub mode: Mode,
    /// Change reports on (digital inputs).
    pub reporting: bool,
    /// Last written value as sent on the wire: a level, a raw PWM duty or a servo angle
    /// (ESP32) / duty (Pico).
    pub output: Option<u16>,
}

/// One analog input's wanted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalogState {
    /// Reports on.
    pub reporting: bool,
    /// Minimum change between two reports.
    pub differential: u16,
}

/// The wanted state of the whole board (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct PinTable {
    /// GPIOs with a mode.
    pub gpio: BTreeMap<u8, PinState>,
    /// Analog inputs set up (ADC numbers on the Pico, GPIOs on the ESP32).
    pub analog: BTreeMap<u8, AnalogState>,
    /// `(trigger, echo)` of each sonar.
    pub sonars: Vec<(u8, u8)>,
    /// `set_mode_i2c` was done.
    pub i2c: bool,
}

impl PinTable {
    /// A GPIO's state.
    pub fn get(&self, pin: u8) -> Option<PinState> {
        self.gpio.get(&pin).copied()
    }

    /// The LEDC channel for a new PWM pin: its own if it has one, else the lowest free.
    pub fn ledc_channel(&self, pin: u8) -> Option<u8> {
        if let Some(PinState {
            mode: Mode::Pwm { channel },
            ..
        }) = self.get(pin)
        {
            return Some(channel);
        }
        (0..ESP32_LEDC_CHANNELS).find(|c| {
            !self
                .gpio
                .values()
                .any(|s| s.mode == Mode::Pwm { channel: *c })
        })
    }

    /// The command that sets `pin` to `state`'s mode (with its reporting flag); `None` for
    /// sonar pins (SONAR_NEW sets both up).
    pub fn mode_command(family: Family, pin: u8, state: PinState) -> Option<Tx<'static>> {
        let set = |mode| Tx::SetPinMode { pin, mode };
        let report = state.reporting;
        Some(match state.mode {
            // rpgw sets a pull-up input for set_mode_digital_input.
            Mode::Input if family == Family::RpiPico => set(TxMode::DigitalInputPullUp { report }),
            Mode::Input => set(TxMode::DigitalInput { report }),
            Mode::InputPullup => set(TxMode::DigitalInputPullUp { report }),
            Mode::Output => set(TxMode::DigitalOutput),
            Mode::Pwm { channel } if family == Family::Esp32 => set(TxMode::Ledc {
                channel,
                resolution: ESP32_PWM_RESOLUTION,
                frequency: ESP32_PWM_FREQUENCY,
            }),
            Mode::Pwm { .. } => set(TxMode::PwmOutput),
            Mode::Servo if family == Family::Esp32 => Tx::ServoAttach {
                pin,
                min_pulse: ESP32_SERVO_US.0,
                max_pulse: ESP32_SERVO_US.1,
            },
            Mode::Servo if family == Family::Arduino => Tx::ServoAttach {
                pin,
                min_pulse: ARDUINO_SERVO_US.0,
                max_pulse: ARDUINO_SERVO_US.1,
            },
            // The Pico drives servos as 50 Hz PWM pins.
            Mode::Servo => set(TxMode::PwmOutput),
            Mode::Sonar => return None,
        })
    }

    /// The command that writes `value` (as on the wire) to an output pin in `mode`.
    pub fn value_command(family: Family, pin: u8, mode: Mode, value: u16) -> Option<Tx<'static>> {
        match mode {
            Mode::Output => Some(Tx::DigitalWrite {
                pin,
                value: value != 0,
            }),
            Mode::Pwm { .. } => Some(Tx::PwmWrite { pin, value }),
            Mode::Servo if family != Family::RpiPico => Some(Tx::ServoWrite {
                pin,
                angle: u8::try_from(value).unwrap_or(u8::MAX),
            }),
            Mode::Servo => Some(Tx::PwmWrite { pin, value }),
            _ => None,
        }
    }

    /// The analog input's mode command.
    pub fn analog_command(pin: u8, state: AnalogState) -> Tx<'static> {
        Tx::SetPinMode {
            pin,
            mode: TxMode::AnalogInput {
                differential: state.differential,
                report: state.reporting,
            },
        }
    }

    /// The I2C set-up `set_mode_i2c` sends: port 0 (the Pico's on GPIO 4/5, the client's
    /// defaults).
    pub fn i2c_begin() -> Tx<'static> {
        Tx::I2cBegin {
            port: 0,
            sda: 4,
            scl: 5,
        }
    }

    /// Everything that restores the board after a reconnect or a reset: every mode, the
    /// output values, the analog inputs, the I2C bus and the sonars.
    pub fn restore_commands(&self, family: Family, out: &mut Vec<Tx<'static>>) {
        for (&pin, &state) in &self.gpio {
            out.extend(Self::mode_command(family, pin, state));
        }
        for (&pin, &state) in &self.gpio {
            if let Some(value) = state.output
                && let Some(command) = Self::value_command(family, pin, state.mode, value)
            {
                out.push(command);
            }
        }
        for (&pin, &state) in &self.analog {
            out.push(Self::analog_command(pin, state));
        }
        if self.i2c {
            out.push(Self::i2c_begin());
        }
        for &(trigger, echo) in &self.sonars {
            out.push(Tx::SonarNew { trigger, echo });
        }
    }
}
