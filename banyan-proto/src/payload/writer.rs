//! [`MapWriter`]: a map built entry by entry into a caller's buffer, without alloc.

use serde::Serialize;

use super::{PayloadError, encode_value};

/// Writes a msgpack map with a known number of entries into a byte buffer.
///
/// For payloads whose keys are decided at run time; a `#[derive(Serialize)]` struct with
/// [`to_slice`](super::to_slice) does the same for fixed shapes. Values are encoded with
/// the same rules as `to_slice` (any [`Serialize`] value, nested maps included).
///
/// ```
/// use banyan_proto::payload::MapWriter;
///
/// let mut buf = [0u8; 32];
/// let mut map = MapWriter::new(&mut buf, 1)?;
/// map.entry("message_number", &10u32)?;
/// let len = map.finish()?;
/// assert_eq!(&buf[..len], b"\x81\xaemessage_number\x0a");
/// # Ok::<(), banyan_proto::payload::PayloadError>(())
/// ```
#[derive(Debug)]
pub struct MapWriter<'b> {
    buf: &'b mut [u8],
    pos: usize,
    remaining: u32,
}

impl<'b> MapWriter<'b> {
    /// Starts a map of exactly `entries` entries at the beginning of `buf` (writes its header).
    ///
    /// Errors: [`PayloadError::BufferFull`].
    pub fn new(buf: &'b mut [u8], entries: u32) -> Result<Self, PayloadError> {
        let mut header = [0u8; 5];
        let header: &[u8] = match entries {
            0..=15 => {
                header[0] = 0x80 | entries as u8;
                &header[..1]
            }
            16..=0xffff => {
                header[0] = 0xde;
                header[1..3].copy_from_slice(&(entries as u16).to_be_bytes());
                &header[..3]
            }
            _ => {
                header[0] = 0xdf;
                header[1..5].copy_from_slice(&entries.to_be_bytes());
                &header[..5]
            }
        };
        buf.get_mut(..header.len())
            .ok_or(PayloadError::BufferFull)?
            .copy_from_slice(header);
        Ok(Self {
            buf,
            pos: header.len(),
            remaining: entries,
        })
    }

    /// Appends the entry `key: value`.
    ///
    /// On error nothing of this entry is kept, and the writer may still be used.
    /// Errors: [`PayloadError::EntryCount`] past the announced count, or any encoding error.
    pub fn entry<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<&mut Self, PayloadError> {
        if self.remaining == 0 {
            return Err(PayloadError::EntryCount);
        }
        let rest = self
            .buf
            .get_mut(self.pos..)
            .ok_or(PayloadError::BufferFull)?;
        let key_len = encode_value(key, rest)?;
        let rest = rest.get_mut(key_len..).ok_or(PayloadError::BufferFull)?;
        let value_len = encode_value(value, rest)?;
        self.pos += key_len + value_len;
        self.remaining -= 1;
        Ok(self)
    }

    /// Ends the map and returns its length in bytes, the payload being `&buf[..len]`.
    ///
    /// Errors: [`PayloadError::EntryCount`] if fewer entries were written than announced.
    pub fn finish(self) -> Result<usize, PayloadError> {
        if self.remaining == 0 {
            Ok(self.pos)
        } else {
            Err(PayloadError::EntryCount)
        }
    }
}
