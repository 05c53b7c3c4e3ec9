//! Unit tests of the Telemetrix gateway core: bytes to the board per OneGPIO command (the
//! bytes s3-extend's gateways send, from the committed recordings), reports as theirs,
//! error reports for bad values, the table kept while the board is away and replayed, the
//! handshake's retries and give-up, and resynchronisation. The binaries against the device
//! model are `banyan-cli/tests/telemetrix_gateways.rs`.

use std::time::{Duration, Instant};

use banyan_proto::payload::{self, MapReader, Value, ValueRef};
use banyan_proto::telemetrix::Family;

use super::*;

fn payload(pairs: &[(&str, Value)]) -> Vec<u8> {
    payload::to_vec(&Value::map(pairs.iter().cloned())).expect("pack")
}

fn cmd(name: &str, rest: &[(&str, i64)]) -> Vec<u8> {
    let mut pairs = vec![("command", Value::Str(name.into()))];
    pairs.extend(rest.iter().map(|&(k, v)| (k, Value::Int(v))));
    payload(&pairs)
}

/// A core past its handshake, with what it sent so far drained.
fn ready(family: Family) -> (Core, Instant) {
    let mut core = Core::new(Config::for_family(family));
    let t0 = Instant::now();
    core.connected(t0);
    let version: &[u8] = match family {
        Family::Esp32 => &[4, 5, 3, 1, 0],
        // I_AM_HERE 1, then the version.
        Family::Arduino => &[2, 6, 1, 4, 5, 5, 4, 4],
        Family::RpiPico => &[3, 5, 1, 1],
    };
    core.board_bytes(version, t0, 0);
    assert!(core.is_ready());
    let _ = sent(&mut core, t0);
    (core, t0)
}

/// Every frame waiting, let out by the pacer as time goes on, split by the length bytes.
fn sent(core: &mut Core, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = now;
    while core.queued() > 0 {
        at += Duration::from_secs(1);
        core.transmit(at, &mut out);
    }
    let mut frames = Vec::new();
    let mut rest = out.as_slice();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        let mut frame = vec![len as u8];
        frame.extend_from_slice(&tail[..len]);
        frames.push(frame);
        rest = &tail[len..];
    }
    frames
}

fn field<'a>(payload: &'a [u8], key: &str) -> Option<ValueRef<'a>> {
    MapReader::new(payload).ok()?.get(key)
}

fn reports(core: &mut Core) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| core.pop_report()).collect()
}

#[test]
fn the_handshake_is_the_python_clients_and_is_retried_then_given_up() {
    let mut pico = Core::new(Config::for_family(Family::RpiPico));
    let t0 = Instant::now();
    pico.connected(t0);
    assert_eq!(sent(&mut pico, t0), [vec![1, 6], vec![1, 5]]);
    pico.poll(t0 + RETRY);
    assert_eq!(sent(&mut pico, t0 + RETRY), [vec![1, 6], vec![1, 5]]);
    pico.poll(t0 + HANDSHAKE_TIMEOUT);
    assert!(pico.gave_up());
    assert_eq!(pico.pop_note(), Some(Note::Unresponsive));

    // The ESP32: the version, then ENABLE_ALL_REPORTS once it answers.
    let mut esp = Core::new(Config::for_family(Family::Esp32));
    esp.connected(t0);
    assert_eq!(sent(&mut esp, t0), [vec![1, 5]]);
    esp.board_bytes(&[4, 5, 3, 1, 0], t0, 0);
    assert!(esp.is_ready());
    assert_eq!(sent(&mut esp, t0), [vec![1, 16]]);
}

