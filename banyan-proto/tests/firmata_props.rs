//! Property tests of the Firmata codec: chunking invariance and an independent framing model
//! on arbitrary bytes, board-side round trips of every event, and the command encoder's
//! lengths and framing.

use banyan_proto::firmata::{
    AnalogMapping, Capabilities, CapabilityResponse, Command, DhtReading, EncodeError, Event, Feed,
    FirmataDecoder, I2cOp, I2cReply, PinMode, StepperPins, StringData, cmd, encode,
};
use proptest::prelude::*;

/// A decoder outcome, owned (events borrow their decoder).
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Event(String),
    Malformed(u8, String),
    Overflow(u8),
}

fn outcome(feed: &Feed<'_, '_>) -> Option<Outcome> {
    match feed {
        Feed::Consumed => None,
        Feed::Event { event, .. } => Some(Outcome::Event(format!("{event:?}"))),
        Feed::Malformed { command, kind, .. } => {
            Some(Outcome::Malformed(*command, format!("{kind:?}")))
        }
        Feed::Overflow { command, .. } => Some(Outcome::Overflow(*command)),
    }
}

/// Feeds `chunks` in order; returns every outcome and the final counters.
fn run<'c, const N: usize>(chunks: impl IntoIterator<Item = &'c [u8]>) -> (Vec<Outcome>, [u32; 3]) {
    let mut decoder = FirmataDecoder::<N>::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = chunk;
        loop {
            let feed = decoder.feed(input);
            let Some(o) = outcome(&feed) else { break };
            input = match feed {
                Feed::Event { remaining, .. }
                | Feed::Malformed { remaining, .. }
                | Feed::Overflow { remaining, .. } => remaining,
                Feed::Consumed => unreachable!(),
            };
            out.push(o);
        }
    }
    let s = decoder.stats();
    (out, [s.stray, s.interrupted, s.dropped])
}

/// What the independent model finds in a stream.
enum Item {
    /// A complete message's bytes (status byte to last data byte or F7).
    Message(Vec<u8>),
    Overflow(u8),
}

/// Independent framing model, by index, from the MIDI rules the module docs state.
fn model(stream: &[u8], capacity: usize) -> (Vec<Item>, [u32; 3]) {
    let (mut items, mut stray, mut interrupted, mut dropped) = (Vec::new(), 0, 0, 0);
    let mut current: Option<Vec<u8>> = None; // an open message, from its status byte
    let mut overflowed = false;
    for &b in stream {
        if b >= 0x80 {
            if let Some(msg) = current.take() {
                if msg[0] == 0xF0 && b == 0xF7 && msg.len() >= 2 {
                    let mut msg = msg;
                    msg.push(b);
                    items.push(Item::Message(msg));
                    continue;
                }
                interrupted += 1;
                if msg[0] == 0xF0 && b == 0xF7 {
                    continue; // `F0 F7`: only the empty sysex is counted
                }
            } else if overflowed && b == 0xF7 {
                overflowed = false;
                continue;
            }
            overflowed = false;
            match b {
                0xF0 | 0xF9 | 0x90..=0x9F | 0xE0..=0xEF => current = Some(vec![b]),
                _ => stray += 1,
            }
            continue;
        }
        match current.as_mut() {
            None if overflowed => dropped += 1,
            None => stray += 1,
            Some(msg) => {
                msg.push(b);
                if msg[0] != 0xF0 && msg.len() == 3 {
                    items.push(Item::Message(current.take().unwrap()));
                } else if msg[0] == 0xF0 && msg.len() > capacity + 2 {
                    items.push(Item::Overflow(msg[1]));
                    current = None;
                    overflowed = true;
                }
            }
        }
    }
    (items, [stray, interrupted, dropped])
}

