//! Feeds arbitrary bytes from the link to the gateway's sans-IO core, interleaved with proof
//! events, backplane messages and link reopenings chosen by the input, and checks:
//! - nothing panics;
//! - every frame the session sends to the MCU decodes cleanly (it never emits garbage);
//! - the subscription table stays within its bound.
#![no_main]

use banyan_proto::frame::{FeedResult, FrameDecoder, max_encoded_len};
use banyan_proto::gateway::{Action, GatewayConfig, GatewaySession};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = GatewaySession::<4, 16>::new(GatewayConfig {
        max_held: 8,
        ..GatewayConfig::new(0x5eed)
    });
    session.link_opened();
    let mut check = FrameDecoder::<{ max_encoded_len(4096) }>::new();
    // Each chunk: one control byte, then up to 31 link bytes.
    for chunk in data.chunks(32) {
        let (&control, bytes) = match chunk.split_first() {
            Some(split) => split,
            None => continue,
        };
        session.on_link_bytes(bytes);
        match control % 8 {
            1 if session.proof_needed() => session.proof_started(),
            2 if session.proof_in_flight() => session.proof_done(),
            3 if session.proof_in_flight() => session.proof_failed(),
            4 => {
                session.on_backplane(bytes, bytes);
            }
            5 => {
                session.link_closed();
                session.link_opened();
            }
            _ => {}
        }
        while let Some(action) = session.poll_action() {
            if let Action::Send(wire) = action {
                let mut window = &wire[..];
                while !window.is_empty() {
                    window = match check.feed(window) {
                        FeedResult::Consumed => panic!("a sent frame lacks its delimiter"),
                        FeedResult::Frame { remaining, .. } => remaining,
                        FeedResult::Corrupt { kind, .. } => panic!("sent a corrupt frame: {kind}"),
                        FeedResult::Oversized { .. } => panic!("sent an oversized frame"),
                    };
                }
            }
        }
        assert!(session.subscriptions().count() <= 4);
    }
});
