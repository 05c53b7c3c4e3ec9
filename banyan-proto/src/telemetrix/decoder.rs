//! Streaming report decoder: board bytes in arbitrary chunks → typed reports.

use super::Family;
use super::report::{Malformed, Report};
use crate::length_prefix::{Feed as FrameFeed, LengthPrefixDecoder};

/// What [`ReportDecoder::feed`] found. Every variant but `Consumed` carries the input after
/// the event: feed it again until it is empty.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'me, 'a> {
    /// All input was consumed without completing a frame; feed more bytes.
    Consumed,
    /// A complete report (an unknown id is [`Report::Unknown`], skipped by its length).
    Report {
        /// The report, borrowing the decoder's buffer.
        report: Report<'me>,
        /// Input after the report's frame.
        remaining: &'a [u8],
    },
    /// A complete frame that is not a valid report; it was dropped.
    Malformed {
        /// Why.
        error: Malformed,
        /// Input after the frame.
        remaining: &'a [u8],
    },
}

// By hand, as `length_prefix::Feed`: defmt's derive cannot pick between its `[u8]` and `&T`
// impls for slices of two lifetimes.
#[cfg(feature = "defmt")]
impl defmt::Format for Feed<'_, '_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Self::Consumed => defmt::write!(f, "Consumed"),
            Self::Report { report, remaining } => defmt::write!(
                f,
                "Report {{ report: {}, remaining: {=[u8]} }}",
                report,
                remaining
            ),
            Self::Malformed { error, remaining } => defmt::write!(
                f,
                "Malformed {{ error: {}, remaining: {=[u8]} }}",
                error,
                remaining
            ),
        }
    }
}

/// Counters of everything a decoder saw since it was made (never reset by
/// [`ReportDecoder::reset`]), for a gateway's log and its decision to reopen the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Valid reports of a known id.
    pub reports: u64,
    /// Frames with an id this family does not define (skipped by length).
    pub unknown: u64,
    /// Malformed frames (dropped).
    pub malformed: u64,
    /// Malformed or unknown frames since the last valid known report: a stream that keeps
    /// producing them has lost alignment (see the module docs, "Resynchronisation").
    pub suspect_run: u32,
    /// Bytes of partial frames dropped by [`ReportDecoder::reset`] and
    /// [`ReportDecoder::idle`].
    pub dropped_bytes: u64,
}

/// Reassembles Telemetrix report frames from a byte stream and parses them for one
/// [`Family`]. Fixed memory (one 255-byte buffer), never allocates, never panics.
#[derive(Debug, Clone)]
pub struct ReportDecoder {
    family: Family,
    frames: LengthPrefixDecoder,
    stats: Stats,
}

impl ReportDecoder {
    /// A decoder for `family`'s reports, waiting for a length byte.
    pub const fn new(family: Family) -> Self {
        Self {
            family,
            frames: LengthPrefixDecoder::new(),
            stats: Stats {
                reports: 0,
                unknown: 0,
                malformed: 0,
                suspect_run: 0,
                dropped_bytes: 0,
            },
        }
    }

    /// The family this decoder parses for.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Counters since the decoder was made.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes of an incomplete frame held (length byte included); 0 between frames.
    pub fn pending(&self) -> usize {
        self.frames.pending()
    }

    /// Drops any partial frame: call it on every new connection and after a device reset.
    /// The next byte fed is a length byte.
    pub fn reset(&mut self) {
        self.stats.dropped_bytes += self.frames.pending() as u64;
        self.frames.reset();
    }

    /// The link was quiet for longer than a firmware ever pauses inside one report (every
    /// firmware writes a report with one `write`): a partial frame held now is the tail of a
    /// misaligned stream, so it is dropped. Returns the bytes dropped (0 when aligned).
    pub fn idle(&mut self) -> usize {
        let dropped = self.frames.pending();
        self.reset();
        dropped
    }

    /// Feeds bytes from the board and returns the first event they complete, with the rest of
    /// `input`. Never panics.
    pub fn feed<'me, 'a>(&'me mut self, input: &'a [u8]) -> Feed<'me, 'a> {
        let Self {
            family,
            frames,
            stats,
        } = self;
        match frames.feed(input) {
            FrameFeed::Consumed => Feed::Consumed,
            FrameFeed::Frame { payload, remaining } => {
                let parsed = match payload.split_first() {
                    None => Err(Malformed::ZeroLength),
                    Some((&id, body)) => Report::parse(*family, id, body),
                };
                match parsed {
                    Ok(report) => {
                        if matches!(report, Report::Unknown { .. }) {
                            stats.unknown += 1;
                            stats.suspect_run = stats.suspect_run.saturating_add(1);
                        } else {
                            stats.reports += 1;
                            stats.suspect_run = 0;
                        }
                        Feed::Report { report, remaining }
                    }
                    Err(error) => {
                        stats.malformed += 1;
                        stats.suspect_run = stats.suspect_run.saturating_add(1);
                        Feed::Malformed { error, remaining }
                    }
                }
            }
        }
    }
}
