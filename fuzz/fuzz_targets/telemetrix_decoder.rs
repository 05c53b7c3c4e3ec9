//! Feeds arbitrary bytes, in chunks chosen by the input, to the Telemetrix `ReportDecoder` of
//! the family the input picks, and checks meaning, not only the absence of panics:
//! * the events do not depend on the chunking (input-chosen chunks, one big chunk and byte by
//!   byte give the same events, partial tail and counters);
//! * the framing equals an independent model (walk the stream by index);
//! * every frame is accounted for: a report re-emits to exactly its frame's bytes, a
//!   malformed frame is a zero length or a known id of the wrong size — so the reports and
//!   the malformed frames' bytes rebuild the stream minus its partial tail.
//!
//! Input layout: byte 0 picks the family, bytes 1..5 are a cycle of chunk sizes, the rest is
//! the stream.
#![no_main]

use banyan_proto::telemetrix::{Family, Feed, Malformed, ReportDecoder, Stats};
use libfuzzer_sys::fuzz_target;

/// One decoded event: the frame's bytes as the decoder saw them, and whether it was a report.
#[derive(Debug, PartialEq)]
enum Event {
    Report(Vec<u8>),
    Malformed(Malformed),
}

fn run<'a>(family: Family, chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<Event>, usize, Stats) {
    let mut decoder = ReportDecoder::new(family);
    let mut events = Vec::new();
    for chunk in chunks {
        let mut input = chunk;
        loop {
            match decoder.feed(input) {
                Feed::Consumed => break,
                Feed::Report { report, remaining } => {
                    assert!(remaining.len() < input.len());
                    let mut out = [0u8; 256];
                    let n = report.emit(family, &mut out).expect("a parsed report re-emits");
                    events.push(Event::Report(out[..n].to_vec()));
                    input = remaining;
                }
                Feed::Malformed { error, remaining } => {
                    assert!(remaining.len() < input.len());
                    events.push(Event::Malformed(error));
                    input = remaining;
                }
            }
            assert!(decoder.pending() <= 256);
        }
    }
    (events, decoder.pending(), decoder.stats())
}

/// Frames by index: (frame bytes, tail length).
fn model(stream: &[u8]) -> (Vec<&[u8]>, usize) {
    let (mut frames, mut at) = (Vec::new(), 0);
    while at < stream.len() {
        let end = at + 1 + usize::from(stream[at]);
        if end > stream.len() {
            return (frames, stream.len() - at);
        }
        frames.push(&stream[at..end]);
        at = end;
    }
    (frames, 0)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let family = Family::ALL[usize::from(pick) % 3];
    let split = rest.len().min(4);
    let (sizes, stream) = rest.split_at(split);
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
    let by_chunks = run(family, chunked);
    assert_eq!(by_chunks, run(family, std::iter::once(stream)));
    assert_eq!(by_chunks, run(family, stream.chunks(1)));

    let (events, tail, stats) = by_chunks;
    let (frames, model_tail) = model(stream);
    assert_eq!(tail, model_tail);
    assert_eq!(events.len(), frames.len());
    assert_eq!(stats.reports + stats.unknown + stats.malformed, frames.len() as u64);
    for (event, frame) in events.iter().zip(&frames) {
        match event {
            Event::Report(bytes) => assert_eq!(bytes.as_slice(), *frame),
            Event::Malformed(Malformed::ZeroLength) => assert_eq!(*frame, [0]),
            Event::Malformed(Malformed::Length { id, len }) => {
                assert_eq!(frame.get(1), Some(id));
                assert_eq!(usize::from(*len), frame.len() - 2);
            }
            Event::Malformed(other) => panic!("unexpected {other:?}"),
        }
    }
});
