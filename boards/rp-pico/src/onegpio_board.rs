//! The Pico's pins as a OneGPIO [`Board`] (`banyan-onegpio`), for `onegpio_uart` and
//! `onegpio_usb`.
//!
//! | OneGPIO pin | what | modes |
//! |---|---|---|
//! | 0–22 | GP0–GP22 | digital input (with/without pull-up), digital output, PWM, servo, tone |
//! | 25 | GP25, the on-board LED | as GP0–GP22 |
//! | 23, 24, 26–28 | (GP23/24 are internal; GP26–28 are the analog inputs) | none |
//! | analog channel 0–2 | GP26–GP28 (ADC0–ADC2), 12 bits | analog input |
//!
//! Pins the firmware's link uses (GP0/GP1 for `onegpio_uart`) are left out (`None`).
//!
//! Digital pins are embassy-rp [`Flex`] pins (embedded-hal 1.0 `InputPin` + `OutputPin`).
//! PWM, servo and tone switch the pin's function to the RP2040's PWM block (register level,
//! embassy-rp's `unstable-pac`: embassy's own `Pwm` driver takes pins by type and cannot be
//! re-targeted at run time). Each of the 8 PWM slices counts at 1 MHz (125 MHz / 125) and
//! serves two channels: GP*n* is slice `(n / 2) % 8`, channel A for even *n*, B for odd, so
//! GP*n* and GP*n*+16 share one output and the two channels of a slice share one frequency.
//! A mode that would break another pin's output on its slice is refused
//! ([`HardwareError::Unsupported`], reported to the OneGPIO client as an error; the rules are
//! `banyan_firmware::rp2040_pwm::PwmPlan`, tested on the host):
//!
//! * PWM: 1 kHz (top 999, duty in 1000 steps);
//! * servo: 50 Hz (top 19 999, duty = pulse width in µs), as the engine requires;
//! * tone: the requested frequency at 50 % duty (16 Hz–20 kHz); needs its slice alone.

use banyan_firmware::rp2040_pwm::{PwmPlan, PwmUse};
use banyan_onegpio::{Adc as OneGpioAdc, Board, Capabilities, HardwareError, PinMode};
use embassy_rp::Peri;
use embassy_rp::adc::{self, Adc, Blocking, Channel};
use embassy_rp::gpio::{AnyPin, Flex, Pull};
use embassy_rp::pac;
use embassy_rp::peripherals::{ADC, PIN_26, PIN_27, PIN_28};
use embedded_hal::pwm::{ErrorType, SetDutyCycle};

/// OneGPIO pin numbers `0..PIN_COUNT` (GP0–GP28).
pub const PIN_COUNT: u8 = 29;
/// Analog channels (GP26–GP28).
pub const ANALOG_CHANNELS: u8 = 3;

/// PWM counter clock: 125 MHz system clock / 125.
const PWM_DIVIDER: u8 = 125;
const PWM_TICK_HZ: u32 = 1_000_000;
/// `top` for PWM mode (1 kHz) and servo mode (50 Hz).
const PWM_TOP: u16 = 999;
const SERVO_TOP: u16 = 19_999;
/// GPIO function numbers (RP2040 datasheet §2.19.2).
const FUNC_PWM: u8 = 4;
const FUNC_SIO: u8 = 5;

/// `true` for the pins OneGPIO may use as digital pins (GP0–GP22, GP25).
pub const fn is_gpio(pin: u8) -> bool {
    pin <= 22 || pin == 25
}

/// One PWM channel (a pin in PWM or servo mode), an embedded-hal `SetDutyCycle`.
/// `max_duty_cycle` is `top + 1`, so that duty = `max` is always high and, in servo mode,
/// duty is the pulse width in µs.
#[derive(Debug)]
pub struct PwmChannel {
    slice: usize,
    channel_b: bool,
}

/// The PWM error: none can happen (duty is clamped to `max_duty_cycle`).
pub type PwmError = core::convert::Infallible;

impl ErrorType for PwmChannel {
    type Error = PwmError;
}

impl SetDutyCycle for PwmChannel {
    fn max_duty_cycle(&self) -> u16 {
        pac::PWM.ch(self.slice).top().read().top().saturating_add(1)
    }

    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), PwmError> {
        let duty = duty.min(self.max_duty_cycle());
        let channel_b = self.channel_b;
        pac::PWM.ch(self.slice).cc().modify(|w| {
            if channel_b {
                w.set_b(duty);
            } else {
                w.set_a(duty);
            }
        });
        Ok(())
    }
}

