//! Streaming decoder behaviour: chunking, resync, corrupt and oversized frames.

use banyan_proto::frame::{CorruptKind, FeedResult, Frame, FrameDecoder, encode, max_encoded_len};

fn wire(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = encode(frame, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// COBS-encode `body ‖ CRC-32(body)` and append the delimiter, whatever `body` is (a valid
/// postcard frame or not).
fn wire_for_body(body: &[u8]) -> Vec<u8> {
    let mut raw = body.to_vec();
    raw.extend_from_slice(
        &crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC)
            .checksum(body)
            .to_le_bytes(),
    );
    let mut out = vec![0u8; cobs::max_encoding_length(raw.len())];
    let n = cobs::encode(&raw, &mut out);
    out.truncate(n);
    out.push(0);
    out
}

/// What the decoder reported, owned so that it outlives the decoder's borrow.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Frame(Vec<u8>),
    Corrupt(CorruptKind),
    Oversized,
}

/// A stand-in for the gateway: forwards each decoded frame somewhere that outlives it.
#[derive(Default)]
struct Sink {
    events: Vec<Event>,
}

impl Sink {
    fn on_frame(&mut self, frame: &Frame<'_>) {
        self.events.push(Event::Frame(wire(frame)));
    }
}

/// The loop a transport task runs for every chunk it reads.
fn pump<const N: usize>(decoder: &mut FrameDecoder<N>, chunk: &[u8], sink: &mut Sink) {
    let mut window = chunk;
    while !window.is_empty() {
        match decoder.feed(window) {
            FeedResult::Consumed => break,
            FeedResult::Frame { frame, remaining } => {
                sink.on_frame(&frame);
                window = remaining;
            }
            FeedResult::Corrupt { kind, remaining } => {
                sink.events.push(Event::Corrupt(kind));
                window = remaining;
            }
            FeedResult::Oversized { remaining } => {
                sink.events.push(Event::Oversized);
                window = remaining;
            }
        }
    }
}

fn run<const N: usize>(stream: &[u8], chunk: usize) -> Vec<Event> {
    let mut decoder = FrameDecoder::<N>::new();
    let mut sink = Sink::default();
    for c in stream.chunks(chunk) {
        pump(&mut decoder, c, &mut sink);
    }
    sink.events
}

fn frames() -> Vec<Frame<'static>> {
    vec![
        Frame::hello(512, 0xDEAD_BEEF),
        Frame::Subscribe { topic: b"echo" },
        Frame::Publish {
            topic: "réponse".as_bytes(),
            payload: &[0x81, 0xa1, 0x61, 0x00],
        },
        Frame::Ping { seq: u32::MAX },
        Frame::Pong { seq: 0 },
        Frame::Unsubscribe { topic: b"" },
    ]
}

#[test]
fn every_chunk_size_yields_the_same_frames() {
    let mut stream = vec![0, 0]; // leading delimiters are skipped
    for f in frames() {
        stream.extend(wire(&f));
        stream.push(0); // and so are repeated ones
    }
    let expected: Vec<Event> = frames().iter().map(|f| Event::Frame(wire(f))).collect();
    for chunk in 1..=stream.len() {
        assert_eq!(run::<64>(&stream, chunk), expected, "chunk {chunk}");
    }
}

#[test]
fn bad_crc_is_reported_and_the_next_frame_decodes() {
    let good = wire(&Frame::Ping { seq: 3 });
    let mut bad = wire(&Frame::Ping { seq: 4 });
    bad[2] ^= 0x01; // a body byte, not the COBS code
    let stream = [bad, good.clone()].concat();
    assert_eq!(
        run::<64>(&stream, stream.len()),
        [Event::Corrupt(CorruptKind::Crc), Event::Frame(good)]
    );
}

