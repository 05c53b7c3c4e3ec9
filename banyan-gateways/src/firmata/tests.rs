//! Unit tests of the ardgw core against the answers of the real StandardFirmata, recorded on
//! the emulated Uno (`tests/firmata/standard_firmata.txt`, made by
//! `tests/firmata/record_handshake.py`).

use std::time::{Duration, Instant};

use banyan_onegpio::Reason;
use banyan_onegpio::report;
use banyan_proto::payload::{MapReader, ValueRef};

use super::*;

const RECORDED: &str = include_str!("../../tests/firmata/standard_firmata.txt");

fn recorded(name: &str) -> Vec<u8> {
    let line = RECORDED
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no recorded {name}"));
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
        .collect()
}

const WALL_US: u64 = 1_765_000_000_250_000;

/// A core, its clock, and what it sent.
struct Rig {
    core: Core,
    now: Instant,
}

impl Rig {
    fn new() -> Self {
        let mut config = Config::for_baud(57_600);
        config.keep_alive_s = None;
        Self {
            core: Core::new(config),
            now: Instant::now(),
        }
    }

    /// Everything the core sends within `wait` (time advanced in 1 ms steps).
    fn sent(&mut self, wait: Duration) -> Vec<u8> {
        let mut out = Vec::new();
        let end = self.now + wait;
        loop {
            self.core.poll(self.now);
            self.core.transmit(self.now, &mut out);
            if self.now >= end {
                break;
            }
            self.now += Duration::from_millis(1);
        }
        out
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.core.board_bytes(bytes, self.now, WALL_US);
    }

    /// Connects and answers the handshake with the recorded StandardFirmata bytes.
    fn ready(&mut self) -> Vec<u8> {
        self.core.connected(self.now);
        assert_eq!(
            self.sent(Duration::ZERO),
            [0xF9, 0xF0, 0x79, 0xF7, 0xF0, 0x51, 0xF7]
        );
        self.feed(&recorded("identity"));
        assert_eq!(
            self.sent(Duration::ZERO),
            [0xF0, 0x6B, 0xF7, 0xF0, 0x69, 0xF7]
        );
        self.feed(&recorded("pins"));
        assert!(self.core.is_ready());
        self.sent(Duration::from_millis(200))
    }

    fn command(&mut self, payload: &[(&str, Value)]) -> Vec<u8> {
        self.core.command(&map(payload));
        self.sent(Duration::from_millis(50))
    }

    fn reports(&mut self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.core.pop_report()).collect()
    }

    fn notes(&mut self) -> Vec<Note> {
        std::iter::from_fn(|| self.core.pop_note()).collect()
    }
}

