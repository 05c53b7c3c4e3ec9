//! Property tests: arbitrary msgpack maps built from OneGPIO's keys and values, and arbitrary
//! bytes, never panic; a refused command changes nothing and yields exactly one error report;
//! a carried-out command yields none; every report is well-formed.

mod common;

use banyan_onegpio::loopback::{LoopbackBank, PINS, Wires};
use banyan_onegpio::{Config, Engine, Outcome, PinMode};
use banyan_proto::payload::{self, Value};
use common::*;
use proptest::prelude::*;

const COMMANDS: [&str; 19] = [
    "set_mode_digital_output",
    "set_mode_digital_input",
    "set_mode_digital_input_pullup",
    "set_mode_analog_input",
    "set_mode_pwm",
    "set_mode_servo",
    "set_mode_tone",
    "digital_write",
    "pwm_write",
    "servo_position",
    "play_tone",
    "enable_digital_reporting",
    "disable_digital_reporting",
    "enable_analog_reporting",
    "disable_analog_reporting",
    "i2c_read",
    "analog_write",
    "nonsense",
    "",
];

const KEYS: [&str; 10] = [
    "command",
    "pin",
    "tag",
    "value",
    "position",
    "freq",
    "duration",
    "change_diff",
    "differential",
    "extra",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..20).prop_map(Value::Int),
        prop_oneof![
            Just(-1i64),
            Just(255),
            Just(256),
            Just(180),
            Just(181),
            Just(65_535),
            Just(65_536),
            Just(i64::MIN),
            Just(i64::MAX)
        ]
        .prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        any::<f64>().prop_map(Value::F64),
        any::<f32>().prop_map(Value::F32),
        prop::sample::select(&COMMANDS[..]).prop_map(|c| Value::Str(c.to_owned())),
        prop::sample::select(&["led", "blinker", "", "x"][..])
            .prop_map(|t| Value::Str(t.to_owned())),
        "[a-z_]{0,40}".prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bin),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((inner.clone(), inner), 0..4).prop_map(Value::Map),
        ]
    })
}

/// A value for `key`: usually one of the right type and near its range, sometimes anything.
fn field(key: &'static str) -> impl Strategy<Value = (&'static str, Value)> {
    let sensible = if key == "tag" {
        prop::sample::select(&["led", "blinker", "x", ""][..])
            .prop_map(|t| Value::Str(t.to_owned()))
            .boxed()
    } else {
        prop_oneof![
            (0i64..3).prop_map(Value::Int),
            (-2i64..300).prop_map(Value::Int)
        ]
        .boxed()
    };
    prop_oneof![4 => sensible, 1 => value()].prop_map(move |v| (key, v))
}

/// A command-like map: usually a real command name and a small pin, then any of the keys.
fn command_map() -> impl Strategy<Value = Value> {
    let command = prop_oneof![
        8 => prop::sample::select(&COMMANDS[..]).prop_map(|c| Some(Value::Str(c.to_owned()))),
        1 => value().prop_map(Some),
        1 => Just(None),
    ];
    let pin = prop_oneof![
        8 => (0i64..18).prop_map(|p| Some(Value::Int(p))),
        1 => value().prop_map(Some),
        1 => Just(None),
    ];
    let others = prop::collection::vec(prop::sample::select(&KEYS[2..]).prop_flat_map(field), 0..5);
    (command, pin, others).prop_map(|(command, pin, others)| {
        let mut entries = vec![];
        if let Some(c) = command {
            entries.push((Value::Str("command".into()), c));
        }
        if let Some(p) = pin {
            entries.push((Value::Str("pin".into()), p));
        }
        for (k, v) in others {
            entries.push((Value::Str(k.to_owned()), v));
        }
        Value::Map(entries)
    })
}

/// What a refused command must leave alone: every pin's mode, drive, duty, tone and level,
/// and the tags.
fn snapshot(
    e: &Engine<LoopbackBank<'_>, 16, 4>,
    wires: &Wires,
) -> Vec<(Option<PinMode>, PinMode, u16, u16, bool, bool)> {
    (0..PINS)
        .map(|p| {
            (
                e.mode(p),
                wires.mode(p),
                wires.duty(p),
                wires.tone(p),
                wires.level(p),
                e.digital_reporting(p),
            )
        })
        .collect()
}

fn tags(e: &Engine<LoopbackBank<'_>, 16, 4>) -> Vec<Option<u8>> {
    ["led", "blinker", "x"]
        .iter()
        .map(|t| e.tag_pin(t))
        .collect()
}