/// The model's items as outcomes: each complete message decoded on its own.
fn model_outcomes<const N: usize>(items: &[Item]) -> Vec<Outcome> {
    items
        .iter()
        .map(|item| match item {
            Item::Overflow(command) => Outcome::Overflow(*command),
            Item::Message(bytes) => {
                let (mut outcomes, stats) = run::<N>([bytes.as_slice()]);
                assert_eq!(stats, [0; 3], "{bytes:02x?}");
                assert_eq!(outcomes.len(), 1, "{bytes:02x?}");
                outcomes.remove(0)
            }
        })
        .collect()
}

fn chunks_at<'s>(stream: &'s [u8], cuts: &[usize]) -> Vec<&'s [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.push(0);
    cuts.push(stream.len());
    cuts.sort_unstable();
    cuts.windows(2).map(|w| &stream[w[0]..w[1]]).collect()
}

/// Bytes that look like Firmata: mostly data, with status bytes, known commands and F7.
fn firmata_like() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => 0u8..0x80,
        1 => Just(0xF0),
        1 => Just(0xF7),
        1 => prop::sample::select(vec![0xF9, 0x90, 0x91, 0xE0, 0xE5, 0x79, 0x6C, 0x6A, 0x6E, 0x77, 0x71, 0x52, 0x63, 0x65, 0x7F]),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..600)
}

/// An event, owned, for generation: view bodies are held raw.
#[derive(Debug, Clone)]
enum Owned {
    Version(u8, u8),
    Analog(u8, u16),
    Digital(u8, u8),
    Firmware(u8, u8, String),
    Caps(Vec<u8>),
    Mapping(Vec<u8>),
    PinState(u8, u8, u32),
    I2c(Vec<u8>),
    Text(Vec<u8>),
    IAmHere(u8),
    Sonar(u8, u16),
    Dht(DhtReading),
    Unknown(u8, Vec<u8>),
}

impl Owned {
    fn event(&self) -> Event<'_> {
        match self {
            Owned::Version(major, minor) => Event::ProtocolVersion {
                major: *major,
                minor: *minor,
            },
            Owned::Analog(channel, value) => Event::Analog {
                channel: *channel,
                value: *value,
            },
            Owned::Digital(port, pins) => Event::DigitalPort {
                port: *port,
                pins: *pins,
            },
            Owned::Firmware(major, minor, name) => Event::Firmware {
                major: *major,
                minor: *minor,
                name: name.as_str().try_into().unwrap(),
            },
            Owned::Caps(raw) => Event::Capabilities(CapabilityResponse::parse(raw).unwrap()),
            Owned::Mapping(raw) => Event::AnalogMapping(AnalogMapping::parse(raw).unwrap()),
            Owned::PinState(pin, mode, state) => Event::PinState {
                pin: *pin,
                mode: PinMode::from_u8(*mode),
                state: *state,
            },
            Owned::I2c(raw) => Event::I2cReply(I2cReply::parse(raw).unwrap()),
            Owned::Text(raw) => Event::StringData(StringData::parse(raw).unwrap()),
            Owned::IAmHere(id) => Event::IAmHere { instance_id: *id },
            Owned::Sonar(pin, cm) => Event::SonarData {
                trigger_pin: *pin,
                distance_cm: *cm,
            },
            Owned::Dht(reading) => Event::DhtData(*reading),
            Owned::Unknown(command, data) => Event::UnknownSysex {
                command: *command,
                data,
            },
        }
    }
}

const KNOWN_SYSEX: [u8; 9] = [
    cmd::REPORT_FIRMWARE,
    cmd::CAPABILITY_RESPONSE,
    cmd::ANALOG_MAPPING_RESPONSE,
    cmd::PIN_STATE_RESPONSE,
    cmd::I2C_REPLY,
    cmd::STRING_DATA,
    cmd::I_AM_HERE,
    cmd::SONAR_DATA,
    cmd::DHT_DATA,
];

fn pairs(values: &[u16]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| [(v & 0x7F) as u8, (v >> 7) as u8])
        .collect()
}

