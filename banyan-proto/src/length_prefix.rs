//! Python Banyan's TCP gateway framing (`tgw`, python-banyan 3.17): one length byte, then the
//! msgpack payload.
//!
//! This is the framing Python Banyan's own MicroPython scripts for the Raspberry Pi Pico W use
//! (`python_banyan/utils/tcp_gateway/pico_micropython_scripts/`), in both directions of the
//! TCP connection between the gateway and the device:
//!
//! ```text
//!  ┌─────────┬──────────────────────────────┐
//!  │ len: u8 │ payload: `len` bytes          │   len = 0 … 255
//!  └─────────┴──────────────────────────────┘
//! ```
//!
//! * **No topic.** Towards the device the Banyan topic is dropped (only the msgpack payload of
//!   the ZeroMQ message is sent); from the device, the gateway publishes each payload on one
//!   configured topic.
//! * **At most [`MAX_PAYLOAD`] (255) bytes**: the length is a single byte
//!   (`len(msg).to_bytes(1, 'big')` in Python). Python's gateway raises `OverflowError` on a
//!   longer payload and its receive task dies; [`encode`] returns
//!   [`EncodeError::TooLong`] instead, so the caller can drop and count it.
//! * **A zero length** is a frame with an empty payload. The framing stays in sync after it;
//!   whether an empty payload means anything is the caller's business (it is not msgpack).
//! * **No resynchronisation.** Every byte sequence is a valid sequence of frames, so the
//!   decoder has no error state: after a lost byte the stream stays misaligned until the
//!   connection is reopened — [`LengthPrefixDecoder::reset`] on every new connection. (The
//!   framing has no checksum; TCP supplies integrity.)
//!
//! # Decoding
//! [`LengthPrefixDecoder`] is sans-IO: feed it whatever chunks the socket delivers (a length
//! byte alone, half a payload, three frames at once) and it yields each complete frame,
//! borrowing its own fixed 255-byte buffer. It never allocates, never panics, and needs no
//! more memory for any input. Python's gateway instead calls `read(length)`, which may return
//! fewer bytes than asked, and then misframes the rest of the stream.
//!
//! ```
//! use banyan_proto::length_prefix::{encode, Feed, LengthPrefixDecoder};
//!
//! // {'pico_data': 0} as the Pico's umsgpack packs it, framed.
//! let payload = b"\x81\xa9pico_data\x00";
//! let mut wire = [0u8; 16];
//! let n = encode(payload, &mut wire).unwrap();
//! assert_eq!(&wire[..n], b"\x0c\x81\xa9pico_data\x00");
//!
//! let mut decoder = LengthPrefixDecoder::new();
//! let mut frames = 0;
//! for chunk in wire[..n].chunks(3) {
//!     let mut input = chunk;
//!     while let Feed::Frame { payload: got, remaining } = decoder.feed(input) {
//!         assert_eq!(got, payload);
//!         frames += 1;
//!         input = remaining;
//!     }
//! }
//! assert_eq!(frames, 1);
//! ```

use core::fmt;

/// Largest payload the one-byte length can describe.
pub const MAX_PAYLOAD: usize = u8::MAX as usize;

/// Largest encoded frame: the length byte and [`MAX_PAYLOAD`] bytes.
pub const MAX_FRAME: usize = MAX_PAYLOAD + 1;

/// Bytes a frame for a payload of `payload_len` bytes takes on the wire (valid lengths only).
pub const fn encoded_len(payload_len: usize) -> usize {
    payload_len + 1
}

