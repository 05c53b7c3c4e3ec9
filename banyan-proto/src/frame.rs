//! Serial link frames between the host gateway and a microcontroller.
//!
//! The link is a plain byte stream (a UART, a USB CDC port, a TCP socket to QEMU). Each
//! message on it is one [`Frame`], encoded by [`encode`] and decoded by a [`FrameDecoder`]
//! that is fed whatever chunks the transport delivers. This module is the only code that
//! knows these bytes; the gateway and the firmware both call it.
//!
//! # Wire format
//!
//! ```text
//!  ┌──────────────────────── COBS-encoded: no 0x00 inside ───────────────────────┐
//!  │ body = postcard(Frame)  (≤ max_frame bytes)  │ CRC-32 of body, little-endian │ 00
//!  └─────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! 1. **Body**: the [`Frame`] serialized with [postcard] 1.x: a varint variant tag, then the
//!    variant's fields in order (table below).
//! 2. **CRC**: CRC-32/ISO-HDLC of the body (the zlib / Ethernet / PNG CRC: poly 0x04C11DB7
//!    reflected, init and xor-out 0xFFFFFFFF, check value 0xCBF43926), appended as 4 bytes
//!    **little-endian**. A host tool checks a decoded frame with Python's
//!    `zlib.crc32(body).to_bytes(4, "little") == frame[-4:]`.
//! 3. **COBS**: body + CRC are COBS-encoded (Consistent Overhead Byte Stuffing), which removes
//!    every 0x00 byte at the cost of 1 code byte per started run of up to 254 non-zero bytes:
//!    between 1 and ⌊(body+4)/254⌋ + 1 bytes, exactly 1 when body + CRC is under 254 bytes.
//! 4. **Delimiter**: one 0x00 byte ends the frame. A receiver that lost bytes (reset, noise,
//!    a frame too large for its buffer) skips to the next 0x00 and is in sync again.
//!
//! Any number of extra 0x00 bytes between frames is allowed and ignored (a sender may emit one
//! before its first frame to flush a receiver's half-received garbage).
//!
//! Why CRC-32 rather than CRC-16: frames may be up to several hundred bytes, where CRC-32 still
//! detects every error of up to 3 flipped bits and every burst up to 32 bits, while CRC-16
//! misses 1 in 65 536 random corruptions; the 2 extra bytes are cheap next to a msgpack
//! payload, and every host language can check it with its standard zlib binding. The `crc`
//! crate's table implementation costs 1 KiB of flash; the feature `small-crc` computes the
//! same CRC bit by bit instead (the `crc` crate's `NoTable`: no table, ~8× slower per byte,
//! still far faster than any serial link; for firmware whose flash is tight).
//!
//! ## Postcard encoding of the fields
//!
//! * **varint**: LEB128 — 7 value bits per byte, least significant group first, high bit set on
//!   every byte except the last. `u16` takes 1–3 bytes, `u32` 1–5. Values below 128 take 1.
//! * **`u8`**: one raw byte.
//! * **bytes** (`topic`, `payload`): varint length, then the bytes verbatim. Topics are the
//!   UTF-8 bytes of the Banyan topic string (the same wire as a postcard `&str`); payloads are
//!   the msgpack bytes of the ZeroMQ message's second frame, forwarded untouched.
//!
//! | tag | variant | fields after the tag, in order |
//! |----:|---------|--------------------------------|
//! | 0 | [`Frame::Hello`] | `version`: u8 (1 raw byte) · `max_frame`: u16 varint · `boot_nonce`: u32 varint |
//! | 1 | [`Frame::Publish`] | `topic`: varint len + bytes · `payload`: varint len + bytes |
//! | 2 | [`Frame::Subscribe`] | `topic`: varint len + bytes |
//! | 3 | [`Frame::Unsubscribe`] | `topic`: varint len + bytes |
//! | 4 | [`Frame::Ping`] | `seq`: u32 varint |
//! | 5 | [`Frame::Pong`] | `seq`: u32 varint |
//! | 6 | [`Frame::Subscribed`] | `topic`: varint len + bytes |
//! | 7 | [`Frame::Unsubscribed`] | `topic`: varint len + bytes |
//! | 8 | [`Frame::PublishDeclare`] (v2) | `alias`: u16 varint · `topic`: varint len + bytes · `payload`: varint len + bytes |
//! | 9 | [`Frame::PublishAlias`] (v2) | `alias`: u16 varint · `payload`: varint len + bytes |
//! | 10 | [`Frame::AliasUnknown`] (v2) | `alias`: u16 varint |
//! | 11 | [`Frame::AliasRefused`] (v2) | `alias`: u16 varint |
//! | 12 | [`Frame::PublishBatch`] (v2) | `batch`: varint len + entries, each `alias` u16 varint · `payload` varint len + bytes |
//!
//! Tags are the declaration order of [`Frame`]'s variants, so **variants are only ever
//! appended**, never reordered or removed. A decoder that meets a tag it does not know
//! reports [`CorruptKind::UnknownTag`]. A body with bytes left after the last field is
//! rejected ([`CorruptKind::Body`]): a frame has exactly one encoding per version.
//!
//! ## Example, byte by byte
//!
//! `Publish { topic: b"echo", payload: msgpack({"message_number": 10}) }` where the payload is
//! Python's `msgpack.packb({'message_number': 10}, use_bin_type=True)` (17 bytes). This is the
//! golden frame checked in `tests/frame_golden.rs`.
//!
//! | wire offset | bytes | meaning |
//! |-----:|-------|---------|
//! | 0 | `1d` | COBS code: 29 − 1 = 28 non-zero bytes follow before the (implicit) end |
//! | 1 | `01` | postcard tag 1 = `Publish` |
//! | 2 | `04` | topic length 4 (varint) |
//! | 3–6 | `65 63 68 6f` | `"echo"` |
//! | 7 | `11` | payload length 17 (varint) |
//! | 8–24 | `81 ae 6d … 72 0a` | msgpack payload, verbatim |
//! | 25–28 | `3d 38 9c 27` | CRC-32 of the body (wire bytes 1–24) = `0x279C383D`, little-endian |
//! | 29 | `00` | frame delimiter |
//!
//! This frame has no 0x00 in body or CRC, so COBS only adds the leading code byte. Each 0x00
//! that does occur is replaced by the distance to the next 0x00 (or to the end of the block),
//! and the leading code byte holds the distance to the first one. `Publish` with an empty topic
//! and payload has body `01 00 00`, CRC `0xFE83B325`:
//!
//! | wire offset | bytes | meaning |
//! |-----:|-------|---------|
//! | 0 | `02` | COBS code: 1 data byte, then a 0x00 |
//! | 1 | `01` | tag 1 = `Publish` |
//! | 2 | `01` | stands for the topic length `00`; next 0x00 is 1 byte on |
//! | 3 | `05` | stands for the payload length `00`; 4 data bytes follow, then the end |
//! | 4–7 | `25 b3 83 fe` | CRC-32, little-endian |
//! | 8 | `00` | frame delimiter |
//!
//! ## Overhead
//!
//! For a publish whose body + CRC stay under 254 bytes, with topic and payload each under 128
//! bytes: wire length = topic + payload + **9** (tag 1, two length bytes 2, CRC 4, COBS 1,
//! delimiter 1). A 16-byte payload on topic `"echo"` is 29 bytes on the wire, 13 bytes more
//! than the payload. Larger frames add 1 byte per further varint length byte and per 254
//! bytes of body + CRC; [`max_encoded_len`] gives the bound for buffer sizing.
//!
//! | frame | body | wire |
//! |-------|-----:|-----:|
//! | `Ping { seq: 1 }` | 2 | 8 |
//! | `Hello { version: 1, max_frame: 512, boot_nonce: 7 }` | 5 | 11 |
//! | `Subscribe { topic: b"echo" }` | 6 | 12 |
//! | `Publish` "echo", 16-byte payload | 23 | 29 |
//! | `Publish`, body of [`DEFAULT_MAX_FRAME`] = 512 bytes | 512 | ≤ [`max_encoded_len`]`(512)` = 520 |
//!
//! # Session
//!
//! Each side sends [`Frame::Hello`] when it starts, with [`PROTOCOL_VERSION`], the largest
//! body it accepts and a nonce drawn at boot. A `Hello` with a new nonce means the peer
//! restarted: its subscriptions are gone and must be sent again. A side must not send a frame
//! whose body ([`body_len`]) exceeds the peer's `max_frame`. [`Frame::Ping`] / [`Frame::Pong`]
//! (echoing `seq`) check that the peer is alive. A gateway that has not yet received a `Hello`
//! since it started answers the MCU's first frame and each of its `Ping`s with its own `Hello`
//! as well, so that an MCU that missed the greeting of a restarted gateway still learns the
//! new nonce.
//!
//! ## Subscriptions on the link are a set, and acknowledged
//!
//! The link loses, corrupts and duplicates frames, so a subscription must survive being sent
//! twice and being re-sent. On the link, `Subscribe` and `Unsubscribe` are therefore
//! **idempotent**: the gateway keeps a *set* of topics per link (a second `Subscribe` of a held
//! topic changes nothing, an `Unsubscribe` of a topic not held changes nothing), and it answers
//! each of them with the topic's resulting state:
//!
//! * [`Frame::Subscribed`] once the subscription is **in force** on the backplane (proven by a
//!   probe round trip, so a message published after it arrives is delivered);
//! * [`Frame::Unsubscribed`] once it is gone — also in answer to a `Subscribe` the gateway
//!   refused (its subscription table is full, the topic is too long or not UTF-8).
//!
//! A client re-sends an unanswered `Subscribe`/`Unsubscribe` until the answer comes; the answer
//! says the state, not "your frame number n arrived", so duplicates and re-sends are harmless.
//! (ZeroMQ-style reference counting, where two `Subscribe`s need two `Unsubscribe`s, is the
//! business of the application on the MCU, not of a lossy link.) A `Publish` that follows a
//! `Subscribe` on the link reaches the backplane only after that subscription is in force, so
//! a reply to it cannot overtake the subscription. Tags 6 and 7 were appended in the same
//! protocol version 1: a peer that predates them drops them as [`CorruptKind::UnknownTag`],
//! which costs it nothing.
//!
//! ## Topic aliases and batches (version 2)
//!
//! A `Publish` carries its whole topic: `sensor/pico` + `{'v': n}` is 24–26 bytes on the
//! wire, of which 11 are the topic. Version 2 lets a sender declare a topic once per link
//! session and then send a 1–3 byte alias (as zenoh-pico declares resources), and lets the MCU
//! put several publishes into one frame with one CRC:
//!
//! * **Negotiation.** `Hello.version` is the highest version the sender speaks. A side sends
//!   tags 8–12 only to a peer whose last `Hello` said ≥ [`ALIAS_VERSION`]; a version 1 peer
//!   (an old gateway or MCU) therefore never sees them and both sides speak version 1 frames
//!   to it. (A version 1 peer only logs the other's higher version; no frame is needed to
//!   negotiate, and the `Hello` body is unchanged, which a version 1 decoder requires: it
//!   rejects trailing bytes.) A client configured without aliases announces version 1.
//! * **Sessions.** A link session starts with a `Hello` of either side; both alias tables
//!   (the aliases each side declared) start empty then. The gateway also forgets which of its
//!   declarations arrived when the link reopens.
//! * **Declaring.** The first publish on a topic is a [`Frame::PublishDeclare`]: a whole
//!   publish that also binds the alias, so a declaration costs no extra frame or round trip.
//!   Later publishes on it are [`Frame::PublishAlias`]. An alias is bound once per session,
//!   never re-bound to another topic: a lost re-binding would make the receiver publish on the
//!   wrong topic. A sender whose table is full sends full `Publish` frames for more topics.
//! * **Bounded, and errors recover.** Each receiver holds a fixed number of aliases (gateway
//!   64, MCU client 4 per direction). An alias beyond the table is answered with
//!   [`Frame::AliasRefused`] (the message itself is still published: the declaration carries
//!   the topic), and the sender declares no alias at or above it. A `PublishAlias` with an
//!   alias the receiver does not know (its declaration was lost, or the receiver restarted) is
//!   dropped and counted, never guessed, and answered with [`Frame::AliasUnknown`]; the
//!   sender's next publish on that topic declares it again. Loss is bounded by one round trip.
//! * **Batches.** [`Frame::PublishBatch`] carries `(alias, payload)` entries of declared
//!   aliases; the receiver publishes them one by one, in order (an unknown alias in a batch
//!   loses only its entry). The batch's entries are validated when the frame is decoded, so
//!   a [`Batch`] that exists iterates without failure. Only the MCU batches: the gateway's
//!   deliveries are one frame each (its host is not the bottleneck).
//!
//! | frame (`sensor/pico`, `{'v': 1000}` = 6 bytes) | wire bytes | per reading |
//! |---|---:|---:|
//! | `Publish` (v1) | 26 | 26 |
//! | `PublishDeclare`, alias 0 (first reading) | 27 | 27 |
//! | `PublishAlias`, alias 0 | 15 | 15 |
//! | `PublishBatch` of 10 readings | 88 | 8.8 |
//!
//! Golden frames of version 2 are made by `golden/gen_frames.py` (Python's `zlib` and
//! `msgpack`, independent of this crate) and checked in `tests/frame_golden.rs`.
//!
//! # Panics
//!
//! Nothing in this module panics on any input: encoding into a too-small buffer is an
//! [`FrameError`], and every byte sequence fed to a [`FrameDecoder`] yields frames or
//! [`FeedResult`] values (checked by property tests and the `frame_decoder` fuzz target).

