//! A virtual pin bank for boards without pins of their own (QEMU's lm3s6965evb), with
//! embedded-hal 1.0 pins, so that the OneGPIO firmware runs end to end in CI.
//!
//! # Wiring (documented loopback)
//!
//! ```text
//!   pin 0 ──── pin 1      pin 2 ──── pin 3      …      pin 14 ──── pin 15
//! ```
//!
//! Pins 0–15 are wired in pairs `(2k, 2k+1)`. A pin reads, as an input:
//!
//! * the level its partner drives, when the partner is an output (so a `1` written to
//!   pin 2k is seen on input pin 2k+1, and the other way round);
//! * high when the partner drives PWM with a duty cycle of at least half, low below;
//! * otherwise (partner undriven): high with the pull-up on, low without (a floating pin
//!   reads low here, deterministically);
//! * its own level when it is an output or PWM itself (as a real pad reads back).
//!
//! Analog inputs: channels 0–3, 12 bits ([`ADC_MAX`]); each read of channel `c` returns the
//! next value of the ramp `(c·1024 + n·64) mod 4096` (`n` = reads of that channel so far):
//! deterministic, always changing, different per channel.
//!
//! The bank uses `Cell`s: one bank, used from one thread of execution (the firmware's main
//! loop), never from an interrupt. Pins borrow it.

use core::cell::Cell;
use core::convert::Infallible;

use embedded_hal::digital::{ErrorType, InputPin, OutputPin, StatefulOutputPin};
use embedded_hal::pwm::{self, SetDutyCycle};

/// Number of digital pins (0–15).
pub const PINS: usize = 16;
/// Number of analog input channels (0–3).
pub const ADC_CHANNELS: usize = 4;
/// Largest analog reading (12-bit converter).
pub const ADC_MAX: u16 = 4095;
/// `max_duty_cycle` of a virtual PWM pin: one step per microsecond of a 50 Hz (20 ms)
/// period, so a servo's 1–2 ms pulse is 1000–2000.
pub const PWM_MAX_DUTY: u16 = 20_000;

/// What a virtual pin is configured as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinMode {
    /// Input without pull (reads low when nothing drives it).
    #[default]
    Input,
    /// Input with pull-up (reads high when nothing drives it).
    InputPullUp,
    /// Push-pull output driving its latch level.
    Output,
    /// PWM output driving its duty cycle (out of [`PWM_MAX_DUTY`]).
    Pwm,
}

#[derive(Debug, Clone, Copy, Default)]
struct PinState {
    mode: PinMode,
    latch: bool,
    duty: u16,
}

impl PinState {
    /// The level this pin drives onto the wire, if it drives one.
    fn driven(self) -> Option<bool> {
        match self.mode {
            PinMode::Output => Some(self.latch),
            PinMode::Pwm => Some(u32::from(self.duty) * 2 >= u32::from(PWM_MAX_DUTY)),
            PinMode::Input | PinMode::InputPullUp => None,
        }
    }
}

/// The virtual pins and analog channels. See the [module docs](self) for the wiring.
#[derive(Debug, Default)]
pub struct PinBank {
    pins: [Cell<PinState>; PINS],
    adc_reads: [Cell<u32>; ADC_CHANNELS],
}

impl PinBank {
    /// Every pin an input without pull, latches low, every ramp at its start.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pin `index` (0–15), or `None` outside the bank.
    pub fn pin(&self, index: u8) -> Option<VirtualPin<'_>> {
        (usize::from(index) < PINS).then_some(VirtualPin { bank: self, index })
    }

    /// All 16 pins, in order.
    pub fn pins(&self) -> [VirtualPin<'_>; PINS] {
        core::array::from_fn(|i| VirtualPin {
            bank: self,
            // i < 16
            index: i as u8,
        })
    }

    /// The mode of pin `index`.
    pub fn mode(&self, index: u8) -> Option<PinMode> {
        self.state(index).map(|s| s.mode)
    }

    /// The level pin `index` reads as an input (see the wiring rules in the module docs).
    pub fn level(&self, index: u8) -> Option<bool> {
        let own = self.state(index)?;
        if let Some(level) = own.driven() {
            return Some(level);
        }
        let partner = self.state(index ^ 1)?;
        Some(partner.driven().unwrap_or(own.mode == PinMode::InputPullUp))
    }

    /// The next value of analog channel `channel`'s ramp, or `None` outside 0–3.
    pub fn read_analog(&self, channel: u8) -> Option<u16> {
        let reads = self.adc_reads.get(usize::from(channel))?;
        let n = reads.get();
        reads.set(n.wrapping_add(1));
        let value = (u32::from(channel) * 1024 + n.wrapping_mul(64)) % (u32::from(ADC_MAX) + 1);
        // value < 4096
        Some(value as u16)
    }

    fn state(&self, index: u8) -> Option<PinState> {
        self.pins.get(usize::from(index)).map(Cell::get)
    }

    fn update(&self, index: u8, f: impl FnOnce(&mut PinState)) {
        if let Some(cell) = self.pins.get(usize::from(index)) {
            let mut state = cell.get();
            f(&mut state);
            cell.set(state);
        }
    }
}

