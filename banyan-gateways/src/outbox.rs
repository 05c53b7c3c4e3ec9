//! What a board gateway's sans-IO core (`firmata`, `telemetrix`) hands its driver: OneGPIO
//! report payloads to publish and notes to log, each in a bounded queue that counts what it
//! drops, and the `error` report of a refused command.

use std::collections::VecDeque;

use banyan_onegpio::Reason;
use banyan_onegpio::report::{self, REPORT_BUF_LEN};

/// Most reports waiting for the driver; beyond it the oldest is dropped (counted).
pub const REPORT_QUEUE: usize = 1024;

/// Most notes waiting for the driver; beyond it new notes are dropped (counted).
pub const NOTE_QUEUE: usize = 256;

/// The outbox's counters (the cores copy them into their own `Stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Commands refused with an error report.
    pub rejected: u64,
    /// Reports queued for publishing.
    pub reports: u64,
    /// Reports dropped because the driver did not take them ([`REPORT_QUEUE`]).
    pub reports_dropped: u64,
    /// Notes dropped ([`NOTE_QUEUE`]).
    pub notes_dropped: u64,
}

/// The reports and notes of a core, waiting for the driver; `N` is the core's note type.
#[derive(Debug)]
pub struct Outbox<N> {
    reports: VecDeque<Vec<u8>>,
    notes: VecDeque<N>,
    stats: OutboxStats,
}

impl<N> Default for Outbox<N> {
    fn default() -> Self {
        Self {
            reports: VecDeque::new(),
            notes: VecDeque::new(),
            stats: OutboxStats::default(),
        }
    }
}

impl<N> Outbox<N> {
    /// Queues a report payload; a full queue drops its oldest (a late reading is worth less
    /// than a new one).
    pub fn report(&mut self, payload: Vec<u8>) {
        if self.reports.len() >= REPORT_QUEUE {
            self.reports.pop_front();
            self.stats.reports_dropped += 1;
        }
        self.reports.push_back(payload);
        self.stats.reports += 1;
    }

    /// Queues a note; a full queue drops the new one (the first notes explain the rest).
    pub fn note(&mut self, note: N) {
        if self.notes.len() >= NOTE_QUEUE {
            self.stats.notes_dropped += 1;
        } else {
            self.notes.push_back(note);
        }
    }

    /// A refused command: counted, and OneGPIO's `error` report for it queued.
    pub fn reject(&mut self, command: Option<&str>, pin: Option<u8>, reason: Reason) {
        let mut buf = [0u8; REPORT_BUF_LEN];
        let written = report::error(&mut buf, command, pin, reason).ok();
        self.reject_with(written.map(|n| &buf[..n]));
    }

    /// A refused command whose error report the core wrote itself (`None`: it did not
    /// encode, and only the count is kept).
    pub fn reject_with(&mut self, error_report: Option<&[u8]>) {
        self.stats.rejected += 1;
        if let Some(payload) = error_report {
            self.report(payload.to_vec());
        }
    }

    /// The next report payload to publish.
    pub fn pop_report(&mut self) -> Option<Vec<u8>> {
        self.reports.pop_front()
    }

    /// The next note to log.
    pub fn pop_note(&mut self) -> Option<N> {
        self.notes.pop_front()
    }

    /// Reports waiting.
    pub fn reports_waiting(&self) -> usize {
        self.reports.len()
    }

    /// Notes waiting.
    pub fn notes_waiting(&self) -> usize {
        self.notes.len()
    }

    /// The counters.
    pub fn stats(&self) -> OutboxStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queues_drop_the_oldest_report_and_the_newest_note_and_count_them() {
        let mut outbox = Outbox::default();
        for i in 0..=REPORT_QUEUE {
            outbox.report(vec![(i % 256) as u8, (i / 256) as u8]);
        }
        for i in 0..=NOTE_QUEUE {
            outbox.note(i);
        }
        assert_eq!(outbox.reports_waiting(), REPORT_QUEUE);
        assert_eq!(outbox.notes_waiting(), NOTE_QUEUE);
        assert_eq!(
            outbox.pop_report(),
            Some(vec![1, 0]),
            "the oldest report went"
        );
        assert_eq!(outbox.pop_note(), Some(0), "the first note stayed");
        let stats = outbox.stats();
        assert_eq!(stats.reports, REPORT_QUEUE as u64 + 1);
        assert_eq!(stats.reports_dropped, 1);
        assert_eq!(stats.notes_dropped, 1);
    }

    #[test]
    fn a_rejection_is_counted_and_reported_as_onegpio_writes_it() {
        let mut outbox: Outbox<()> = Outbox::default();
        outbox.reject(Some("set_mode_pwm"), Some(99), Reason::NoBoard);
        outbox.reject_with(None);
        let mut expected = [0u8; REPORT_BUF_LEN];
        let n = report::error(
            &mut expected,
            Some("set_mode_pwm"),
            Some(99),
            Reason::NoBoard,
        )
        .unwrap();
        assert_eq!(outbox.pop_report().as_deref(), Some(&expected[..n]));
        assert_eq!(outbox.pop_report(), None);
        assert_eq!(outbox.stats().rejected, 2);
        assert_eq!(outbox.stats().reports, 1);
    }
}
