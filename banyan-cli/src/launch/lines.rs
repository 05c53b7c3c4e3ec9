//! A child's output cut into lines for prefixing (`[wsgw] …`), sans-IO: bytes in, whole lines
//! out. A line longer than the limit is cut into pieces of at most the limit (nothing is
//! dropped, no buffer grows past the limit); `\r\n` ends a line like `\n`; bytes that are not
//! UTF-8 are shown as U+FFFD.

/// Longest line kept in one piece, in bytes.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct LineSplitter {
    pending: Vec<u8>,
    max_line: usize,
}

impl LineSplitter {
    /// A splitter that cuts lines longer than `max_line` bytes (at least 1).
    pub fn new(max_line: usize) -> Self {
        Self {
            pending: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    /// Feeds `bytes`; calls `line` for every line completed (without its line ending).
    pub fn feed(&mut self, bytes: &[u8], mut line: impl FnMut(&str)) {
        for &byte in bytes {
            if byte == b'\n' {
                if self.pending.last() == Some(&b'\r') {
                    self.pending.pop();
                }
                self.emit(&mut line);
                continue;
            }
            self.pending.push(byte);
            if self.pending.len() >= self.max_line {
                self.emit(&mut line);
            }
        }
    }

    /// The stream ended: calls `line` for what is left after the last line ending, if any.
    pub fn finish(&mut self, mut line: impl FnMut(&str)) {
        if !self.pending.is_empty() {
            self.emit(&mut line);
        }
    }

    fn emit(&mut self, line: &mut impl FnMut(&str)) {
        line(&String::from_utf8_lossy(&self.pending));
        self.pending.clear();
    }
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut splitter = LineSplitter::new(max);
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, |line| lines.push(line.to_owned()));
        }
        splitter.finish(|line| lines.push(line.to_owned()));
        lines
    }

    #[test]
    fn lines_across_chunks_crlf_and_a_last_line_without_ending() {
        assert_eq!(
            split(&[b"ba", b"ckplane up\r\nws", b"gw\n\nlast"], 100),
            ["backplane up", "wsgw", "", "last"]
        );
        assert_eq!(split(&[b""], 100), Vec::<String>::new());
    }

    #[test]
    fn long_lines_are_cut_not_dropped_and_bad_utf8_is_replaced() {
        assert_eq!(split(&[b"abcdefg\n"], 3), ["abc", "def", "g"]);
        assert_eq!(split(&[b"a\xffb\n"], 100), ["a\u{fffd}b"]);
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_lines_and_nothing_is_lost(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), 0u8..128], 0..300),
            cut in 0usize..300,
            max in 1usize..40,
        ) {
            let cut = cut.min(data.len());
            let whole = split(&[&data], max);
            let parts = split(&[&data[..cut], &data[cut..]], max);
            prop_assert_eq!(&whole, &parts);
            for line in &whole {
                prop_assert!(line.len() <= max, "{line:?} longer than {max}");
            }
            // Every byte but the line endings is kept, in order.
            let text = String::from_utf8(data.clone()).expect("ASCII");
            let expected: String = text.replace("\r\n", "\n").replace('\n', "");
            let joined: String = whole.concat();
            // A `\r` cut off from its `\n` by the length limit stays in its piece.
            prop_assert!(joined == expected || joined.replace('\r', "") == expected.replace('\r', ""));
        }
    }
}
