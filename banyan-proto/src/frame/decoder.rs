//! Streaming frame decoder with a fixed buffer.

use core::fmt;

use super::{CRC_LEN, CRC32, DELIMITER, Frame, MAX_TAG};

/// Why a complete (delimited) frame was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CorruptKind {
    /// The bytes between two delimiters are not valid COBS.
    Cobs,
    /// The decoded frame is shorter than the 4-byte CRC.
    TooShort,
    /// The CRC-32 does not match the body.
    Crc,
    /// The CRC is right but the body starts with a variant tag this version does not know
    /// (a newer peer, see [`Frame::Hello::version`](Frame::Hello)).
    UnknownTag,
    /// The CRC is right but the body is not a valid postcard [`Frame`], or has bytes after it.
    Body,
}

impl fmt::Display for CorruptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CorruptKind::Cobs => "invalid COBS encoding",
            CorruptKind::TooShort => "frame shorter than its CRC",
            CorruptKind::Crc => "CRC mismatch",
            CorruptKind::UnknownTag => "unknown frame tag",
            CorruptKind::Body => "malformed frame body",
        })
    }
}

impl core::error::Error for CorruptKind {}

/// What [`FrameDecoder::feed`] found. Every variant but `Consumed` carries the input that
/// follows the event: feed it again until it is empty.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FeedResult<'me, 'a> {
    /// All input was consumed without completing a frame; feed more bytes.
    Consumed,
    /// A valid frame, borrowing the decoder's buffer.
    Frame {
        /// The decoded frame.
        frame: Frame<'me>,
        /// Input after the frame's delimiter.
        remaining: &'a [u8],
    },
    /// A delimited frame failed a check and was dropped.
    Corrupt {
        /// Which check failed.
        kind: CorruptKind,
        /// Input after the bad frame's delimiter.
        remaining: &'a [u8],
    },
    /// A frame did not fit in the decoder's buffer. It is reported once, as soon as the buffer
    /// overflows; its bytes are dropped up to and including the next delimiter, which may come
    /// in a later chunk.
    Oversized {
        /// Input after the oversized frame's delimiter, or empty when the delimiter has not
        /// arrived yet.
        remaining: &'a [u8],
    },
}

/// Reassembles frames from a byte stream delivered in arbitrary chunks, in a buffer of `N`
/// bytes (the COBS-encoded frame without its delimiter must fit; size it with
/// [`max_encoded_len`](super::max_encoded_len)).
///
/// Empty frames (repeated delimiters) are skipped silently. A corrupt or oversized frame is
/// reported and dropped, and decoding resumes after the next 0x00. `feed` never panics.
///
/// The yielded [`Frame`] borrows the decoder, so handle it (or copy what you need) before
/// feeding again:
///
/// ```
/// use banyan_proto::frame::{encode, max_encoded_len, FeedResult, Frame, FrameDecoder};
///
/// let mut wire = [0u8; 64];
/// let n = encode(&Frame::Ping { seq: 7 }, &mut wire).unwrap();
///
/// let mut decoder = FrameDecoder::<{ max_encoded_len(512) }>::new();
/// let mut seen = Vec::new();
/// for chunk in wire[..n].chunks(3) {
///     let mut window = chunk;
///     while !window.is_empty() {
///         window = match decoder.feed(window) {
///             FeedResult::Consumed => break,
///             FeedResult::Frame { frame, remaining } => {
///                 seen.push(frame == Frame::Ping { seq: 7 });
///                 remaining
///             }
///             FeedResult::Corrupt { remaining, .. } | FeedResult::Oversized { remaining } => {
///                 remaining
///             }
///         };
///     }
/// }
/// assert_eq!(seen, [true]);
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder<const N: usize> {
    buf: [u8; N],
    /// Bytes of the current frame held in `buf`.
    len: usize,
    /// Dropping bytes of an oversized frame until the next delimiter.
    discarding: bool,
    /// Length of the body (at the start of `buf`) of the frame the last `feed` returned, or 0.
    last: usize,
}

impl<const N: usize> Default for FrameDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameDecoder<N> {
    /// Buffer size: the largest COBS-encoded frame (without delimiter) this decoder accepts.
    pub const CAPACITY: usize = N;

