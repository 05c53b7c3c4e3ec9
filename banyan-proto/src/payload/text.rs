//! JSON-like text rendering shared by the `Display` impls of `ValueRef` and `Value`.

use core::fmt::{self, Display, Write};

/// A str as a JSON string literal: `"…"` with `"`, `\` and control characters escaped.
pub(super) fn write_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Bytes as `b"0a0b"`: lower-case hex, two digits per byte.
pub(super) fn write_bin(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_str("b\"")?;
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    f.write_char('"')
}

/// `[a, b, c]`.
pub(super) fn write_seq<T: Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = T>,
) -> fmt::Result {
    f.write_char('[')?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_char(']')
}

/// `{k: v, k: v}`.
pub(super) fn write_map<K: Display, V: Display>(
    f: &mut fmt::Formatter<'_>,
    entries: impl Iterator<Item = (K, V)>,
) -> fmt::Result {
    f.write_char('{')?;
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{k}: {v}")?;
    }
    f.write_char('}')
}
