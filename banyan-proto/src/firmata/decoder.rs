//! Streaming Firmata decoder (board → host) with a fixed sysex buffer.

use core::fmt;

use super::views::{self, FirmwareName};
use super::{
    AnalogMapping, CapabilityResponse, DhtReading, I2cReply, PinMode, StringData, cmd, join14,
};

/// Default sysex buffer of [`FirmataDecoder`]: the largest capability response the decoder
/// accepts, [`MAX_PINS`](super::MAX_PINS) pins × ([`MAX_MODES_PER_PIN`](super::MAX_MODES_PER_PIN)
/// mode/resolution pairs + `7F`), 4 224 bytes. A real Uno's (StandardFirmata 2.4) is 156.
pub const SYSEX_CAPACITY: usize = super::MAX_PINS * (2 * super::MAX_MODES_PER_PIN + 1);

/// Why a complete, known sysex message was not accepted. The message is dropped; the decoder
/// stays in sync.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Malformed {
    /// The body has the wrong length for its command (an odd number of bytes where pairs are
    /// expected, a fixed-size message of another size, a capability list without its `7F`).
    BadLength,
    /// More than [`MAX_PINS`](super::MAX_PINS) pins.
    TooManyPins,
    /// A pin with more than [`MAX_MODES_PER_PIN`](super::MAX_MODES_PER_PIN) modes.
    TooManyModes,
    /// A firmware name longer than [`FIRMWARE_NAME_CAPACITY`](super::FIRMWARE_NAME_CAPACITY)
    /// bytes of UTF-8.
    NameTooLong,
    /// A pin state of more than 4 groups of 7 bits (beyond `u32`).
    StateTooLong,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadLength => "wrong length for the message",
            Self::TooManyPins => "more pins than Firmata can address (128)",
            Self::TooManyModes => "a pin lists more modes than the decoder holds (16)",
            Self::NameTooLong => "firmware name longer than 64 bytes",
            Self::StateTooLong => "pin state longer than 28 bits",
        })
    }
}

impl core::error::Error for Malformed {}

