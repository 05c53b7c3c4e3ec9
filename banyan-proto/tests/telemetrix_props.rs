//! Telemetrix codec properties: the decoder's events do not depend on chunking and match an
//! independent framing model; every report it parses re-emits to the same bytes; the encoder
//! never panics and never writes a frame the firmware's buffer cannot take; and the
//! resynchronisation rules of the module docs hold.

use banyan_proto::telemetrix::{
    Command, EncodeError, Family, Feed, Malformed, PinMode, Report, ReportDecoder, Reporting,
    encode,
};
use proptest::prelude::*;

/// Every event for `chunks`, rendered (reports borrow the decoder).
fn events<'c>(
    decoder: &mut ReportDecoder,
    chunks: impl IntoIterator<Item = &'c [u8]>,
) -> Vec<String> {
    let mut seen = Vec::new();
    for chunk in chunks {
        let mut input = chunk;
        loop {
            input = match decoder.feed(input) {
                Feed::Consumed => break,
                Feed::Report { report, remaining } => {
                    seen.push(format!("{report:?}"));
                    remaining
                }
                Feed::Malformed { error, remaining } => {
                    seen.push(format!("malformed {error:?}"));
                    remaining
                }
            };
        }
    }
    seen
}

/// A frame of the model: `None` for a zero length, else id and payload.
type ModelFrame = Option<(u8, Vec<u8>)>;

/// Independent framing model: walk the stream by index; returns (frames as (id, payload) or
/// None for a zero length, bytes of the incomplete tail).
fn frames(stream: &[u8]) -> (Vec<ModelFrame>, usize) {
    let (mut out, mut at) = (Vec::new(), 0);
    while at < stream.len() {
        let len = usize::from(stream[at]);
        if at + 1 + len > stream.len() {
            return (out, stream.len() - at);
        }
        out.push((len > 0).then(|| (stream[at + 1], stream[at + 2..at + 1 + len].to_vec())));
        at += 1 + len;
    }
    (out, 0)
}

fn family() -> impl Strategy<Value = Family> {
    prop::sample::select(Family::ALL.to_vec())
}

