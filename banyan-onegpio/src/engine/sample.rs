//! The periodic part: tones that end, digital inputs (debounce, change reports), analog
//! sampling; reports the sink refused are offered again here.

use embedded_hal::digital::InputPin;

use super::{Engine, Sink};
use crate::report::{self, REPORT_BUF_LEN};
use crate::{Adc as _, Board};

impl<B: Board, const PINS: usize, const CHANNELS: usize> Engine<B, PINS, CHANNELS> {
    pub(super) fn poll_tones(&mut self, now_us: u64) {
        for (index, state) in self.pins.iter_mut().enumerate() {
            if state.tone_until_us.is_some_and(|end| now_us >= end) {
                state.tone_until_us = None;
                let pin = u8::try_from(index).unwrap_or(u8::MAX);
                if self.board.tone(pin, 0).is_err() {
                    self.stats.hardware_errors = self.stats.hardware_errors.wrapping_add(1);
                }
            }
        }
    }

    pub(super) fn poll_digital<S: Sink + ?Sized>(&mut self, now_us: u64, sink: &mut S) {
        let debounce = u64::from(self.config.debounce_us);
        let count = usize::from(self.board.pin_count()).min(PINS);
        for (index, state) in self.pins.iter_mut().enumerate().take(count) {
            if !(state.mode.is_input() && state.reporting) {
                continue;
            }
            let pin = u8::try_from(index).unwrap_or(u8::MAX);
            let level = match self.board.digital(pin).map(|d| d.is_high()) {
                Some(Ok(level)) => level,
                _ => {
                    self.stats.hardware_errors = self.stats.hardware_errors.wrapping_add(1);
                    continue;
                }
            };
            if level == state.stable {
                state.candidate = level;
            } else {
                if state.candidate != level {
                    state.candidate = level;
                    state.candidate_since_us = now_us;
                }
                if now_us.saturating_sub(state.candidate_since_us) >= debounce {
                    if state.reported != state.stable {
                        // A change still waiting for the sink is undone: both edges are lost.
                        self.stats.edges_lost = self.stats.edges_lost.wrapping_add(2);
                    }
                    state.stable = level;
                    state.stable_since_us = state.candidate_since_us;
                }
            }
            if state.stable != state.reported {
                let mut buf = [0u8; REPORT_BUF_LEN];
                let offered =
                    report::digital_input(&mut buf, pin, state.stable, state.stable_since_us)
                        .ok()
                        .and_then(|len| buf.get(..len))
                        .map(|bytes| sink.publish(self.topics.reports(), bytes));
                match offered {
                    Some(Ok(())) => {
                        state.reported = state.stable;
                        self.stats.reports = self.stats.reports.wrapping_add(1);
                    }
                    _ => self.stats.deferred = self.stats.deferred.wrapping_add(1),
                }
            }
        }
    }

    pub(super) fn poll_analog<S: Sink + ?Sized>(&mut self, now_us: u64, sink: &mut S) {
        if !self.channels.iter().any(|c| c.enabled) || now_us < self.next_analog_us {
            return;
        }
        self.next_analog_us = now_us.saturating_add(u64::from(self.config.analog_interval_us));
        let count = usize::from(self.board.analog_channel_count()).min(CHANNELS);
        for (index, channel) in self.channels.iter_mut().enumerate().take(count) {
            if !channel.enabled {
                continue;
            }
            let ch = u8::try_from(index).unwrap_or(u8::MAX);
            let Ok(value) = self.board.adc().read(ch) else {
                self.stats.hardware_errors = self.stats.hardware_errors.wrapping_add(1);
                continue;
            };
            let due = channel
                .last
                .is_none_or(|last| last.abs_diff(value) >= channel.threshold);
            if !due {
                continue;
            }
            let mut buf = [0u8; REPORT_BUF_LEN];
            let offered = report::analog_input(&mut buf, ch, value, now_us)
                .ok()
                .and_then(|len| buf.get(..len))
                .map(|bytes| sink.publish(self.topics.reports(), bytes));
            match offered {
                Some(Ok(())) => {
                    channel.last = Some(value);
                    self.stats.reports = self.stats.reports.wrapping_add(1);
                }
                _ => self.stats.deferred = self.stats.deferred.wrapping_add(1),
            }
        }
    }
}
