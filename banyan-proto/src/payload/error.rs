//! The one error type of the payload codec.

use core::fmt;

/// Why a payload could not be encoded or decoded.
///
/// Small and `Copy` so that it travels through `no_std` code; the variants say *what* was
/// wrong, not where (decoders stop at the first problem).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PayloadError {
    /// Encoding: the output buffer is too small for the payload.
    BufferFull,
    /// Decoding: the input ends in the middle of a value.
    UnexpectedEof,
    /// Decoding: the byte `0xc1`, which msgpack never uses.
    InvalidMarker,
    /// Decoding: a str value is not valid UTF-8.
    InvalidUtf8,
    /// An extension type (`fixext`/`ext`) on decode, or on encode a value that msgpack
    /// cannot hold (an integer outside `i64::MIN..=u64::MAX`, a str, bin, array or map longer
    /// than `u32::MAX`).
    Unsupported,
    /// Decoding: arrays and maps are nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    DepthLimit,
    /// Decoding: bytes follow the payload's single top-level value.
    TrailingBytes,
    /// A Banyan payload must be a map (a Python dict) at the top level.
    NotAMap,
    /// Decoding: valid msgpack that does not fit the requested Rust type (wrong kind, missing
    /// field, number out of range, unknown enum variant, …).
    Mismatch,
    /// Encoding: a sequence or map of unknown length (an iterator, `#[serde(flatten)]`)
    /// without the `std` feature; msgpack writes lengths first.
    LengthRequired,
    /// Encoding: a `Serialize` implementation reported its own error.
    Custom,
    /// [`MapWriter`](super::MapWriter): more or fewer entries than announced.
    EntryCount,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BufferFull => "payload buffer too small",
            Self::UnexpectedEof => "payload truncated",
            Self::InvalidMarker => "invalid msgpack marker byte 0xc1",
            Self::InvalidUtf8 => "msgpack str is not valid UTF-8",
            Self::Unsupported => "msgpack extension type or out-of-range value",
            Self::DepthLimit => "payload nested too deeply",
            Self::TrailingBytes => "trailing bytes after the payload",
            Self::NotAMap => "payload is not a msgpack map",
            Self::Mismatch => "payload does not match the expected type",
            Self::LengthRequired => "sequence or map of unknown length",
            Self::Custom => "serialization error",
            Self::EntryCount => "map entry count differs from its header",
        })
    }
}

impl core::error::Error for PayloadError {}