/// Streams of mostly plausible frames: small lengths, ids from the tables, some noise.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let frame = (
        prop::sample::select(vec![0u8, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 20, 50, 99]),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(id, payload)| {
            let mut f = vec![(payload.len() + 1) as u8, id];
            f.extend(payload);
            f
        });
    let noise = prop::collection::vec(any::<u8>(), 0..6);
    prop::collection::vec(prop_oneof![4 => frame, 1 => noise], 0..30)
        .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any chunking gives the events of feeding the whole stream at once, which are the
    /// independent model's frames, each parsed; the tail is what `pending` holds.
    #[test]
    fn chunking_invariance(f in family(), stream in stream(),
                           cuts in prop::collection::vec(0usize..400, 0..20)) {
        let mut whole = ReportDecoder::new(f);
        let expected = events(&mut whole, [stream.as_slice()]);
        let (model, tail) = frames(&stream);
        let modelled: Vec<String> = model.iter().map(|frame| match frame {
            None => format!("malformed {:?}", Malformed::ZeroLength),
            Some((id, payload)) => match Report::parse(f, *id, payload) {
                Ok(report) => format!("{report:?}"),
                Err(error) => format!("malformed {error:?}"),
            },
        }).collect();
        prop_assert_eq!(&expected, &modelled);
        prop_assert_eq!(whole.pending(), tail);

        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.extend([0, stream.len()]);
        cuts.sort_unstable();
        let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
        let mut chunked = ReportDecoder::new(f);
        prop_assert_eq!(events(&mut chunked, chunks), expected);
        prop_assert_eq!(chunked.stats(), whole.stats());
    }

    /// Every report the decoder yields re-emits to exactly its frame (lossless parsing).
    #[test]
    fn parsed_reports_re_emit(f in family(), id in any::<u8>(),
                              payload in prop::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(report) = Report::parse(f, id, &payload) {
            let mut out = [0u8; 256];
            let n = report.emit(f, &mut out).unwrap();
            let mut frame = vec![(payload.len() + 1) as u8, id];
            frame.extend(&payload);
            prop_assert_eq!(&out[..n], frame.as_slice());
        }
    }

    /// The encoder never panics; it writes `[length, id, …]` with `length` = bytes after it,
    /// never above the family's limit, or says why not.
    #[test]
    fn encoder_frames_or_refuses(f in family(), id in any::<u8>(), pin in any::<u8>(),
                                 value in any::<u16>(),
                                 data in prop::collection::vec(any::<u8>(), 0..300),
                                 out_len in 0usize..64) {
        let commands = [
            Command::Raw { id, payload: &data },
            Command::I2cWrite { port: 0, address: pin, data: &data, no_stop: false },
            Command::PwmWrite { pin, value },
            Command::SetPinMode { pin, mode: PinMode::AnalogInput { differential: value, report: true } },
            Command::SetPinMode { pin, mode: PinMode::Ledc { channel: 0, resolution: 8, frequency: f64::from(value) } },
            Command::ServoAttach { pin, min_pulse: value, max_pulse: value },
            Command::ModifyReporting(Reporting::DigitalEnable(pin)),
            Command::AreYouThere,
            Command::GetFeatures,
        ];
        for command in &commands {
            let mut out = vec![0xEEu8; out_len];
            match encode(f, command, &mut out) {
                Ok(n) => {
                    prop_assert_eq!(usize::from(out[0]), n - 1);
                    prop_assert!(out[0] <= f.max_command_length());
                }
                Err(EncodeError::BufferFull) => prop_assert!(out_len < 32),
                Err(EncodeError::TooLong { len, max }) => {
                    prop_assert!(len > usize::from(max));
                    prop_assert!(out.iter().all(|&b| b == 0xEE), "nothing written on error");
                }
                Err(EncodeError::Unsupported { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn zero_length_drops_one_byte() {
    let mut d = ReportDecoder::new(Family::RpiPico);
    let got = events(&mut d, [&[0u8, 0, 3, 2, 15, 1][..]]);
    assert_eq!(
        got,
        [
            "malformed ZeroLength",
            "malformed ZeroLength",
            "Digital { pin: 15, value: 1 }"
        ]
    );
    assert_eq!(d.stats().malformed, 2);
    assert_eq!(d.stats().suspect_run, 0);
}

#[test]
fn unknown_ids_are_skipped_by_length_and_counted() {
    let mut d = ReportDecoder::new(Family::Esp32);
    // Id 77 is no ESP32 report; 4 payload bytes; then an analog report.
    let got = events(&mut d, [&[5u8, 77, 1, 2, 3, 4, 4, 3, 32, 0x0f, 0xff][..]]);
    assert_eq!(
        got,
        [
            "Unknown { id: 77, payload: [1, 2, 3, 4] }",
            "Analog { pin: 32, value: 4095 }"
        ]
    );
    let s = d.stats();
    assert_eq!((s.unknown, s.reports, s.suspect_run), (1, 1, 0));
}

#[test]
fn a_known_id_of_the_wrong_size_is_dropped_by_its_length() {
    let mut d = ReportDecoder::new(Family::Arduino);
    // A digital report with three payload bytes, then a valid one.
    let got = events(&mut d, [&[4u8, 2, 1, 2, 3, 3, 2, 2, 1][..]]);
    assert_eq!(
        got,
        [
            "malformed Length { id: 2, len: 3 }",
            "Digital { pin: 2, value: 1 }"
        ]
    );
}

/// Telemetrix4Esp32 sends SERVO_UNAVAILABLE as `[6, pin]` without a length byte. The decoder
/// reads 6 as a length and waits; the quiet link (`idle`) realigns it, and the suspect run
/// tells the gateway something was wrong.
#[test]
fn unframed_servo_unavailable_recovers_at_the_idle_gap() {
    let mut d = ReportDecoder::new(Family::Esp32);
    assert!(events(&mut d, [&[6u8, 14][..]]).is_empty());
    assert_eq!(d.pending(), 2);
    assert_eq!(d.idle(), 2);
    assert_eq!(d.stats().dropped_bytes, 2);
    let got = events(&mut d, [&[3u8, 2, 4, 1][..]]);
    assert_eq!(got, ["Digital { pin: 4, value: 1 }"]);
    // Without the idle gap the next reports are swallowed into wrong frames, and the
    // suspect run shows it.
    let mut d = ReportDecoder::new(Family::Esp32);
    let got = events(&mut d, [&[6u8, 14, 3, 2, 4, 1, 3, 2, 4, 0][..]]);
    assert_eq!(
        got,
        [
            "Other { id: 14, payload: [3, 2, 4, 1, 3] }",
            "Unknown { id: 4, payload: [0] }"
        ]
    );
    assert_eq!(d.stats().suspect_run, 1);
}

#[test]
fn suspect_run_counts_until_a_valid_report() {
    let mut d = ReportDecoder::new(Family::RpiPico);
    events(&mut d, [&[1u8, 77, 0, 2, 2, 1][..]]);
    assert_eq!(d.stats().suspect_run, 3);
    events(&mut d, [&[3u8, 2, 15, 1][..]]);
    assert_eq!(d.stats().suspect_run, 0);
}

#[test]
fn reset_drops_a_partial_frame() {
    let mut d = ReportDecoder::new(Family::RpiPico);
    assert!(events(&mut d, [&[9u8, 6, 1, 2][..]]).is_empty());
    d.reset();
    assert_eq!(d.pending(), 0);
    let got = events(&mut d, [&[3u8, 5, 1, 1][..]]);
    assert_eq!(
        got,
        ["FirmwareVersion(FirmwareVersion { major: 1, minor: 1, patch: None })"]
    );
}

#[test]
fn families_that_lack_a_command_say_so() {
    let mut out = [0u8; 16];
    assert_eq!(
        encode(Family::Esp32, &Command::AreYouThere, &mut out),
        Err(EncodeError::Unsupported {
            family: Family::Esp32,
            command: "are_you_there"
        })
    );
    assert_eq!(
        encode(
            Family::RpiPico,
            &Command::ServoWrite { pin: 1, angle: 9 },
            &mut out
        )
        .unwrap_err()
        .to_string(),
        "Telemetrix4RpiPico firmware has no servo_write command"
    );
    assert!(
        encode(
            Family::Arduino,
            &Command::SetPinMode {
                pin: 2,
                mode: PinMode::DigitalInputPullDown { report: true }
            },
            &mut out
        )
        .is_err()
    );
    // A 30-byte I2C write is one byte too many for the Pico's 30-byte command buffer.
    let data = [0u8; 26];
    let write = Command::I2cWrite {
        port: 0,
        address: 0x53,
        data: &data,
        no_stop: false,
    };
    assert_eq!(
        encode(Family::RpiPico, &write, &mut [0u8; 64]),
        Err(EncodeError::TooLong { len: 31, max: 30 })
    );
    assert!(encode(Family::Esp32, &write, &mut [0u8; 64]).is_ok());
}
