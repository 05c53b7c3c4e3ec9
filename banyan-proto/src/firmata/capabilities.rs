//! What a board's pins can do, from its capability and analog-mapping responses.

use core::fmt;

use super::{AnalogMapping, CapabilityResponse, MAX_MODES_PER_PIN, MAX_PINS, PinMode};

/// A mode a pin supports and its resolution in bits (PWM 8, analog 10, servo 14 on an AVR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModeInfo {
    /// The mode.
    pub mode: PinMode,
    /// Its resolution in bits.
    pub resolution: u8,
}

/// One pin of [`Capabilities`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PinInfo {
    modes: heapless::Vec<ModeInfo, MAX_MODES_PER_PIN>,
    analog_channel: Option<u8>,
}

impl PinInfo {
    /// The modes the pin supports, in the order the board listed them (empty for pins the
    /// firmware reserves, such as an Uno's serial pins 0 and 1).
    pub fn modes(&self) -> &[ModeInfo] {
        &self.modes
    }

    /// Whether the pin supports `mode` (compared by mode number, so `PinMode::Other(3)` is
    /// `PinMode::Pwm`).
    pub fn supports(&self, mode: PinMode) -> bool {
        self.resolution(mode).is_some()
    }

    /// The resolution of `mode` on this pin, if it supports it.
    pub fn resolution(&self, mode: PinMode) -> Option<u8> {
        self.modes
            .iter()
            .find(|m| m.mode.to_u8() == mode.to_u8())
            .map(|m| m.resolution)
    }

    /// The pin's analog channel (A0 = 0), if the analog mapping gave it one.
    pub fn analog_channel(&self) -> Option<u8> {
        self.analog_channel
    }
}

/// Why an analog mapping does not fit a capability response.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CapabilityError {
    /// The two responses list a different number of pins (both come from the same
    /// `TOTAL_PINS` in a sound firmware).
    PinCountMismatch {
        /// Pins in the capability response.
        capability: usize,
        /// Pins in the analog mapping response.
        mapping: usize,
    },
}

impl fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PinCountMismatch {
                capability,
                mapping,
            } => write!(
                f,
                "the capability response lists {capability} pins but the analog mapping {mapping}"
            ),
        }
    }
}

impl core::error::Error for CapabilityError {}

/// A board's pins: which modes each supports (with resolution) and the pin ↔ analog channel
/// map. Built from [`Event::Capabilities`](super::Event) and
/// [`Event::AnalogMapping`](super::Event) in either order ([`empty`](Self::empty), then
/// [`set_capabilities`](Self::set_capabilities) and
/// [`set_analog_mapping`](Self::set_analog_mapping); or [`new`](Self::new) with both); a
/// gateway checks it before sending a pin a mode.
/// Fixed capacity ([`MAX_PINS`] pins × [`MAX_MODES_PER_PIN`] modes, about 8 KiB on a 64-bit host): the
/// decoder's validation guarantees every response fits.
///
/// ```
/// use banyan_proto::firmata::{AnalogMapping, Capabilities, CapabilityResponse, PinMode};
///
/// // Pin 0: none; pin 1: input, output, PWM 8 bits; pin 2: input, analog 10 bits.
/// let caps = CapabilityResponse::parse(&[0x7F, 0, 1, 1, 1, 3, 8, 0x7F, 0, 1, 2, 10, 0x7F]).unwrap();
/// let map = AnalogMapping::parse(&[0x7F, 0x7F, 0]).unwrap();
/// let board = Capabilities::new(&caps, &map).unwrap();
/// assert_eq!(board.pin_count(), 3);
/// assert!(board.supports(1, PinMode::Pwm) && !board.supports(0, PinMode::Output));
/// assert_eq!(board.resolution(2, PinMode::Analog), Some(10));
/// assert_eq!((board.analog_channel(2), board.pin_of_channel(0)), (Some(0), Some(2)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Capabilities {
    pins: heapless::Vec<PinInfo, MAX_PINS>,
    has_modes: bool,
    has_mapping: bool,
}

impl Capabilities {
    /// Nothing known yet: no pins. Feed it both responses, in either order.
    pub const fn empty() -> Self {
        Self {
            pins: heapless::Vec::new(),
            has_modes: false,
            has_mapping: false,
        }
    }

    /// The pins of a capability response, without analog channels.
    pub fn from_capabilities(response: &CapabilityResponse<'_>) -> Self {
        let mut caps = Self::empty();
        caps.set_pins(response);
        caps.has_modes = true;
        caps
    }

