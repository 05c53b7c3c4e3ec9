//! Which RP2040 pins may use the PWM block at the same time: the bookkeeping of the Pico's
//! OneGPIO board (`boards/rp-pico/src/onegpio_board.rs`), kept here to be tested on the host.
//!
//! The RP2040 has 8 PWM slices of two channels, A and B. GPIO *n* is slice `(n / 2) % 8`,
//! channel A for even *n*, B for odd (RP2040 datasheet §4.5.2): GP*n* and GP*n*+16 are the
//! same channel, and the two channels of a slice share one counter, so one frequency. Rules:
//!
//! * a channel has at most one pin;
//! * PWM (1 kHz) and servo (50 Hz) pins may share a slice only with pins of the same kind;
//! * a tone sets the slice's frequency to its note: it needs the slice alone.

use core::fmt;

/// What a pin uses its PWM channel for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PwmUse {
    /// PWM at the board's PWM frequency.
    Pwm,
    /// 50 Hz servo pulses.
    Servo,
    /// A square wave of a requested frequency.
    Tone,
}

/// Why a pin cannot have its PWM channel now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Conflict {
    /// Not a GPIO with a PWM channel (the RP2040 has GPIO 0–29).
    NoChannel,
    /// Another pin (GPIO `n ± 16`) holds the same channel.
    ChannelTaken(u8),
    /// The other channel of the slice runs at another frequency (or plays a tone).
    SliceBusy(u8),
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoChannel => f.write_str("no PWM channel on this pin"),
            Self::ChannelTaken(pin) => write!(f, "PWM channel already used by GP{pin}"),
            Self::SliceBusy(pin) => write!(f, "PWM slice runs at another frequency for GP{pin}"),
        }
    }
}

/// The PWM slice of GPIO `gpio`.
pub const fn slice_of(gpio: u8) -> usize {
    ((gpio >> 1) & 7) as usize
}

/// `true` when GPIO `gpio` is its slice's channel B.
pub const fn is_channel_b(gpio: u8) -> bool {
    gpio & 1 == 1
}

/// What [`PwmPlan::claim`] granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The slice.
    pub slice: usize,
    /// Channel B (else A).
    pub channel_b: bool,
    /// The slice was free: set its divider and `top` now (else keep them: the other channel
    /// runs at the same frequency).
    pub configure_slice: bool,
}

/// Which pin holds which channel, for what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PwmPlan {
    /// `[slice][channel]`: the pin and its use.
    channels: [[Option<(u8, PwmUse)>; 2]; 8],
}

impl PwmPlan {
    /// No channel in use.
    pub const fn new() -> Self {
        Self {
            channels: [[None; 2]; 8],
        }
    }

    /// Gives GPIO `gpio` its channel for `usage` (releasing what it held before), or says why
    /// not — then nothing changes.
    ///
    /// # Errors
    /// [`Conflict`].
    pub fn claim(&mut self, gpio: u8, usage: PwmUse) -> Result<Claim, Conflict> {
        if gpio > 29 {
            return Err(Conflict::NoChannel);
        }
        let slice = slice_of(gpio);
        let channel = usize::from(is_channel_b(gpio));
        let [a, b] = self.channels[slice];
        let (this, other) = if channel == 1 { (b, a) } else { (a, b) };
        if let Some((pin, _)) = this.filter(|&(pin, _)| pin != gpio) {
            return Err(Conflict::ChannelTaken(pin));
        }
        if let Some((pin, other_use)) = other
            && (usage == PwmUse::Tone || other_use != usage)
        {
            return Err(Conflict::SliceBusy(pin));
        }
        self.channels[slice][channel] = Some((gpio, usage));
        Ok(Claim {
            slice,
            channel_b: channel == 1,
            configure_slice: other.is_none(),
        })
    }

    /// Gives GPIO `gpio`'s channel back. Returns `true` when its slice is now unused (stop it).
    pub fn release(&mut self, gpio: u8) -> bool {
        if gpio > 29 {
            return false;
        }
        let slice = slice_of(gpio);
        let channel = usize::from(is_channel_b(gpio));
        if self.channels[slice][channel].is_some_and(|(pin, _)| pin == gpio) {
            self.channels[slice][channel] = None;
        }
        self.channels[slice].iter().all(Option::is_none)
    }

    /// What GPIO `gpio` holds its channel for, if it does.
    pub fn usage(&self, gpio: u8) -> Option<PwmUse> {
        if gpio > 29 {
            return None;
        }
        self.channels[slice_of(gpio)][usize::from(is_channel_b(gpio))]
            .filter(|&(pin, _)| pin == gpio)
            .map(|(_, usage)| usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_map() {
        assert_eq!((slice_of(0), is_channel_b(0)), (0, false));
        assert_eq!((slice_of(1), is_channel_b(1)), (0, true));
        assert_eq!((slice_of(15), is_channel_b(15)), (7, true));
        assert_eq!((slice_of(16), is_channel_b(16)), (0, false));
        assert_eq!((slice_of(25), is_channel_b(25)), (4, true));
    }

    #[test]
    fn same_channel_is_refused() {
        let mut plan = PwmPlan::new();
        assert!(plan.claim(0, PwmUse::Pwm).unwrap().configure_slice);
        assert_eq!(plan.claim(16, PwmUse::Pwm), Err(Conflict::ChannelTaken(0)));
        assert!(plan.release(0));
        assert!(plan.claim(16, PwmUse::Pwm).is_ok());
    }

    #[test]
    fn a_slice_has_one_frequency() {
        let mut plan = PwmPlan::new();
        plan.claim(2, PwmUse::Servo).unwrap();
        assert_eq!(plan.claim(3, PwmUse::Pwm), Err(Conflict::SliceBusy(2)));
        let second = plan.claim(3, PwmUse::Servo).unwrap();
        assert!(!second.configure_slice && second.channel_b && second.slice == 1);
        assert!(!plan.release(2));
        assert!(plan.release(3));
    }

    #[test]
    fn a_tone_needs_its_slice_alone() {
        let mut plan = PwmPlan::new();
        plan.claim(4, PwmUse::Tone).unwrap();
        assert_eq!(plan.claim(5, PwmUse::Tone), Err(Conflict::SliceBusy(4)));
        assert_eq!(plan.claim(5, PwmUse::Pwm), Err(Conflict::SliceBusy(4)));
        plan.release(4);
        plan.claim(5, PwmUse::Pwm).unwrap();
        assert_eq!(plan.claim(4, PwmUse::Tone), Err(Conflict::SliceBusy(5)));
    }

    #[test]
    fn reclaiming_changes_the_use_and_refusals_change_nothing() {
        let mut plan = PwmPlan::new();
        plan.claim(6, PwmUse::Pwm).unwrap();
        // Alone on its slice: may switch to servo (the caller reconfigures the slice).
        assert!(plan.claim(6, PwmUse::Servo).unwrap().configure_slice);
        assert_eq!(plan.usage(6), Some(PwmUse::Servo));
        plan.claim(7, PwmUse::Servo).unwrap();
        let before = plan.clone();
        assert_eq!(plan.claim(6, PwmUse::Tone), Err(Conflict::SliceBusy(7)));
        assert_eq!(plan, before);
        assert_eq!(plan.claim(30, PwmUse::Pwm), Err(Conflict::NoChannel));
        assert!(!plan.release(30));
        assert_eq!(plan.usage(30), None);
    }
}
