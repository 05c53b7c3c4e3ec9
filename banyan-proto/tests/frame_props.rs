//! Property tests of the serial frame codec against an independent reference model.

use banyan_proto::frame::{
    Batch, BatchWriter, CorruptKind, FeedResult, Frame, FrameDecoder, body_len, encode,
    max_encoded_len,
};
use proptest::prelude::*;

/// An owned [`Frame`], so that proptest can generate and shrink it.
#[derive(Debug, Clone, PartialEq)]
enum OwnedFrame {
    Hello(u8, u16, u32),
    Publish(Vec<u8>, Vec<u8>),
    Subscribe(Vec<u8>),
    Unsubscribe(Vec<u8>),
    Ping(u32),
    Pong(u32),
    Subscribed(Vec<u8>),
    Unsubscribed(Vec<u8>),
    PublishDeclare(u16, Vec<u8>, Vec<u8>),
    PublishAlias(u16, Vec<u8>),
    AliasUnknown(u16),
    AliasRefused(u16),
    /// The encoded entries (always valid: built by `BatchWriter`).
    PublishBatch(Vec<u8>),
}

/// Encodes `(alias, payload)` entries as a batch.
fn batch_bytes(entries: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut buf = vec![0u8; entries.iter().map(|(_, p)| p.len() + 6).sum::<usize>()];
    let mut writer = BatchWriter::new(&mut buf);
    for (alias, payload) in entries {
        writer.push(*alias, payload).unwrap();
    }
    let len = writer.len();
    buf.truncate(len);
    buf
}

impl OwnedFrame {
    fn borrow(&self) -> Frame<'_> {
        match self {
            OwnedFrame::Hello(version, max_frame, boot_nonce) => Frame::Hello {
                version: *version,
                max_frame: *max_frame,
                boot_nonce: *boot_nonce,
            },
            OwnedFrame::Publish(topic, payload) => Frame::Publish { topic, payload },
            OwnedFrame::Subscribe(topic) => Frame::Subscribe { topic },
            OwnedFrame::Unsubscribe(topic) => Frame::Unsubscribe { topic },
            OwnedFrame::Ping(seq) => Frame::Ping { seq: *seq },
            OwnedFrame::Pong(seq) => Frame::Pong { seq: *seq },
            OwnedFrame::Subscribed(topic) => Frame::Subscribed { topic },
            OwnedFrame::Unsubscribed(topic) => Frame::Unsubscribed { topic },
            OwnedFrame::PublishDeclare(alias, topic, payload) => Frame::PublishDeclare {
                alias: *alias,
                topic,
                payload,
            },
            OwnedFrame::PublishAlias(alias, payload) => Frame::PublishAlias {
                alias: *alias,
                payload,
            },
            OwnedFrame::AliasUnknown(alias) => Frame::AliasUnknown { alias: *alias },
            OwnedFrame::AliasRefused(alias) => Frame::AliasRefused { alias: *alias },
            OwnedFrame::PublishBatch(entries) => Frame::PublishBatch {
                batch: Batch::new(entries).expect("built by BatchWriter"),
            },
        }
    }

    fn from_frame(frame: &Frame<'_>) -> Self {
        match *frame {
            Frame::Hello {
                version,
                max_frame,
                boot_nonce,
            } => OwnedFrame::Hello(version, max_frame, boot_nonce),
            Frame::Publish { topic, payload } => {
                OwnedFrame::Publish(topic.to_vec(), payload.to_vec())
            }
            Frame::Subscribe { topic } => OwnedFrame::Subscribe(topic.to_vec()),
            Frame::Unsubscribe { topic } => OwnedFrame::Unsubscribe(topic.to_vec()),
            Frame::Ping { seq } => OwnedFrame::Ping(seq),
            Frame::Pong { seq } => OwnedFrame::Pong(seq),
            Frame::Subscribed { topic } => OwnedFrame::Subscribed(topic.to_vec()),
            Frame::Unsubscribed { topic } => OwnedFrame::Unsubscribed(topic.to_vec()),
            Frame::PublishDeclare {
                alias,
                topic,
                payload,
            } => OwnedFrame::PublishDeclare(alias, topic.to_vec(), payload.to_vec()),
            Frame::PublishAlias { alias, payload } => {
                OwnedFrame::PublishAlias(alias, payload.to_vec())
            }
            Frame::AliasUnknown { alias } => OwnedFrame::AliasUnknown(alias),
            Frame::AliasRefused { alias } => OwnedFrame::AliasRefused(alias),
            Frame::PublishBatch { batch } => OwnedFrame::PublishBatch(batch.as_bytes().to_vec()),
        }
    }

    fn wire(&self) -> Vec<u8> {
        let frame = self.borrow();
        let mut buf = vec![0u8; max_encoded_len(body_len(&frame))];
        let n = encode(&frame, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=max),
        // Long zero-free runs exercise COBS's 254-byte blocks.
        prop::collection::vec(1u8..=255, 0..=max),
        prop::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..=max),
    ]
}