fn capability_body(pins: &[Vec<(u8, u8)>]) -> Vec<u8> {
    let mut raw = Vec::new();
    for modes in pins {
        for &(mode, resolution) in modes {
            raw.extend([mode, resolution]);
        }
        raw.push(0x7F);
    }
    raw
}

fn owned_event() -> impl Strategy<Value = Owned> {
    let v14 = 0u16..0x4000;
    let b7 = 0u8..0x80;
    let mode = 0u8..0x7F; // 0x7F ends a pin's list
    prop_oneof![
        (b7.clone(), b7.clone()).prop_map(|(a, b)| Owned::Version(a, b)),
        (0u8..16, v14.clone()).prop_map(|(c, v)| Owned::Analog(c, v)),
        (0u8..16, any::<u8>()).prop_map(|(p, v)| Owned::Digital(p, v)),
        (b7.clone(), b7.clone(), "[ -~éß€]{0,20}").prop_map(|(a, b, n)| Owned::Firmware(a, b, n)),
        prop::collection::vec(prop::collection::vec((mode, b7.clone()), 0..=16), 0..=40)
            .prop_map(|pins| Owned::Caps(capability_body(&pins))),
        prop::collection::vec(b7.clone(), 0..=128).prop_map(Owned::Mapping),
        (b7.clone(), b7.clone(), 0u32..(1 << 28)).prop_map(|(p, m, s)| Owned::PinState(p, m, s)),
        prop::collection::vec(v14.clone(), 2..20).prop_map(|v| Owned::I2c(pairs(&v))),
        prop::collection::vec(v14.clone(), 0..40).prop_map(|v| Owned::Text(pairs(&v))),
        b7.clone().prop_map(Owned::IAmHere),
        (b7.clone(), v14).prop_map(|(p, d)| Owned::Sonar(p, d)),
        (
            b7.clone(),
            b7.clone(),
            b7.clone(),
            -12827i16..=12827,
            -12827i16..=12827
        )
            .prop_map(
                |(pin, sensor_type, status, humidity, temperature)| Owned::Dht(DhtReading {
                    pin,
                    sensor_type,
                    status,
                    humidity,
                    temperature,
                })
            ),
        (
            b7.clone()
                .prop_filter("unknown command", |c| !KNOWN_SYSEX.contains(c)),
            prop::collection::vec(b7, 0..100)
        )
            .prop_map(|(c, d)| Owned::Unknown(c, d)),
    ]
}

fn board_bytes(event: &Event<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; event.encoded_len()];
    let n = event.encode(&mut buf).unwrap();
    assert_eq!(n, buf.len(), "{event:?}");
    buf
}

/// Bytes for a command to borrow (leaked: a few bytes per test case).
fn leaked_bytes() -> impl Strategy<Value = &'static [u8]> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(|v| &*Box::leak(v.into_boxed_slice()))
}

