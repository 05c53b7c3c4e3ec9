//! [`Board`]: what the engine needs from the hardware — embedded-hal 1.0 pins plus the few
//! things embedded-hal has no trait for (mode switching, an ADC, tones).

use core::fmt;

use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::pwm::{ErrorType as PwmErrorType, SetDutyCycle};

/// The pin modes of OneGPIO (Python's `GatewayBase` mode constants that this engine supports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinMode {
    /// Not configured since boot (or since a hardware error): every use but `set_mode_*` is
    /// refused.
    Unset,
    /// `set_mode_digital_input`: input, no pull resistor.
    DigitalInput,
    /// `set_mode_digital_input_pullup`: input with the pull-up enabled.
    DigitalInputPullUp,
    /// `set_mode_digital_output`: push-pull output.
    DigitalOutput,
    /// `set_mode_pwm`: PWM output at the board's PWM frequency.
    Pwm,
    /// `set_mode_servo`: PWM output at **50 Hz** (20 ms period), driven by pulse width.
    Servo,
    /// `set_mode_tone`: square wave of a requested frequency (see [`Board::tone`]).
    Tone,
}

impl PinMode {
    /// The capability a pin needs for this mode (`None` for [`PinMode::Unset`]).
    pub const fn required(self) -> Option<Capabilities> {
        match self {
            PinMode::Unset => None,
            PinMode::DigitalInput => Some(Capabilities::DIGITAL_INPUT),
            PinMode::DigitalInputPullUp => Some(Capabilities::PULL_UP),
            PinMode::DigitalOutput => Some(Capabilities::DIGITAL_OUTPUT),
            PinMode::Pwm => Some(Capabilities::PWM),
            PinMode::Servo => Some(Capabilities::SERVO),
            PinMode::Tone => Some(Capabilities::TONE),
        }
    }

    /// `true` for the two digital input modes.
    pub const fn is_input(self) -> bool {
        matches!(self, PinMode::DigitalInput | PinMode::DigitalInputPullUp)
    }

    /// Human-readable name as used in error reports (`"digital output"`, …).
    pub const fn name(self) -> &'static str {
        match self {
            PinMode::Unset => "unset",
            PinMode::DigitalInput => "digital input",
            PinMode::DigitalInputPullUp => "digital input pullup",
            PinMode::DigitalOutput => "digital output",
            PinMode::Pwm => "pwm",
            PinMode::Servo => "servo",
            PinMode::Tone => "tone",
        }
    }
}

impl fmt::Display for PinMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one digital pin can do: a small bit set (`Capabilities::DIGITAL_INPUT |
/// Capabilities::DIGITAL_OUTPUT`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Capabilities(u8);

impl Capabilities {
    /// Nothing: the pin is not usable (a pin number the board does not expose).
    pub const NONE: Self = Self(0);
    /// `set_mode_digital_input`.
    pub const DIGITAL_INPUT: Self = Self(1 << 0);
    /// `set_mode_digital_input_pullup`.
    pub const PULL_UP: Self = Self(1 << 1);
    /// `set_mode_digital_output`.
    pub const DIGITAL_OUTPUT: Self = Self(1 << 2);
    /// `set_mode_pwm`.
    pub const PWM: Self = Self(1 << 3);
    /// `set_mode_servo` (50 Hz PWM).
    pub const SERVO: Self = Self(1 << 4);
    /// `set_mode_tone` / `play_tone`.
    pub const TONE: Self = Self(1 << 5);
    /// Input (with and without pull-up) and output: a plain GPIO.
    pub const GPIO: Self = Self(Self::DIGITAL_INPUT.0 | Self::PULL_UP.0 | Self::DIGITAL_OUTPUT.0);
    /// Everything this engine knows.
    pub const ALL: Self = Self(0b11_1111);

    /// `true` if every capability of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` without the capabilities of `other`.
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// `true` for [`Capabilities::NONE`].
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Capabilities {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 6] = [
            "DIGITAL_INPUT",
            "PULL_UP",
            "DIGITAL_OUTPUT",
            "PWM",
            "SERVO",
            "TONE",
        ];
        f.write_str("Capabilities(")?;
        let mut first = true;
        for (bit, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

/// A hardware operation of the [`Board`] itself failed ([`Board::set_mode`], [`Board::tone`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HardwareError {
    /// The board cannot do this at all (e.g. no tone generator on this pin).
    Unsupported,
    /// The operation was attempted and failed.
    Failed,
}

impl fmt::Display for HardwareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HardwareError::Unsupported => "not supported by the board",
            HardwareError::Failed => "hardware operation failed",
        })
    }
}

impl core::error::Error for HardwareError {}