use core::fmt;

use postcard::ser_flavors::{Cobs, Flavor, Size, Slice};
use serde::{Deserialize, Serialize};

mod batch;
mod decoder;
mod parse;

pub use batch::{Batch, BatchError, BatchIter, BatchWriter, entry_len, write_entry};
pub use decoder::{CorruptKind, FeedResult, FrameDecoder};

/// Version of the serial protocol carried in [`Frame::Hello`]: the highest version the sender
/// speaks. Version 2 added topic aliases and batches (tags 8–12); a side uses them only
/// towards a peer whose `Hello` announced at least [`ALIAS_VERSION`], so version 1 peers
/// never see them (see the [module docs](self#topic-aliases-and-batches-version-2)).
pub const PROTOCOL_VERSION: u8 = 2;

/// The first protocol version with topic aliases and batches.
pub const ALIAS_VERSION: u8 = 2;

/// Default largest frame body (postcard bytes, before CRC and COBS) a side accepts, as
/// announced in [`Frame::Hello::max_frame`](Frame::Hello).
pub const DEFAULT_MAX_FRAME: usize = 512;

/// Number of CRC bytes after the body.
pub const CRC_LEN: usize = 4;

/// The frame delimiter.
pub const DELIMITER: u8 = 0x00;

/// Tag of the last variant of [`Frame`]; larger tags are unknown to this version.
pub(crate) const MAX_TAG: u8 = 12;

