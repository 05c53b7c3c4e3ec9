//! A virtual pin bank with loopback wiring: a [`Board`] without hardware, for emulators
//! (QEMU) and tests.
//!
//! Wiring ([`PINS`] = 16 pins, [`CHANNELS`] = 4 analog channels):
//!
//! ```text
//!   pin 0 ──wire── pin 1      pin 2 ──wire── pin 3   …   pin 14 ──wire── pin 15
//! ```
//!
//! * Pins `2k` and `2k+1` are joined by a wire: an input reads the level its partner drives —
//!   a digital output's level, a PWM/servo channel's duty above one half, a playing tone as
//!   high. So writing 1 on output pin 2 makes input pin 3 read 1 (and the other way round).
//! * An input whose partner drives nothing reads its own pull: high in
//!   `set_mode_digital_input_pullup`, low otherwise.
//! * [`Wires::set_external`] forces a pin's level from outside (a button), overriding both.
//! * Analog channel `c` is a deterministic ramp: the `n`-th read (from 0) of channel `c`
//!   returns `(c * 1024 + n * 64) % 4096` (12 bits, like the RP2040's ADC).
//! * Every pin can do everything ([`Capabilities::ALL`]), tones included.
//!
//! State lives in a [`Wires`] (plain `Cell`s, single-threaded), which tests also read back.
//!
//! ```
//! use banyan_onegpio::loopback::{LoopbackBank, Wires};
//! use banyan_onegpio::{Config, Engine, Outcome, SinkFull};
//! use banyan_proto::payload::MapWriter;
//!
//! let wires = Wires::new();
//! let mut engine: Engine<_, 16, 4> =
//!     Engine::new(LoopbackBank::new(&wires), Config { debounce_us: 0, ..Config::DEFAULT });
//! let mut reports = 0;
//! let mut sink = |_topic: &str, _payload: &[u8]| -> Result<(), SinkFull> {
//!     reports += 1;
//!     Ok(())
//! };
//! let mut cmd = |c: &str, pin: u8, buf: &mut [u8; 64]| {
//!     let mut map = MapWriter::new(buf, 2).unwrap();
//!     map.entry("command", c).unwrap().entry("pin", &pin).unwrap();
//!     map.finish().unwrap()
//! };
//! let mut buf = [0u8; 64];
//! let len = cmd("set_mode_digital_input", 3, &mut buf);
//! assert_eq!(engine.handle("to_pico_gateway", &buf[..len], 0, &mut sink), Outcome::Done);
//! let len = cmd("set_mode_digital_output", 2, &mut buf);
//! assert_eq!(engine.handle("to_pico_gateway", &buf[..len], 1, &mut sink), Outcome::Done);
//! assert_eq!(wires.level(3), false);
//! ```

use core::cell::Cell;
use core::convert::Infallible;

use embedded_hal::digital::{ErrorType as DigitalErrorType, InputPin, OutputPin};
use embedded_hal::pwm::{ErrorType as PwmErrorType, SetDutyCycle};

use crate::{Adc, Board, Capabilities, HardwareError, PinMode};

/// Number of virtual digital pins.
pub const PINS: u8 = 16;

/// Number of virtual analog channels.
pub const CHANNELS: u8 = 4;

/// `max_duty_cycle` of the virtual PWM channels: 20 000, so that a servo's duty is its pulse
/// width in µs.
pub const MAX_DUTY: u16 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wire {
    mode: PinMode,
    driven: bool,
    duty: u16,
    tone_hz: u16,
    external: Option<bool>,
}

impl Wire {
    const IDLE: Wire = Wire {
        mode: PinMode::Unset,
        driven: false,
        duty: 0,
        tone_hz: 0,
        external: None,
    };

    /// The level this pin puts on its wire, if it drives one.
    fn drives(&self) -> Option<bool> {
        match self.mode {
            PinMode::DigitalOutput => Some(self.driven),
            PinMode::Pwm | PinMode::Servo => Some(u32::from(self.duty) * 2 > u32::from(MAX_DUTY)),
            PinMode::Tone => Some(self.tone_hz > 0),
            _ => None,
        }
    }
}

/// The shared state of a [`LoopbackBank`]: what each pin drives, its mode, duty and tone, and
/// the analog ramps.
#[derive(Debug)]
pub struct Wires {
    pins: [Cell<Wire>; PINS as usize],
    ramps: [Cell<u16>; CHANNELS as usize],
}

impl Default for Wires {
    fn default() -> Self {
        Self::new()
    }
}

impl Wires {
    /// All pins unset and undriven, ramps at their start.
    pub const fn new() -> Self {
        Self {
            pins: [const { Cell::new(Wire::IDLE) }; PINS as usize],
            ramps: [const { Cell::new(0) }; CHANNELS as usize],
        }
    }

    fn wire(&self, pin: u8) -> Wire {
        self.pins
            .get(usize::from(pin))
            .map_or(Wire::IDLE, Cell::get)
    }

    fn update(&self, pin: u8, f: impl FnOnce(&mut Wire)) {
        if let Some(cell) = self.pins.get(usize::from(pin)) {
            let mut wire = cell.get();
            f(&mut wire);
            cell.set(wire);
        }
    }