/// A message from the board.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a> {
    /// REPORT_VERSION: the Firmata protocol version (StandardFirmata 2.5 → 2.5).
    ProtocolVersion {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// ANALOG_MESSAGE: a reading of an analog **channel** (A0 = 0; see
    /// [`Capabilities::pin_of_channel`](super::Capabilities::pin_of_channel)).
    Analog {
        /// Analog channel 0–15.
        channel: u8,
        /// The 14-bit value (10 bits on an AVR's ADC).
        value: u16,
    },
    /// DIGITAL_MESSAGE: the levels of a port's 8 pins (bit `i` = pin `8 * port + i`). Only
    /// the pins reporting as inputs are meaningful; bits above the eighth are dropped.
    DigitalPort {
        /// Port 0–15.
        port: u8,
        /// Pin levels, bit 0 first.
        pins: u8,
    },
    /// REPORT_FIRMWARE: firmware version and name.
    Firmware {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
        /// The firmware's name (`StandardFirmata.ino`, `FirmataExpress.ino` …).
        name: FirmwareName,
    },
    /// CAPABILITY_RESPONSE.
    Capabilities(CapabilityResponse<'a>),
    /// ANALOG_MAPPING_RESPONSE.
    AnalogMapping(AnalogMapping<'a>),
    /// PIN_STATE_RESPONSE: a pin's mode and state (an output's level, a PWM duty …).
    PinState {
        /// The pin.
        pin: u8,
        /// Its current mode.
        mode: PinMode,
        /// Its state, up to 28 bits.
        state: u32,
    },
    /// I2C_REPLY.
    I2cReply(I2cReply<'a>),
    /// STRING_DATA: text from the firmware (often an error message).
    StringData(StringData<'a>),
    /// I_AM_HERE (FirmataExpress): the answer to ARE_YOU_THERE.
    IAmHere {
        /// The firmware's instance id (pymata's `arduino_instance_id`, 1 by default).
        instance_id: u8,
    },
    /// SONAR_DATA (FirmataExpress): an HC-SR04 distance.
    SonarData {
        /// The sensor's trigger pin (its key).
        trigger_pin: u8,
        /// Distance in centimetres (14 bits).
        distance_cm: u16,
    },
    /// DHT_DATA (FirmataExpress).
    DhtData(DhtReading),
    /// A sysex this decoder does not interpret, passed on intact.
    UnknownSysex {
        /// The sysex command byte.
        command: u8,
        /// The data bytes between the command and `F7`.
        data: &'a [u8],
    },
}

/// What [`FirmataDecoder::feed`] found. Every variant but `Consumed` carries the rest of the
/// input after the event: feed it again until it is empty.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Feed<'me, 'a> {
    /// All input was consumed without completing a message.
    Consumed,
    /// A complete message, borrowing the decoder's buffer.
    Event {
        /// The message.
        event: Event<'me>,
        /// Input after the message.
        remaining: &'a [u8],
    },
    /// A complete sysex message of a known command with a bad body; it was dropped.
    Malformed {
        /// The sysex command byte.
        command: u8,
        /// What was wrong.
        kind: Malformed,
        /// Input after the message.
        remaining: &'a [u8],
    },
    /// A sysex message outgrew the decoder's buffer. Reported once, when the buffer
    /// overflows; its further bytes are dropped (counted in [`Stats::dropped`]) up to the next
    /// status byte.
    Overflow {
        /// The sysex command byte.
        command: u8,
        /// Input after the byte that did not fit.
        remaining: &'a [u8],
    },
}

/// Counters of bytes the decoder could not use (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Bytes outside any message: data bytes with no status byte before them (noise, a
    /// bootloader's output, the tail of a message whose start was lost), a stray `F7`, and
    /// status bytes of messages a board does not send (such as `F4`), whose data bytes are
    /// then counted here too.
    pub stray: u32,
    /// Messages cut short by a status byte before they were complete (including an empty
    /// sysex `F0 F7`). Their bytes are dropped.
    pub interrupted: u32,
    /// Data bytes dropped after an [`Feed::Overflow`].
    pub dropped: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages.
    Idle,
    /// A 3-byte message (`F9`, `9x`, `Ex`): its status and first data byte so far.
    Short { status: u8, first: Option<u8> },
    /// After `F0`: the command byte comes next.
    SysexCommand,
    /// Inside a sysex; its data so far is `buf[..len]`.
    Sysex { command: u8 },
    /// Dropping an oversized sysex until the next status byte.
    Overflowed,
}

/// Parses Firmata messages from a byte stream delivered in arbitrary chunks, holding sysex
/// bodies in a buffer of `N` bytes (default [`SYSEX_CAPACITY`], enough for the largest
/// capability response; an MCU that only needs short replies may pick fewer).
///
/// Any status byte ends the message before it: after noise, a lost byte or a board reset the
/// decoder is in sync again at the next status byte, and never waits for a message that will
/// not come. `feed` never panics and never allocates. Unusable bytes are counted in
/// [`stats`](Self::stats).
///
/// Events borrow the decoder: handle them (or copy what you need) before feeding again.
#[derive(Debug, Clone)]
pub struct FirmataDecoder<const N: usize = SYSEX_CAPACITY> {
    buf: [u8; N],
    len: usize,
    state: State,
    stats: Stats,
}

impl<const N: usize> Default for FirmataDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FirmataDecoder<N> {
    /// Sysex buffer size: the longest sysex body (between the command byte and `F7`) accepted.
    pub const CAPACITY: usize = N;

    /// A decoder between messages.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            state: State::Idle,
            stats: Stats {
                stray: 0,
                interrupted: 0,
                dropped: 0,
            },
        }
    }

    /// Drops any partly received message (e.g. after reopening the port); counters are kept.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.len = 0;
    }

    /// Whether a message has started and not yet ended.
    pub fn in_message(&self) -> bool {
        !matches!(self.state, State::Idle | State::Overflowed)
    }

    /// The counters of unusable bytes since the decoder was made.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Feeds bytes from the board and returns the first event they complete, with the rest of
    /// `input`, or [`Feed::Consumed`]. Never panics.
    pub fn feed<'me, 'a>(&'me mut self, input: &'a [u8]) -> Feed<'me, 'a> {
        let mut at = 0;
        while let Some(&byte) = input.get(at) {
            at += 1;
            let remaining = input.get(at..).unwrap_or(&[]);
            match self.step(byte) {
                Step::Continue => {}
                Step::Overflow(command) => return Feed::Overflow { command, remaining },
                Step::Sysex(command) => {
                    let body = self.buf.get(..self.len).unwrap_or(&[]);
                    return match interpret_sysex(command, body) {
                        Ok(event) => Feed::Event { event, remaining },
                        Err(kind) => Feed::Malformed {
                            command,
                            kind,
                            remaining,
                        },
                    };
                }
                Step::Short(status, lsb, msb) => {
                    let event = interpret_short(status, lsb, msb);
                    return Feed::Event { event, remaining };
                }
            }
        }
        Feed::Consumed
    }

    fn step(&mut self, byte: u8) -> Step {
        if byte & 0x80 == 0 {
            return self.data(byte);
        }
        // A status byte: it ends whatever came before.
        match self.state {
            State::Sysex { command } if byte == cmd::END_SYSEX => {
                self.state = State::Idle;
                return Step::Sysex(command);
            }
            State::Overflowed if byte == cmd::END_SYSEX => {
                self.state = State::Idle;
                return Step::Continue;
            }
            State::SysexCommand if byte == cmd::END_SYSEX => {
                // `F0 F7`: a sysex without a command.
                self.stats.interrupted = self.stats.interrupted.saturating_add(1);
                self.state = State::Idle;
                return Step::Continue;
            }
            State::Short { .. } | State::SysexCommand | State::Sysex { .. } => {
                self.stats.interrupted = self.stats.interrupted.saturating_add(1);
            }
            State::Idle | State::Overflowed => {}
        }
        self.len = 0;
        self.state = match byte {
            cmd::START_SYSEX => State::SysexCommand,
            cmd::REPORT_VERSION | 0x90..=0x9F | 0xE0..=0xEF => State::Short {
                status: byte,
                first: None,
            },
            _ => {
                self.stats.stray = self.stats.stray.saturating_add(1);
                State::Idle
            }
        };
        Step::Continue
    }

    fn data(&mut self, byte: u8) -> Step {
        match self.state {
            State::Idle => {
                self.stats.stray = self.stats.stray.saturating_add(1);
            }
            State::Short {
                status,
                first: None,
            } => {
                self.state = State::Short {
                    status,
                    first: Some(byte),
                };
            }
            State::Short {
                status,
                first: Some(first),
            } => {
                self.state = State::Idle;
                return Step::Short(status, first, byte);
            }
            State::SysexCommand => {
                self.len = 0;
                self.state = State::Sysex { command: byte };
            }
            State::Sysex { command } => match self.buf.get_mut(self.len) {
                Some(slot) => {
                    *slot = byte;
                    self.len += 1;
                }
                None => {
                    self.state = State::Overflowed;
                    self.len = 0;
                    return Step::Overflow(command);
                }
            },
            State::Overflowed => {
                self.stats.dropped = self.stats.dropped.saturating_add(1);
            }
        }
        Step::Continue
    }
}

