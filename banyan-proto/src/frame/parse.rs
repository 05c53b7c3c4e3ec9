//! A frame body by hand, both ways: [`parse`] reads the [`Frame`] postcard 1.x would
//! deserialize from a body, [`emit`] writes the bytes postcard would serialize.
//!
//! postcard's serde deserializer for the 13-variant [`Frame`] is ~1.4 KB of Thumb-1 code
//! (the visitor of every variant, serde's sequence plumbing, one varint reader per width);
//! this reader is ~0.6 KB, which matters on a 16 KiB firmware. It accepts exactly
//! what `postcard::take_from_bytes::<Frame>` accepts with nothing left over, and returns the
//! same frame; [`emit`] pushes the same bytes into a postcard flavor as postcard's serializer
//! (whose serde plumbing is another ~0.4 KB). Property tests below compare both with postcard
//! (the reference, kept in tests and the fuzz target) on arbitrary bytes and frames.
//!
//! postcard's rules, reproduced here: the tag is a `u32` varint (the variant index); `u8` is
//! one raw byte; `u16`/`u32`/`usize` are LEB128 varints of at most 3/5/(5 or 10) bytes whose
//! last possible byte may carry only the bits the type has left (non-minimal encodings such
//! as `80 00` for 0 are accepted, as postcard does); bytes are a `usize` varint length and
//! that many bytes. A [`Batch`] must also be valid ([`Batch::new`]).

use postcard::ser_flavors::Flavor;

use super::{Batch, Frame};

/// Pushes `frame`'s body, as postcard serializes it, into `out` (tag varint, then the fields).
pub(crate) fn emit<F: Flavor>(frame: &Frame<'_>, out: &mut F) -> postcard::Result<()> {
    let mut w = Writer(out);
    match *frame {
        Frame::Hello {
            version,
            max_frame,
            boot_nonce,
        } => {
            w.varint(0)?;
            w.0.try_push(version)?;
            w.varint(max_frame.into())?;
            w.varint(boot_nonce)
        }
        Frame::Publish { topic, payload } => {
            w.varint(1)?;
            w.bytes(topic)?;
            w.bytes(payload)
        }
        Frame::Subscribe { topic } => w.tagged_bytes(2, topic),
        Frame::Unsubscribe { topic } => w.tagged_bytes(3, topic),
        Frame::Ping { seq } => w.tagged_varint(4, seq),
        Frame::Pong { seq } => w.tagged_varint(5, seq),
        Frame::Subscribed { topic } => w.tagged_bytes(6, topic),
        Frame::Unsubscribed { topic } => w.tagged_bytes(7, topic),
        Frame::PublishDeclare {
            alias,
            topic,
            payload,
        } => {
            w.tagged_varint(8, alias.into())?;
            w.bytes(topic)?;
            w.bytes(payload)
        }
        Frame::PublishAlias { alias, payload } => {
            w.tagged_varint(9, alias.into())?;
            w.bytes(payload)
        }
        Frame::AliasUnknown { alias } => w.tagged_varint(10, alias.into()),
        Frame::AliasRefused { alias } => w.tagged_varint(11, alias.into()),
        Frame::PublishBatch { batch } => w.tagged_bytes(12, batch.as_bytes()),
    }
}

/// Writes postcard's encodings into a flavor.
struct Writer<'f, F: Flavor>(&'f mut F);