    /// The level `pin` reads: forced from outside, else what its partner drives, else its own
    /// output, else its pull.
    pub fn level(&self, pin: u8) -> bool {
        let own = self.wire(pin);
        if let Some(level) = own.external {
            return level;
        }
        if let Some(level) = self.wire(pin ^ 1).drives() {
            return level;
        }
        if let Some(level) = own.drives() {
            return level;
        }
        own.mode == PinMode::DigitalInputPullUp
    }

    /// The mode the board last configured for `pin`.
    pub fn mode(&self, pin: u8) -> PinMode {
        self.wire(pin).mode
    }

    /// The PWM duty of `pin`, out of [`MAX_DUTY`].
    pub fn duty(&self, pin: u8) -> u16 {
        self.wire(pin).duty
    }

    /// The tone playing on `pin` in Hz (0: silent).
    pub fn tone(&self, pin: u8) -> u16 {
        self.wire(pin).tone_hz
    }

    /// Forces the level `pin` reads (a button), or releases it with `None`.
    pub fn set_external(&self, pin: u8, level: Option<bool>) {
        self.update(pin, |w| w.external = level);
    }
}

/// One virtual digital pin.
#[derive(Debug, Clone, Copy)]
pub struct LoopbackPin<'w> {
    wires: &'w Wires,
    pin: u8,
}

impl DigitalErrorType for LoopbackPin<'_> {
    type Error = Infallible;
}

impl InputPin for LoopbackPin<'_> {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.wires.level(self.pin))
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.wires.level(self.pin))
    }
}

impl OutputPin for LoopbackPin<'_> {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.wires.update(self.pin, |w| w.driven = false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.wires.update(self.pin, |w| w.driven = true);
        Ok(())
    }
}

/// One virtual PWM channel (duty out of [`MAX_DUTY`]).
#[derive(Debug, Clone, Copy)]
pub struct LoopbackPwm<'w> {
    wires: &'w Wires,
    pin: u8,
}

impl PwmErrorType for LoopbackPwm<'_> {
    type Error = Infallible;
}

impl SetDutyCycle for LoopbackPwm<'_> {
    fn max_duty_cycle(&self) -> u16 {
        MAX_DUTY
    }
    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), Infallible> {
        self.wires.update(self.pin, |w| w.duty = duty.min(MAX_DUTY));
        Ok(())
    }
}

/// The virtual ADC: one ramp per channel.
#[derive(Debug, Clone, Copy)]
pub struct RampAdc<'w> {
    wires: &'w Wires,
}

impl Adc for RampAdc<'_> {
    type Error = Infallible;
    fn read(&mut self, channel: u8) -> Result<u16, Infallible> {
        let Some(ramp) = self.wires.ramps.get(usize::from(channel)) else {
            return Ok(0);
        };
        let n = ramp.get();
        ramp.set(n.wrapping_add(1));
        Ok(((u32::from(channel) * 1024 + u32::from(n) * 64) % 4096) as u16)
    }
}

/// The virtual [`Board`] over a [`Wires`].
#[derive(Debug)]
pub struct LoopbackBank<'w> {
    wires: &'w Wires,
    pins: [LoopbackPin<'w>; PINS as usize],
    pwms: [LoopbackPwm<'w>; PINS as usize],
    adc: RampAdc<'w>,
}

impl<'w> LoopbackBank<'w> {
    /// A bank whose state is `wires`.
    pub fn new(wires: &'w Wires) -> Self {
        Self {
            wires,
            pins: core::array::from_fn(|i| LoopbackPin {
                wires,
                pin: i as u8,
            }),
            pwms: core::array::from_fn(|i| LoopbackPwm {
                wires,
                pin: i as u8,
            }),
            adc: RampAdc { wires },
        }
    }

    /// The shared state.
    pub fn wires(&self) -> &'w Wires {
        self.wires
    }
}

impl<'w> Board for LoopbackBank<'w> {
    type Digital = LoopbackPin<'w>;
    type Pwm = LoopbackPwm<'w>;
    type Adc = RampAdc<'w>;

    fn pin_count(&self) -> u8 {
        PINS
    }

    fn capabilities(&self, pin: u8) -> Capabilities {
        if pin < PINS {
            Capabilities::ALL
        } else {
            Capabilities::NONE
        }
    }

    fn set_mode(&mut self, pin: u8, mode: PinMode) -> Result<(), HardwareError> {
        if pin >= PINS {
            return Err(HardwareError::Failed);
        }
        self.wires.update(pin, |w| {
            w.mode = mode;
            w.driven = false;
            w.duty = 0;
            w.tone_hz = 0;
        });
        Ok(())
    }

    fn digital(&mut self, pin: u8) -> Option<&mut LoopbackPin<'w>> {
        self.pins.get_mut(usize::from(pin))
    }

    fn pwm(&mut self, pin: u8) -> Option<&mut LoopbackPwm<'w>> {
        self.pwms.get_mut(usize::from(pin))
    }

    fn analog_channel_count(&self) -> u8 {
        CHANNELS
    }

    fn adc(&mut self) -> &mut RampAdc<'w> {
        &mut self.adc
    }

    fn tone(&mut self, pin: u8, freq_hz: u16) -> Result<(), HardwareError> {
        if pin >= PINS {
            return Err(HardwareError::Failed);
        }
        self.wires.update(pin, |w| w.tone_hz = freq_hz);
        Ok(())
    }
}