/// Analog inputs GP26–GP28 as OneGPIO channels 0–2.
pub struct PicoAdc {
    adc: Adc<'static, Blocking>,
    channels: [Channel<'static>; ANALOG_CHANNELS as usize],
}

impl PicoAdc {
    /// Takes the ADC and the three analog pins (no pull resistors).
    pub fn new(
        adc: Peri<'static, ADC>,
        a0: Peri<'static, PIN_26>,
        a1: Peri<'static, PIN_27>,
        a2: Peri<'static, PIN_28>,
    ) -> Self {
        Self {
            adc: Adc::new_blocking(adc, adc::Config::default()),
            channels: [
                Channel::new_pin(a0, Pull::None),
                Channel::new_pin(a1, Pull::None),
                Channel::new_pin(a2, Pull::None),
            ],
        }
    }
}

/// Why an analog read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdcError {
    /// No such channel.
    NoChannel,
    /// The converter flagged the conversion.
    Conversion,
}

impl OneGpioAdc for PicoAdc {
    type Error = AdcError;

    fn read(&mut self, channel: u8) -> Result<u16, AdcError> {
        let ch = self
            .channels
            .get_mut(usize::from(channel))
            .ok_or(AdcError::NoChannel)?;
        self.adc.blocking_read(ch).map_err(|_| AdcError::Conversion)
    }
}

/// The Pico as a OneGPIO board. See the [module docs](self) for the pin map.
pub struct PicoBoard {
    digital: [Option<Flex<'static>>; PIN_COUNT as usize],
    pwm: [Option<PwmChannel>; PIN_COUNT as usize],
    modes: [PinMode; PIN_COUNT as usize],
    plan: PwmPlan,
    adc: PicoAdc,
}

impl PicoBoard {
    /// A board over `pins` (index = GP number; `None` for pins the firmware keeps for itself)
    /// and the analog inputs. Pins at indexes that are not GPIO for OneGPIO (GP23, GP24,
    /// GP26–GP28) are ignored.
    pub fn new(pins: [Option<Peri<'static, AnyPin>>; PIN_COUNT as usize], adc: PicoAdc) -> Self {
        let mut pins = pins;
        let digital = core::array::from_fn(|i| {
            // i < 29
            let gp = i as u8;
            pins[i].take().filter(|_| is_gpio(gp)).map(Flex::new)
        });
        Self {
            digital,
            pwm: core::array::from_fn(|_| None),
            modes: [PinMode::Unset; PIN_COUNT as usize],
            plan: PwmPlan::new(),
            adc,
        }
    }

    /// Claims `pin`'s PWM channel for `usage`, setting the slice up if it was free.
    fn claim_pwm(&mut self, pin: u8, usage: PwmUse) -> Result<(), HardwareError> {
        let claim = self
            .plan
            .claim(pin, usage)
            .map_err(|_| HardwareError::Unsupported)?;
        let ch = pac::PWM.ch(claim.slice);
        if claim.configure_slice {
            ch.csr().write(|w| w.set_en(false));
            ch.div().write(|w| {
                w.set_int(PWM_DIVIDER);
                w.set_frac(0);
            });
            ch.top().write(|w| {
                w.set_top(if usage == PwmUse::Servo {
                    SERVO_TOP
                } else {
                    PWM_TOP
                })
            });
            ch.cc().write(|w| {
                w.set_a(0);
                w.set_b(0);
            });
            ch.ctr().write(|w| w.set_ctr(0));
            ch.csr().write(|w| w.set_en(true));
        } else {
            ch.cc().modify(|w| {
                if claim.channel_b {
                    w.set_b(0);
                } else {
                    w.set_a(0);
                }
            });
        }
        pac::IO_BANK0
            .gpio(usize::from(pin))
            .ctrl()
            .write(|w| w.set_funcsel(FUNC_PWM));
        self.pwm[usize::from(pin)] = Some(PwmChannel {
            slice: claim.slice,
            channel_b: claim.channel_b,
        });
        Ok(())
    }

    /// Gives `pin`'s PWM channel back (output 0; the slice stops when nobody uses it).
    fn release_pwm(&mut self, pin: u8) {
        if let Some(mut channel) = self.pwm[usize::from(pin)].take() {
            let _ = channel.set_duty_cycle(0);
            if self.plan.release(pin) {
                pac::PWM.ch(channel.slice).csr().write(|w| w.set_en(false));
            }
        }
    }
}

impl Board for PicoBoard {
    type Digital = Flex<'static>;
    type Pwm = PwmChannel;
    type Adc = PicoAdc;