#[test]
fn commands_become_the_bytes_s3_extends_gateways_send() {
    // From rpgw.expected.jsonl.
    let (mut pico, t0) = ready(Family::RpiPico);
    for (command, frames) in [
        (
            cmd("set_mode_digital_output", &[("pin", 25)]),
            vec![vec![3, 1, 25, 1]],
        ),
        (
            cmd("digital_write", &[("pin", 25), ("value", 1)]),
            vec![vec![3, 2, 25, 1]],
        ),
        (
            cmd("set_mode_digital_input", &[("pin", 15)]),
            vec![vec![4, 1, 15, 3, 1]],
        ),
        (
            cmd("set_mode_analog_input", &[("pin", 0)]),
            vec![vec![6, 1, 0, 5, 0, 0, 1]],
        ),
        (cmd("set_mode_pwm", &[("pin", 16)]), vec![vec![3, 1, 16, 2]]),
        (
            cmd("pwm_write", &[("pin", 16), ("value", 50)]),
            vec![vec![4, 3, 16, 0x27, 0x10]],
        ),
        (
            cmd("set_mode_servo", &[("pin", 17)]),
            vec![vec![3, 1, 17, 2]],
        ),
        (
            cmd("servo_position", &[("pin", 17), ("position", 90)]),
            vec![vec![4, 3, 17, 4, 0x4c]],
        ),
        (cmd("set_mode_i2c", &[]), vec![vec![4, 10, 0, 4, 5]]),
        (
            cmd(
                "i2c_read",
                &[("addr", 83), ("register", 50), ("number_of_bytes", 2)],
            ),
            vec![vec![6, 11, 0, 83, 50, 2, 0]],
        ),
        (
            cmd("set_mode_sonar", &[("trigger_pin", 2), ("echo_pin", 3)]),
            vec![vec![3, 13, 2, 3]],
        ),
    ] {
        pico.command(&command);
        assert_eq!(
            sent(&mut pico, t0),
            frames,
            "{:?}",
            MapReader::new(&command)
        );
    }
    assert!(reports(&mut pico).is_empty());

    // From esp32gw.expected.jsonl.
    let (mut esp, t0) = ready(Family::Esp32);
    for (command, frames) in [
        (
            cmd("set_mode_digital_input", &[("pin", 4)]),
            vec![vec![4, 1, 4, 0, 1]],
        ),
        (
            cmd("set_mode_analog_input", &[("pin", 32)]),
            vec![vec![6, 1, 32, 3, 0, 0, 1]],
        ),
        (
            cmd("set_mode_pwm", &[("pin", 13)]),
            vec![vec![13, 1, 13, 8, 0, 8, 0, 0, 0, 0, 0, 0x88, 0xb3, 0x40]],
        ),
        (
            cmd("pwm_write", &[("pin", 13), ("value", 50)]),
            vec![vec![4, 3, 13, 0, 50]],
        ),
        (
            cmd("set_mode_servo", &[("pin", 14)]),
            vec![vec![6, 6, 14, 2, 0x20, 9, 0x60]],
        ),
        (
            cmd("servo_position", &[("pin", 14), ("position", 90)]),
            vec![vec![3, 7, 14, 90]],
        ),
        (cmd("set_mode_i2c", &[]), vec![vec![1, 9]]),
        (
            cmd(
                "i2c_read",
                &[("addr", 83), ("register", 50), ("number_of_bytes", 2)],
            ),
            vec![vec![5, 10, 83, 50, 2, 1]],
        ),
        (
            cmd("set_mode_sonar", &[("trigger_pin", 16), ("echo_pin", 17)]),
            vec![vec![3, 12, 16, 17]],
        ),
        // A second PWM pin gets its own LEDC channel (esp32gw puts every pin on channel 0).
        (
            cmd("set_mode_pwm", &[("pin", 12)]),
            vec![vec![13, 1, 12, 8, 1, 8, 0, 0, 0, 0, 0, 0x88, 0xb3, 0x40]],
        ),
    ] {
        esp.command(&command);
        assert_eq!(sent(&mut esp, t0), frames, "{:?}", MapReader::new(&command));
    }
    let write = payload(&[
        ("command", Value::Str("i2c_write".into())),
        ("addr", Value::Int(83)),
        ("data", Value::Array(vec![Value::Int(45), Value::Int(8)])),
    ]);
    esp.command(&write);
    assert_eq!(sent(&mut esp, t0), [vec![5, 11, 2, 83, 45, 8]]);
}

