//! The board's side: [`Event`]s back to bytes, for test boards, fuzzing and round trips.

use super::encoder::{EncodeError, Writer, bits7, bits14, check, sysex};
use super::{Event, cmd, split14};

impl Event<'_> {
    /// Bytes [`encode`](Self::encode) writes for this event.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::ProtocolVersion { .. } | Self::Analog { .. } | Self::DigitalPort { .. } => 3,
            Self::Firmware { name, .. } => 5 + 2 * name.chars().count(),
            Self::Capabilities(view) => 3 + view.raw().len(),
            Self::AnalogMapping(view) => 3 + view.raw().len(),
            Self::PinState { state, .. } => 5 + state_groups(*state),
            Self::I2cReply(view) => 3 + view.raw().len(),
            Self::StringData(view) => 3 + view.raw().len(),
            Self::IAmHere { .. } => 4,
            Self::SonarData { .. } => 6,
            Self::DhtData(_) => 12,
            Self::UnknownSysex { data, .. } => 3 + data.len(),
        }
    }

    /// Writes the bytes a board sends for this event to the start of `out` and returns how
    /// many. Decoding them gives an equal event.
    ///
    /// Errors: [`EncodeError::OutOfRange`] for a field that does not fit (a protocol version
    /// byte over 127, a channel or port over 15, an unknown sysex command that is not 7-bit …),
    /// [`EncodeError::BufferFull`] when `out` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        match self {
            Self::ProtocolVersion { major, minor } => {
                let major = bits7("major", *major)?;
                let minor = bits7("minor", *minor)?;
                w.put(&[cmd::REPORT_VERSION, major, minor])?;
            }
            Self::Analog { channel, value } => {
                check("channel", u32::from(*channel), 15)?;
                let [lsb, msb] = bits14("value", *value)?;
                w.put(&[cmd::ANALOG_MESSAGE | channel, lsb, msb])?;
            }
            Self::DigitalPort { port, pins } => {
                check("port", u32::from(*port), 15)?;
                w.put(&[cmd::DIGITAL_MESSAGE | port, pins & 0x7F, pins >> 7])?;
            }
            Self::Firmware { major, minor, name } => {
                let major = bits7("major", *major)?;
                let minor = bits7("minor", *minor)?;
                for c in name.chars() {
                    check("firmware name character", u32::from(c), 0x3FFF)?;
                }
                w.put(&[cmd::START_SYSEX, cmd::REPORT_FIRMWARE, major, minor])?;
                for c in name.chars() {
                    // Checked above: fits 14 bits.
                    w.put(&split14(u32::from(c) as u16))?;
                }
                w.byte(cmd::END_SYSEX)?;
            }
            Self::Capabilities(view) => {
                sysex(&mut w, cmd::CAPABILITY_RESPONSE, seven_bit(view.raw())?)?;
            }
            Self::AnalogMapping(view) => {
                sysex(&mut w, cmd::ANALOG_MAPPING_RESPONSE, seven_bit(view.raw())?)?;
            }
            Self::PinState { pin, mode, state } => {
                let pin = bits7("pin", *pin)?;
                let mode = bits7("mode", mode.to_u8())?;
                check("state", *state, 0x0FFF_FFFF)?;
                w.put(&[cmd::START_SYSEX, cmd::PIN_STATE_RESPONSE, pin, mode])?;
                for group in 0..state_groups(*state) {
                    w.byte(((state >> (7 * group)) & 0x7F) as u8)?;
                }
                w.byte(cmd::END_SYSEX)?;
            }
            Self::I2cReply(view) => sysex(&mut w, cmd::I2C_REPLY, seven_bit(view.raw())?)?,
            Self::StringData(view) => sysex(&mut w, cmd::STRING_DATA, seven_bit(view.raw())?)?,
            Self::IAmHere { instance_id } => {
                sysex(
                    &mut w,
                    cmd::I_AM_HERE,
                    &[bits7("instance id", *instance_id)?],
                )?;
            }
            Self::SonarData {
                trigger_pin,
                distance_cm,
            } => {
                let pin = bits7("trigger pin", *trigger_pin)?;
                let [lsb, msb] = bits14("distance", *distance_cm)?;
                sysex(&mut w, cmd::SONAR_DATA, &[pin, lsb, msb])?;
            }
            Self::DhtData(reading) => {
                let pin = bits7("pin", reading.pin)?;
                let sensor_type = bits7("sensor type", reading.sensor_type)?;
                let status = bits7("status", reading.status)?;
                let (h_neg, h, h_frac) = dht_parts("humidity", reading.humidity)?;
                let (t_neg, t, t_frac) = dht_parts("temperature", reading.temperature)?;
                sysex(
                    &mut w,
                    cmd::DHT_DATA,
                    &[pin, sensor_type, status, h_neg, t_neg, h, h_frac, t, t_frac],
                )?;
            }
            Self::UnknownSysex { command, data } => {
                bits7("sysex command", *command)?;
                sysex(&mut w, *command, seven_bit(data)?)?;
            }
        }
        Ok(w.len())
    }
}

/// `data`, once every byte is checked to be a data byte (views built by hand with
/// `parse` may hold any bytes; the decoder's never do).
fn seven_bit(data: &[u8]) -> Result<&[u8], EncodeError> {
    for &byte in data {
        bits7("sysex data byte", byte)?;
    }
    Ok(data)
}

/// 7-bit groups a pin state takes (at least one).
fn state_groups(state: u32) -> usize {
    let bits = 32 - state.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Largest DHT magnitude the wire carries: whole part and hundredths are one 7-bit data byte
/// each, and the decoder takes hundredths up to 127 as sent (`whole * 100 + frac`), so
/// `127 * 100 + 127`.
const DHT_MAX: u32 = 127 * 100 + 127;

/// Sign flag, whole part and hundredths of a DHT value: the whole part as large as fits
/// (at most 127), the rest in the hundredths byte (below 100 except at the very top, where
/// 12 700..=12 827 keep 127 and put 0..=127 in the hundredths, as the decoder reads them).
/// Every value the decoder produces encodes, to bytes it decodes to the same value.
fn dht_parts(field: &'static str, value: i16) -> Result<(u8, u8, u8), EncodeError> {
    let magnitude = value.unsigned_abs();
    check(field, u32::from(magnitude), DHT_MAX)?;
    let whole = (magnitude / 100).min(127);
    // magnitude - whole * 100 <= 127 after the check.
    Ok((
        u8::from(value < 0),
        whole as u8,
        (magnitude - whole * 100) as u8,
    ))
}