impl<F: Flavor> Writer<'_, F> {
    /// LEB128, shortest form (postcard's varint for every integer width).
    fn varint(&mut self, value: u32) -> postcard::Result<()> {
        let mut value = value;
        while value >= 0x80 {
            self.0.try_push(value as u8 | 0x80)?;
            value >>= 7;
        }
        self.0.try_push(value as u8)
    }

    /// A varint length (postcard's `usize`) and the bytes.
    fn bytes(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        // No slice this side of 4 GiB is longer than a u32 varint can say; a longer one could
        // never fit a frame buffer, so it fails as a full buffer.
        let len = u32::try_from(bytes.len()).map_err(|_| postcard::Error::SerializeBufferFull)?;
        self.varint(len)?;
        self.0.try_extend(bytes)
    }

    fn tagged_bytes(&mut self, tag: u32, bytes: &[u8]) -> postcard::Result<()> {
        self.varint(tag)?;
        self.bytes(bytes)
    }

    fn tagged_varint(&mut self, tag: u32, value: u32) -> postcard::Result<()> {
        self.varint(tag)?;
        self.varint(value)
    }
}

/// The unread rest of a body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&byte, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(byte)
    }

    /// A varint of at most `max_len` (≤ 5) bytes whose last possible byte is at most
    /// `last_max`. (u32 arithmetic: a u64 costs twice the code on a Cortex-M0+.)
    fn varint(&mut self, max_len: u32, last_max: u8) -> Option<u32> {
        let mut value = 0u32;
        for i in 0..max_len {
            let byte = self.byte()?;
            // 7 × i ≤ 28: no shift overflows; the bits above 32 of a fifth byte are the
            // ones `last_max` refuses.
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return (i + 1 < max_len || byte <= last_max).then_some(value);
            }
        }
        None
    }

    /// [`varint`](Self::varint) for a 64-bit `usize` (at most 10 bytes).
    #[cfg(target_pointer_width = "64")]
    fn varint64(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return (i < 9 || byte <= 0x01).then_some(value);
            }
        }
        None
    }

    fn u16(&mut self) -> Option<u16> {
        // Accepted values fit: 2 × 7 bits + 2 bits of the third byte.
        self.varint(3, 0x03).map(|v| v as u16)
    }

    fn u32(&mut self) -> Option<u32> {
        // 4 × 7 bits + 4 bits of the fifth byte.
        self.varint(5, 0x0f)
    }

    /// A length: postcard reads `usize` as a varint of the target's pointer width.
    fn len(&mut self) -> Option<usize> {
        #[cfg(target_pointer_width = "64")]
        let len = self.varint64()?;
        #[cfg(not(target_pointer_width = "64"))]
        let len = self.varint(5, 0x0f)?;
        usize::try_from(len).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.len()?;
        if len > self.0.len() {
            return None;
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(bytes)
    }
}

