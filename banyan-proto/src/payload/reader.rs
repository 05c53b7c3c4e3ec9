//! Borrowed, zero-copy msgpack reader: [`ValueRef`], [`MapReader`], [`ArrayReader`].
//!
//! Every public constructor first walks the whole input once ([`validate`]) without recursion,
//! with a fixed-size stack of [`MAX_DEPTH`] counters: markers, lengths, UTF-8 of every str and
//! the nesting depth are checked before any reader exists. Readers therefore iterate without
//! errors, and nothing here panics or recurses deeper than [`MAX_DEPTH`] on any input.

use core::fmt;

use super::{MAX_DEPTH, PayloadError, text};

/// One decoded msgpack header: a marker byte and the data that follows it directly.
#[derive(Clone, Copy)]
enum Header<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
    /// The raw bytes of a str; UTF-8 is checked by the caller where it matters.
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(u32),
    Map(u32),
}

/// A read position in a byte slice. All reads are bounds-checked and fail with
/// [`PayloadError::UnexpectedEof`].
#[derive(Clone, Debug)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        let end = self.pos.checked_add(n).ok_or(PayloadError::UnexpectedEof)?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(PayloadError::UnexpectedEof)?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, PayloadError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, PayloadError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, PayloadError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, PayloadError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Takes a length-prefixed byte run (str or bin body).
    fn body(&mut self, len: u32) -> Result<&'a [u8], PayloadError> {
        let len = usize::try_from(len).map_err(|_| PayloadError::UnexpectedEof)?;
        self.take(len)
    }

    fn header(&mut self) -> Result<Header<'a>, PayloadError> {
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Header::Int(i64::from(marker)),
            0x80..=0x8f => Header::Map(u32::from(marker & 0x0f)),
            0x90..=0x9f => Header::Array(u32::from(marker & 0x0f)),
            0xa0..=0xbf => Header::Str(self.body(u32::from(marker & 0x1f))?),
            0xc0 => Header::Nil,
            0xc1 => return Err(PayloadError::InvalidMarker),
            0xc2 => Header::Bool(false),
            0xc3 => Header::Bool(true),
            0xc4 => {
                let len = self.u8()?;
                Header::Bin(self.body(len.into())?)
            }
            0xc5 => {
                let len = self.u16()?;
                Header::Bin(self.body(len.into())?)
            }
            0xc6 => {
                let len = self.u32()?;
                Header::Bin(self.body(len)?)
            }
            // ext 8/16/32 and fixext 1..16: Banyan payloads never carry extension types.
            0xc7..=0xc9 | 0xd4..=0xd8 => return Err(PayloadError::Unsupported),
            0xca => Header::F32(f32::from_bits(self.u32()?)),
            0xcb => Header::F64(f64::from_bits(self.u64()?)),
            0xcc => Header::Int(self.u8()?.into()),
            0xcd => Header::Int(self.u16()?.into()),
            0xce => Header::Int(self.u32()?.into()),
            0xcf => {
                let v = self.u64()?;
                match i64::try_from(v) {
                    Ok(v) => Header::Int(v),
                    Err(_) => Header::UInt(v),
                }
            }
            0xd0 => Header::Int(i8::from_be_bytes(self.array()?).into()),
            0xd1 => Header::Int(i16::from_be_bytes(self.array()?).into()),
            0xd2 => Header::Int(i32::from_be_bytes(self.array()?).into()),
            0xd3 => Header::Int(i64::from_be_bytes(self.array()?)),
            0xd9 => {
                let len = self.u8()?;
                Header::Str(self.body(len.into())?)
            }
            0xda => {
                let len = self.u16()?;
                Header::Str(self.body(len.into())?)
            }
            0xdb => {
                let len = self.u32()?;
                Header::Str(self.body(len)?)
            }
            0xdc => Header::Array(self.u16()?.into()),
            0xdd => Header::Array(self.u32()?),
            0xde => Header::Map(self.u16()?.into()),
            0xdf => Header::Map(self.u32()?),
            0xe0..=0xff => Header::Int(i64::from(marker.cast_signed())),
        })
    }

    /// Skips `count` complete values (already validated or not: errors are reported, never
    /// panics). Iterative: a single counter of pending values, no stack.
    fn skip(&mut self, count: u64) -> Result<(), PayloadError> {
        let mut pending = count;
        while pending > 0 {
            pending -= 1;
            match self.header()? {
                Header::Array(n) => pending += u64::from(n),
                Header::Map(n) => pending += 2 * u64::from(n),
                _ => {}
            }
            // Every pending value needs at least one byte: fail early on absurd lengths.
            if pending > self.remaining() as u64 {
                return Err(PayloadError::UnexpectedEof);
            }
        }
        Ok(())
    }

    /// Reads one complete value starting at the cursor.
    fn value(&mut self) -> Result<ValueRef<'a>, PayloadError> {
        Ok(match self.header()? {
            Header::Nil => ValueRef::Nil,
            Header::Bool(b) => ValueRef::Bool(b),
            Header::Int(v) => ValueRef::Int(v),
            Header::UInt(v) => ValueRef::UInt(v),
            Header::F32(v) => ValueRef::F32(v),
            Header::F64(v) => ValueRef::F64(v),
            Header::Str(raw) => {
                ValueRef::Str(core::str::from_utf8(raw).map_err(|_| PayloadError::InvalidUtf8)?)
            }
            Header::Bin(raw) => ValueRef::Bin(raw),
            Header::Array(len) => {
                let start = self.pos;
                self.skip(len.into())?;
                ValueRef::Array(ArrayReader {
                    items: self.bytes.get(start..self.pos).unwrap_or_default(),
                    len,
                })
            }
            Header::Map(len) => {
                let start = self.pos;
                self.skip(2 * u64::from(len))?;
                ValueRef::Map(MapReader {
                    entries: self.bytes.get(start..self.pos).unwrap_or_default(),
                    len,
                })
            }
        })
    }
}

