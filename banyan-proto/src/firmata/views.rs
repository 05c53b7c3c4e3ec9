//! Validated views of the variable-length sysex replies: checked once when the decoder builds
//! them, so that iterating them afterwards cannot fail ("if it constructs, it parses").

use core::fmt;

use super::decoder::Malformed;
use super::{MAX_MODES_PER_PIN, MAX_PINS, ModeInfo, NONE, PinMode, join14};

/// Capacity in bytes (UTF-8) of a [`FirmwareName`]. StandardFirmata sends the sketch's file
/// name (`StandardFirmata.ino`, 19 bytes); a longer name is a [`Malformed::NameTooLong`].
pub const FIRMWARE_NAME_CAPACITY: usize = 64;

/// The firmware name of a REPORT_FIRMWARE reply, decoded from its LSB/MSB pairs (each pair is
/// one 14-bit character; every such value is a valid `char`).
pub type FirmwareName = heapless::String<FIRMWARE_NAME_CAPACITY>;

/// Decodes the LSB/MSB character pairs of a firmware name.
pub(crate) fn firmware_name(pairs: &[u8]) -> Result<FirmwareName, Malformed> {
    if !pairs.len().is_multiple_of(2) {
        return Err(Malformed::BadLength);
    }
    let mut name = FirmwareName::new();
    for pair in pairs.chunks_exact(2) {
        let c = char::from_u32(u32::from(join14(pair[0], pair[1]))).ok_or(Malformed::BadLength)?;
        name.push(c).map_err(|_| Malformed::NameTooLong)?;
    }
    Ok(name)
}

/// A CAPABILITY_RESPONSE (`F0 6C … F7`): for each pin, in pin order, the modes it supports
/// with their resolution in bits, each list ended by `7F`. Validated: at most [`MAX_PINS`]
/// pins of at most [`MAX_MODES_PER_PIN`] modes, no pin left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CapabilityResponse<'a> {
    raw: &'a [u8],
    pins: usize,
}

impl<'a> CapabilityResponse<'a> {
    /// Checks the body of a capability response (the bytes between `6C` and `F7`).
    pub fn parse(raw: &'a [u8]) -> Result<Self, Malformed> {
        let (mut pins, mut modes, mut at) = (0usize, 0usize, 0usize);
        while let Some(&mode) = raw.get(at) {
            if mode == NONE {
                pins += 1;
                if pins > MAX_PINS {
                    return Err(Malformed::TooManyPins);
                }
                modes = 0;
                at += 1;
                continue;
            }
            if raw.get(at + 1).is_none() {
                return Err(Malformed::BadLength);
            }
            modes += 1;
            if modes > MAX_MODES_PER_PIN {
                return Err(Malformed::TooManyModes);
            }
            at += 2;
        }
        if modes != 0 {
            // The last pin's list has no closing 7F.
            return Err(Malformed::BadLength);
        }
        Ok(Self { raw, pins })
    }

    /// Number of pins listed.
    pub fn pin_count(&self) -> usize {
        self.pins
    }

    /// The raw body (between `6C` and `F7`).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The pins in order (pin 0 first).
    pub fn pins(&self) -> CapabilityPins<'a> {
        CapabilityPins {
            rest: self.raw,
            pin: 0,
        }
    }
}

/// Iterator over the pins of a [`CapabilityResponse`].
#[derive(Debug, Clone)]
pub struct CapabilityPins<'a> {
    rest: &'a [u8],
    pin: u8,
}

impl<'a> Iterator for CapabilityPins<'a> {
    type Item = PinCapabilities<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        // Validated: mode/resolution pairs, then 7F. Find the 7F at an even offset.
        let mut at = 0;
        while let Some(&mode) = self.rest.get(at) {
            if mode == NONE {
                break;
            }
            at += 2;
        }
        let modes = self.rest.get(..at).unwrap_or(&[]);
        self.rest = self.rest.get(at + 1..).unwrap_or(&[]);
        let pin = self.pin;
        self.pin = self.pin.wrapping_add(1);
        Some(PinCapabilities { pin, modes })
    }
}

/// One pin of a [`CapabilityResponse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PinCapabilities<'a> {
    pin: u8,
    modes: &'a [u8],
}

impl<'a> PinCapabilities<'a> {
    /// The pin number.
    pub fn pin(&self) -> u8 {
        self.pin
    }

    /// The modes the pin supports, in the order the board listed them.
    pub fn modes(&self) -> impl Iterator<Item = ModeInfo> + 'a {
        self.modes.chunks_exact(2).map(|pair| ModeInfo {
            mode: PinMode::from_u8(pair[0]),
            resolution: pair[1],
        })
    }
}