/// One pin of a [`PinBank`]: an embedded-hal `OutputPin`, `StatefulOutputPin`, `InputPin`
/// and `SetDutyCycle` at once, like a flexible MCU pin; [`set_mode`](Self::set_mode) decides
/// what it drives. Writing the latch or the duty cycle in another mode is allowed (as on
/// real hardware) and takes effect when the mode changes.
#[derive(Debug, Clone, Copy)]
pub struct VirtualPin<'a> {
    bank: &'a PinBank,
    index: u8,
}

impl VirtualPin<'_> {
    /// The pin number (0–15).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Configures the pin.
    pub fn set_mode(&mut self, mode: PinMode) {
        self.bank.update(self.index, |s| s.mode = mode);
    }

    /// The pin's mode.
    pub fn mode(&self) -> PinMode {
        self.bank.mode(self.index).unwrap_or_default()
    }

    /// The duty cycle last set (out of [`PWM_MAX_DUTY`]).
    pub fn duty(&self) -> u16 {
        self.bank.state(self.index).map_or(0, |s| s.duty)
    }
}

impl ErrorType for VirtualPin<'_> {
    type Error = Infallible;
}

impl OutputPin for VirtualPin<'_> {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.bank.update(self.index, |s| s.latch = false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.bank.update(self.index, |s| s.latch = true);
        Ok(())
    }
}

impl StatefulOutputPin for VirtualPin<'_> {
    fn is_set_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.bank.state(self.index).is_some_and(|s| s.latch))
    }

    fn is_set_low(&mut self) -> Result<bool, Infallible> {
        self.is_set_high().map(|high| !high)
    }
}

impl InputPin for VirtualPin<'_> {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.bank.level(self.index).unwrap_or(false))
    }

    fn is_low(&mut self) -> Result<bool, Infallible> {
        self.is_high().map(|high| !high)
    }
}

impl pwm::ErrorType for VirtualPin<'_> {
    type Error = Infallible;
}

impl SetDutyCycle for VirtualPin<'_> {
    fn max_duty_cycle(&self) -> u16 {
        PWM_MAX_DUTY
    }

    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), Infallible> {
        let duty = duty.min(PWM_MAX_DUTY);
        self.bank.update(self.index, |s| s.duty = duty);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_on_even_pin_is_seen_on_the_odd_one_and_back() {
        let bank = PinBank::new();
        let [_, _, mut out, mut inp, ..] = bank.pins();
        out.set_mode(PinMode::Output);
        inp.set_mode(PinMode::Input);
        assert!(!inp.is_high().unwrap());
        out.set_high().unwrap();
        assert!(inp.is_high().unwrap());
        out.set_low().unwrap();
        assert!(inp.is_low().unwrap());
        // The wire works both ways.
        out.set_mode(PinMode::Input);
        inp.set_mode(PinMode::Output);
        inp.set_high().unwrap();
        assert!(out.is_high().unwrap());
        // Other pairs are not connected.
        assert_eq!(bank.level(4), Some(false));
        assert_eq!(bank.level(1), Some(false));
    }

    #[test]
    fn undriven_inputs_follow_their_pull() {
        let bank = PinBank::new();
        let mut pin = bank.pin(7).unwrap();
        assert!(pin.is_low().unwrap());
        pin.set_mode(PinMode::InputPullUp);
        assert!(pin.is_high().unwrap());
        // Partner driving low wins over the pull-up.
        let mut partner = bank.pin(6).unwrap();
        partner.set_mode(PinMode::Output);
        assert!(pin.is_low().unwrap());
    }

    #[test]
    fn latch_written_before_the_mode_takes_effect_later() {
        let bank = PinBank::new();
        let mut pin = bank.pin(0).unwrap();
        pin.set_high().unwrap();
        assert_eq!(bank.level(1), Some(false));
        pin.set_mode(PinMode::Output);
        assert_eq!(bank.level(1), Some(true));
        assert!(pin.is_set_high().unwrap());
        assert!(pin.is_high().unwrap()); // an output reads back its own level
    }

    #[test]
    fn pwm_reads_as_its_average_level() {
        let bank = PinBank::new();
        let mut pin = bank.pin(10).unwrap();
        pin.set_mode(PinMode::Pwm);
        pin.set_duty_cycle_percent(25).unwrap();
        assert_eq!(pin.duty(), PWM_MAX_DUTY / 4);
        assert_eq!(bank.level(11), Some(false));
        pin.set_duty_cycle_fully_on().unwrap();
        assert_eq!(bank.level(11), Some(true));
        pin.set_duty_cycle(u16::MAX).unwrap();
        assert_eq!(pin.duty(), PWM_MAX_DUTY);
    }

    #[test]
    fn out_of_range_is_none() {
        let bank = PinBank::new();
        assert!(bank.pin(16).is_none());
        assert!(bank.pin(255).is_none());
        assert_eq!(bank.level(16), None);
        assert_eq!(bank.read_analog(4), None);
    }

    #[test]
    fn analog_ramps_are_deterministic_per_channel() {
        let bank = PinBank::new();
        assert_eq!(bank.read_analog(0), Some(0));
        assert_eq!(bank.read_analog(0), Some(64));
        assert_eq!(bank.read_analog(2), Some(2048));
        assert_eq!(bank.read_analog(0), Some(128));
        for _ in 0..1000 {
            assert!(bank.read_analog(3).unwrap() <= ADC_MAX);
        }
        // A second bank starts over.
        assert_eq!(PinBank::new().read_analog(0), Some(0));
    }
}
