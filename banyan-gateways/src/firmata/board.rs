//! Bytes from the board: the handshake's answers, then input changes as OneGPIO reports.

use std::time::Instant;

use banyan_onegpio::report::{self, I2C_REPORT_BUF_LEN, REPORT_BUF_LEN};
use banyan_proto::firmata::{AnalogMapping, Capabilities, Event, Feed, PinMode as FmMode};

use super::pins::Mode;
use super::{Core, Firmware, Note, Phase};

impl Core {
    /// Feeds bytes read from the board; `wall_us` is the wall-clock time (Unix µs) for the
    /// reports' `timestamp`.
    pub fn board_bytes(&mut self, bytes: &[u8], now: Instant, wall_us: u64) {
        if self.phase == Phase::Down {
            return;
        }
        let mut input = bytes;
        loop {
            // Events borrow the decoder: turn each into an owned action first.
            let (action, remaining) = match self.decoder.feed(input) {
                Feed::Consumed => break,
                Feed::Event { event, remaining } => (Action::from_event(&event), remaining),
                Feed::Malformed { remaining, .. } => (Some(Action::Garbled), remaining),
                Feed::Overflow { remaining, .. } => (Some(Action::Garbled), remaining),
            };
            if let Some(action) = action {
                self.act(action, now, wall_us);
            }
            input = remaining;
        }
    }

    fn act(&mut self, action: Action, now: Instant, wall_us: u64) {
        match action {
            Action::Protocol(version) => self.heard.protocol = Some(version),
            Action::Firmware(name, version) => {
                if self.phase == Phase::Ready {
                    // Asked for nothing: the board booted again.
                    self.stats.resets += 1;
                    self.note(Note::Reset);
                    self.table.forget_inputs();
                    self.restore(now);
                } else {
                    self.heard.firmware = Some((name, version));
                }
            }
            Action::IAmHere(id) => {
                if id != self.config.instance_id {
                    if std::mem::replace(&mut self.heard.wrong_instance_said, true) {
                        return;
                    }
                    self.note(Note::WrongInstance {
                        got: id,
                        want: self.config.instance_id,
                    });
                } else {
                    self.heard.instance = Some(id);
                }
            }
            Action::Capabilities(caps) => self.heard.capabilities = Some(*caps),
            Action::Mapping(raw) => self.heard.mapping_raw = Some(raw),
            Action::Digital { port, pins } => self.digital_port(port, pins, wall_us),
            Action::Analog { channel, value } => self.analog(channel, value, wall_us),
            Action::I2c {
                address,
                register,
                data,
            } => {
                let mut buf = [0u8; I2C_REPORT_BUF_LEN];
                if let Ok(n) = report::i2c_data(&mut buf, address, register, &data, wall_us) {
                    self.report(buf[..n].to_vec());
                }
            }
            Action::Sonar { trigger_pin, cm } => {
                let state = self.table.get_mut(trigger_pin);
                // As pymata: only changes, and never a 0 reading.
                if state.last_input != Some(cm) && cm != 0 {
                    state.last_input = Some(cm);
                    let mut buf = [0u8; REPORT_BUF_LEN];
                    if let Ok(n) = report::sonar_data(&mut buf, cm) {
                        self.report(buf[..n].to_vec());
                    }
                }
            }
            Action::Text(text) => self.note(Note::BoardSays(text)),
            Action::Garbled => {
                self.stats.garbled += 1;
                let messages = self.stats.garbled;
                if messages == 1 || messages.is_power_of_two() {
                    self.note(Note::Garbled { messages });
                }
            }
        }
        self.advance(now);
    }

    /// Moves the handshake on once what it waits for has come.
    fn advance(&mut self, now: Instant) {
        match self.phase {
            Phase::Identify { .. } => {
                let Some((name, version)) = self.heard.firmware.clone() else {
                    return;
                };
                let firmware = if name.to_ascii_lowercase().contains("express") {
                    Firmware::Express
                } else {
                    Firmware::Standard
                };
                if firmware == Firmware::Express && self.heard.instance.is_none() {
                    return;
                }
                self.firmware = Some(firmware);
                self.protocol = self.heard.protocol;
                self.note(Note::Identified {
                    firmware,
                    name,
                    version,
                    protocol: self.heard.protocol,
                });
                if firmware == Firmware::Standard && self.config.keep_alive_s.is_some() {
                    self.note(Note::NoKeepAlive(firmware));
                }
                self.phase = Phase::Learn {
                    since: now,
                    asked: now,
                };
                self.ask_pins();
            }
            Phase::Learn { .. } => {
                let (Some(caps), Some(raw)) = (&self.heard.capabilities, &self.heard.mapping_raw)
                else {
                    return;
                };
                let mut caps = caps.clone();
                let mapping = AnalogMapping::parse(raw).map_err(|e| format!("{e:?}"));
                if let Err(e) =
                    mapping.and_then(|m| caps.set_analog_mapping(&m).map_err(|e| format!("{e:?}")))
                {
                    self.note(Note::BadCapabilities(e));
                    // Asked again at the next retry.
                    self.heard.capabilities = None;
                    self.heard.mapping_raw = None;
                    return;
                }
                self.caps = Some(Box::new(caps));
                self.phase = Phase::Ready;
                let restored = self.restore(now);
                let caps = self.caps.as_deref();
                let (pins, channels) =
                    caps.map_or((0, 0), |c| (c.pin_count(), c.analog_channels()));
                self.note(Note::Ready {
                    pins,
                    channels,
                    restored,
                });
                if self.firmware == Some(Firmware::Express)
                    && let Some(period) = self.config.keep_alive_s
                {
                    self.send(&banyan_proto::firmata::Command::KeepAlive { period_s: period });
                    self.next_keep_alive = Some(now + super::keep_alive_interval(period));
                }
            }
            Phase::Down | Phase::Ready => {}
        }
    }