#[test]
fn bad_values_get_error_reports_and_send_nothing() {
    let (mut pico, t0) = ready(Family::RpiPico);
    pico.command(&cmd("set_mode_pwm", &[("pin", 16)]));
    let _ = sent(&mut pico, t0);
    for (command, reason) in [
        (
            cmd("pwm_write", &[("pin", 16), ("value", 100)]),
            "'value' out of range",
        ),
        (
            cmd("digital_write", &[("pin", 16), ("value", 1)]),
            "pin is not in digital output mode",
        ),
        (
            cmd("set_mode_digital_output", &[("pin", 23)]),
            "'pin' out of range",
        ),
        (
            cmd("set_mode_analog_input", &[("pin", 5)]),
            "'pin' out of range",
        ),
        (
            cmd("play_tone", &[("pin", 3), ("freq", 440)]),
            "command not supported by Telemetrix4RpiPico",
        ),
        (
            cmd("enable_digital_reporting", &[("pin", 16)]),
            "pin is not a digital input",
        ),
        (
            cmd(
                "i2c_read",
                &[("addr", 83), ("register", 1), ("number_of_bytes", 1)],
            ),
            "pin cannot be used as i2c before set_mode_i2c (not in the board's capabilities)",
        ),
        (
            payload(&[("command", Value::Str("ip_address".into()))]),
            "missing 'address'",
        ),
    ] {
        pico.command(&command);
        let got = reports(&mut pico);
        assert_eq!(got.len(), 1, "{:?}", MapReader::new(&command));
        assert_eq!(field(&got[0], "report"), Some(ValueRef::Str("error")));
        assert_eq!(field(&got[0], "reason"), Some(ValueRef::Str(reason)));
        assert!(sent(&mut pico, t0).is_empty());
    }
    assert_eq!(pico.stats().rejected, 8);
    // The ESP32's input-only GPIO 34 is no output.
    let (mut esp, _) = ready(Family::Esp32);
    esp.command(&cmd("set_mode_digital_output", &[("pin", 34)]));
    let got = reports(&mut esp);
    assert_eq!(
        field(&got[0], "reason"),
        Some(ValueRef::Str("'pin' out of range"))
    );
}

#[test]
fn reports_are_published_as_s3_extends_gateways_publish_them() {
    let (mut pico, t0) = ready(Family::RpiPico);
    pico.command(&cmd("set_mode_digital_input", &[("pin", 15)]));
    pico.command(&cmd("set_mode_analog_input", &[("pin", 0)]));
    pico.command(&cmd(
        "set_mode_sonar",
        &[("trigger_pin", 2), ("echo_pin", 3)],
    ));
    let wall = 1_700_000_000_250_000;
    // Digital 15 = 1, ADC0 = 1000, I2C read of 2 bytes, sonar 25.50 cm, sonar no echo, and a
    // digital report for a pin the bus never set (not published).
    pico.board_bytes(
        &[
            3, 2, 15, 1, 4, 3, 0, 3, 0xe8, 7, 10, 0, 83, 50, 2, 170, 187, 4, 11, 2, 25, 50, 4, 11,
            2, 0, 0, 3, 2, 9, 1,
        ],
        t0,
        wall,
    );
    let got = reports(&mut pico);
    assert_eq!(got.len(), 5);
    assert_eq!(
        field(&got[0], "report"),
        Some(ValueRef::Str("digital_input"))
    );
    assert_eq!(
        field(&got[0], "timestamp"),
        Some(ValueRef::F64(1_700_000_000.25))
    );
    assert_eq!(field(&got[1], "value"), Some(ValueRef::Int(1000)));
    assert_eq!(
        field(&got[2], "value"),
        Some(ValueRef::Str("10, 0, 83, 50, 2, 170, 187, 1700000000.25"))
    );
    assert_eq!(field(&got[3], "value"), Some(ValueRef::F64(25.5)));
    assert_eq!(field(&got[4], "value"), Some(ValueRef::Int(0)));

    let (mut esp, t0) = ready(Family::Esp32);
    esp.command(&cmd(
        "set_mode_sonar",
        &[("trigger_pin", 16), ("echo_pin", 17)],
    ));
    esp.board_bytes(&[6, 9, 2, 83, 50, 170, 187, 4, 10, 16, 1, 44], t0, wall);
    let got = reports(&mut esp);
    assert_eq!(
        field(&got[0], "value"),
        Some(ValueRef::Str("9, 2, 83, 50, 170, 187, 1700000000.25"))
    );
    assert_eq!(field(&got[1], "value"), Some(ValueRef::Int(300)));
}