#[derive(Debug, Clone)]
enum Step {
    Command(Value),
    Raw(Vec<u8>),
    /// Advance time by this many µs and force a pin's level from outside (or release it).
    Tick(u32, u8, Option<bool>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => command_map().prop_map(Step::Command),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Step::Raw),
        2 => (0u32..200_000, 0u8..16, any::<Option<bool>>()).prop_map(|(t, p, l)| Step::Tick(t, p, l)),
    ]
}

fn check_report(r: &Report) {
    assert_eq!(r.topic, FROM);
    match r.kind() {
        "digital_input" => {
            assert_eq!(r.keys(), ["report", "pin", "value", "timestamp"]);
            assert!(r.pin().is_some_and(|p| (0..16).contains(&p)));
            assert!(matches!(r.int("value"), Some(0 | 1)));
            assert!(r.timestamp().is_some());
        }
        "analog_input" => {
            assert_eq!(r.keys(), ["report", "pin", "value", "timestamp"]);
            assert!(r.pin().is_some_and(|p| (0..4).contains(&p)));
            assert!(r.int("value").is_some_and(|v| (0..4096).contains(&v)));
        }
        "error" => {
            assert!(!r.reason().is_empty());
        }
        other => panic!("unexpected report kind {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_command_sequences(steps in prop::collection::vec(step(), 1..30), debounce in prop_oneof![Just(0u32), Just(20_000)]) {
        let wires = Wires::new();
        let mut e: Engine<_, 16, 4> = Engine::new(
            LoopbackBank::new(&wires),
            Config { debounce_us: debounce, analog_interval_us: 30_000, ..Config::DEFAULT },
        );
        let mut sink = Recorder::new();
        let mut now = 0u64;
        for step in steps {
            let bytes = match step {
                Step::Tick(dt, pin, level) => {
                    now += u64::from(dt);
                    wires.set_external(pin, level);
                    e.poll(now, &mut sink);
                    for r in sink.take() {
                        prop_assert_ne!(r.kind(), "error");
                        check_report(&r);
                    }
                    continue;
                }
                Step::Command(map) => payload::to_vec(&map).unwrap(),
                Step::Raw(bytes) => bytes,
            };
            // Flush timed work first, so that what follows is the command's doing alone.
            e.poll(now, &mut sink);
            sink.take();
            let before = (snapshot(&e, &wires), tags(&e));
            let outcome = e.handle(TO, &bytes, now, &mut sink);
            let reports = sink.take();
            for r in &reports {
                check_report(r);
            }
            let errors: Vec<_> = reports.iter().filter(|r| r.kind() == "error").collect();
            match outcome {
                Outcome::Done => prop_assert!(errors.is_empty(), "{errors:?}"),
                Outcome::Rejected(reason) => {
                    prop_assert_eq!(errors.len(), 1);
                    prop_assert_eq!(errors[0].reason(), reason.to_string());
                    if reason != banyan_onegpio::Reason::Hardware {
                        prop_assert_eq!(&before, &(snapshot(&e, &wires), tags(&e)), "refused {:?} changed state", reason);
                    }
                }
                Outcome::Ignored => prop_assert!(false, "the command topic was ignored"),
            }
        }
        let stats = e.stats();
        prop_assert_eq!(stats.errors_dropped, 0);
        prop_assert_eq!(stats.hardware_errors, 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let wires = Wires::new();
        let mut e: Engine<_, 16, 4> = Engine::new(LoopbackBank::new(&wires), Config::DEFAULT);
        let mut sink = Recorder::new();
        let outcome = e.handle(TO, &bytes, 0, &mut sink);
        prop_assert!(matches!(outcome, Outcome::Done | Outcome::Rejected(_)));
        prop_assert!(sink.take().iter().filter(|r| r.kind() == "error").count() <= 1);
        // On another topic nothing is even looked at.
        prop_assert_eq!(e.handle("to_pico_gateway_", &bytes, 0, &mut sink), Outcome::Ignored);
        prop_assert!(sink.take().is_empty());
    }

    #[test]
    fn arbitrary_maps_never_panic(map in value()) {
        let wires = Wires::new();
        let mut e: Engine<_, 16, 4> = Engine::new(LoopbackBank::new(&wires), Config::DEFAULT);
        let mut sink = Recorder::new();
        let bytes = payload::to_vec(&Value::Map(vec![(Value::Str("x".into()), map.clone())])).unwrap();
        let _ = e.handle(TO, &bytes, 0, &mut sink);
        if let Ok(bytes) = payload::to_vec(&map) {
            let _ = e.handle(TO, &bytes, 0, &mut sink);
        }
        for r in sink.take() {
            check_report(&r);
        }
    }
}