#[derive(Clone, Debug)]
enum Value {
    I(i64),
    S(&'static str),
}

fn map(entries: &[(&str, Value)]) -> Vec<u8> {
    let mut out = vec![0x80 | entries.len() as u8];
    for (key, value) in entries {
        str_(&mut out, key);
        match value {
            Value::I(n) if (0..128).contains(n) => out.push(*n as u8),
            Value::I(n) => {
                out.push(0xd3);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::S(s) => str_(&mut out, s),
        }
    }
    out
}

fn str_(out: &mut Vec<u8>, s: &str) {
    out.push(0xa0 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn cmd(name: &'static str, rest: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    let mut v = vec![("command", Value::S(name))];
    v.extend_from_slice(rest);
    v
}

use Value::{I, S};

fn error_reason(payload: &[u8]) -> String {
    let map = MapReader::new(payload).unwrap();
    assert_eq!(map.get("report"), Some(ValueRef::Str("error")));
    match map.get("reason") {
        Some(ValueRef::Str(s)) => s.to_owned(),
        other => panic!("{other:?}"),
    }
}

fn expected_error(command: &str, pin: Option<u8>, reason: Reason) -> Vec<u8> {
    let mut buf = [0u8; report::REPORT_BUF_LEN];
    let n = report::error(&mut buf, Some(command), pin, reason).unwrap();
    buf[..n].to_vec()
}

#[test]
fn the_recorded_standard_firmata_handshake_learns_an_uno() {
    let mut rig = Rig::new();
    assert!(
        rig.ready().is_empty(),
        "nothing to restore on a first connection"
    );
    assert_eq!(rig.core.firmware(), Some(Firmware::Standard));
    let notes = rig.notes();
    assert_eq!(
        notes[0],
        Note::Identified {
            firmware: Firmware::Standard,
            name: "StandardFirmata.ino".into(),
            version: (2, 4),
            protocol: Some((2, 4)),
        }
    );
    assert_eq!(
        notes[1],
        Note::Ready {
            pins: 20,
            channels: 6,
            restored: 0
        }
    );
    let caps = rig.core.capabilities().unwrap();
    assert_eq!(caps.pin_of_channel(0), Some(14));
    assert!(caps.supports(9, banyan_proto::firmata::PinMode::Pwm));
    assert!(!caps.supports(2, banyan_proto::firmata::PinMode::Pwm));
}

#[test]
fn an_unanswered_handshake_is_asked_again_then_given_up() {
    let mut rig = Rig::new();
    rig.core.connected(rig.now);
    rig.sent(Duration::ZERO);
    // One second later the questions go out again.
    let again = rig.sent(RETRY);
    assert_eq!(again, [0xF9, 0xF0, 0x79, 0xF7, 0xF0, 0x51, 0xF7]);
    rig.sent(HANDSHAKE_TIMEOUT);
    assert!(rig.core.gave_up());
    assert!(rig.notes().contains(&Note::Unresponsive {
        waiting_for: "the firmware report"
    }));
}

#[test]
fn commands_become_firmata_bytes() {
    let mut rig = Rig::new();
    rig.ready();
    // D13 output (port 1, bit 5), then high.
    let out = rig.command(&cmd("set_mode_digital_output", &[("pin", I(13))]));
    assert_eq!(out, [0xF4, 13, 1, 0x91, 0, 0]);
    let out = rig.command(&cmd("digital_write", &[("pin", I(13)), ("value", I(1))]));
    assert_eq!(out, [0x91, 0x20, 0]);
    // Pull-up on Firmata 2.4: INPUT, a 1 written to the pin, reporting of its port on.
    let out = rig.command(&cmd("set_mode_digital_input_pullup", &[("pin", I(2))]));
    assert_eq!(out, [0xF4, 2, 0, 0x90, 0x04, 0, 0xD0, 1]);
    // PWM on D9 at 128; servo on D10 at 90 degrees.
    let out = rig.command(&cmd("set_mode_pwm", &[("pin", I(9))]));
    assert_eq!(out, [0xF4, 9, 3]);
    let out = rig.command(&cmd("pwm_write", &[("pin", I(9)), ("value", I(128))]));
    assert_eq!(out, [0xE9, 0, 1]);
    // set_mode_pwm again (the Tk demo does) sends nothing: it would write 0.
    assert!(
        rig.command(&cmd("set_mode_pwm", &[("pin", I(9))]))
            .is_empty()
    );
    let out = rig.command(&cmd("set_mode_servo", &[("pin", I(10))]));
    assert_eq!(out, [0xF0, 0x70, 10, 0x20, 4, 0x60, 0x12, 0xF7]);
    let out = rig.command(&cmd(
        "servo_position",
        &[("pin", I(10)), ("position", I(90))],
    ));
    assert_eq!(out, [0xEA, 90, 0]);
    // A0: analog mode on pin 14 and channel 0's reporting.
    let out = rig.command(&cmd("set_mode_analog_input", &[("pin", I(0))]));
    assert_eq!(out, [0xF4, 14, 2, 0xC0, 1]);
    let out = rig.command(&cmd("disable_analog_reporting", &[("pin", I(0))]));
    assert_eq!(out, [0xC0, 0]);
    assert!(rig.reports().is_empty());
    assert_eq!(rig.core.stats().commands, 10);
}

#[test]
fn board_messages_become_pythons_reports() {
    let mut rig = Rig::new();
    rig.ready();
    rig.command(&cmd("set_mode_digital_input", &[("pin", I(2))]));
    rig.command(&cmd("set_mode_analog_input", &[("pin", I(0))]));
    // The port report after REPORT_DIGITAL: D2 low is news (first report), then high, then
    // the same again (no report), then low.
    for port in [0x00, 0x04, 0x04, 0x00] {
        rig.feed(&[0x90, port, 0]);
    }
    // Channel 0: 512, 512 (no change), 513.
    for value in [512u16, 512, 513] {
        rig.feed(&[0xE0, (value & 0x7f) as u8, (value >> 7) as u8]);
    }
    let mut expected = Vec::new();
    let mut buf = [0u8; report::REPORT_BUF_LEN];
    for level in [false, true, false] {
        let n = report::digital_input(&mut buf, 2, level, WALL_US).unwrap();
        expected.push(buf[..n].to_vec());
    }
    for value in [512, 513] {
        let n = report::analog_input(&mut buf, 0, value, WALL_US).unwrap();
        expected.push(buf[..n].to_vec());
    }
    assert_eq!(rig.reports(), expected);
}

#[test]
fn bad_values_get_error_reports_and_change_nothing() {
    let mut rig = Rig::new();
    rig.ready();
    rig.command(&cmd("set_mode_pwm", &[("pin", I(9))]));
    type Case = (Vec<(&'static str, Value)>, Vec<u8>);
    let cases: Vec<Case> = vec![
        (
            cmd("pwm_write", &[("pin", I(9)), ("value", I(300))]),
            expected_error(
                "pwm_write",
                Some(9),
                Reason::OutOfRange(banyan_onegpio::Field::Value),
            ),
        ),
        (
            cmd("set_mode_pwm", &[("pin", I(2))]),
            expected_error(
                "set_mode_pwm",
                Some(2),
                Reason::ModeNotSupported(banyan_onegpio::PinMode::Pwm),
            ),
        ),
        (
            cmd("digital_write", &[("pin", I(99)), ("value", I(1))]),
            expected_error(
                "digital_write",
                None,
                Reason::OutOfRange(banyan_onegpio::Field::Pin),
            ),
        ),
        (
            cmd(
                "play_tone",
                &[("pin", I(3)), ("freq", I(440)), ("duration", I(100))],
            ),
            expected_error(
                "play_tone",
                Some(3),
                Reason::NotInFirmware("StandardFirmata"),
            ),
        ),
        (
            cmd(
                "set_mode_sonar",
                &[("trigger_pin", I(7)), ("echo_pin", I(8))],
            ),
            expected_error(
                "set_mode_sonar",
                Some(7),
                Reason::NotInFirmware("StandardFirmata"),
            ),
        ),
        (
            cmd("servo_position", &[("pin", I(9)), ("position", I(181))]),
            expected_error(
                "servo_position",
                Some(9),
                Reason::OutOfRange(banyan_onegpio::Field::Position),
            ),
        ),
        (
            cmd("digital_write", &[("pin", I(9)), ("value", S("high"))]),
            expected_error(
                "digital_write",
                Some(9),
                Reason::WrongType(banyan_onegpio::Field::Value),
            ),
        ),
        (
            cmd("pwm_write", &[("pin", I(9))]),
            expected_error(
                "pwm_write",
                Some(9),
                Reason::Missing(banyan_onegpio::Field::Value),
            ),
        ),
    ];
    for (payload, expected) in cases {
        let out = rig.command(&payload);
        assert!(out.is_empty(), "nothing goes to the board: {out:?}");
        let reports = rig.reports();
        assert_eq!(
            reports,
            std::slice::from_ref(&expected),
            "{}",
            error_reason(&expected)
        );
    }
    // And the gateway still serves.
    let out = rig.command(&cmd("pwm_write", &[("pin", I(9)), ("value", I(255))]));
    assert_eq!(out, [0xE9, 0x7f, 1]);
    assert_eq!(rig.core.stats().rejected, 8);
}

#[test]
fn a_reset_board_gets_its_pins_back() {
    let mut rig = Rig::new();
    rig.ready();
    rig.command(&cmd("set_mode_digital_output", &[("pin", I(13))]));
    rig.command(&cmd("digital_write", &[("pin", I(13)), ("value", I(1))]));
    rig.command(&cmd("set_mode_digital_input_pullup", &[("pin", I(2))]));
    rig.command(&cmd("set_mode_analog_input", &[("pin", I(0))]));
    rig.notes();
    // The board boots again and announces itself, unasked.
    rig.feed(&recorded("identity"));
    assert_eq!(rig.notes(), [Note::Reset]);
    let out = rig.sent(Duration::from_millis(100));
    assert_eq!(
        out,
        [
            0xF4, 2, 0, // D2 input
            0xF4, 13, 1, // D13 output
            0xF4, 14, 2, // A0 analog
            0x90, 0x04, 0, // port 0: D2's pull-up
            0x91, 0x20, 0, // port 1: D13 high
            0xD0, 1, // port 0 reporting
            0xC0, 1, // channel 0 reporting
        ]
    );
    assert_eq!(rig.core.stats().resets, 1);
}

#[test]
fn a_reconnect_handshakes_again_and_restores() {
    let mut rig = Rig::new();
    rig.ready();
    rig.command(&cmd("set_mode_pwm", &[("pin", I(9))]));
    rig.command(&cmd("pwm_write", &[("pin", I(9)), ("value", I(128))]));
    rig.core.disconnected();
    // While away: recorded, and the board gets it on return.
    let out = rig.command(&cmd("pwm_write", &[("pin", I(9)), ("value", I(64))]));
    assert!(out.is_empty());
    // One-shot commands need the board now.
    rig.command(&cmd("set_mode_digital_input", &[("pin", I(4))]));
    let restored = rig.ready();
    assert_eq!(restored, [0xF4, 4, 0, 0xF4, 9, 3, 0xE9, 64, 0, 0xD0, 1]);
    let notes = rig.notes();
    assert!(notes.contains(&Note::Ready {
        pins: 20,
        channels: 6,
        restored: 4
    }));
}

#[test]
fn a_burst_of_200_arrives_whole_in_order_and_paced() {
    let mut rig = Rig::new();
    rig.ready();
    for i in 0..200u8 {
        let pin = 2 + i % 12;
        if i < 12 {
            rig.core.command(&map(&cmd(
                "set_mode_digital_output",
                &[("pin", I(pin.into()))],
            )));
        } else {
            rig.core.command(&map(&cmd(
                "digital_write",
                &[("pin", I(pin.into())), ("value", I(i64::from(i % 2)))],
            )));
        }
    }
    assert!(rig.reports().is_empty());
    // Drain: never more than the burst ahead of the average rate.
    let pace = Pace::for_baud(57_600);
    let start = rig.now;
    let mut out = Vec::new();
    while rig.core.queued() > 0 {
        rig.core.transmit(rig.now, &mut out);
        let elapsed = rig.now.duration_since(start).as_secs_f64();
        let allowed = elapsed * f64::from(pace.bytes_per_sec) + f64::from(pace.burst_bytes) + 6.0;
        assert!(
            (out.len() as f64) <= allowed,
            "{} bytes at {elapsed}s",
            out.len()
        );
        rig.now += Duration::from_micros(500);
    }
    // Whole and in order: every message's first byte where expected (port values vary).
    assert_eq!(out.len(), 12 * 6 + 188 * 3);
    let firsts: Vec<u8> = out
        .iter()
        .copied()
        .filter(|&b| b & 0x80 != 0 && b != 0xF4)
        .filter(|&b| b & 0xF0 == 0x90)
        .collect();
    assert_eq!(firsts.len(), 200);
    assert_eq!(rig.core.pacer_stats().refused, 0);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A OneGPIO-ish payload: a map of known keys to small values, or raw bytes.
    fn payload() -> impl Strategy<Value = Vec<u8>> {
        let names = prop::sample::select(
            banyan_onegpio::command::Name::ALL
                .iter()
                .map(|n| n.as_str())
                .chain(["blink", ""])
                .collect::<Vec<_>>(),
        );
        let keys = prop::sample::select(vec![
            "pin",
            "value",
            "tag",
            "position",
            "freq",
            "duration",
            "addr",
            "register",
            "number_of_bytes",
            "trigger_pin",
            "echo_pin",
            "motor_speed",
            "number_of_steps",
            "steps_per_revolution",
            "differential",
        ]);
        let value = prop_oneof![
            (-3i64..300).prop_map(Value::I),
            prop::sample::select(vec!["x", "led", ""]).prop_map(Value::S),
        ];
        let map = (names, prop::collection::vec((keys, value), 0..5)).prop_map(|(name, rest)| {
            let mut entries = vec![("command", Value::S(name))];
            entries.extend(rest);
            super::map(&entries)
        });
        prop_oneof![map, prop::collection::vec(any::<u8>(), 0..40)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_bytes_and_payloads_never_panic_and_queues_stay_bounded(
            steps in prop::collection::vec(
                prop_oneof![
                    payload().prop_map(|p| (0u8, p)),
                    prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| (1u8, b)),
                    Just((2u8, Vec::new())),
                    Just((3u8, Vec::new())),
                ],
                0..60,
            )
        ) {
            let mut rig = Rig::new();
            rig.ready();
            for (kind, bytes) in steps {
                match kind {
                    0 => rig.core.command(&bytes),
                    1 => rig.feed(&bytes),
                    2 => rig.core.disconnected(),
                    _ => rig.core.connected(rig.now),
                }
                let mut out = Vec::new();
                rig.core.poll(rig.now);
                rig.core.transmit(rig.now, &mut out);
                rig.now += Duration::from_millis(3);
                prop_assert!(rig.core.queued() <= Pace::DEFAULT_CAPACITY);
                prop_assert!(rig.core.reports.len() <= REPORT_QUEUE);
                prop_assert!(rig.core.notes.len() <= NOTE_QUEUE);
                // Every report is a map with a `report` key.
                while let Some(report) = rig.core.pop_report() {
                    let map = MapReader::new(&report);
                    prop_assert!(map.is_ok());
                    prop_assert!(map.unwrap().get("report").is_some());
                }
            }
        }
    }
}

/// Bytes a board sends for `event` (the codec's board side).
fn board(event: banyan_proto::firmata::Event<'_>) -> Vec<u8> {
    let mut out = vec![0u8; event.encoded_len()];
    let n = event.encode(&mut out).unwrap();
    out.truncate(n);
    out
}

fn express_identity(instance_id: u8) -> Vec<u8> {
    use banyan_proto::firmata::{Event, FirmwareName};
    let mut bytes = board(Event::ProtocolVersion { major: 2, minor: 5 });
    bytes.extend(board(Event::Firmware {
        major: 1,
        minor: 2,
        name: FirmwareName::try_from("FirmataExpress.ino").unwrap(),
    }));
    bytes.extend(board(Event::IAmHere { instance_id }));
    bytes
}

impl Rig {
    fn express(keep_alive_s: Option<u16>) -> Self {
        let mut config = Config::for_baud(115_200);
        config.keep_alive_s = keep_alive_s;
        Self {
            core: Core::new(config),
            now: Instant::now(),
        }
    }

    fn ready_express(&mut self) -> Vec<u8> {
        self.core.connected(self.now);
        self.sent(Duration::ZERO);
        self.feed(&express_identity(1));
        assert_eq!(
            self.sent(Duration::ZERO),
            [0xF0, 0x6B, 0xF7, 0xF0, 0x69, 0xF7]
        );
        self.feed(&recorded("pins"));
        assert!(self.core.is_ready());
        assert_eq!(self.core.firmware(), Some(Firmware::Express));
        self.sent(Duration::ZERO)
    }
}

#[test]
fn firmata_express_answers_with_its_instance_id_and_gets_keep_alives() {
    let mut rig = Rig::express(Some(1));
    // Right after the handshake: the keep-alive period (1 s), then one every 0.7 s.
    assert_eq!(rig.ready_express(), [0xF0, 0x50, 1, 0, 0xF7]);
    assert!(rig.sent(Duration::from_millis(690)).is_empty());
    assert_eq!(
        rig.sent(Duration::from_millis(20)),
        [0xF0, 0x50, 1, 0, 0xF7]
    );
    assert!(matches!(
        rig.notes()[0],
        Note::Identified {
            firmware: Firmware::Express,
            protocol: Some((2, 5)),
            ..
        }
    ));
}

#[test]
fn another_instance_id_is_not_used() {
    let mut rig = Rig::express(None);
    rig.core.connected(rig.now);
    rig.sent(Duration::ZERO);
    rig.feed(&express_identity(2));
    assert!(!rig.core.is_ready());
    assert_eq!(rig.notes(), [Note::WrongInstance { got: 2, want: 1 }]);
    rig.sent(HANDSHAKE_TIMEOUT);
    assert!(rig.core.gave_up());
    assert!(rig.notes().contains(&Note::Unresponsive {
        waiting_for: "I_AM_HERE with the instance id"
    }));
}

#[test]
fn firmata_express_plays_tones_pings_sonars_and_steps() {
    let mut rig = Rig::express(None);
    rig.ready_express();
    // A tone on D3 without set_mode_tone (the Tk demo): the Uno's report lists no TONE mode,
    // so only the tone sysex goes out. 440 Hz = 0x1B8, 500 ms = 0x1F4.
    let out = rig.command(&cmd(
        "play_tone",
        &[("pin", I(3)), ("freq", I(440)), ("duration", I(500))],
    ));
    assert_eq!(out, [0xF0, 0x5F, 0, 3, 0x38, 3, 0x74, 3, 0xF7]);
    let out = rig.command(&cmd(
        "play_tone",
        &[("pin", I(3)), ("freq", I(0)), ("duration", I(5))],
    ));
    assert!(out.is_empty());
    assert_eq!(error_reason(&rig.reports()[0]), "'freq' out of range");
    // Sonar on D7/D8: SONAR_CONFIG with pymata's timeout as it reaches the wire.
    let out = rig.command(&cmd(
        "set_mode_sonar",
        &[("trigger_pin", I(7)), ("echo_pin", I(8))],
    ));
    assert_eq!(out, [0xF0, 0x62, 7, 8, 0x00, 0x71, 0xF7]);
    // Distances: 0 is never reported (as pymata), a change is, a repeat is not.
    for cm in [0u16, 25, 25, 30] {
        rig.feed(&[0xF0, 0x63, 7, (cm & 0x7f) as u8, (cm >> 7) as u8, 0xF7]);
    }
    let mut buf = [0u8; report::REPORT_BUF_LEN];
    let expected: Vec<Vec<u8>> = [25, 30]
        .iter()
        .map(|&cm| {
            let n = report::sonar_data(&mut buf, cm).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    assert_eq!(rig.reports(), expected);
    // Stepper: configure on four pins, then 100 steps back at speed 500.
    // (`pins` is a list: appended to the map by hand.)
    let mut payload = map(&cmd(
        "set_mode_stepper",
        &[("steps_per_revolution", I(200))],
    ));
    payload[0] += 1;
    str_(&mut payload, "pins");
    payload.extend_from_slice(&[0x94, 9, 10, 11, 12]);
    rig.core.command(&payload);
    let out = rig.sent(Duration::from_millis(50));
    assert_eq!(out, [0xF0, 0x72, 0, 0x48, 1, 9, 10, 11, 12, 0xF7]);
    let out = rig.command(&cmd(
        "stepper_write",
        &[("motor_speed", I(500)), ("number_of_steps", I(-100))],
    ));
    assert_eq!(out, [0xF0, 0x72, 1, 0x74, 3, 0, 100, 0, 0, 0xF7]);
    assert!(rig.reports().is_empty());
}

#[test]
fn i2c_reads_become_pythons_i2c_data_string() {
    let mut rig = Rig::new();
    rig.ready();
    let read = cmd(
        "i2c_read",
        &[
            ("addr", I(0x48)),
            ("register", I(0)),
            ("number_of_bytes", I(2)),
        ],
    );
    // Before set_mode_i2c: refused.
    assert!(rig.command(&read).is_empty());
    assert_eq!(
        error_reason(&rig.reports()[0]),
        "pin cannot be used as i2c before set_mode_i2c (not in the board's capabilities)"
    );
    assert_eq!(
        rig.command(&cmd("set_mode_i2c", &[])),
        [0xF0, 0x78, 0, 0, 0xF7]
    );
    let out = rig.command(&read);
    let errors: Vec<String> = rig.reports().iter().map(|r| error_reason(r)).collect();
    assert_eq!(
        out,
        [0xF0, 0x76, 0x48, 0x08, 0, 0, 2, 0, 0xF7],
        "{errors:?}"
    );
    // The reply: address 0x48, register 0, bytes 0x12 0x34, every value as LSB/MSB.
    rig.feed(&[0xF0, 0x77, 0x48, 0, 0, 0, 0x12, 0, 0x34, 0, 0xF7]);
    let reports = rig.reports();
    let map = MapReader::new(&reports[0]).unwrap();
    assert_eq!(map.get("report"), Some(ValueRef::Str("i2c_data")));
    assert_eq!(
        map.get("value"),
        Some(ValueRef::Str("6, 72, 0, 18, 52, 1765000000.25"))
    );
}
