//! Feeds arbitrary bytes, in chunks chosen by the input, to `FrameDecoder` and checks:
//! * it never panics;
//! * the events do not depend on the chunking (input-chosen chunks, one big chunk, and byte by
//!   byte all give the same events);
//! * the events equal an independent per-segment model (reference COBS decoder, CRC check):
//!   so no frame whose CRC failed is ever yielded, every delimited frame gets exactly one
//!   event, and oversized frames are reported once;
//! * every yielded frame re-encodes, and its encoding decodes back to the same frame.
//!
//! Input layout: byte 0 selects the decoder size, bytes 1..=4 are a cycle of chunk sizes,
//! the rest is the stream.
#![no_main]

use banyan_proto::frame::{
    CorruptKind, FeedResult, Frame, FrameDecoder, body_len, encode, max_encoded_len,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// The frame's canonical wire encoding.
    Frame(Vec<u8>),
    Corrupt(CorruptKind),
    Oversized,
}

fn wire(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; max_encoded_len(body_len(frame))];
    let n = encode(frame, &mut buf).expect("max_encoded_len is enough");
    buf.truncate(n);
    buf
}

fn check_round_trip(frame: &Frame<'_>) -> Vec<u8> {
    let bytes = wire(frame);
    // Frames come from decoders of at most 520 bytes, so their bodies are shorter than that.
    let mut decoder = FrameDecoder::<{ max_encoded_len(1024) }>::new();
    match decoder.feed(&bytes) {
        FeedResult::Frame {
            frame: again,
            remaining,
        } => {
            assert_eq!(&again, frame);
            assert!(remaining.is_empty());
        }
        other => panic!("re-encoded {frame:?} decoded as {other:?}"),
    }
    bytes
}

fn run<const N: usize>(chunks: &mut dyn Iterator<Item = &[u8]>) -> Vec<Event> {
    let mut decoder = FrameDecoder::<N>::new();
    let mut events = Vec::new();
    for chunk in chunks {
        let mut window = chunk;
        while !window.is_empty() {
            window = match decoder.feed(window) {
                FeedResult::Consumed => {
                    assert!(decoder.pending() <= N);
                    break;
                }
                FeedResult::Frame { frame, remaining } => {
                    events.push(Event::Frame(check_round_trip(&frame)));
                    remaining
                }
                FeedResult::Corrupt { kind, remaining } => {
                    events.push(Event::Corrupt(kind));
                    remaining
                }
                FeedResult::Oversized { remaining } => {
                    events.push(Event::Oversized);
                    remaining
                }
            };
        }
    }
    events
}

/// Reference COBS decoder, from the algorithm's definition.
fn ref_cobs_decode(src: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let code = src[i] as usize;
        if code == 0 || i + code > src.len() {
            return None;
        }
        out.extend_from_slice(&src[i + 1..i + code]);
        i += code;
        if code != 0xFF && i < src.len() {
            out.push(0);
        }
    }
    Some(out)
}

fn model(stream: &[u8], n: usize) -> Vec<Event> {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut events = Vec::new();
    let mut segments: Vec<&[u8]> = stream.split(|&b| b == 0).collect();
    let unterminated = segments.pop().unwrap_or(&[]);
    for seg in segments.into_iter().filter(|s| !s.is_empty()) {
        if seg.len() > n {
            events.push(Event::Oversized);
            continue;
        }
        let event = match ref_cobs_decode(seg) {
            None => Event::Corrupt(CorruptKind::Cobs),
            Some(d) if d.len() < 4 => Event::Corrupt(CorruptKind::TooShort),
            Some(d) => {
                let (body, sum) = d.split_at(d.len() - 4);
                if crc.checksum(body).to_le_bytes() != sum {
                    Event::Corrupt(CorruptKind::Crc)
                } else if body.first().is_some_and(|&t| t > 12) {
                    Event::Corrupt(CorruptKind::UnknownTag)
                } else {
                    match postcard::take_from_bytes::<Frame<'_>>(body) {
                        Ok((frame, [])) => Event::Frame(wire(&frame)),
                        _ => Event::Corrupt(CorruptKind::Body),
                    }
                }
            }
        };
        events.push(event);
    }
    if unterminated.len() > n {
        events.push(Event::Oversized);
    }
    events
}

fn check<const N: usize>(sizes: &[u8], stream: &[u8]) {
    let mut rest = stream;
    let mut i = 0;
    let mut chunked = std::iter::from_fn(|| {
        if rest.is_empty() {
            return None;
        }
        let n = (usize::from(sizes[i % sizes.len()]) % 97 + 1).min(rest.len());
        i += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    });
    let events = run::<N>(&mut chunked);
    assert_eq!(events, run::<N>(&mut std::iter::once(stream)));
    assert_eq!(events, run::<N>(&mut stream.chunks(1)));
    assert_eq!(events, model(stream, N));
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let (sizes, stream) = rest.split_at(rest.len().min(4));
    if sizes.is_empty() {
        return;
    }
    match size % 4 {
        0 => check::<0>(sizes, stream),
        1 => check::<16>(sizes, stream),
        2 => check::<64>(sizes, stream),
        _ => check::<{ max_encoded_len(512) }>(sizes, stream),
    }
});
