//! Feeds arbitrary bytes, in chunks chosen by the input, to tgw's `LengthPrefixDecoder` and
//! checks:
//! * it never panics and never holds more than one partial frame (`pending() <= 256`);
//! * the frames do not depend on the chunking (input-chosen chunks, one big chunk and byte by
//!   byte give the same frames and the same partial tail);
//! * the frames equal an independent model (walk the stream by index);
//! * re-encoding the frames gives back the stream minus its partial tail.
//!
//! Input layout: bytes 0..4 are a cycle of chunk sizes, the rest is the stream.
#![no_main]

use banyan_proto::length_prefix::{Feed, LengthPrefixDecoder, MAX_FRAME, encode_to_vec};
use libfuzzer_sys::fuzz_target;

fn run<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<Vec<u8>>, usize) {
    let mut decoder = LengthPrefixDecoder::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        let mut input = chunk;
        loop {
            match decoder.feed(input) {
                Feed::Consumed => break,
                Feed::Frame { payload, remaining } => {
                    assert!(remaining.len() < input.len());
                    frames.push(payload.to_vec());
                    input = remaining;
                }
            }
            assert!(decoder.pending() <= MAX_FRAME);
        }
    }
    (frames, decoder.pending())
}

fn model(stream: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let (mut frames, mut at) = (Vec::new(), 0);
    while at < stream.len() {
        let end = at + 1 + usize::from(stream[at]);
        if end > stream.len() {
            return (frames, stream.len() - at);
        }
        frames.push(stream[at + 1..end].to_vec());
        at = end;
    }
    (frames, 0)
}

fuzz_target!(|data: &[u8]| {
    let split = data.len().min(4);
    let (sizes, stream) = data.split_at(split);
    let sizes: Vec<usize> = sizes.iter().map(|&s| usize::from(s) + 1).collect();

    let mut at = 0;
    let mut cycle = sizes.iter().cycle();
    let chunked = std::iter::from_fn(|| {
        if at >= stream.len() {
            return None;
        }
        let size = cycle.next().copied().unwrap_or(stream.len());
        let end = (at + size).min(stream.len());
        let chunk = &stream[at..end];
        at = end;
        Some(chunk)
    });
    let by_chunks = run(chunked);
    assert_eq!(by_chunks, run(std::iter::once(stream)));
    assert_eq!(by_chunks, run(stream.chunks(1)));
    assert_eq!(by_chunks, model(stream));

    let (frames, tail) = by_chunks;
    let rebuilt: Vec<u8> = frames
        .iter()
        .flat_map(|f| encode_to_vec(f).expect("a decoded frame is at most 255 bytes"))
        .collect();
    assert_eq!(rebuilt, stream[..stream.len() - tail]);
});