#[test]
fn each_corrupt_kind_is_reported() {
    let cases: Vec<(Vec<u8>, CorruptKind)> = vec![
        // COBS code 5 promises 4 more bytes before the delimiter; only 1 follows.
        (vec![0x05, 0x01, 0x00], CorruptKind::Cobs),
        // COBS 01 decodes to nothing: no room for a CRC.
        (vec![0x01, 0x00], CorruptKind::TooShort),
        (vec![0x04, 0x11, 0x22, 0x33, 0x00], CorruptKind::TooShort),
        // Valid CRC over an empty body.
        (wire_for_body(&[]), CorruptKind::Body),
        // Valid CRC, tag 13 is not a variant of this version; nor is a multi-byte tag.
        (wire_for_body(&[13]), CorruptKind::UnknownTag),
        // Valid CRC, a batch whose entry promises 3 payload bytes and has 1.
        (wire_for_body(&[12, 3, 0, 3, 9]), CorruptKind::Body),
        // Valid CRC, PublishAlias with an alias beyond u16.
        (wire_for_body(&[9, 0x80, 0x80, 0x04, 0]), CorruptKind::Body),
        (wire_for_body(&[0x81, 0x00]), CorruptKind::UnknownTag),
        // Valid CRC, Publish whose topic length runs past the body.
        (wire_for_body(&[1, 5, b'a']), CorruptKind::Body),
        // Valid CRC, Ping followed by a stray byte.
        (wire_for_body(&[4, 1, 0xFF]), CorruptKind::Body),
        // Valid CRC, Hello with an overlong u16 varint.
        (
            wire_for_body(&[0, 1, 0xFF, 0xFF, 0xFF, 0x01, 7]),
            CorruptKind::Body,
        ),
    ];
    let next = wire(&Frame::Pong { seq: 77 });
    for (bytes, kind) in cases {
        let stream = [bytes.clone(), next.clone()].concat();
        for chunk in 1..=stream.len() {
            assert_eq!(
                run::<64>(&stream, chunk),
                [Event::Corrupt(kind), Event::Frame(next.clone())],
                "{bytes:02x?} chunk {chunk}"
            );
        }
    }
}

#[test]
fn a_valid_body_built_by_hand_decodes() {
    // Cross-check of the helper above against the crate's encoder.
    assert_eq!(wire_for_body(&[4, 1]), wire(&Frame::Ping { seq: 1 }));
}