/// Checks that `bytes` starts with one complete, well-formed msgpack value and returns its
/// length in bytes (bytes after it are not looked at).
///
/// Checked: every marker (`0xc1` and extension types are rejected), every length against the
/// input, UTF-8 of every str, and that arrays and maps nest at most [`MAX_DEPTH`] deep. The
/// walk is iterative with a fixed stack of `MAX_DEPTH` counters: constant stack use, linear
/// time, no panic on any input.
pub fn validate_prefix(bytes: &[u8]) -> Result<usize, PayloadError> {
    let mut cur = Cursor::new(bytes);
    // Values still expected by each open array/map (a map expects 2 per entry).
    let mut open = [0u64; MAX_DEPTH];
    let mut depth = 0usize;
    loop {
        let header = cur.header()?;
        if let Some(parent) = depth.checked_sub(1).and_then(|i| open.get_mut(i)) {
            *parent = parent.saturating_sub(1);
        }
        let children = match header {
            Header::Str(raw) => {
                core::str::from_utf8(raw).map_err(|_| PayloadError::InvalidUtf8)?;
                None
            }
            Header::Array(n) => Some(u64::from(n)),
            Header::Map(n) => Some(2 * u64::from(n)),
            _ => None,
        };
        if let Some(children) = children {
            let slot = open.get_mut(depth).ok_or(PayloadError::DepthLimit)?;
            if children > cur.remaining() as u64 {
                return Err(PayloadError::UnexpectedEof);
            }
            *slot = children;
            depth += 1;
        }
        while depth > 0 && open.get(depth - 1) == Some(&0) {
            depth -= 1;
        }
        if depth == 0 {
            return Ok(cur.pos);
        }
    }
}

/// Checks that `bytes` is exactly one well-formed msgpack value (see [`validate_prefix`]);
/// bytes after it are [`PayloadError::TrailingBytes`]. Any top-level kind is accepted.
pub fn validate(bytes: &[u8]) -> Result<(), PayloadError> {
    if validate_prefix(bytes)? == bytes.len() {
        Ok(())
    } else {
        Err(PayloadError::TrailingBytes)
    }
}