fn frame_strategy() -> impl Strategy<Value = OwnedFrame> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), any::<u32>()).prop_map(|(v, m, n)| OwnedFrame::Hello(v, m, n)),
        (bytes(40), bytes(440)).prop_map(|(t, p)| OwnedFrame::Publish(t, p)),
        bytes(300).prop_map(OwnedFrame::Subscribe),
        bytes(40).prop_map(OwnedFrame::Unsubscribe),
        any::<u32>().prop_map(OwnedFrame::Ping),
        any::<u32>().prop_map(OwnedFrame::Pong),
        bytes(40).prop_map(OwnedFrame::Subscribed),
        bytes(40).prop_map(OwnedFrame::Unsubscribed),
        (any::<u16>(), bytes(40), bytes(300))
            .prop_map(|(a, t, p)| OwnedFrame::PublishDeclare(a, t, p)),
        (any::<u16>(), bytes(440)).prop_map(|(a, p)| OwnedFrame::PublishAlias(a, p)),
        any::<u16>().prop_map(OwnedFrame::AliasUnknown),
        any::<u16>().prop_map(OwnedFrame::AliasRefused),
        prop::collection::vec((any::<u16>(), bytes(60)), 0..8)
            .prop_map(|entries| OwnedFrame::PublishBatch(batch_bytes(&entries))),
    ]
}

/// Splits `stream` into chunks whose sizes cycle through `sizes`.
fn chunked<'a>(stream: &'a [u8], sizes: &'a [usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Frame(OwnedFrame),
    Corrupt(CorruptKind),
    Oversized,
}