/// An ANALOG_MAPPING_RESPONSE (`F0 6A … F7`): for each pin, its analog channel or `7F`.
/// Validated: at most [`MAX_PINS`] pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AnalogMapping<'a> {
    raw: &'a [u8],
}

impl<'a> AnalogMapping<'a> {
    /// Checks the body of an analog mapping response.
    pub fn parse(raw: &'a [u8]) -> Result<Self, Malformed> {
        if raw.len() > MAX_PINS {
            return Err(Malformed::TooManyPins);
        }
        Ok(Self { raw })
    }

    /// Number of pins listed.
    pub fn pin_count(&self) -> usize {
        self.raw.len()
    }

    /// The analog channel of `pin`, if it has one.
    pub fn channel(&self, pin: u8) -> Option<u8> {
        self.raw
            .get(usize::from(pin))
            .copied()
            .filter(|&c| c != NONE)
    }

    /// Each pin's channel, in pin order.
    pub fn channels(&self) -> impl Iterator<Item = Option<u8>> + 'a {
        self.raw.iter().map(|&c| (c != NONE).then_some(c))
    }

    /// The raw body (between `6A` and `F7`).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

/// An I2C_REPLY (`F0 77 … F7`): device address, register, then the data read, every value
/// as an LSB/MSB pair. Validated: an even length of at least 4 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct I2cReply<'a> {
    raw: &'a [u8],
}

impl<'a> I2cReply<'a> {
    /// Checks the body of an I2C reply.
    pub fn parse(raw: &'a [u8]) -> Result<Self, Malformed> {
        if raw.len() < 4 || !raw.len().is_multiple_of(2) {
            return Err(Malformed::BadLength);
        }
        Ok(Self { raw })
    }

    /// The device address.
    pub fn address(&self) -> u16 {
        join14(self.raw[0], self.raw[1])
    }

    /// The register read (as the request named it).
    pub fn register(&self) -> u16 {
        join14(self.raw[2], self.raw[3])
    }

    /// Number of data values.
    pub fn data_len(&self) -> usize {
        (self.raw.len() - 4) / 2
    }

    /// The data values read (bytes from the device: each fits a `u8` when the firmware is
    /// well-behaved; 14 bits are decoded as sent).
    pub fn data(&self) -> impl Iterator<Item = u16> + 'a {
        self.raw
            .get(4..)
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|pair| join14(pair[0], pair[1]))
    }

    /// The raw body (between `77` and `F7`).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

/// A STRING_DATA message (`F0 71 … F7`): text as LSB/MSB character pairs. Validated: an even
/// length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StringData<'a> {
    raw: &'a [u8],
}

impl<'a> StringData<'a> {
    /// Checks the body of a string message.
    pub fn parse(raw: &'a [u8]) -> Result<Self, Malformed> {
        if !raw.len().is_multiple_of(2) {
            return Err(Malformed::BadLength);
        }
        Ok(Self { raw })
    }

    /// The characters (14-bit values are always valid `char`s).
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        self.raw.chunks_exact(2).map(|pair| {
            char::from_u32(u32::from(join14(pair[0], pair[1])))
                .unwrap_or(char::REPLACEMENT_CHARACTER)
        })
    }

    /// The raw body (between `71` and `F7`).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

impl fmt::Display for StringData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chars().try_for_each(|c| fmt::Write::write_char(f, c))
    }
}

/// A DHT_DATA reading (FirmataExpress `F0 65 pin type status h− t− h h/100 t t/100 F7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DhtReading {
    /// The sensor's data pin.
    pub pin: u8,
    /// The sensor type as configured (11 or 22).
    pub sensor_type: u8,
    /// 0 = valid reading; FirmataExpress sends 1 for a checksum error, 2 for a timeout.
    pub status: u8,
    /// Relative humidity in hundredths of a percent (meaningful when `status == 0`).
    pub humidity: i16,
    /// Temperature in hundredths of a degree Celsius (meaningful when `status == 0`).
    pub temperature: i16,
}

impl DhtReading {
    /// Decodes the 9-byte body.
    pub(crate) fn parse(raw: &[u8]) -> Result<Self, Malformed> {
        let &[pin, sensor_type, status, h_neg, t_neg, h, h_frac, t, t_frac] = raw else {
            return Err(Malformed::BadLength);
        };
        let value = |neg: u8, whole: u8, frac: u8| {
            let v = i16::from(whole) * 100 + i16::from(frac);
            if neg != 0 { -v } else { v }
        };
        Ok(Self {
            pin,
            sensor_type,
            status,
            humidity: value(h_neg, h, h_frac),
            temperature: value(t_neg, t, t_frac),
        })
    }
}