/// A msgpack value borrowed from the input bytes: strings, byte strings, arrays and maps
/// point into the input, nothing is copied.
///
/// Integers are normalised the way Python sees them: every integer that fits `i64` is
/// [`ValueRef::Int`], whatever its wire format (fixint, uint 8..64, int 8..64); only
/// `i64::MAX + 1 ..= u64::MAX` is [`ValueRef::UInt`]. Float 32 and float 64 stay distinct so
/// that re-encoding writes the same bytes (Python itself only sends float 64).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ValueRef<'a> {
    /// `nil` (Python `None`).
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer in `i64` range.
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    /// A float 32.
    F32(f32),
    /// A float 64 (every Python float).
    F64(f64),
    /// A UTF-8 string (Python `str`).
    Str(&'a str),
    /// A byte string (Python `bytes`).
    Bin(&'a [u8]),
    /// An array (Python `list` or `tuple`).
    Array(ArrayReader<'a>),
    /// A map (Python `dict`).
    Map(MapReader<'a>),
}

impl<'a> ValueRef<'a> {
    /// Reads `bytes` as exactly one msgpack value of any kind, validated as by [`validate`].
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, PayloadError> {
        validate(bytes)?;
        Cursor::new(bytes).value()
    }

    /// `true` for [`ValueRef::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is an integer that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::Int(v) => Some(v),
            Self::UInt(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The integer, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::Int(v) => u64::try_from(v).ok(),
            Self::UInt(v) => Some(v),
            _ => None,
        }
    }

    /// The number as `f64`: floats (float 32 widened exactly) and integers (rounded to the
    /// nearest `f64` above 2^53), as Python's `float(x)` would.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F64(v) => Some(v),
            Self::F32(v) => Some(v.into()),
            Self::Int(v) => Some(v as f64),
            Self::UInt(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The string, if this is a str.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a bin.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Self::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<ArrayReader<'a>> {
        match *self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<MapReader<'a>> {
        match *self {
            Self::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// A validated msgpack map borrowed from the input; iterate it or look keys up.
///
/// Keys may be of any kind (Python dicts may have int keys); [`MapReader::get`] finds str keys.
/// Equality compares the encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MapReader<'a> {
    /// The encoded entries, key then value, `len` times (validated).
    entries: &'a [u8],
    len: u32,
}

impl<'a> MapReader<'a> {
    /// Reads `bytes` as exactly one msgpack map: a Banyan payload.
    ///
    /// Validates everything first ([`validate`]): after this, iteration cannot fail.
    /// Errors: any [`validate`] error, then [`PayloadError::NotAMap`] for another kind.
    pub fn new(bytes: &'a [u8]) -> Result<Self, PayloadError> {
        match ValueRef::from_slice(bytes)? {
            ValueRef::Map(map) => Ok(map),
            _ => Err(PayloadError::NotAMap),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// `true` for `{}`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries `(key, value)` in wire order (Python's insertion order).
    pub fn iter(&self) -> MapIter<'a> {
        MapIter {
            cur: Cursor::new(self.entries),
            remaining: self.len,
        }
    }

    /// The value of the first entry whose key is the str `key`.
    pub fn get(&self, key: &str) -> Option<ValueRef<'a>> {
        self.iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for MapReader<'a> {
    type Item = (ValueRef<'a>, ValueRef<'a>);
    type IntoIter = MapIter<'a>;

    fn into_iter(self) -> MapIter<'a> {
        self.iter()
    }
}

/// Iterator over the entries of a [`MapReader`].
#[derive(Clone, Debug)]
pub struct MapIter<'a> {
    cur: Cursor<'a>,
    remaining: u32,
}

impl<'a> Iterator for MapIter<'a> {
    type Item = (ValueRef<'a>, ValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Validated at construction, so these cannot fail; end the iteration if they did.
        match (self.cur.value(), self.cur.value()) {
            (Ok(k), Ok(v)) => Some((k, v)),
            _ => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

/// A validated msgpack array borrowed from the input.
///
/// Equality compares the encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ArrayReader<'a> {
    /// The encoded elements, `len` of them (validated).
    items: &'a [u8],
    len: u32,
}

impl<'a> ArrayReader<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// `true` for `[]`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements in order.
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            cur: Cursor::new(self.items),
            remaining: self.len,
        }
    }

    /// The element at `index` (walks the elements before it).
    pub fn get(&self, index: usize) -> Option<ValueRef<'a>> {
        self.iter().nth(index)
    }
}

impl<'a> IntoIterator for ArrayReader<'a> {
    type Item = ValueRef<'a>;
    type IntoIter = ArrayIter<'a>;

    fn into_iter(self) -> ArrayIter<'a> {
        self.iter()
    }
}

/// Iterator over the elements of an [`ArrayReader`].
#[derive(Clone, Debug)]
pub struct ArrayIter<'a> {
    cur: Cursor<'a>,
    remaining: u32,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = ValueRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        match self.cur.value() {
            Ok(v) => Some(v),
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

/// JSON-like text, bytes as hex: `{"message_number": 10, "data": b"0a0b"}`.
impl fmt::Display for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Nil => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::UInt(v) => write!(f, "{v}"),
            Self::F32(v) => write!(f, "{v:?}"),
            Self::F64(v) => write!(f, "{v:?}"),
            Self::Str(s) => text::write_str(f, s),
            Self::Bin(b) => text::write_bin(f, b),
            Self::Array(a) => fmt::Display::fmt(&a, f),
            Self::Map(m) => fmt::Display::fmt(&m, f),
        }
    }
}

impl fmt::Display for ArrayReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::write_seq(f, self.iter())
    }
}

impl fmt::Display for MapReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::write_map(f, self.iter())
    }
}

/// Re-encodes the value canonically (Python's bytes for the same value).
impl serde::Serialize for ValueRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Nil => serializer.serialize_unit(),
            Self::Bool(b) => serializer.serialize_bool(b),
            Self::Int(v) => serializer.serialize_i64(v),
            Self::UInt(v) => serializer.serialize_u64(v),
            Self::F32(v) => serializer.serialize_f32(v),
            Self::F64(v) => serializer.serialize_f64(v),
            Self::Str(s) => serializer.serialize_str(s),
            Self::Bin(b) => serializer.serialize_bytes(b),
            Self::Array(a) => a.serialize(serializer),
            Self::Map(m) => m.serialize(serializer),
        }
    }
}

impl serde::Serialize for ArrayReader<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for item in self.iter() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

impl serde::Serialize for MapReader<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(&k, &v)?;
        }
        map.end()
    }
}
