//! Golden wire bytes of serial frames.
//!
//! The bytes were derived independently of this crate, by hand from the format documented in
//! `src/frame.rs` (postcard body, CRC-32 little-endian, COBS, 0x00), with the CRC computed by
//! Python's zlib and COBS by a ten-line reference encoder:
//!
//! ```python
//! import zlib
//! def cobs(d):
//!     out, blk = bytearray(), bytearray()
//!     for b in d:
//!         if b == 0:
//!             out.append(len(blk) + 1); out += blk; blk = bytearray()
//!         else:
//!             blk.append(b)
//!             if len(blk) == 254:
//!                 out.append(255); out += blk; blk = bytearray()
//!     out.append(len(blk) + 1); out += blk
//!     return bytes(out)
//! def wire(body):
//!     return cobs(body + zlib.crc32(body).to_bytes(4, "little")) + b"\0"
//! payload = bytes.fromhex("81ae6d6573736167655f6e756d6265720a")  # msgpack {'message_number': 10}
//! print(wire(bytes([1, 4]) + b"echo" + bytes([len(payload)]) + payload).hex())
//! ```

use banyan_proto::frame::{
    Batch, BatchWriter, CRC_LEN, DEFAULT_MAX_FRAME, FeedResult, Frame, FrameDecoder, FrameError,
    PROTOCOL_VERSION, body_len, encode, max_encoded_len,
};

/// Python `msgpack.packb({'message_number': 10}, use_bin_type=True)`.
const MSGPACK_MESSAGE_NUMBER_10: &[u8] = &[
    0x81, 0xae, 0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x5f, 0x6e, 0x75, 0x6d, 0x62, 0x65, 0x72,
    0x0a,
];

/// `Publish { topic: b"echo", payload: MSGPACK_MESSAGE_NUMBER_10 }` on the wire.
const PUBLISH_ECHO_WIRE: &[u8] = &[
    0x1d, // COBS code: 28 non-zero bytes follow
    0x01, // postcard tag 1 = Publish
    0x04, // topic length
    0x65, 0x63, 0x68, 0x6f, // "echo"
    0x11, // payload length 17
    0x81, 0xae, 0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x5f, 0x6e, 0x75, 0x6d, 0x62, 0x65, 0x72,
    0x0a, // msgpack payload
    0x3d, 0x38, 0x9c, 0x27, // zlib.crc32(body) = 0x279c383d, little-endian
    0x00, // delimiter
];

/// (frame, wire bytes) pairs, each derived with the Python script above.
fn golden() -> Vec<(Frame<'static>, &'static [u8])> {
    vec![
        (
            Frame::Publish {
                topic: b"echo",
                payload: MSGPACK_MESSAGE_NUMBER_10,
            },
            PUBLISH_ECHO_WIRE,
        ),
        // body 01 00 00: two zero bytes, so COBS codes 02 01 05.
        (
            Frame::Publish {
                topic: b"",
                payload: b"",
            },
            &[0x02, 0x01, 0x01, 0x05, 0x25, 0xb3, 0x83, 0xfe, 0x00],
        ),
        // body 00 01 80 04 07: tag 0, version 1, max_frame 512 = varint 80 04, nonce 7.
        (
            Frame::Hello {
                version: 1,
                max_frame: 512,
                boot_nonce: 7,
            },
            &[
                0x01, 0x09, 0x01, 0x80, 0x04, 0x07, 0x5f, 0xdb, 0xa3, 0x65, 0x00,
            ],
        ),
        // body 02 04 "echo"
        (
            Frame::Subscribe { topic: b"echo" },
            &[
                0x0b, 0x02, 0x04, 0x65, 0x63, 0x68, 0x6f, 0x46, 0x49, 0xca, 0x3f, 0x00,
            ],
        ),
        // body 04 01
        (
            Frame::Ping { seq: 1 },
            &[0x07, 0x04, 0x01, 0x6d, 0xe7, 0xb2, 0x52, 0x00],
        ),
        // body 06 04 "echo": the gateway's acknowledgement of the Subscribe above.
        (
            Frame::Subscribed { topic: b"echo" },
            &[
                0x0b, 0x06, 0x04, 0x65, 0x63, 0x68, 0x6f, 0x50, 0x0b, 0x5b, 0xa4, 0x00,
            ],
        ),
        // body 07 04 "echo"
        (
            Frame::Unsubscribed { topic: b"echo" },
            &[
                0x0b, 0x07, 0x04, 0x65, 0x63, 0x68, 0x6f, 0xf5, 0xd8, 0x07, 0x6f, 0x00,
            ],
        ),
    ]
}