#[test]
fn oversized_frame_is_reported_once_and_skipped() {
    let payload = [7u8; 40];
    let big = wire(&Frame::Publish {
        topic: b"big",
        payload: &payload,
    });
    let small = wire(&Frame::Ping { seq: 1 });
    let stream = [small.clone(), big, small.clone()].concat();
    for chunk in 1..=stream.len() {
        assert_eq!(
            run::<32>(&stream, chunk),
            [
                Event::Frame(small.clone()),
                Event::Oversized,
                Event::Frame(small.clone())
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn frame_of_exactly_capacity_fits() {
    let frame = Frame::Publish {
        topic: b"t",
        payload: &[1u8; 20],
    };
    let bytes = wire(&frame);
    let encoded = bytes.len() - 1; // without the delimiter
    assert_eq!(encoded, 29);
    assert_eq!(run::<29>(&bytes, 1), [Event::Frame(bytes.clone())]);
    assert_eq!(run::<28>(&bytes, 1), [Event::Oversized]);
    assert_eq!(run::<28>(&bytes, bytes.len()), [Event::Oversized]);
}

#[test]
fn max_encoded_len_sizes_a_decoder() {
    let payload = [0x55u8; 500];
    let frame = Frame::Publish {
        topic: b"abcdefg",
        payload: &payload,
    };
    let body = banyan_proto::frame::body_len(&frame);
    assert_eq!(body, 1 + 1 + 7 + 2 + 500);
    let bytes = wire(&frame);
    assert!(bytes.len() <= max_encoded_len(body));
    assert_eq!(
        run::<{ max_encoded_len(512) }>(&bytes, 64),
        [Event::Frame(bytes.clone())]
    );
}

#[test]
fn oversized_prefix_then_delimiter_in_a_later_chunk() {
    let mut decoder = FrameDecoder::<8>::new();
    assert_eq!(decoder.feed(&[1, 2, 3, 4, 5]), FeedResult::Consumed);
    assert_eq!(decoder.pending(), 5);
    assert_eq!(
        decoder.feed(&[6, 7, 8, 9]),
        FeedResult::Oversized { remaining: &[] }
    );
    assert_eq!(decoder.pending(), 0);
    // Still inside the oversized frame: dropped silently, not reported again.
    assert_eq!(decoder.feed(&[10, 11, 12]), FeedResult::Consumed);
    let ping = wire(&Frame::Ping { seq: 9 });
    let stream = [&[13, 0][..], &ping].concat();
    match decoder.feed(&stream) {
        FeedResult::Frame { frame, remaining } => {
            assert_eq!(frame, Frame::Ping { seq: 9 });
            assert!(remaining.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn remaining_points_after_the_delimiter() {
    let a = wire(&Frame::Ping { seq: 1 });
    let b = wire(&Frame::Ping { seq: 2 });
    let stream = [a.clone(), b.clone()].concat();
    let mut decoder = FrameDecoder::<16>::new();
    match decoder.feed(&stream) {
        FeedResult::Frame { frame, remaining } => {
            assert_eq!(frame, Frame::Ping { seq: 1 });
            assert_eq!(remaining, &b[..]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reset_drops_a_partial_frame() {
    let ping = wire(&Frame::Ping { seq: 5 });
    let mut decoder = FrameDecoder::<16>::new();
    assert_eq!(decoder.feed(&ping[..3]), FeedResult::Consumed);
    decoder.reset();
    assert_eq!(decoder.pending(), 0);
    match decoder.feed(&ping) {
        FeedResult::Frame { frame, .. } => assert_eq!(frame, Frame::Ping { seq: 5 }),
        other => panic!("{other:?}"),
    }
}

#[test]
fn zero_capacity_decoder_reports_every_frame_oversized() {
    let ping = wire(&Frame::Ping { seq: 5 });
    let stream = [&[0u8, 0][..], &ping, &ping].concat();
    assert_eq!(run::<0>(&stream, 3), [Event::Oversized, Event::Oversized]);
}

#[test]
fn frames_borrow_the_decoder_buffer_until_dropped() {
    // A realistic consumer keeps topic/payload slices while it routes the frame.
    let payload = [9u8, 8, 7];
    let bytes = wire(&Frame::Publish {
        topic: b"sensor/1",
        payload: &payload,
    });
    let mut decoder = FrameDecoder::<64>::new();
    let mut routed: Vec<(String, Vec<u8>)> = Vec::new();
    let mut route = |topic: &[u8], payload: &[u8]| {
        routed.push((
            String::from_utf8_lossy(topic).into_owned(),
            payload.to_vec(),
        ));
    };
    let mut window = &bytes[..];
    while !window.is_empty() {
        window = match decoder.feed(window) {
            FeedResult::Consumed => &[],
            FeedResult::Frame {
                frame: Frame::Publish { topic, payload },
                remaining,
            } => {
                route(topic, payload);
                remaining
            }
            FeedResult::Frame { remaining, .. }
            | FeedResult::Corrupt { remaining, .. }
            | FeedResult::Oversized { remaining } => remaining,
        };
    }
    assert_eq!(routed, [("sensor/1".to_string(), payload.to_vec())]);
}

#[test]
fn last_frame_repeats_the_frame_feed_returned_until_the_next_feed() {
    let mut bytes = wire(&Frame::Publish {
        topic: b"t",
        payload: b"\x80",
    });
    bytes.extend(wire(&Frame::Ping { seq: 3 }));
    let mut decoder = FrameDecoder::<64>::new();
    assert_eq!(decoder.last_frame(), None);
    let rest = match decoder.feed(&bytes) {
        FeedResult::Frame { remaining, .. } => remaining,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        decoder.last_frame(),
        Some(Frame::Publish {
            topic: b"t",
            payload: b"\x80"
        })
    );
    assert_eq!(
        decoder.last_frame(),
        decoder.last_frame(),
        "repeatable while no feed"
    );
    let rest: Vec<u8> = rest.to_vec();
    assert!(matches!(decoder.feed(&rest[..2]), FeedResult::Consumed));
    assert_eq!(decoder.last_frame(), None, "a feed forgets the last frame");
    assert!(matches!(decoder.feed(&rest[2..]), FeedResult::Frame { .. }));
    assert_eq!(decoder.last_frame(), Some(Frame::Ping { seq: 3 }));
    // A corrupt frame leaves nothing behind either.
    let mut bad = wire(&Frame::Ping { seq: 4 });
    bad[2] ^= 0x40;
    assert!(matches!(decoder.feed(&bad), FeedResult::Corrupt { .. }));
    assert_eq!(decoder.last_frame(), None);
    decoder.reset();
    assert_eq!(decoder.last_frame(), None);
}