#[test]
fn the_table_is_kept_while_the_board_is_away_and_replayed_when_it_is_back() {
    let (mut pico, t0) = ready(Family::RpiPico);
    pico.command(&cmd("set_mode_digital_output", &[("pin", 25)]));
    pico.disconnected();
    // Recorded while away; one-shot commands are refused.
    pico.command(&cmd("digital_write", &[("pin", 25), ("value", 1)]));
    pico.command(&cmd("set_mode_i2c", &[]));
    pico.command(&cmd(
        "i2c_read",
        &[("addr", 83), ("register", 1), ("number_of_bytes", 1)],
    ));
    let got = reports(&mut pico);
    assert_eq!(
        field(&got[0], "reason"),
        Some(ValueRef::Str("no board connected"))
    );
    assert!(sent(&mut pico, t0).is_empty());

    pico.connected(t0);
    pico.board_bytes(&[3, 5, 1, 1], t0, 0);
    assert_eq!(
        sent(&mut pico, t0),
        [
            vec![1, 6],
            vec![1, 5],
            vec![3, 1, 25, 1],
            vec![3, 2, 25, 1],
            vec![4, 10, 0, 4, 5]
        ]
    );
    let notes: Vec<Note> = std::iter::from_fn(|| pico.pop_note()).collect();
    assert!(notes.contains(&Note::Ready { restored: 3 }), "{notes:?}");
}

#[test]
fn a_misaligned_stream_is_resynchronised_or_the_link_reopened() {
    let (mut pico, t0) = ready(Family::RpiPico);
    pico.command(&cmd("set_mode_digital_input", &[("pin", 15)]));
    // Half a frame, then silence: dropped after IDLE_RESYNC, and the next frame is read.
    pico.board_bytes(&[3, 2], t0, 0);
    pico.poll(t0 + IDLE_RESYNC);
    assert_eq!(pico.stats().resyncs, 1);
    pico.board_bytes(&[3, 2, 15, 0], t0 + IDLE_RESYNC, 0);
    assert_eq!(reports(&mut pico).len(), 1);
    // Three unknown ids in a row: the gateway asks for a fresh link.
    pico.board_bytes(&[1, 200, 1, 201, 1, 202], t0, 0);
    assert!(pico.gave_up());
    let notes: Vec<Note> = std::iter::from_fn(|| pico.pop_note()).collect();
    assert!(notes.contains(&Note::Misaligned), "{notes:?}");
}

#[test]
fn ip_address_is_handed_to_the_driver_once() {
    let mut esp = Core::new(Config::for_family(Family::Esp32));
    esp.command(&payload(&[
        ("command", Value::Str("ip_address".into())),
        ("address", Value::Str("192.168.4.1".into())),
    ]));
    assert_eq!(esp.take_address().as_deref(), Some("192.168.4.1"));
    assert_eq!(esp.take_address(), None);
    assert!(reports(&mut esp).is_empty());
}