    /// Both responses at once.
    pub fn new(
        response: &CapabilityResponse<'_>,
        mapping: &AnalogMapping<'_>,
    ) -> Result<Self, CapabilityError> {
        let mut caps = Self::from_capabilities(response);
        caps.set_analog_mapping(mapping)?;
        Ok(caps)
    }

    /// Takes the modes of a capability response (replacing any earlier ones). When an analog
    /// mapping is already known, both must list the same number of pins; on an error nothing
    /// changes.
    pub fn set_capabilities(
        &mut self,
        response: &CapabilityResponse<'_>,
    ) -> Result<(), CapabilityError> {
        if self.has_mapping && response.pin_count() != self.pins.len() {
            return Err(CapabilityError::PinCountMismatch {
                capability: response.pin_count(),
                mapping: self.pins.len(),
            });
        }
        let mut channels = [None; MAX_PINS];
        for (slot, info) in channels.iter_mut().zip(&self.pins) {
            *slot = info.analog_channel;
        }
        self.set_pins(response);
        for (info, channel) in self.pins.iter_mut().zip(channels) {
            info.analog_channel = channel;
        }
        self.has_modes = true;
        Ok(())
    }

    /// Takes the analog channels of an analog mapping response (replacing any earlier ones).
    /// When the modes are already known, both must list the same number of pins; on an error
    /// nothing changes.
    pub fn set_analog_mapping(
        &mut self,
        mapping: &AnalogMapping<'_>,
    ) -> Result<(), CapabilityError> {
        if self.has_modes && mapping.pin_count() != self.pins.len() {
            return Err(CapabilityError::PinCountMismatch {
                capability: self.pins.len(),
                mapping: mapping.pin_count(),
            });
        }
        // Without modes yet, the mapping decides the pin count (its pins list no modes).
        self.pins.truncate(mapping.pin_count());
        while self.pins.len() < mapping.pin_count() {
            // mapping.pin_count() <= MAX_PINS (validated), so this cannot fail.
            let _ = self.pins.push(PinInfo::default());
        }
        for (info, channel) in self.pins.iter_mut().zip(mapping.channels()) {
            info.analog_channel = channel;
        }
        self.has_mapping = true;
        Ok(())
    }

    /// Whether both responses have been taken.
    pub fn is_complete(&self) -> bool {
        self.has_modes && self.has_mapping
    }

    fn set_pins(&mut self, response: &CapabilityResponse<'_>) {
        self.pins.clear();
        for pin in response.pins() {
            let mut info = PinInfo::default();
            for mode in pin.modes() {
                // A validated response has at most MAX_MODES_PER_PIN modes per pin and
                // MAX_PINS pins, so neither push can fail.
                let _ = info.modes.push(mode);
            }
            let _ = self.pins.push(info);
        }
    }

    /// Number of pins (an Uno: 20, D0–D13 and A0–A5 as 14–19).
    pub fn pin_count(&self) -> usize {
        self.pins.len()
    }

    /// One pin, if the board has it.
    pub fn pin(&self, pin: u8) -> Option<&PinInfo> {
        self.pins.get(usize::from(pin))
    }

    /// Every pin with its number.
    pub fn pins(&self) -> impl Iterator<Item = (u8, &PinInfo)> {
        // At most MAX_PINS = 128 pins: the index fits a u8.
        self.pins
            .iter()
            .enumerate()
            .map(|(i, info)| (i as u8, info))
    }

    /// Whether `pin` exists and supports `mode`.
    pub fn supports(&self, pin: u8, mode: PinMode) -> bool {
        self.pin(pin).is_some_and(|info| info.supports(mode))
    }

    /// The resolution of `mode` on `pin`, if it supports it.
    pub fn resolution(&self, pin: u8, mode: PinMode) -> Option<u8> {
        self.pin(pin).and_then(|info| info.resolution(mode))
    }

    /// The analog channel of `pin` (A0 = 0), if it has one.
    pub fn analog_channel(&self, pin: u8) -> Option<u8> {
        self.pin(pin).and_then(PinInfo::analog_channel)
    }

    /// The pin of analog channel `channel` (the lowest, should two claim it).
    pub fn pin_of_channel(&self, channel: u8) -> Option<u8> {
        self.pins()
            .find(|(_, info)| info.analog_channel == Some(channel))
            .map(|(pin, _)| pin)
    }

    /// Number of analog channels (pins with a channel).
    pub fn analog_channels(&self) -> usize {
        self.pins
            .iter()
            .filter(|info| info.analog_channel.is_some())
            .count()
    }
}