/// How the `crc` crate computes the CRC: a 256-entry table (1 KiB of flash, one lookup per
/// byte), or bit by bit with the feature `small-crc` (no table, 8 shift steps per byte).
#[cfg(not(feature = "small-crc"))]
pub(crate) type CrcImpl = crc::Table<1>;
/// How the `crc` crate computes the CRC: a 256-entry table (1 KiB of flash, one lookup per
/// byte), or bit by bit with the feature `small-crc` (no table, 8 shift steps per byte).
#[cfg(feature = "small-crc")]
pub(crate) type CrcImpl = crc::NoTable;

/// CRC-32/ISO-HDLC (zlib's `crc32`). A `static` so that its table (if any) exists once.
pub(crate) static CRC32: crc::Crc<u32, CrcImpl> =
    crc::Crc::<u32, CrcImpl>::new(&crc::CRC_32_ISO_HDLC);

/// A postcard flavor that feeds every byte through the CRC digest and appends the CRC
/// (little-endian) on finalize: postcard's own `CrcModifier`, but for either [`CrcImpl`]
/// (postcard's takes only the `crc` crate's default table implementation).
struct CrcAppend<'c, B: Flavor> {
    inner: B,
    digest: crc::Digest<'c, u32, CrcImpl>,
}

impl<B: Flavor> Flavor for CrcAppend<'_, B> {
    type Output = B::Output;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.digest.update(&[data]);
        self.inner.try_push(data)
    }

    fn finalize(mut self) -> postcard::Result<Self::Output> {
        let crc = self.digest.finalize();
        self.inner.try_extend(&crc.to_le_bytes())?;
        self.inner.finalize()
    }
}