    /// Creates an empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            discarding: false,
            last: 0,
        }
    }

    /// Drops any partly received frame, e.g. after the transport reconnected. The bytes that
    /// follow are treated as the start of a frame.
    pub fn reset(&mut self) {
        self.len = 0;
        self.discarding = false;
        self.last = 0;
    }

    /// The frame that the last call to [`feed`](Self::feed) returned as
    /// [`FeedResult::Frame`], again; `None` when that call returned anything else, or after
    /// [`reset`](Self::reset).
    ///
    /// For drivers that must hand a frame out of a loop over `feed` (a conditional return of
    /// the borrow `feed` gives is something the borrow checker refuses): note that a frame
    /// came, leave the loop, then borrow it here. Costs a second parse of the body,
    /// no copy and no CRC.
    pub fn last_frame(&self) -> Option<Frame<'_>> {
        let body = self.buf.get(..self.last).filter(|b| !b.is_empty())?;
        super::parse::parse(body)
    }

    /// Number of bytes of an incomplete frame currently buffered.
    pub fn pending(&self) -> usize {
        if self.discarding { 0 } else { self.len }
    }

    /// Feeds bytes from the stream and returns the first event they complete, with the
    /// unconsumed rest of `input` (see [`FeedResult`]).
    pub fn feed<'me, 'a>(&'me mut self, input: &'a [u8]) -> FeedResult<'me, 'a> {
        // The buffer is about to be reused: the previous frame is gone.
        self.last = 0;
        let mut input = input;
        loop {
            let delimiter = input.iter().position(|&b| b == DELIMITER);
            if self.discarding {
                match delimiter {
                    Some(end) => {
                        self.discarding = false;
                        self.len = 0;
                        input = &input[end + 1..];
                        continue;
                    }
                    None => return FeedResult::Consumed,
                }
            }
            let Some(end) = delimiter else {
                return match self.append(input) {
                    Ok(()) => FeedResult::Consumed,
                    Err(()) => {
                        self.discarding = true;
                        FeedResult::Oversized { remaining: &[] }
                    }
                };
            };
            let (body, remaining) = (&input[..end], &input[end + 1..]);
            let appended = self.append(body);
            let len = core::mem::replace(&mut self.len, 0);
            if appended.is_err() {
                return FeedResult::Oversized { remaining };
            }
            if len == 0 {
                // Leading or repeated delimiter: an empty frame, skipped silently.
                input = remaining;
                continue;
            }
            return match decode_frame(&mut self.buf[..len]) {
                Ok((frame, body_len)) => {
                    self.last = body_len;
                    FeedResult::Frame { frame, remaining }
                }
                Err(kind) => FeedResult::Corrupt { kind, remaining },
            };
        }
    }

    /// Appends `bytes` to the current frame, or fails (leaving `len` as it was) when they do
    /// not fit.
    fn append(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let end = self.len.checked_add(bytes.len()).ok_or(())?;
        let dest = self.buf.get_mut(self.len..end).ok_or(())?;
        dest.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// Decodes one COBS frame (without delimiter, containing no 0x00) in place and checks it.
/// Returns the frame and the length of its body, which now starts the buffer.
fn decode_frame(buf: &mut [u8]) -> Result<(Frame<'_>, usize), CorruptKind> {
    let decoded_len = cobs::decode_in_place(buf).map_err(|_| CorruptKind::Cobs)?;
    let decoded: &[u8] = buf.get(..decoded_len).ok_or(CorruptKind::Cobs)?;
    let body_len = decoded_len
        .checked_sub(CRC_LEN)
        .ok_or(CorruptKind::TooShort)?;
    let (body, crc) = decoded.split_at(body_len);
    let mut expected = [0u8; CRC_LEN];
    expected.copy_from_slice(crc);
    if CRC32.checksum(body) != u32::from_le_bytes(expected) {
        return Err(CorruptKind::Crc);
    }
    // Tags 0..=MAX_TAG are single-byte varints; anything else is a variant we do not know.
    match body.first() {
        Some(&tag) if tag > MAX_TAG => return Err(CorruptKind::UnknownTag),
        _ => {}
    }
    // Exactly what postcard's deserializer accepts (see `parse`), in less code.
    super::parse::parse(body)
        .map(|frame| (frame, body_len))
        .ok_or(CorruptKind::Body)
}