/// An analog-to-digital converter with numbered channels. embedded-hal 1.0 has no ADC trait,
/// so this is ours: one blocking read per channel.
///
/// OneGPIO numbers analog inputs by **channel**, separately from digital pins, as Python's
/// Arduino gateway does (`set_mode_analog_input` with `pin: 0` is A0). The board maps channels
/// to its ADC inputs (on the Pico: channel 0–2 = GP26–GP28).
pub trait Adc {
    /// The converter's error.
    type Error: fmt::Debug;

    /// One conversion of `channel`, right-aligned at the converter's resolution (12 bits on
    /// an RP2040: `0..=4095`). Reported to OneGPIO clients as is.
    fn read(&mut self, channel: u8) -> Result<u16, Self::Error>;
}

impl<A: Adc + ?Sized> Adc for &mut A {
    type Error = A::Error;
    fn read(&mut self, channel: u8) -> Result<u16, Self::Error> {
        (**self).read(channel)
    }
}

/// The board's pins as the engine sees them.
///
/// Each digital pin is one object implementing embedded-hal's [`InputPin`] and [`OutputPin`]
/// (embassy-rp's `Flex`, or an enum over a board's typestate pins); PWM-capable pins have a
/// [`SetDutyCycle`] channel. Switching a pin between modes (direction, pull-up, PWM function,
/// PWM frequency) is board-specific and goes through [`Board::set_mode`], which the engine
/// calls before it uses a pin in a new mode.
///
/// Contract, checked by the engine so the board need not:
/// * `digital`, `pwm`, `set_mode` and `tone` are only called for `pin < pin_count()` whose
///   [`capabilities`](Board::capabilities) allow the mode;
/// * after `set_mode(pin, m)` the engine only uses the object matching `m`
///   (`digital` for inputs/outputs, `pwm` for PWM/servo).
pub trait Board {
    /// A digital pin.
    type Digital: InputPin + OutputPin;
    /// A PWM channel (use [`NoPwm`] on a board without PWM).
    type Pwm: SetDutyCycle;
    /// The ADC (use [`NoAdc`] on a board without analog inputs).
    type Adc: Adc;

    /// Number of digital pin numbers: `0..pin_count()` (pins in this range may still have
    /// no capabilities, e.g. the Pico's GP23/GP24).
    fn pin_count(&self) -> u8;

    /// What `pin` can do; [`Capabilities::NONE`] for a pin the board does not expose.
    fn capabilities(&self, pin: u8) -> Capabilities;

    /// Reconfigures the hardware of `pin` for `mode`: direction, pull resistor, pin function.
    /// For [`PinMode::Pwm`] the board picks its PWM frequency; for [`PinMode::Servo`] it
    /// **must** run the channel at 50 Hz (the engine computes pulse widths against a 20 ms
    /// period). A PWM/servo channel should start with duty 0 (the engine sets 0 right after).
    fn set_mode(&mut self, pin: u8, mode: PinMode) -> Result<(), HardwareError>;

    /// The digital pin object of `pin` (`None` if the board has none for it).
    fn digital(&mut self, pin: u8) -> Option<&mut Self::Digital>;

    /// The PWM channel of `pin` (`None` if the board has none for it).
    fn pwm(&mut self, pin: u8) -> Option<&mut Self::Pwm>;

    /// Number of analog channels: `0..analog_channel_count()` are valid for the analog
    /// commands. Default 0 (no analog inputs).
    fn analog_channel_count(&self) -> u8 {
        0
    }

    /// The ADC (only called for channels below
    /// [`analog_channel_count`](Board::analog_channel_count)).
    fn adc(&mut self) -> &mut Self::Adc;

    /// Starts a square wave of `freq_hz` on `pin` (in [`PinMode::Tone`]), or stops it when
    /// `freq_hz` is 0. The engine times the duration and calls `tone(pin, 0)` at its end.
    /// The default has no tone generator: [`HardwareError::Unsupported`].
    fn tone(&mut self, pin: u8, freq_hz: u16) -> Result<(), HardwareError> {
        let _ = (pin, freq_hz);
        Err(HardwareError::Unsupported)
    }
}

/// An [`Adc`] for boards without analog inputs (leave `analog_channel_count` at 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoAdc;

impl Adc for NoAdc {
    type Error = core::convert::Infallible;
    fn read(&mut self, _channel: u8) -> Result<u16, Self::Error> {
        Ok(0)
    }
}

/// A PWM channel type that cannot exist, for boards without PWM (`type Pwm = NoPwm;`,
/// `fn pwm(..) -> Option<..> { None }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPwm {}

impl PwmErrorType for NoPwm {
    type Error = core::convert::Infallible;
}

impl SetDutyCycle for NoPwm {
    fn max_duty_cycle(&self) -> u16 {
        match *self {}
    }
    fn set_duty_cycle(&mut self, _duty: u16) -> Result<(), Self::Error> {
        match *self {}
    }
}