#[test]
fn encode_matches_golden_bytes() {
    for (frame, wire) in golden() {
        let mut buf = [0xAAu8; 64];
        let n = encode(&frame, &mut buf).unwrap();
        assert_eq!(&buf[..n], wire, "{frame:?}");
        // The body is the wire minus COBS code(s), CRC and delimiter; here exactly one code.
        assert_eq!(body_len(&frame) + CRC_LEN + 2, wire.len(), "{frame:?}");
        assert!(n <= max_encoded_len(body_len(&frame)));
        assert!(buf[n..].iter().all(|&b| b == 0xAA), "wrote past the frame");
    }
}

#[test]
fn golden_bytes_decode_to_their_frame() {
    for (frame, wire) in golden() {
        let mut decoder = FrameDecoder::<64>::new();
        match decoder.feed(wire) {
            FeedResult::Frame {
                frame: got,
                remaining,
            } => {
                assert_eq!(got, frame);
                assert!(remaining.is_empty());
            }
            other => panic!("{frame:?}: {other:?}"),
        }
    }
}

#[test]
fn tags_are_stable() {
    // First body byte = variant tag; the body starts right after the single COBS code byte
    // (except when the body's first byte is 0x00, i.e. Hello, where COBS replaces it).
    let cases: [(Frame<'_>, u8); 11] = [
        (
            Frame::Publish {
                topic: b"t",
                payload: b"p",
            },
            1,
        ),
        (Frame::Subscribe { topic: b"t" }, 2),
        (Frame::Unsubscribe { topic: b"t" }, 3),
        (Frame::Ping { seq: 9 }, 4),
        (Frame::Pong { seq: 9 }, 5),
        (Frame::Subscribed { topic: b"t" }, 6),
        (Frame::Unsubscribed { topic: b"t" }, 7),
        (
            Frame::PublishDeclare {
                alias: 1,
                topic: b"t",
                payload: b"p",
            },
            8,
        ),
        (
            Frame::PublishAlias {
                alias: 1,
                payload: b"p",
            },
            9,
        ),
        (Frame::AliasUnknown { alias: 1 }, 10),
        (Frame::AliasRefused { alias: 1 }, 11),
    ];
    for (frame, tag) in cases {
        let mut buf = [0u8; 32];
        encode(&frame, &mut buf).unwrap();
        assert_eq!(buf[1], tag, "{frame:?}");
    }
    // Hello's body starts with 0x00: COBS code 01 ("a zero follows at once").
    let mut buf = [0u8; 32];
    encode(&Frame::hello(512, 1), &mut buf).unwrap();
    assert_eq!(buf[0], 0x01);
}

#[test]
fn documented_overheads() {
    // Publish on "echo" with a 16-byte payload: topic + payload + 9 = 29 bytes.
    let payload = [0x42u8; 16];
    let frame = Frame::Publish {
        topic: b"echo",
        payload: &payload,
    };
    let mut buf = [0u8; 64];
    assert_eq!(encode(&frame, &mut buf), Ok(29));
    assert_eq!(body_len(&frame), 23);
    assert_eq!(encode(&Frame::Ping { seq: 1 }, &mut buf), Ok(8));
    assert_eq!(
        encode(&Frame::Subscribe { topic: b"echo" }, &mut buf),
        Ok(12)
    );
    assert_eq!(
        encode(&Frame::hello(DEFAULT_MAX_FRAME as u16, 7), &mut buf),
        Ok(11)
    );
    assert_eq!(max_encoded_len(DEFAULT_MAX_FRAME), 520);
    assert_eq!(PROTOCOL_VERSION, 2);
    // With an alias: `{'v': 1000}` on any topic is 6 + 9 = 15 bytes instead of topic + 15.
    let v = [0x81, 0xa1, 0x76, 0xcd, 0x03, 0xe8];
    let aliased = Frame::PublishAlias {
        alias: 0,
        payload: &v,
    };
    assert_eq!(encode(&aliased, &mut buf), Ok(v.len() + 9));
    let sensor = Frame::Publish {
        topic: b"sensor/pico",
        payload: &v,
    };
    assert_eq!(encode(&sensor, &mut buf), Ok(11 + v.len() + 9));
}

#[test]
fn byte_fields_are_a_varint_length_then_raw_bytes() {
    // Bytes above 0x7F stay single raw bytes (no per-element varints), and a length of 200
    // takes a two-byte varint (c8 01).
    let payload = [0xFFu8; 200];
    let frame = Frame::Publish {
        topic: &[0x80, 0x81],
        payload: &payload,
    };
    let mut body = [0u8; 256];
    let body = postcard::to_slice(&frame, &mut body).unwrap();
    let mut expected = vec![0x01, 0x02, 0x80, 0x81, 0xc8, 0x01];
    expected.extend_from_slice(&payload);
    assert_eq!(body, &expected[..]);
    assert_eq!(body_len(&frame), expected.len());
}

#[test]
fn encode_reports_small_buffers() {
    let frame = Frame::Publish {
        topic: b"echo",
        payload: MSGPACK_MESSAGE_NUMBER_10,
    };
    for len in 0..PUBLISH_ECHO_WIRE.len() {
        let mut buf = vec![0u8; len];
        assert_eq!(
            encode(&frame, &mut buf),
            Err(FrameError::BufferTooSmall),
            "len {len}"
        );
    }
    let mut buf = vec![0u8; PUBLISH_ECHO_WIRE.len()];
    assert_eq!(encode(&frame, &mut buf), Ok(PUBLISH_ECHO_WIRE.len()));
}

/// `msgpack.packb({'v': n}, use_bin_type=True)` as Python writes it (also in frames.txt).
fn v(n: u16) -> Vec<u8> {
    if n < 128 {
        vec![0x81, 0xa1, 0x76, n as u8]
    } else {
        let [hi, lo] = n.to_be_bytes();
        vec![0x81, 0xa1, 0x76, 0xcd, hi, lo]
    }
}

/// The Rust frame of every name in `golden/frames.txt` (made by `golden/gen_frames.py`).
fn v2_frame<'a>(name: &str, store: &'a [Vec<u8>; 4]) -> Option<Frame<'a>> {
    let [v1000, v1001, v7, batch] = store;
    Some(match name {
        "hello_v2" => Frame::hello(512, 7),
        "publish_declare" => Frame::PublishDeclare {
            alias: 0,
            topic: b"sensor/pico",
            payload: v1000,
        },
        "publish_alias" => Frame::PublishAlias {
            alias: 0,
            payload: v1001,
        },
        "publish_alias_300" => Frame::PublishAlias {
            alias: 300,
            payload: v7,
        },
        "alias_unknown" => Frame::AliasUnknown { alias: 3 },
        "alias_refused" => Frame::AliasRefused { alias: 4 },
        "publish_batch" => Frame::PublishBatch {
            batch: Batch::new(batch).ok()?,
        },
        "publish_batch_empty" => Frame::PublishBatch {
            batch: Batch::new(&[]).ok()?,
        },
        _ => return None,
    })
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn version_2_frames_match_pythons_golden_bytes() {
    let mut entries = [0u8; 64];
    let mut writer = BatchWriter::new(&mut entries);
    writer.push(0, &v(1000)).unwrap();
    writer.push(0, &v(1001)).unwrap();
    writer.push(1, &v(7)).unwrap();
    let batch = writer.batch().as_bytes().to_vec();
    let store = [v(1000), v(1001), v(7), batch];
    let mut seen = 0;
    for line in include_str!("../golden/frames.txt").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (name, wire) = line.split_once(' ').unwrap();
        let wire = hex(wire);
        let frame = v2_frame(name, &store).unwrap_or_else(|| panic!("no Rust frame for {name}"));
        let mut buf = [0u8; 64];
        let n = encode(&frame, &mut buf).unwrap();
        assert_eq!(&buf[..n], &wire[..], "{name}");
        let mut decoder = FrameDecoder::<64>::new();
        match decoder.feed(&wire) {
            FeedResult::Frame {
                frame: got,
                remaining,
            } => {
                assert_eq!(got, frame, "{name}");
                assert!(remaining.is_empty());
            }
            other => panic!("{name}: {other:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 8, "every golden frame checked");
    if let Some(Frame::PublishBatch { batch }) = v2_frame("publish_batch", &store) {
        let items: Vec<(u16, &[u8])> = batch.iter().collect();
        assert_eq!(
            items,
            [(0, &v(1000)[..]), (0, &v(1001)[..]), (1, &v(7)[..])]
        );
    }
}