/// Upper bound on the wire length of a frame whose body is `body_len` bytes: body, CRC,
/// worst-case COBS overhead (⌊(body+4)/254⌋ + 1) and the delimiter.
///
/// Use it to size encode buffers, and as the `N` of a [`FrameDecoder`]: a
/// `FrameDecoder<{ max_encoded_len(M) }>` accepts every frame whose body is at most `M`
/// bytes.
pub const fn max_encoded_len(body_len: usize) -> usize {
    let cobs_input = body_len + CRC_LEN;
    cobs_input + cobs_input / 254 + 1 + 1
}

/// A frame on the serial link. It borrows its topic and payload bytes, from the caller when
/// encoding and from the [`FrameDecoder`]'s buffer when decoding.
///
/// Serialized with postcard; the variant index is the tag on the wire (documented in the
/// [module docs](self)). **Append new variants only.**
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// Tag 0. Sent by each side when it (re)starts.
    Hello {
        /// The sender's [`PROTOCOL_VERSION`].
        version: u8,
        /// Largest frame body, in bytes, the sender accepts.
        max_frame: u16,
        /// A value drawn at boot (random, or a boot counter): a `Hello` with a different nonce
        /// tells the receiver that the sender restarted and lost its state.
        boot_nonce: u32,
    },
    /// Tag 1. A Banyan message: ZeroMQ frame 1 (topic) and frame 2 (msgpack payload).
    Publish {
        /// Topic bytes (UTF-8 for Banyan).
        #[serde(borrow, with = "serde_bytes")]
        topic: &'a [u8],
        /// msgpack bytes, forwarded verbatim to and from ZeroMQ.
        #[serde(borrow, with = "serde_bytes")]
        payload: &'a [u8],
    },
    /// Tag 2. The sender wants messages whose topic starts with `topic` (ZeroMQ prefix rules;
    /// empty = everything). Idempotent: subscribing a topic the link already holds changes
    /// nothing. Answered with [`Frame::Subscribed`] (in force) or [`Frame::Unsubscribed`]
    /// (refused); see the [module docs](self#subscriptions-on-the-link-are-a-set-and-acknowledged).
    Subscribe {
        /// Topic prefix.
        #[serde(borrow, with = "serde_bytes")]
        topic: &'a [u8],
    },
    /// Tag 3. Removes the link's subscription to exactly this topic (idempotent). Answered
    /// with [`Frame::Unsubscribed`].
    Unsubscribe {
        /// Topic prefix, exactly as subscribed.
        #[serde(borrow, with = "serde_bytes")]
        topic: &'a [u8],
    },
    /// Tag 4. Keep-alive request; the peer answers [`Frame::Pong`] with the same `seq`.
    Ping {
        /// Sequence number chosen by the sender.
        seq: u32,
    },
    /// Tag 5. Answer to [`Frame::Ping`].
    Pong {
        /// The `seq` of the ping being answered.
        seq: u32,
    },
    /// Tag 6. Gateway → MCU: the link's subscription to `topic` is in force on the backplane
    /// (the answer to a [`Frame::Subscribe`], sent again for each repeated one).
    Subscribed {
        /// Topic prefix, exactly as subscribed.
        #[serde(borrow, with = "serde_bytes")]
        topic: &'a [u8],
    },
    /// Tag 7. Gateway → MCU: the link holds no subscription to `topic` (the answer to a
    /// [`Frame::Unsubscribe`], or to a [`Frame::Subscribe`] the gateway refused).
    Unsubscribed {
        /// Topic prefix, exactly as sent.
        #[serde(borrow, with = "serde_bytes")]
        topic: &'a [u8],
    },
    /// Tag 8 (version 2). A `Publish` that also binds `alias` to `topic` for the rest of the
    /// sender's link session (until a `Hello` of either side). Re-binding an alias to another
    /// topic is not allowed (a lost re-binding would misdeliver); a receiver that cannot hold
    /// `alias` publishes the message and answers [`Frame::AliasRefused`].
    PublishDeclare {
        /// The alias the sender will use for `topic`.
        alias: u16,
        /// Topic bytes (UTF-8 for Banyan).
        #[serde(borrow, with = "serde_bytes")]
        topic: &'a [u8],
        /// msgpack bytes, verbatim.
        #[serde(borrow, with = "serde_bytes")]
        payload: &'a [u8],
    },
    /// Tag 9 (version 2). A `Publish` on a topic declared with [`Frame::PublishDeclare`]. A
    /// receiver that does not know `alias` drops the message (counted) and answers
    /// [`Frame::AliasUnknown`].
    PublishAlias {
        /// A declared alias.
        alias: u16,
        /// msgpack bytes, verbatim.
        #[serde(borrow, with = "serde_bytes")]
        payload: &'a [u8],
    },
    /// Tag 10 (version 2). "I do not know this alias": the sender declares it again (its next
    /// publish on that topic is a [`Frame::PublishDeclare`]).
    AliasUnknown {
        /// The alias the receiver did not know.
        alias: u16,
    },
    /// Tag 11 (version 2). "My alias table does not reach this alias": the sender publishes
    /// that topic with full [`Frame::Publish`] frames and declares no alias at or above it.
    AliasRefused {
        /// The refused alias.
        alias: u16,
    },
    /// Tag 12 (version 2). Several publishes on declared aliases in one frame (one CRC),
    /// published by the receiver one by one, in order.
    PublishBatch {
        /// The entries: `alias` u16 varint · `payload` varint length + bytes, repeated.
        #[serde(borrow)]
        batch: Batch<'a>,
    },
}

