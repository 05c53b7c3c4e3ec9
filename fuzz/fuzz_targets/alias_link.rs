//! The MCU client's core and the gateway's core on one link speaking protocol version 2
//! (topic aliases, batched publishes), driven by the input: publishes on four topics, time
//! steps, frames lost either way. Checks meaning, not only the absence of panics:
//! - every message the gateway publishes carries the topic it was published on (an alias is
//!   never resolved to another topic, whatever was lost);
//! - messages reach the backplane in publish order, each at most once;
//! - with nothing lost, every message arrives;
//! - every frame either side writes decodes cleanly.
#![no_main]

use banyan_mcu::{ClientConfig, ClientCore, PublishStep};
use banyan_proto::frame::{FeedResult, FrameDecoder, max_encoded_len};
use banyan_proto::gateway::{Action, GatewayConfig, GatewaySession};
use libfuzzer_sys::fuzz_target;

const TOPICS: [&[u8]; 5] = [b"sensor/pico", b"a", b"bb", b"sensor/pico2", b"e"];

struct Link {
    core: ClientCore<4, 16, 2, 64>,
    session: GatewaySession<4, 16>,
    to_gateway: FrameDecoder<{ max_encoded_len(4096) }>,
    to_mcu: FrameDecoder<{ max_encoded_len(4096) }>,
    now: u64,
    drop_up: bool,
    drop_down: bool,
    lost: bool,
    published: Vec<(Vec<u8>, u32)>,
}

impl Link {
    fn up(&mut self, bytes: &[u8]) {
        // The frame must be whole and clean.
        let mut window = bytes;
        while !window.is_empty() {
            window = match self.to_gateway.feed(window) {
                FeedResult::Frame { remaining, .. } => remaining,
                other => panic!("the client wrote a bad frame: {other:?}"),
            };
        }
        if std::mem::take(&mut self.drop_up) {
            self.lost = true;
            return;
        }
        self.session.on_link_bytes(bytes);
        self.gateway_actions();
    }

    fn gateway_actions(&mut self) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Send(wire) => {
                    let drop = std::mem::take(&mut self.drop_down);
                    self.lost |= drop;
                    let mut window = &wire[..];
                    while !window.is_empty() {
                        window = match self.to_mcu.feed(window) {
                            FeedResult::Frame { frame, remaining } => {
                                if !drop {
                                    self.core.on_frame(&frame, self.now);
                                }
                                remaining
                            }
                            other => panic!("the gateway wrote a bad frame: {other:?}"),
                        };
                    }
                }
                Action::Publish { topic, payload } => {
                    let seq = u32::from_le_bytes(payload[..4].try_into().unwrap());
                    self.published.push((topic, seq));
                }
                Action::Subscribe(_) | Action::Unsubscribe(_) => {}
            }
            if self.session.proof_needed() {
                self.session.proof_started();
                self.session.proof_done();
            }
        }
    }

    fn transmit(&mut self) {
        let mut buf = [0u8; 256];
        self.core.on_tick(self.now);
        while let Ok(Some(n)) = self.core.poll_transmit(&mut buf) {
            let bytes = buf[..n].to_vec();
            self.up(&bytes);
        }
    }

    fn publish(&mut self, topic: &[u8], seq: u32, len: usize) {
        let mut payload = vec![0x5a; 4 + len];
        payload[..4].copy_from_slice(&seq.to_le_bytes());
        let mut buf = [0u8; 256];
        loop {
            match self.core.publish_step(topic, &payload, &mut buf) {
                Ok(PublishStep::Written(n)) => {
                    let bytes = buf[..n].to_vec();
                    self.up(&bytes);
                    return;
                }
                Ok(PublishStep::BatchedFull) => {
                    let n = self.core.encode_batch(&mut buf).expect("a batch fits the buffer");
                    let bytes = buf[..n].to_vec();
                    self.up(&bytes);
                    return;
                }
                Ok(PublishStep::FlushFirst) => {
                    let n = self.core.encode_batch(&mut buf).expect("a batch fits the buffer");
                    let bytes = buf[..n].to_vec();
                    self.up(&bytes);
                }
                Ok(PublishStep::Batched) | Ok(PublishStep::Offline) | Err(_) => return,
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let config = ClientConfig::new(7).with_batch_window_ms(u32::from(data.first().copied().unwrap_or(5) % 12));
    let mut link = Link {
        core: ClientCore::new(config, 512),
        session: GatewaySession::new(GatewayConfig::new(9)),
        to_gateway: FrameDecoder::new(),
        to_mcu: FrameDecoder::new(),
        now: 0,
        drop_up: false,
        drop_down: false,
        lost: false,
        published: Vec::new(),
    };
    link.session.link_opened();
    link.core.start(0);
    for _ in 0..4 {
        link.transmit();
        link.gateway_actions();
    }
    assert!(link.core.is_up(), "handshake on a clean link");
    let mut sent: Vec<(&[u8], u32)> = Vec::new();
    let mut seq = 0u32;
    for &op in data.iter().skip(1) {
        match op & 3 {
            0 | 1 => {
                let topic = TOPICS[usize::from(op >> 2) % TOPICS.len()];
                if link.core.is_up() {
                    sent.push((topic, seq));
                }
                link.publish(topic, seq, usize::from(op >> 5) * 9);
                seq += 1;
            }
            2 => {
                link.now += u64::from(op >> 2);
                link.transmit();
            }
            _ => {
                if op & 4 == 0 {
                    link.drop_up = true;
                } else {
                    link.drop_down = true;
                }
            }
        }
    }
    link.now += 50;
    link.transmit();
    // Every published message is one that was sent, on its own topic, in order, once.
    let mut last: Option<u32> = None;
    for (topic, seq) in &link.published {
        let original = sent.iter().find(|(_, s)| s == seq).expect("a message nobody sent");
        assert_eq!(&topic[..], original.0, "message {seq} published on another topic");
        assert!(last.is_none_or(|l| l < *seq), "out of order or twice: {seq} after {last:?}");
        last = Some(*seq);
    }
    if !link.lost {
        assert_eq!(link.published.len(), sent.len(), "a clean link lost a message");
    }
});