/// A command with fields in and out of range, for the encoder properties.
fn any_command() -> impl Strategy<Value = Command<'static>> {
    let pin = any::<u8>();
    let v16 = any::<u16>();
    let i2c_op = prop_oneof![
        leaked_bytes().prop_map(I2cOp::Write),
        (prop::option::of(v16), v16).prop_map(|(register, count)| I2cOp::Read { register, count }),
        (prop::option::of(v16), v16)
            .prop_map(|(register, count)| I2cOp::ReadContinuously { register, count }),
        Just(I2cOp::StopReading),
    ];
    prop_oneof![
        Just(Command::ReportVersion),
        Just(Command::ReportFirmware),
        Just(Command::CapabilityQuery),
        Just(Command::AnalogMappingQuery),
        Just(Command::SystemReset),
        Just(Command::AreYouThere),
        pin.prop_map(|pin| Command::PinStateQuery { pin }),
        (pin, any::<u8>()).prop_map(|(pin, m)| Command::SetPinMode {
            pin,
            mode: PinMode::from_u8(m)
        }),
        (any::<u8>(), any::<u8>()).prop_map(|(port, pins)| Command::DigitalPort { port, pins }),
        (pin, any::<bool>()).prop_map(|(pin, high)| Command::SetDigitalPin { pin, high }),
        (pin, prop_oneof![0u32..0x4000, any::<u32>()])
            .prop_map(|(pin, value)| Command::AnalogWrite { pin, value }),
        (any::<u8>(), any::<bool>())
            .prop_map(|(channel, enable)| Command::ReportAnalog { channel, enable }),
        (any::<u8>(), any::<bool>())
            .prop_map(|(port, enable)| Command::ReportDigital { port, enable }),
        v16.prop_map(|ms| Command::SamplingInterval { ms }),
        (pin, v16, v16).prop_map(|(pin, min_pulse_us, max_pulse_us)| {
            Command::ServoConfig {
                pin,
                min_pulse_us,
                max_pulse_us,
            }
        }),
        v16.prop_map(|delay_us| Command::I2cConfig { delay_us }),
        (0u16..0x500, any::<bool>(), i2c_op).prop_map(|(address, restart, op)| {
            Command::I2cRequest {
                address,
                restart,
                op,
            }
        }),
        v16.prop_map(|period_s| Command::KeepAlive { period_s }),
        (pin, v16, v16).prop_map(|(pin, frequency_hz, duration_ms)| {
            Command::Tone {
                pin,
                frequency_hz,
                duration_ms,
            }
        }),
        pin.prop_map(|pin| Command::NoTone { pin }),
        (pin, pin, v16).prop_map(|(trigger_pin, echo_pin, max_distance)| {
            Command::SonarConfig {
                trigger_pin,
                echo_pin,
                max_distance,
            }
        }),
        (pin, any::<u8>()).prop_map(|(pin, sensor_type)| Command::DhtConfig { pin, sensor_type }),
        (v16, any::<[u8; 4]>(), any::<bool>()).prop_map(|(steps_per_revolution, p, four)| {
            Command::StepperConfig {
                steps_per_revolution,
                pins: if four {
                    StepperPins::Four(p)
                } else {
                    StepperPins::Two([p[0], p[1]])
                },
            }
        }),
        (prop_oneof![0u32..0x20_0000, any::<u32>()], any::<i16>())
            .prop_map(|(speed, steps)| Command::StepperStep { speed, steps }),
        (any::<u8>(), leaked_bytes()).prop_map(|(command, data)| Command::Sysex { command, data }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes in any chunking give the same outcomes and counters, and those of the
    /// independent framing model; nothing panics.
    #[test]
    fn chunking_invariance_and_model(stream in firmata_like(),
                                     cuts in prop::collection::vec(any::<usize>(), 0..30)) {
        let whole = run::<64>([stream.as_slice()]);
        let bytewise = run::<64>(stream.chunks(1));
        let chunked = run::<64>(chunks_at(&stream, &cuts));
        prop_assert_eq!(&whole, &bytewise);
        prop_assert_eq!(&whole, &chunked);
        let (items, stats) = model(&stream, 64);
        prop_assert_eq!(&whole.0, &model_outcomes::<64>(&items));
        prop_assert_eq!(whole.1, stats);
        // The default capacity agrees with the model too.
        let (items, stats) = model(&stream, FirmataDecoder::<{ banyan_proto::firmata::SYSEX_CAPACITY }>::CAPACITY);
        let default = run::<{ banyan_proto::firmata::SYSEX_CAPACITY }>(chunks_at(&stream, &cuts));
        prop_assert_eq!(&default.0, &model_outcomes::<{ banyan_proto::firmata::SYSEX_CAPACITY }>(&items));
        prop_assert_eq!(default.1, stats);
    }

    /// Arbitrary bytes (any value) never panic, in any chunking.
    #[test]
    fn arbitrary_bytes(stream in prop::collection::vec(any::<u8>(), 0..2000),
                       cuts in prop::collection::vec(any::<usize>(), 0..30)) {
        prop_assert_eq!(run::<16>([stream.as_slice()]), run::<16>(chunks_at(&stream, &cuts)));
        let _ = run::<{ banyan_proto::firmata::SYSEX_CAPACITY }>([stream.as_slice()]);
    }

    /// Events encoded by the board side decode to equal events, in any chunking, with
    /// data-byte noise before them ignored and counted.
    #[test]
    fn event_round_trip(events in prop::collection::vec(owned_event(), 0..12),
                        noise in prop::collection::vec(0u8..0x80, 0..20),
                        cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let mut stream = noise.clone();
        for owned in &events {
            stream.extend(board_bytes(&owned.event()));
        }
        let mut decoder: FirmataDecoder = FirmataDecoder::new();
        let mut got = 0;
        for chunk in chunks_at(&stream, &cuts) {
            let mut input = chunk;
            loop {
                match decoder.feed(input) {
                    Feed::Consumed => break,
                    Feed::Event { event, remaining } => {
                        prop_assert_eq!(&event, &events[got].event());
                        got += 1;
                        input = remaining;
                    }
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
        }
        prop_assert_eq!(got, events.len());
        prop_assert_eq!(decoder.stats().stray, noise.len() as u32);
        prop_assert_eq!(decoder.stats().interrupted, 0);
        prop_assert!(!decoder.in_message());
    }

    /// A message cut off by a board reset (its tail lost) costs only that message.
    #[test]
    fn interrupted_message_loses_only_itself(first in owned_event(), second in owned_event(),
                                             cut in any::<usize>()) {
        let a = board_bytes(&first.event());
        let b = board_bytes(&second.event());
        let cut = 1 + cut % (a.len() - 1).max(1);
        let mut stream = a[..cut.min(a.len() - 1)].to_vec();
        stream.extend(&b);
        let (outcomes, stats) = run::<{ banyan_proto::firmata::SYSEX_CAPACITY }>([stream.as_slice()]);
        let expected = Outcome::Event(format!("{:?}", second.event()));
        prop_assert_eq!(outcomes.last(), Some(&expected));
        prop_assert!(stats[1] <= 1);
    }

    /// `encode` returns `encoded_len` bytes or a range error, never panics, and frames
    /// correctly: one status byte first, then data bytes, sysex ending in F7.
    #[test]
    fn commands_frame(command in any_command()) {
        let mut buf = vec![0u8; command.encoded_len() + 8];
        match encode(&command, &mut buf) {
            Ok(n) => {
                prop_assert_eq!(n, command.encoded_len(), "{:?}", command);
                let bytes = &buf[..n];
                prop_assert!(bytes[0] >= 0x80);
                if bytes[0] == cmd::START_SYSEX {
                    prop_assert_eq!(bytes[n - 1], cmd::END_SYSEX);
                    prop_assert!(bytes[1..n - 1].iter().all(|b| *b < 0x80), "{:02x?}", bytes);
                } else {
                    prop_assert!(bytes[1..].iter().all(|b| *b < 0x80), "{:02x?}", bytes);
                }
                // Too small a buffer is an error, not a panic.
                prop_assert_eq!(encode(&command, &mut buf[..n - 1]), Err(EncodeError::BufferFull));
            }
            Err(EncodeError::OutOfRange { value, max, .. }) => prop_assert!(value > max),
            Err(other) => prop_assert!(false, "{:?}: {:?}", command, other),
        }
    }

    /// Commands whose bytes a board also sends (DIGITAL_MESSAGE, ANALOG_MESSAGE) decode back.
    #[test]
    fn shared_messages_round_trip(port in 0u8..16, pins in any::<u8>(), pin in 0u8..16, value in 0u32..0x4000) {
        let mut buf = [0u8; 8];
        let n = encode(&Command::DigitalPort { port, pins }, &mut buf).unwrap();
        let (outcomes, _) = run::<8>([&buf[..n]]);
        prop_assert_eq!(outcomes, vec![Outcome::Event(format!("{:?}", Event::DigitalPort { port, pins }))]);
        let n = encode(&Command::AnalogWrite { pin, value }, &mut buf).unwrap();
        let (outcomes, _) = run::<8>([&buf[..n]]);
        let expected = Event::Analog { channel: pin, value: value as u16 };
        prop_assert_eq!(outcomes, vec![Outcome::Event(format!("{expected:?}"))]);
    }

    /// Capabilities hold exactly what a capability response lists.
    #[test]
    fn capabilities_from_response(pins in prop::collection::vec(
        prop::collection::vec((0u8..0x7F, any::<u8>()), 0..=16), 0..=128),
        channels in prop::collection::vec(prop::option::of(0u8..0x7F), 128)) {
        let raw = capability_body(&pins);
        let response = CapabilityResponse::parse(&raw).unwrap();
        prop_assert_eq!(response.pin_count(), pins.len());
        let map: Vec<u8> = channels[..pins.len()].iter().map(|c| c.unwrap_or(0x7F)).collect();
        let mapping = AnalogMapping::parse(&map).unwrap();
        let caps = Capabilities::new(&response, &mapping).unwrap();
        prop_assert_eq!(caps.pin_count(), pins.len());
        for (pin, modes) in pins.iter().enumerate() {
            let pin = pin as u8;
            let info = caps.pin(pin).unwrap();
            let listed: Vec<(u8, u8)> = info.modes().iter().map(|m| (m.mode.to_u8(), m.resolution)).collect();
            prop_assert_eq!(&listed, modes);
            for &(mode, _) in modes {
                prop_assert!(caps.supports(pin, PinMode::from_u8(mode)));
                prop_assert!(caps.supports(pin, PinMode::Other(mode)));
            }
            prop_assert_eq!(caps.analog_channel(pin), channels[usize::from(pin)]);
            if let Some(channel) = channels[usize::from(pin)] {
                let first = channels[..pins.len()].iter().position(|c| *c == Some(channel));
                prop_assert_eq!(caps.pin_of_channel(channel), first.map(|p| p as u8));
            }
        }
        prop_assert!(!caps.supports(pins.len() as u8, PinMode::Input));
    }
}

#[test]
fn capacity_limits_are_malformed_events() {
    // 129 pins.
    let raw = vec![0x7F; 129];
    assert_eq!(
        CapabilityResponse::parse(&raw).unwrap_err().to_string(),
        "more pins than Firmata can address (128)"
    );
    // 17 modes on one pin.
    let mut raw: Vec<u8> = (0..17).flat_map(|m| [m, 1]).collect();
    raw.push(0x7F);
    let mut stream = vec![0xF0, cmd::CAPABILITY_RESPONSE];
    stream.extend(&raw);
    stream.extend([0xF7, 0xF9, 2, 5]);
    let (outcomes, stats) = run::<{ banyan_proto::firmata::SYSEX_CAPACITY }>([stream.as_slice()]);
    assert_eq!(
        outcomes,
        [
            Outcome::Malformed(cmd::CAPABILITY_RESPONSE, "TooManyModes".into()),
            Outcome::Event("ProtocolVersion { major: 2, minor: 5 }".into()),
        ]
    );
    assert_eq!(stats, [0; 3]);
    // A capability response that does not fit the buffer: one Overflow, then in sync.
    let mut stream = vec![0xF0, cmd::CAPABILITY_RESPONSE];
    stream.extend(std::iter::repeat_n([0, 1, 0x7F], 30).flatten());
    stream.extend([0xF7, 0xE1, 0x10, 0x02]);
    let (outcomes, stats) = run::<64>([stream.as_slice()]);
    assert_eq!(
        outcomes,
        [
            Outcome::Overflow(cmd::CAPABILITY_RESPONSE),
            Outcome::Event("Analog { channel: 1, value: 272 }".into()),
        ]
    );
    assert_eq!(stats, [0, 0, 90 - 64 - 1]);
}
