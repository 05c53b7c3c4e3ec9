//! Feeds arbitrary bytes, in chunks chosen by the input, to banyan-proto's `FirmataDecoder`
//! and checks:
//! * it never panics;
//! * outcomes and counters do not depend on the chunking (input-chosen chunks, one big chunk
//!   and byte by byte agree);
//! * they equal an independent framing model (MIDI rules, walked by index): every complete
//!   message, decoded on its own, gives the outcome the stream gave at that point, overflows
//!   are reported once where the model says, and the stray / interrupted / dropped counts
//!   match;
//! * every event re-encodes (`Event::encode`, the board's side) to bytes that decode to the
//!   same event, and for messages without a normal form (all but digital ports, pin states
//!   and DHT readings) to exactly the bytes that came in.
//!
//! Input layout: byte 0 selects the sysex buffer size, bytes 1..=4 are a cycle of chunk
//! sizes, the rest is the stream.
#![no_main]

use banyan_proto::firmata::{Event, Feed, FirmataDecoder, SYSEX_CAPACITY};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// The event's debug form and its re-encoding.
    Event(String, Vec<u8>),
    Malformed(u8, String),
    Overflow(u8),
}

fn reencode(event: &Event<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; event.encoded_len()];
    let n = event.encode(&mut buf).expect("decoded events re-encode");
    assert_eq!(n, buf.len());
    // Decoding the re-encoding gives the same event.
    let mut decoder: FirmataDecoder = FirmataDecoder::new();
    match decoder.feed(&buf) {
        Feed::Event { event: again, remaining } => {
            assert_eq!(&again, event);
            assert!(remaining.is_empty());
        }
        other => panic!("{event:?} re-encoded as {buf:02x?} decoded as {other:?}"),
    }
    buf
}

fn run<const N: usize>(chunks: &mut dyn Iterator<Item = &[u8]>) -> (Vec<Outcome>, [u32; 3]) {
    let mut decoder = FirmataDecoder::<N>::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = chunk;
        loop {
            input = match decoder.feed(input) {
                Feed::Consumed => break,
                Feed::Event { event, remaining } => {
                    out.push(Outcome::Event(format!("{event:?}"), reencode(&event)));
                    remaining
                }
                Feed::Malformed { command, kind, remaining } => {
                    out.push(Outcome::Malformed(command, format!("{kind:?}")));
                    remaining
                }
                Feed::Overflow { command, remaining } => {
                    out.push(Outcome::Overflow(command));
                    remaining
                }
            };
        }
    }
    let s = decoder.stats();
    (out, [s.stray, s.interrupted, s.dropped])
}

enum Item {
    /// A complete message: its bytes from the status byte on.
    Message(Vec<u8>),
    Overflow(u8),
}

/// Independent framing model: a status byte ends any open message; `F0 cmd data… F7` is a
/// sysex, `F9`/`9x`/`Ex` take two data bytes; sysex bodies over `capacity` overflow.
fn model(stream: &[u8], capacity: usize) -> (Vec<Item>, [u32; 3]) {
    let (mut items, mut stray, mut interrupted, mut dropped) = (Vec::new(), 0, 0, 0);
    let mut open: Option<Vec<u8>> = None;
    let mut overflowed = false;
    for &b in stream {
        if b >= 0x80 {
            if let Some(mut msg) = open.take() {
                if msg[0] == 0xF0 && b == 0xF7 {
                    if msg.len() >= 2 {
                        msg.push(b);
                        items.push(Item::Message(msg));
                    } else {
                        interrupted += 1;
                    }
                    continue;
                }
                interrupted += 1;
            } else if overflowed && b == 0xF7 {
                overflowed = false;
                continue;
            }
            overflowed = false;
            if matches!(b, 0xF0 | 0xF9 | 0x90..=0x9F | 0xE0..=0xEF) {
                open = Some(vec![b]);
            } else {
                stray += 1;
            }
            continue;
        }
        let Some(msg) = open.as_mut() else {
            if overflowed {
                dropped += 1;
            } else {
                stray += 1;
            }
            continue;
        };
        msg.push(b);
        if msg[0] != 0xF0 && msg.len() == 3 {
            items.push(Item::Message(open.take().unwrap()));
        } else if msg[0] == 0xF0 && msg.len() > capacity + 2 {
            items.push(Item::Overflow(msg[1]));
            open = None;
            overflowed = true;
        }
    }
    (items, [stray, interrupted, dropped])
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
    let got = run::<N>(&mut chunked);
    assert_eq!(got, run::<N>(&mut std::iter::once(stream)));
    assert_eq!(got, run::<N>(&mut stream.chunks(1)));

    let (items, stats) = model(stream, N);
    assert_eq!(got.1, stats);
    assert_eq!(got.0.len(), items.len());
    for (outcome, item) in got.0.iter().zip(&items) {
        match item {
            Item::Overflow(command) => assert_eq!(outcome, &Outcome::Overflow(*command)),
            Item::Message(bytes) => {
                let (alone, alone_stats) = run::<N>(&mut std::iter::once(bytes.as_slice()));
                assert_eq!(alone_stats, [0; 3]);
                assert_eq!(alone.as_slice(), std::slice::from_ref(outcome), "{bytes:02x?}");
                if let Outcome::Event(_, wire) = outcome {
                    let normal_form = matches!(bytes[0], 0x90..=0x9F)
                        || (bytes[0] == 0xF0 && matches!(bytes[1], 0x6E | 0x65));
                    if !normal_form {
                        assert_eq!(wire, bytes, "re-encoding differs");
                    }
                }
            }
        }
    }
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
        1 => check::<8>(sizes, stream),
        2 => check::<64>(sizes, stream),
        _ => check::<SYSEX_CAPACITY>(sizes, stream),
    }
});