#[test]
fn an_arduino_must_answer_with_its_instance_id_before_it_is_used() {
    let mut uno = Core::new(Config::for_family(Family::Arduino));
    let t0 = Instant::now();
    uno.connected(t0);
    assert_eq!(sent(&mut uno, t0), [vec![1, 6], vec![1, 5]]);
    // Another sketch's id, then the version: not ready, said once.
    uno.board_bytes(&[2, 6, 7, 4, 5, 5, 4, 4, 2, 6, 7], t0, 0);
    assert!(!uno.is_ready());
    let notes: Vec<Note> = std::iter::from_fn(|| uno.pop_note()).collect();
    assert_eq!(notes, [Note::WrongInstance { got: 7, want: 1 }]);
    // The right one: ready, ENABLE_ALL_REPORTS (17) as the telemetrix client sends it.
    uno.board_bytes(&[2, 6, 1], t0, 0);
    assert!(uno.is_ready());
    assert_eq!(sent(&mut uno, t0), [vec![1, 17]]);
    // Golden bytes of the telemetrix client (banyan-proto/tests/telemetrix_golden).
    uno.command(&cmd("set_mode_digital_input", &[("pin", 2)]));
    uno.command(&cmd("set_mode_servo", &[("pin", 10)]));
    uno.command(&cmd("servo_position", &[("pin", 10), ("position", 90)]));
    assert_eq!(
        sent(&mut uno, t0),
        [
            vec![4, 1, 2, 0, 1],
            vec![6, 7, 10, 2, 0x20, 9, 0x60],
            vec![3, 8, 10, 90]
        ]
    );
    uno.board_bytes(&[7, 10, 0, 2, 83, 50, 170, 187], t0, 1_000_000);
    let got = reports(&mut uno);
    assert_eq!(
        field(&got[0], "value"),
        Some(ValueRef::Str("10, 0, 2, 83, 50, 170, 187, 1.0"))
    );
}

mod props {
    use proptest::prelude::*;

    use super::*;

    /// A OneGPIO-ish payload: a map of known keys to small values, or raw bytes.
    fn command_payload() -> impl Strategy<Value = Vec<u8>> {
        let names = prop::sample::select(
            banyan_onegpio::command::Name::ALL
                .iter()
                .map(|n| n.as_str())
                .chain(["ip_address", "blink", ""])
                .collect::<Vec<_>>(),
        );
        let keys = prop::sample::select(vec![
            "pin",
            "value",
            "tag",
            "position",
            "freq",
            "addr",
            "register",
            "number_of_bytes",
            "trigger_pin",
            "echo_pin",
            "differential",
            "address",
        ]);
        let value = prop_oneof![
            (-3i64..300).prop_map(Value::Int),
            prop::sample::select(vec!["x", "led", "", "10.0.0.1"])
                .prop_map(|s| Value::Str(s.into())),
        ];
        let map = (names, prop::collection::vec((keys, value), 0..5)).prop_map(|(name, rest)| {
            let mut entries = vec![("command", Value::Str(name.into()))];
            entries.extend(rest);
            payload(&entries)
        });
        prop_oneof![map, prop::collection::vec(any::<u8>(), 0..40)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any commands, any board bytes, reconnects and time: no panic, every queue
        /// within its bound, every frame sent one the family's firmware takes.
        #[test]
        fn any_bytes_and_payloads_never_panic_and_queues_stay_bounded(
            family in prop::sample::select(Family::ALL.to_vec()),
            steps in prop::collection::vec(
                prop_oneof![
                    command_payload().prop_map(|p| (0u8, p)),
                    prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| (1u8, b)),
                    Just((2u8, Vec::new())),
                    Just((3u8, Vec::new())),
                ],
                0..60,
            )
        ) {
            let (mut core, t0) = ready(family);
            let mut now = t0;
            for (kind, bytes) in steps {
                match kind {
                    0 => core.command(&bytes),
                    1 => core.board_bytes(&bytes, now, 0),
                    2 => {
                        core.disconnected();
                        core.connected(now);
                    }
                    _ => {
                        now += Duration::from_millis(150);
                        core.poll(now);
                    }
                }
                let mut out = Vec::new();
                core.transmit(now + Duration::from_secs(3600), &mut out);
                let mut rest = out.as_slice();
                while let Some((&len, tail)) = rest.split_first() {
                    prop_assert!(len >= 1 && len <= family.max_command_length());
                    prop_assert!(usize::from(len) <= tail.len());
                    rest = &tail[usize::from(len)..];
                }
                prop_assert!(core.reports.len() <= REPORT_QUEUE);
                prop_assert!(core.notes.len() <= NOTE_QUEUE);
                prop_assert!(core.table.sonars.len() <= commands::MAX_SONARS);
            }
        }
    }
}