/// The frame in `body`, or `None` when postcard would refuse it or leave bytes over.
pub(crate) fn parse(body: &[u8]) -> Option<Frame<'_>> {
    let mut r = Reader(body);
    let frame = match r.u32()? {
        0 => Frame::Hello {
            version: r.byte()?,
            max_frame: r.u16()?,
            boot_nonce: r.u32()?,
        },
        1 => Frame::Publish {
            topic: r.bytes()?,
            payload: r.bytes()?,
        },
        2 => Frame::Subscribe { topic: r.bytes()? },
        3 => Frame::Unsubscribe { topic: r.bytes()? },
        4 => Frame::Ping { seq: r.u32()? },
        5 => Frame::Pong { seq: r.u32()? },
        6 => Frame::Subscribed { topic: r.bytes()? },
        7 => Frame::Unsubscribed { topic: r.bytes()? },
        8 => Frame::PublishDeclare {
            alias: r.u16()?,
            topic: r.bytes()?,
            payload: r.bytes()?,
        },
        9 => Frame::PublishAlias {
            alias: r.u16()?,
            payload: r.bytes()?,
        },
        10 => Frame::AliasUnknown { alias: r.u16()? },
        11 => Frame::AliasRefused { alias: r.u16()? },
        12 => Frame::PublishBatch {
            batch: Batch::new(r.bytes()?).ok()?,
        },
        _ => return None,
    };
    r.0.is_empty().then_some(frame)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the decoder used before: postcard, whole body consumed.
    fn reference(body: &[u8]) -> Option<Frame<'_>> {
        match postcard::take_from_bytes::<Frame<'_>>(body) {
            Ok((frame, [])) => Some(frame),
            _ => None,
        }
    }

    #[test]
    fn varint_edges_match_postcard() {
        let cases: &[&[u8]] = &[
            &[0, 1, 0x80, 0x00, 0x00],       // Hello, max_frame 0 in 2 bytes, nonce 0
            &[0, 1, 0xff, 0xff, 0x03, 0x00], // max_frame u16::MAX
            &[0, 1, 0xff, 0xff, 0x04, 0x00], // max_frame overflows
            &[0, 1, 0x80, 0x80, 0x80, 0x00, 0x00], // u16 varint of 4 bytes
            &[4, 0xff, 0xff, 0xff, 0xff, 0x0f], // seq u32::MAX
            &[4, 0xff, 0xff, 0xff, 0xff, 0x10], // seq overflows
            &[4, 0x80, 0x80, 0x80, 0x80, 0x00], // seq 0 in 5 bytes
            &[0x80, 0x00, 1, 0, 0],          // tag 0 in 2 bytes
            &[1, 0x80, 0x00, 0x00],          // topic length 0 in 2 bytes
            &[1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00], // length in 6 bytes
            &[1, 0x05, b'a'],                // length past the end
            &[13],
            &[12, 2, 0, 0], // batch: alias 0, empty payload
            &[12, 2, 0, 5], // batch entry cut short
            &[2, 0, 0],     // trailing byte
        ];
        for body in cases {
            assert_eq!(parse(body), reference(body), "body {body:02x?}");
        }
    }

    /// `emit`'s bytes for `frame`.
    fn emitted(frame: &Frame<'_>) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut out = postcard::ser_flavors::Slice::new(&mut buf);
        emit(frame, &mut out).unwrap();
        out.finalize().unwrap().to_vec()
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_match_postcard(body in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(parse(&body), reference(&body));
        }

        #[test]
        fn arbitrary_tagged_bodies_match_postcard(
            tag in 0u8..14,
            rest in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut body = vec![tag];
            body.extend_from_slice(&rest);
            prop_assert_eq!(parse(&body), reference(&body));
        }

        #[test]
        fn mutated_valid_frames_match_postcard(
            variant in 0u8..13,
            a in any::<u32>(),
            topic in proptest::collection::vec(any::<u8>(), 0..200),
            payload in proptest::collection::vec(any::<u8>(), 0..200),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
            cut in any::<usize>(),
        ) {
            let alias = a as u16;
            let entries = [(a & 0x7f) as u8, 1, 0xaa];
            let batch = Batch::new(&entries).unwrap();
            let frame = match variant {
                0 => Frame::Hello { version: a as u8, max_frame: alias, boot_nonce: a },
                1 => Frame::Publish { topic: &topic, payload: &payload },
                2 => Frame::Subscribe { topic: &topic },
                3 => Frame::Unsubscribe { topic: &topic },
                4 => Frame::Ping { seq: a },
                5 => Frame::Pong { seq: a },
                6 => Frame::Subscribed { topic: &topic },
                7 => Frame::Unsubscribed { topic: &topic },
                8 => Frame::PublishDeclare { alias, topic: &topic, payload: &payload },
                9 => Frame::PublishAlias { alias, payload: &payload },
                10 => Frame::AliasUnknown { alias },
                11 => Frame::AliasRefused { alias },
                _ => Frame::PublishBatch { batch },
            };
            let mut buf = [0u8; 512];
            let mut body = postcard::to_slice(&frame, &mut buf).unwrap().to_vec();
            prop_assert_eq!(&emitted(&frame), &body);
            prop_assert_eq!(parse(&body), Some(frame));
            for (at, byte) in flips {
                let at = at % body.len();
                body[at] = byte;
            }
            body.truncate(cut % (body.len() + 1));
            prop_assert_eq!(parse(&body), reference(&body));
        }
    }
}
