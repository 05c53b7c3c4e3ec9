//! The digital output image a host keeps for DIGITAL_MESSAGE.

use super::encoder::check;
use super::{Command, EncodeError};

/// The output levels a host has written to each digital port. DIGITAL_MESSAGE sets all 8 pins
/// of a port at once (StandardFirmata 2.4 has no single-pin write), so writing one pin means
/// sending the levels of its 7 neighbours too: this is that memory, one per board. (pymata4
/// keeps it in a class attribute shared by every board it drives.)
///
/// ```
/// use banyan_proto::firmata::{Command, DigitalOutputs};
///
/// let mut outputs = DigitalOutputs::new();
/// assert_eq!(outputs.write(13, true), Ok(Command::DigitalPort { port: 1, pins: 0x20 }));
/// assert_eq!(outputs.write(8, true), Ok(Command::DigitalPort { port: 1, pins: 0x21 }));
/// assert_eq!(outputs.write(13, false), Ok(Command::DigitalPort { port: 1, pins: 0x01 }));
/// assert!(outputs.level(8) && !outputs.level(13));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DigitalOutputs {
    ports: [u8; 16],
}

impl DigitalOutputs {
    /// Every output low (a board after SYSTEM_RESET).
    pub const fn new() -> Self {
        Self { ports: [0; 16] }
    }

    /// Records `pin`'s new level and returns the DIGITAL_MESSAGE that writes its port.
    /// Errors: [`EncodeError::OutOfRange`] for a pin over 127 (nothing is recorded).
    pub fn write(&mut self, pin: u8, high: bool) -> Result<Command<'static>, EncodeError> {
        check("pin", u32::from(pin), 127)?;
        let (port, bit) = (pin / 8, 1u8 << (pin % 8));
        let slot = &mut self.ports[usize::from(port)];
        if high {
            *slot |= bit;
        } else {
            *slot &= !bit;
        }
        Ok(Command::DigitalPort { port, pins: *slot })
    }

    /// The recorded level of `pin` (low for pins over 127).
    pub fn level(&self, pin: u8) -> bool {
        self.port(pin / 8) & (1 << (pin % 8)) != 0
    }

    /// The recorded levels of port `port`, bit 0 first (0 for ports over 15).
    pub fn port(&self, port: u8) -> u8 {
        self.ports.get(usize::from(port)).copied().unwrap_or(0)
    }

    /// Forgets every level (after the board was reset).
    pub fn clear(&mut self) {
        self.ports = [0; 16];
    }
}