    fn pin_count(&self) -> u8 {
        PIN_COUNT
    }

    fn capabilities(&self, pin: u8) -> Capabilities {
        match self.digital.get(usize::from(pin)) {
            Some(Some(_)) => Capabilities::ALL,
            _ => Capabilities::NONE,
        }
    }

    fn set_mode(&mut self, pin: u8, mode: PinMode) -> Result<(), HardwareError> {
        let index = usize::from(pin);
        if self.digital.get(index).is_none_or(Option::is_none) {
            return Err(HardwareError::Unsupported);
        }
        let old = self.modes[index];
        if matches!(old, PinMode::Pwm | PinMode::Servo | PinMode::Tone) {
            self.release_pwm(pin);
            self.modes[index] = PinMode::Unset;
        }
        let usage = match mode {
            PinMode::Pwm => Some(PwmUse::Pwm),
            PinMode::Servo => Some(PwmUse::Servo),
            PinMode::Tone => Some(PwmUse::Tone),
            _ => None,
        };
        if let Some(usage) = usage {
            if let Some(flex) = self.digital[index].as_mut() {
                flex.set_as_input();
                flex.set_pull(Pull::None);
            }
            if let Err(e) = self.claim_pwm(pin, usage) {
                // Refused: leave the pin a plain input, as after reset.
                pac::IO_BANK0
                    .gpio(index)
                    .ctrl()
                    .write(|w| w.set_funcsel(FUNC_SIO));
                return Err(e);
            }
        } else if let Some(flex) = self.digital[index].as_mut() {
            pac::IO_BANK0
                .gpio(index)
                .ctrl()
                .write(|w| w.set_funcsel(FUNC_SIO));
            match mode {
                PinMode::DigitalOutput => {
                    flex.set_pull(Pull::None);
                    flex.set_low();
                    flex.set_as_output();
                }
                PinMode::DigitalInputPullUp => {
                    flex.set_as_input();
                    flex.set_pull(Pull::Up);
                }
                _ => {
                    flex.set_as_input();
                    flex.set_pull(Pull::None);
                }
            }
        }
        self.modes[index] = mode;
        Ok(())
    }

    fn digital(&mut self, pin: u8) -> Option<&mut Flex<'static>> {
        self.digital.get_mut(usize::from(pin))?.as_mut()
    }

    fn pwm(&mut self, pin: u8) -> Option<&mut PwmChannel> {
        self.pwm.get_mut(usize::from(pin))?.as_mut()
    }

    fn analog_channel_count(&self) -> u8 {
        ANALOG_CHANNELS
    }

    fn adc(&mut self) -> &mut PicoAdc {
        &mut self.adc
    }

    fn tone(&mut self, pin: u8, freq_hz: u16) -> Result<(), HardwareError> {
        let Some(channel) = self.pwm.get(usize::from(pin)).and_then(Option::as_ref) else {
            return Err(HardwareError::Failed);
        };
        if self.plan.usage(pin) != Some(PwmUse::Tone) {
            return Err(HardwareError::Failed);
        }
        let ch = pac::PWM.ch(channel.slice);
        let channel_b = channel.channel_b;
        if freq_hz == 0 {
            ch.cc().write(|w| {
                w.set_a(0);
                w.set_b(0);
            });
            return Ok(());
        }
        if !(16..=20_000).contains(&freq_hz) {
            return Err(HardwareError::Unsupported);
        }
        // 1 MHz / f ≤ 62 500 for f ≥ 16 Hz: fits the 16-bit counter.
        let period = PWM_TICK_HZ / u32::from(freq_hz);
        let top = u16::try_from(period.saturating_sub(1)).unwrap_or(u16::MAX);
        let half = u16::try_from(period / 2).unwrap_or(u16::MAX);
        ch.top().write(|w| w.set_top(top));
        ch.cc().write(|w| {
            if channel_b {
                w.set_b(half);
            } else {
                w.set_a(half);
            }
        });
        Ok(())
    }
}
