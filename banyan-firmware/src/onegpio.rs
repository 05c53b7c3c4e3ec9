//! Glue between `banyan-onegpio`'s engine and a client whose publish is async (or must not
//! be called while the engine runs): a bounded [`ReportQueue`] that the engine offers its
//! reports to, drained by the firmware after each `handle`/`poll`.
//!
//! When the queue is full it refuses the report (`SinkFull`): the engine keeps a digital
//! change pending and offers it again, re-samples analog later, and counts a dropped error
//! report — memory stays fixed however slow the link is.

use banyan_onegpio::report::REPORT_BUF_LEN;
use banyan_onegpio::{Sink, SinkFull};
use heapless::{Deque, Vec};

/// One queued report payload.
pub type Report = Vec<u8, REPORT_BUF_LEN>;

/// Up to `N` report payloads waiting to be published on the engine's report topic.
#[derive(Debug, Default)]
pub struct ReportQueue<const N: usize> {
    reports: Deque<Report, N>,
    refused: u32,
}

impl<const N: usize> ReportQueue<N> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            reports: Deque::new(),
            refused: 0,
        }
    }

    /// The oldest report, to publish now.
    pub fn pop(&mut self) -> Option<Report> {
        self.reports.pop_front()
    }

    /// Puts a report back at the front (its publish could not be done now).
    pub fn push_front(&mut self, report: Report) {
        if self.reports.push_front(report).is_err() {
            self.refused = self.refused.wrapping_add(1);
        }
    }

    /// Reports waiting.
    pub fn len(&self) -> usize {
        self.reports.len()
    }

    /// `true` when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }

    /// Reports refused because the queue was full (the engine re-offers digital changes).
    pub fn refused(&self) -> u32 {
        self.refused
    }
}

impl<const N: usize> Sink for ReportQueue<N> {
    /// Queues `payload`; the topic is always the engine's report topic, which the caller
    /// publishes on.
    fn publish(&mut self, _topic: &str, payload: &[u8]) -> Result<(), SinkFull> {
        let refuse = |queue: &mut Self| {
            queue.refused = queue.refused.wrapping_add(1);
            Err(SinkFull)
        };
        if self.reports.is_full() {
            return refuse(self);
        }
        let Ok(report) = Report::from_slice(payload) else {
            return refuse(self);
        };
        match self.reports.push_back(report) {
            Ok(()) => Ok(()),
            Err(_) => refuse(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use banyan_onegpio::loopback::{LoopbackBank, Wires};
    use banyan_onegpio::{Config, Engine, Outcome};
    use banyan_proto::payload::{MapReader, MapWriter};

    fn command(buf: &mut [u8], name: &str, pin: u8, value: Option<u8>) -> usize {
        let mut map = MapWriter::new(buf, if value.is_some() { 3 } else { 2 }).unwrap();
        map.entry("command", name)
            .unwrap()
            .entry("pin", &pin)
            .unwrap();
        if let Some(value) = value {
            map.entry("value", &value).unwrap();
        }
        map.finish().unwrap()
    }

    #[test]
    fn queue_is_bounded_and_fifo() {
        let mut queue: ReportQueue<2> = ReportQueue::new();
        assert_eq!(queue.publish("t", b"\x80"), Ok(()));
        assert_eq!(queue.publish("t", b"\x81\xa1a\x01"), Ok(()));
        assert_eq!(queue.publish("t", b"\x80"), Err(SinkFull));
        assert_eq!(queue.refused(), 1);
        assert_eq!(queue.pop().unwrap().as_slice(), b"\x80");
        let second = queue.pop().unwrap();
        assert!(queue.is_empty());
        queue.push_front(second);
        assert_eq!(queue.len(), 1);
        let too_big = [0u8; REPORT_BUF_LEN + 1];
        assert_eq!(queue.publish("t", &too_big), Err(SinkFull));
    }

    /// The loopback wiring through the engine and the queue, as the QEMU firmware runs it:
    /// a full queue delays the digital report instead of losing it.
    #[test]
    fn engine_reports_go_through_the_queue() {
        let wires = Wires::new();
        let config = Config {
            debounce_us: 0,
            ..Config::DEFAULT
        };
        let mut engine: Engine<_, 16, 4> = Engine::new(LoopbackBank::new(&wires), config);
        let topic = engine.topics().commands();
        let topic: heapless::String<64> = heapless::String::try_from(topic).unwrap();
        let mut queue: ReportQueue<1> = ReportQueue::new();
        let mut buf = [0u8; 64];
        let mut now = 0;
        for (name, pin, value) in [
            ("set_mode_digital_output", 2, None),
            ("set_mode_digital_input", 3, None),
        ] {
            let n = command(&mut buf, name, pin, value);
            assert_eq!(
                engine.handle(&topic, &buf[..n], now, &mut queue),
                Outcome::Done
            );
            now += 1000;
        }
        while queue.pop().is_some() {} // an initial report of pin 3, if the engine sends one
        // Fill the queue, then write 1 to pin 2: the report for pin 3 must wait, not vanish.
        queue.publish("t", b"\x80").unwrap();
        let n = command(&mut buf, "digital_write", 2, Some(1));
        assert_eq!(
            engine.handle(&topic, &buf[..n], now, &mut queue),
            Outcome::Done
        );
        assert_eq!(queue.pop().unwrap().as_slice(), b"\x80");
        assert!(queue.is_empty());
        engine.poll(now + 1000, &mut queue);
        let report = queue.pop().expect("the pending digital report");
        let map = MapReader::new(&report).unwrap();
        assert_eq!(
            map.get("report").and_then(|v| v.as_str()),
            Some("digital_input")
        );
        assert_eq!(map.get("pin").and_then(|v| v.as_i64()), Some(3));
        assert_eq!(map.get("value").and_then(|v| v.as_i64()), Some(1));
    }
}