/// Why a payload could not be framed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The payload is longer than [`MAX_PAYLOAD`] bytes: its length does not fit the length
    /// byte.
    TooLong {
        /// The payload's length.
        len: usize,
    },
    /// The output buffer is shorter than [`encoded_len`] of the payload.
    BufferFull,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => write!(
                f,
                "payload is {len} bytes; the one-byte length allows at most {MAX_PAYLOAD}"
            ),
            Self::BufferFull => f.write_str("output buffer too small for the frame"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// The length byte for a payload of `payload_len` bytes, or [`EncodeError::TooLong`].
pub fn length_byte(payload_len: usize) -> Result<u8, EncodeError> {
    u8::try_from(payload_len).map_err(|_| EncodeError::TooLong { len: payload_len })
}

/// Writes the frame for `payload` (length byte, then the payload) to the start of `out` and
/// returns its length.
///
/// Errors: [`EncodeError::TooLong`] for a payload over [`MAX_PAYLOAD`] bytes (nothing is
/// written), [`EncodeError::BufferFull`] when `out` is too short.
pub fn encode(payload: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    let length = length_byte(payload.len())?;
    let total = encoded_len(payload.len());
    let frame = out.get_mut(..total).ok_or(EncodeError::BufferFull)?;
    let (head, body) = frame.split_at_mut(1);
    head[0] = length;
    body.copy_from_slice(payload);
    Ok(total)
}

/// [`encode`] into a new vector (feature `std`).
#[cfg(feature = "std")]
pub fn encode_to_vec(payload: &[u8]) -> Result<std::vec::Vec<u8>, EncodeError> {
    let length = length_byte(payload.len())?;
    let mut frame = std::vec::Vec::with_capacity(encoded_len(payload.len()));
    frame.push(length);
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// What [`LengthPrefixDecoder::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'me, 'a> {
    /// All input was consumed without completing a frame; feed more bytes.
    Consumed,
    /// A complete frame (possibly with an empty payload), borrowing the decoder's buffer.
    Frame {
        /// The frame's payload, without the length byte.
        payload: &'me [u8],
        /// The input after the frame: feed it again until it is empty.
        remaining: &'a [u8],
    },
}

// By hand: defmt's derive cannot pick between its `[u8]` and `&T` impls for two borrowed
// byte slices of different lifetimes.
#[cfg(feature = "defmt")]
impl defmt::Format for Feed<'_, '_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Self::Consumed => defmt::write!(f, "Consumed"),
            Self::Frame { payload, remaining } => defmt::write!(
                f,
                "Frame {{ payload: {=[u8]}, remaining: {=[u8]} }}",
                payload,
                remaining
            ),
        }
    }
}

/// Reassembles length-prefixed frames from a byte stream delivered in arbitrary chunks; see
/// the module docs. Holds at most one partial frame in a fixed [`MAX_PAYLOAD`]-byte buffer.
#[derive(Debug, Clone)]
pub struct LengthPrefixDecoder {
    buf: [u8; MAX_PAYLOAD],
    /// Payload length of the frame being received, once its length byte has come.
    expected: Option<u8>,
    /// Payload bytes of that frame held in `buf`.
    len: usize,
}