impl<'a> Frame<'a> {
    /// The topic of a `Publish`, `Subscribe`, `Unsubscribe`, `Subscribed`, `Unsubscribed` or
    /// `PublishDeclare` frame.
    pub fn topic(&self) -> Option<&'a [u8]> {
        match *self {
            Frame::Publish { topic, .. }
            | Frame::Subscribe { topic }
            | Frame::Unsubscribe { topic }
            | Frame::Subscribed { topic }
            | Frame::Unsubscribed { topic }
            | Frame::PublishDeclare { topic, .. } => Some(topic),
            Frame::Hello { .. }
            | Frame::Ping { .. }
            | Frame::Pong { .. }
            | Frame::PublishAlias { .. }
            | Frame::AliasUnknown { .. }
            | Frame::AliasRefused { .. }
            | Frame::PublishBatch { .. } => None,
        }
    }

    /// A `Hello` with this crate's [`PROTOCOL_VERSION`].
    pub const fn hello(max_frame: u16, boot_nonce: u32) -> Frame<'static> {
        Frame::Hello {
            version: PROTOCOL_VERSION,
            max_frame,
            boot_nonce,
        }
    }
}

/// Why [`encode`] failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// The output buffer cannot hold the encoded frame; [`max_encoded_len`] of
    /// [`body_len`] is always enough.
    BufferTooSmall,
    /// postcard refused to serialize the frame. The current [`Frame`] type cannot cause it;
    /// it exists so that a serializer failure is never misreported as a full buffer.
    Serialize,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameError::BufferTooSmall => "buffer too small for the encoded frame",
            FrameError::Serialize => "frame could not be serialized",
        })
    }
}

