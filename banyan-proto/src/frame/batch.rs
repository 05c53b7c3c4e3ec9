//! The entries of a [`Frame::PublishBatch`](super::Frame::PublishBatch): validated once, then
//! iterated without failure ("if it constructs, it parses").

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest alias value (a `u16` varint on the wire).
const MAX_ALIAS: u32 = u16::MAX as u32;

/// The entries of a batch: `alias` (u16 varint) · `payload` (varint length + bytes), repeated
/// until the end of the field. Only a value whose every entry is complete exists: build one
/// with [`Batch::new`] (validates) or [`BatchWriter`] (appends valid entries).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Batch<'a>(&'a [u8]);

/// Why bytes are not a [`Batch`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BatchError {
    /// An entry is cut short, or an alias or length varint is malformed or too large.
    Malformed,
    /// The output buffer cannot hold another entry.
    Full,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BatchError::Malformed => "malformed batch entry",
            BatchError::Full => "batch buffer full",
        })
    }
}

impl core::error::Error for BatchError {}

/// Reads a LEB128 varint of at most 5 bytes from the front of `bytes`.
fn varint(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u32::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            // Canonical only: no redundant trailing zero groups (postcard's own rule).
            if i > 0 && b == 0 {
                return None;
            }
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

/// One entry and the bytes after it.
type Split<'a> = ((u16, &'a [u8]), &'a [u8]);

/// Splits one entry off the front of `bytes`.
fn entry(bytes: &[u8]) -> Option<Split<'_>> {
    let (alias, rest) = varint(bytes)?;
    if alias > MAX_ALIAS {
        return None;
    }
    let (len, rest) = varint(rest)?;
    let len = usize::try_from(len).ok()?;
    if len > rest.len() {
        return None;
    }
    let (payload, rest) = rest.split_at(len);
    Some(((alias as u16, payload), rest))
}

impl<'a> Batch<'a> {
    /// The batch in `bytes`, if every entry is complete.
    ///
    /// # Errors
    /// [`BatchError::Malformed`] when an entry is cut short or a varint is malformed.
    pub fn new(bytes: &'a [u8]) -> Result<Self, BatchError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            rest = entry(rest).ok_or(BatchError::Malformed)?.1;
        }
        Ok(Self(bytes))
    }

    /// The encoded entries.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The `(alias, payload)` entries, in order.
    pub fn iter(&self) -> BatchIter<'a> {
        BatchIter(self.0)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// `true` when the batch has no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Batch<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Batch({=usize} entries)", self.len());
    }
}

impl<'a> IntoIterator for Batch<'a> {
    type Item = (u16, &'a [u8]);
    type IntoIter = BatchIter<'a>;

    fn into_iter(self) -> BatchIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`Batch`]'s `(alias, payload)` entries.
#[derive(Debug, Clone)]
pub struct BatchIter<'a>(&'a [u8]);

impl<'a> Iterator for BatchIter<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // A `Batch` only holds complete entries, so this stops only at the end.
        let (item, rest) = entry(self.0)?;
        self.0 = rest;
        Some(item)
    }
}

impl Serialize for Batch<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Batch<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: &'de [u8] = serde_bytes::deserialize(deserializer)?;
        Batch::new(bytes).map_err(|_| serde::de::Error::custom("malformed batch entry"))
    }
}

/// Appends entries to a caller's buffer; [`BatchWriter::batch`] is then a valid [`Batch`].
#[derive(Debug)]
pub struct BatchWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    entries: usize,
}

/// Bytes an entry of `payload_len` bytes takes in a batch with this alias.
pub const fn entry_len(alias: u16, payload_len: usize) -> usize {
    varint_len(alias as u32) + varint_len(payload_len as u32) + payload_len
}

const fn varint_len(value: u32) -> usize {
    match value {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

fn put_varint(out: &mut [u8], mut value: u32) -> usize {
    let mut i = 0;
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if let Some(slot) = out.get_mut(i) {
            *slot = if value == 0 { byte } else { byte | 0x80 };
        }
        i += 1;
        if value == 0 {
            return i;
        }
    }
}

/// Writes one batch entry (`alias` · payload length · `payload`) at the start of `out` and
/// returns its length ([`entry_len`]); for a sender that keeps its batch in its own buffer.
///
/// # Errors
/// [`BatchError::Full`] when `out` is shorter than the entry (nothing is written then).
pub fn write_entry(out: &mut [u8], alias: u16, payload: &[u8]) -> Result<usize, BatchError> {
    let need = entry_len(alias, payload.len());
    let out = out.get_mut(..need).ok_or(BatchError::Full)?;
    let mut at = put_varint(out, u32::from(alias));
    at += put_varint(out.get_mut(at..).unwrap_or_default(), payload.len() as u32);
    out.get_mut(at..)
        .ok_or(BatchError::Full)?
        .copy_from_slice(payload);
    Ok(need)
}

impl<'b> BatchWriter<'b> {
    /// An empty batch written into `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            entries: 0,
        }
    }

    /// Appends one entry.
    ///
    /// # Errors
    /// [`BatchError::Full`] when it does not fit (nothing is written then).
    pub fn push(&mut self, alias: u16, payload: &[u8]) -> Result<(), BatchError> {
        let out = self.buf.get_mut(self.len..).ok_or(BatchError::Full)?;
        self.len += write_entry(out, alias, payload)?;
        self.entries += 1;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` before the first entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries written so far.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The entries written so far.
    pub fn batch(&self) -> Batch<'_> {
        Batch(self.buf.get(..self.len).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_entries_read_back() {
        let mut buf = [0u8; 300];
        let mut w = BatchWriter::new(&mut buf);
        w.push(0, b"\x81\xa1v\x01").unwrap();
        w.push(200, &[7u8; 130]).unwrap();
        assert_eq!(w.len(), entry_len(0, 4) + entry_len(200, 130));
        assert_eq!(w.entries(), 2);
        let batch = Batch::new(w.batch().as_bytes()).unwrap();
        let items: std::vec::Vec<_> = batch.iter().collect();
        assert_eq!(items, [(0, &b"\x81\xa1v\x01"[..]), (200, &[7u8; 130][..])]);
        assert!(w.push(1, &[0u8; 200]).is_err());
    }

    #[test]
    fn cut_entries_are_malformed() {
        assert_eq!(Batch::new(&[]).map(|b| b.len()), Ok(0));
        assert_eq!(Batch::new(&[1]), Err(BatchError::Malformed));
        assert_eq!(Batch::new(&[1, 3, 0, 0]), Err(BatchError::Malformed));
        // Alias 65 536 does not fit a u16.
        assert_eq!(
            Batch::new(&[0x80, 0x80, 0x04, 0]),
            Err(BatchError::Malformed)
        );
        // Non-canonical varint.
        assert_eq!(Batch::new(&[0x81, 0x00, 0]), Err(BatchError::Malformed));
        assert!(Batch::new(&[1, 0, 2, 1, 9]).is_ok());
    }
}