impl Default for LengthPrefixDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl LengthPrefixDecoder {
    /// An empty decoder, waiting for a length byte.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_PAYLOAD],
            expected: None,
            len: 0,
        }
    }

    /// Drops any partly received frame (call it when the connection is reopened): the next
    /// byte fed is a length byte.
    pub fn reset(&mut self) {
        self.expected = None;
        self.len = 0;
    }

    /// Bytes of an incomplete frame held (its length byte included); 0 between frames.
    pub fn pending(&self) -> usize {
        match self.expected {
            Some(_) => 1 + self.len,
            None => 0,
        }
    }

    /// Feeds bytes from the stream and returns the first frame they complete, with the rest
    /// of `input`, or [`Feed::Consumed`] when they complete none. Never panics.
    pub fn feed<'me, 'a>(&'me mut self, input: &'a [u8]) -> Feed<'me, 'a> {
        let mut input = input;
        let expected = match self.expected {
            Some(expected) => usize::from(expected),
            None => {
                let Some((&length, rest)) = input.split_first() else {
                    return Feed::Consumed;
                };
                input = rest;
                self.expected = Some(length);
                self.len = 0;
                usize::from(length)
            }
        };
        let missing = expected.saturating_sub(self.len);
        let take = missing.min(input.len());
        let (body, remaining) = input.split_at(take);
        let end = self.len + take;
        // `end <= expected <= MAX_PAYLOAD`, the buffer's length; `get_mut` keeps it panic-free.
        if let Some(dest) = self.buf.get_mut(self.len..end) {
            dest.copy_from_slice(body);
        }
        self.len = end;
        if self.len < expected {
            return Feed::Consumed;
        }
        self.expected = None;
        self.len = 0;
        Feed::Frame {
            payload: self.buf.get(..expected).unwrap_or(&[]),
            remaining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`encode`] into a vector (the std-only `encode_to_vec` is absent in a no-feature test
    /// build).
    fn encode_to_vec(payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let mut out = vec![0u8; encoded_len(payload.len())];
        let n = encode(payload, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// Every frame `feed` yields for `chunks`, in order.
    fn decode_chunks<'c>(
        decoder: &mut LengthPrefixDecoder,
        chunks: impl IntoIterator<Item = &'c [u8]>,
    ) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        for chunk in chunks {
            let mut input = chunk;
            while let Feed::Frame { payload, remaining } = decoder.feed(input) {
                frames.push(payload.to_vec());
                input = remaining;
            }
        }
        frames
    }

    /// An independent model: walk the stream by index.
    fn model(stream: &[u8]) -> (Vec<Vec<u8>>, usize) {
        let (mut frames, mut at) = (Vec::new(), 0);
        while at < stream.len() {
            let len = usize::from(stream[at]);
            if at + 1 + len > stream.len() {
                return (frames, stream.len() - at);
            }
            frames.push(stream[at + 1..at + 1 + len].to_vec());
            at += 1 + len;
        }
        (frames, 0)
    }

    /// Golden bytes printed by Python Banyan's own `byte_play.py` (`{'pico_data': 0}`, umsgpack) and
    /// `msgpack.packb({'Led_0': 1}, use_bin_type=True)` as the gateway frames it.
    #[test]
    fn golden_frames() {
        let mut out = [0u8; MAX_FRAME];
        let n = encode(b"\x81\xa9pico_data\x00", &mut out).unwrap();
        assert_eq!(&out[..n], b"\x0c\x81\xa9pico_data\x00");
        let n = encode(b"\x81\xa5Led_0\x01", &mut out).unwrap();
        assert_eq!(&out[..n], b"\x08\x81\xa5Led_0\x01");
        assert_eq!(encode_to_vec(b"").unwrap(), [0]);
    }

    #[test]
    fn limits() {
        let mut out = [0u8; MAX_FRAME + 1];
        let max = [7u8; MAX_PAYLOAD];
        assert_eq!(encode(&max, &mut out), Ok(MAX_FRAME));
        assert_eq!(out[0], 255);
        assert_eq!(
            encode(&[0; 256], &mut out),
            Err(EncodeError::TooLong { len: 256 })
        );
        assert_eq!(
            encode_to_vec(&[0; 1000]),
            Err(EncodeError::TooLong { len: 1000 })
        );
        assert_eq!(encode(b"abc", &mut out[..3]), Err(EncodeError::BufferFull));
        assert_eq!(
            EncodeError::TooLong { len: 300 }.to_string(),
            "payload is 300 bytes; the one-byte length allows at most 255"
        );
    }

    #[test]
    fn zero_length_frames_and_split_length_byte() {
        let mut decoder = LengthPrefixDecoder::new();
        assert_eq!(decoder.feed(&[]), Feed::Consumed);
        let frames = decode_chunks(&mut decoder, [&[0u8, 0, 2][..], b"a", &[b'b', 0]]);
        assert_eq!(frames, [vec![], vec![], b"ab".to_vec(), vec![]]);
        assert_eq!(decoder.pending(), 0);
        // A length byte alone, then its payload byte by byte.
        assert_eq!(decoder.feed(&[3]), Feed::Consumed);
        assert_eq!(decoder.pending(), 1);
        assert_eq!(decoder.feed(b"x"), Feed::Consumed);
        assert_eq!(decoder.pending(), 2);
        assert_eq!(decoder.feed(b"y"), Feed::Consumed);
        assert_eq!(
            decoder.feed(b"z\x01"),
            Feed::Frame {
                payload: b"xyz",
                remaining: b"\x01"
            }
        );
    }

    #[test]
    fn reset_drops_a_partial_frame() {
        let mut decoder = LengthPrefixDecoder::new();
        assert_eq!(decoder.feed(&[200, 1, 2, 3]), Feed::Consumed);
        assert_eq!(decoder.pending(), 4);
        decoder.reset();
        assert_eq!(decoder.pending(), 0);
        assert_eq!(decode_chunks(&mut decoder, [&[1u8, 9][..]]), [vec![9u8]]);
    }

    #[test]
    fn max_payload_frame() {
        let mut stream = vec![255u8];
        stream.extend((0..255).map(|i| i as u8));
        stream.extend([1, 42]);
        let mut decoder = LengthPrefixDecoder::new();
        let frames = decode_chunks(&mut decoder, [stream.as_slice()]);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), 255);
        assert_eq!(frames[1], [42]);
    }

    proptest! {
        /// Any bytes in any chunking: the frames of the independent model, the same for every
        /// chunking, and the partial tail reported by `pending`.
        #[test]
        fn chunking_invariance(stream in proptest::collection::vec(any::<u8>(), 0..2000),
                               cuts in proptest::collection::vec(0usize..2000, 0..40)) {
            let (expected, tail) = model(&stream);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.push(0);
            cuts.push(stream.len());
            cuts.sort_unstable();
            let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
            let mut decoder = LengthPrefixDecoder::new();
            let frames = decode_chunks(&mut decoder, chunks);
            prop_assert_eq!(&frames, &expected);
            prop_assert_eq!(decoder.pending(), tail);
        }

        /// Encoding then decoding gives the payloads back.
        #[test]
        fn round_trip(payloads in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD), 0..12)) {
            let mut stream = Vec::new();
            for payload in &payloads {
                stream.extend(encode_to_vec(payload).unwrap());
            }
            let mut decoder = LengthPrefixDecoder::new();
            let frames = decode_chunks(&mut decoder, stream.chunks(7));
            prop_assert_eq!(frames, payloads);
        }
    }
}