impl core::error::Error for FrameError {}

impl From<postcard::Error> for FrameError {
    fn from(e: postcard::Error) -> Self {
        match e {
            postcard::Error::SerializeBufferFull => FrameError::BufferTooSmall,
            _ => FrameError::Serialize,
        }
    }
}

/// Length in bytes of the frame's body (its postcard encoding, before CRC and COBS): the
/// number to compare with the peer's `max_frame`.
pub fn body_len(frame: &Frame<'_>) -> usize {
    // The `Size` flavor never fails and `Frame` always serializes; 0 is unreachable.
    let mut size = Size::default();
    match parse::emit(frame, &mut size) {
        Ok(()) => size.finalize().unwrap_or(0),
        Err(_) => 0,
    }
}

/// Encodes `frame` into `buf` as complete wire bytes (COBS(body ‖ CRC) followed by the 0x00
/// delimiter) and returns how many bytes were written. Bytes of `buf` past that are left as
/// they were; bytes before it may have been written even on error.
///
/// # Errors
/// [`FrameError::BufferTooSmall`] when `buf` is shorter than the encoding;
/// `max_encoded_len(body_len(frame))` always suffices.
pub fn encode(frame: &Frame<'_>, buf: &mut [u8]) -> Result<usize, FrameError> {
    // postcard pushes each body byte through the CRC digest into the streaming COBS encoder;
    // on finalize the digest appends the CRC (little-endian) and COBS appends the 0x00.
    let cobs = Cobs::try_new(Slice::new(buf))?;
    let mut flavor = CrcAppend {
        inner: cobs,
        digest: CRC32.digest(),
    };
    // The body as postcard serializes it (`parse::emit`, checked against postcard in tests).
    parse::emit(frame, &mut flavor)?;
    Ok(flavor.finalize()?.len())
}

/// Encodes `frame` into a new `Vec` (wire bytes including the delimiter).
///
/// # Errors
/// Only [`FrameError::Serialize`], which the current [`Frame`] type cannot cause: the buffer
/// is sized with [`max_encoded_len`].
#[cfg(feature = "std")]
pub fn encode_to_vec(frame: &Frame<'_>) -> Result<std::vec::Vec<u8>, FrameError> {
    let mut buf = std::vec![0; max_encoded_len(body_len(frame))];
    let n = encode(frame, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}