fn decode_stream<const N: usize>(chunks: &[&[u8]]) -> Vec<Event> {
    let mut decoder = FrameDecoder::<N>::new();
    let mut events = Vec::new();
    for chunk in chunks {
        let mut window = *chunk;
        while !window.is_empty() {
            window = match decoder.feed(window) {
                FeedResult::Consumed => break,
                FeedResult::Frame { frame, remaining } => {
                    events.push(Event::Frame(OwnedFrame::from_frame(&frame)));
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

/// Reference COBS decoder, written from the algorithm's definition.
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

/// Reference CRC-32/ISO-HDLC, bit by bit.
fn ref_crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// What a decoder with an `n`-byte buffer must report for `stream`, computed segment by
/// segment (segments are the bytes between 0x00 delimiters; chunking cannot matter).
fn model(stream: &[u8], n: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let mut segments: Vec<&[u8]> = stream.split(|&b| b == 0).collect();
    // The last piece has no delimiter yet: only an overflow can be reported for it.
    let unterminated = segments.pop().unwrap_or(&[]);
    for seg in segments {
        if seg.is_empty() {
            continue;
        }
        if seg.len() > n {
            events.push(Event::Oversized);
            continue;
        }
        let Some(decoded) = ref_cobs_decode(seg) else {
            events.push(Event::Corrupt(CorruptKind::Cobs));
            continue;
        };
        if decoded.len() < 4 {
            events.push(Event::Corrupt(CorruptKind::TooShort));
            continue;
        }
        let (body, crc) = decoded.split_at(decoded.len() - 4);
        if ref_crc32(body).to_le_bytes() != crc {
            events.push(Event::Corrupt(CorruptKind::Crc));
            continue;
        }
        if body.first().is_some_and(|&t| t > 12) {
            events.push(Event::Corrupt(CorruptKind::UnknownTag));
            continue;
        }
        match postcard::take_from_bytes::<Frame<'_>>(body) {
            Ok((frame, [])) => events.push(Event::Frame(OwnedFrame::from_frame(&frame))),
            _ => events.push(Event::Corrupt(CorruptKind::Body)),
        }
    }
    if unterminated.len() > n {
        events.push(Event::Oversized);
    }
    events
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..80, 1..8)
}

/// A stream piece: a valid frame or garbage.
#[derive(Debug, Clone)]
enum Piece {
    Frame(OwnedFrame),
    Garbage(Vec<u8>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => frame_strategy().prop_map(Piece::Frame),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Piece::Garbage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Written entries read back in order; any bytes either form a batch whose entries
    /// re-encode to exactly those bytes, or are refused — never a panic.
    #[test]
    fn batches_round_trip_and_any_bytes_are_safe(
        entries in prop::collection::vec((any::<u16>(), bytes(300)), 0..10),
        noise in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let encoded = batch_bytes(&entries);
        let batch = Batch::new(&encoded).unwrap();
        let back: Vec<(u16, Vec<u8>)> = batch.iter().map(|(a, p)| (a, p.to_vec())).collect();
        prop_assert_eq!(&back, &entries);
        prop_assert_eq!(batch.len(), entries.len());
        if let Ok(batch) = Batch::new(&noise) {
            let again: Vec<(u16, Vec<u8>)> = batch.iter().map(|(a, p)| (a, p.to_vec())).collect();
            prop_assert_eq!(batch_bytes(&again), noise);
        }
    }

    #[test]
    fn frames_round_trip_through_any_chunking(
        frames in prop::collection::vec(frame_strategy(), 0..8),
        sizes in chunk_sizes(),
    ) {
        let mut stream = Vec::new();
        for f in &frames {
            let wire = f.wire();
            // The buffer bound holds, and is needed at most to the byte.
            prop_assert!(wire.len() <= max_encoded_len(body_len(&f.borrow())));
            let mut short = vec![0u8; wire.len() - 1];
            prop_assert!(encode(&f.borrow(), &mut short).is_err());
            stream.extend(wire);
        }
        let events = decode_stream::<{ max_encoded_len(512) }>(&chunked(&stream, &sizes));
        let expected: Vec<Event> = frames.into_iter().map(Event::Frame).collect();
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn arbitrary_bytes_match_the_model(
        stream in prop::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..600),
        sizes in chunk_sizes(),
    ) {
        let chunks = chunked(&stream, &sizes);
        prop_assert_eq!(decode_stream::<64>(&chunks), model(&stream, 64));
        prop_assert_eq!(decode_stream::<300>(&chunks), model(&stream, 300));
    }

    #[test]
    fn mixed_and_damaged_streams_match_the_model(
        pieces in prop::collection::vec(piece(), 0..8),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        sizes in chunk_sizes(),
    ) {
        let mut stream: Vec<u8> = Vec::new();
        for p in &pieces {
            match p {
                Piece::Frame(f) => stream.extend(f.wire()),
                Piece::Garbage(g) => stream.extend(g),
            }
        }
        if !stream.is_empty() {
            for (at, xor) in &flips {
                let i = at.index(stream.len());
                stream[i] ^= xor;
            }
        }
        let events = decode_stream::<300>(&chunked(&stream, &sizes));
        prop_assert_eq!(&events, &model(&stream, 300));
        // No frame is made up: each one's encoding occurs, delimited, in the input.
        for e in &events {
            if let Event::Frame(f) = e {
                let wire = f.wire();
                let found = stream.windows(wire.len()).enumerate().any(|(i, w)| {
                    w == &wire[..] && (i == 0 || stream[i - 1] == 0)
                });
                prop_assert!(found, "{:?} not in input", f);
            }
        }
    }

    #[test]
    fn one_damaged_byte_loses_only_its_frame(
        frames in prop::collection::vec(frame_strategy(), 1..6),
        victim in any::<prop::sample::Index>(),
        offset in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        sizes in chunk_sizes(),
    ) {
        let k = victim.index(frames.len());
        let mut stream = Vec::new();
        let mut start = 0;
        let mut victim_range = 0..0;
        for (i, f) in frames.iter().enumerate() {
            let wire = f.wire();
            if i == k {
                victim_range = start..start + wire.len();
            }
            start += wire.len();
            stream.extend(wire);
        }
        let at = victim_range.start + offset.index(victim_range.len());
        stream[at] ^= xor;
        // Damaging the delimiter merges the victim with the next frame.
        let lost_next = at == victim_range.end - 1;
        let expected: Vec<OwnedFrame> = frames
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != k && !(lost_next && i == k + 1))
            .map(|(_, f)| f.clone())
            .collect();
        // Two merged frames of at most ~520 bytes each fit: nothing is oversized here.
        let events = decode_stream::<2048>(&chunked(&stream, &sizes));
        let decoded: Vec<OwnedFrame> = events
            .iter()
            .filter_map(|e| match e {
                Event::Frame(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(decoded, expected);
        // The damage is reported, unless it removed the last delimiter of the stream: then
        // the victim is merely incomplete.
        let last_incomplete = lost_next && k == frames.len() - 1;
        prop_assert!(last_incomplete || events.iter().any(|e| matches!(e, Event::Corrupt(_))));
        prop_assert!(!events.contains(&Event::Oversized));
    }
}