    /// Replays the pin table; returns how many messages were queued.
    pub(super) fn restore(&mut self, _now: Instant) -> usize {
        let Some(caps) = self.caps.as_deref() else {
            return 0;
        };
        // Pins the board cannot take (another board answered) are left alone.
        let mut unusable = Vec::new();
        for (pin, state) in self.table.configured() {
            if let Some(mode) = state.mode
                && !super::commands::mode_possible(caps, pin, mode)
            {
                unusable.push(pin);
            }
        }
        for &pin in &unusable {
            *self.table.get_mut(pin) = Default::default();
        }
        let mut messages = Vec::new();
        self.table
            .restore_messages(caps, self.native_pullup(), &mut messages);
        for pin in unusable {
            self.note(Note::NotRestored { pin });
        }
        let count = messages.len();
        for message in &messages {
            self.send(message);
        }
        if count > 0 {
            self.stats.restores += 1;
        }
        count
    }

    /// Whether pull-ups are Firmata's PULLUP mode (protocol 2.5+ listing it) rather than
    /// INPUT plus a written 1.
    pub(super) fn native_pullup_for(protocol: Option<(u8, u8)>, listed: bool) -> bool {
        listed && protocol.is_some_and(|v| v >= (2, 5))
    }

    fn native_pullup(&self) -> bool {
        let listed = self
            .caps
            .as_deref()
            .is_some_and(|c| c.pins().any(|(_, info)| info.supports(FmMode::Pullup)));
        Self::native_pullup_for(self.protocol, listed)
    }

    fn digital_port(&mut self, port: u8, levels: u8, wall_us: u64) {
        for bit in 0..8u8 {
            let Some(pin) = port.checked_mul(8).and_then(|p| p.checked_add(bit)) else {
                return;
            };
            let state = self.table.get(pin);
            if !(state.reporting && state.mode.is_some_and(Mode::is_input)) {
                continue;
            }
            let level = u16::from(levels >> bit & 1);
            if state.last_input == Some(level) {
                continue;
            }
            self.table.get_mut(pin).last_input = Some(level);
            let mut buf = [0u8; REPORT_BUF_LEN];
            if let Ok(n) = report::digital_input(&mut buf, pin, level == 1, wall_us) {
                self.report(buf[..n].to_vec());
            }
        }
    }

    fn analog(&mut self, channel: u8, value: u16, wall_us: u64) {
        let Some(pin) = self.caps.as_deref().and_then(|c| c.pin_of_channel(channel)) else {
            return;
        };
        let state = self.table.get(pin);
        if !(state.reporting && state.mode == Some(Mode::Analog)) {
            return;
        }
        let changed = state
            .last_input
            .is_none_or(|last| last.abs_diff(value) >= state.differential.max(1));
        if !changed {
            return;
        }
        self.table.get_mut(pin).last_input = Some(value);
        let mut buf = [0u8; REPORT_BUF_LEN];
        if let Ok(n) = report::analog_input(&mut buf, channel, value, wall_us) {
            self.report(buf[..n].to_vec());
        }
    }
}

/// A decoded event, owned (the decoder's events borrow its buffer).
enum Action {
    Protocol((u8, u8)),
    Firmware(String, (u8, u8)),
    IAmHere(u8),
    Capabilities(Box<Capabilities>),
    Mapping(Vec<u8>),
    Digital {
        port: u8,
        pins: u8,
    },
    Analog {
        channel: u8,
        value: u16,
    },
    I2c {
        address: u16,
        register: u16,
        data: Vec<u16>,
    },
    Sonar {
        trigger_pin: u8,
        cm: u16,
    },
    Text(String),
    Garbled,
}

impl Action {
    fn from_event(event: &Event<'_>) -> Option<Action> {
        Some(match event {
            Event::ProtocolVersion { major, minor } => Action::Protocol((*major, *minor)),
            Event::Firmware { major, minor, name } => {
                Action::Firmware(name.as_str().to_owned(), (*major, *minor))
            }
            Event::IAmHere { instance_id } => Action::IAmHere(*instance_id),
            Event::Capabilities(response) => {
                Action::Capabilities(Box::new(Capabilities::from_capabilities(response)))
            }
            Event::AnalogMapping(mapping) => Action::Mapping(mapping.raw().to_vec()),
            Event::DigitalPort { port, pins } => Action::Digital {
                port: *port,
                pins: *pins,
            },
            Event::Analog { channel, value } => Action::Analog {
                channel: *channel,
                value: *value,
            },
            Event::I2cReply(reply) => Action::I2c {
                address: reply.address(),
                register: reply.register(),
                data: reply
                    .data()
                    .take(banyan_onegpio::command::MAX_I2C_BYTES)
                    .collect(),
            },
            Event::SonarData {
                trigger_pin,
                distance_cm,
            } => Action::Sonar {
                trigger_pin: *trigger_pin,
                cm: *distance_cm,
            },
            Event::StringData(text) => Action::Text(text.chars().take(200).collect()),
            _ => return None,
        })
    }
}