enum Step {
    Continue,
    Overflow(u8),
    Sysex(u8),
    Short(u8, u8, u8),
}

fn interpret_short(status: u8, lsb: u8, msb: u8) -> Event<'static> {
    match status {
        cmd::REPORT_VERSION => Event::ProtocolVersion {
            major: lsb,
            minor: msb,
        },
        0x90..=0x9F => Event::DigitalPort {
            port: status & 0x0F,
            pins: lsb | ((msb & 1) << 7),
        },
        // 0xE0..=0xEF: the only other status `step` starts a short message for.
        _ => Event::Analog {
            channel: status & 0x0F,
            value: join14(lsb, msb),
        },
    }
}

fn interpret_sysex(command: u8, body: &[u8]) -> Result<Event<'_>, Malformed> {
    Ok(match command {
        cmd::REPORT_FIRMWARE => {
            let [major, minor, name @ ..] = body else {
                return Err(Malformed::BadLength);
            };
            Event::Firmware {
                major: *major,
                minor: *minor,
                name: views::firmware_name(name)?,
            }
        }
        cmd::CAPABILITY_RESPONSE => Event::Capabilities(CapabilityResponse::parse(body)?),
        cmd::ANALOG_MAPPING_RESPONSE => Event::AnalogMapping(AnalogMapping::parse(body)?),
        cmd::PIN_STATE_RESPONSE => {
            let [pin, mode, state @ ..] = body else {
                return Err(Malformed::BadLength);
            };
            if state.is_empty() {
                return Err(Malformed::BadLength);
            }
            if state.len() > 4 {
                return Err(Malformed::StateTooLong);
            }
            let state = state
                .iter()
                .rev()
                .fold(0u32, |acc, &b| (acc << 7) | u32::from(b));
            Event::PinState {
                pin: *pin,
                mode: PinMode::from_u8(*mode),
                state,
            }
        }
        cmd::I2C_REPLY => Event::I2cReply(I2cReply::parse(body)?),
        cmd::STRING_DATA => Event::StringData(StringData::parse(body)?),
        cmd::I_AM_HERE => match body {
            [instance_id] => Event::IAmHere {
                instance_id: *instance_id,
            },
            _ => return Err(Malformed::BadLength),
        },
        cmd::SONAR_DATA => match body {
            [pin, lsb, msb] => Event::SonarData {
                trigger_pin: *pin,
                distance_cm: join14(*lsb, *msb),
            },
            _ => return Err(Malformed::BadLength),
        },
        cmd::DHT_DATA => Event::DhtData(DhtReading::parse(body)?),
        _ => Event::UnknownSysex {
            command,
            data: body,
        },
    })
}
