//! The engine on the virtual loopback bank: the behaviour a OneGPIO client sees end to end
//! (loopback reports, debounce, analog rate and threshold, tones, back-pressure, tags,
//! topics).

mod common;

use banyan_onegpio::loopback::{LoopbackBank, MAX_DUTY, Wires};
use banyan_onegpio::{Config, Engine, Field, Outcome, PinMode, Reason, Stats, Topics};
use common::*;

type Bank<'w> = Engine<LoopbackBank<'w>, 16, 4>;

fn engine(wires: &Wires, config: Config) -> Bank<'_> {
    Engine::new(LoopbackBank::new(wires), config)
}

fn instant() -> Config {
    Config {
        debounce_us: 0,
        ..Config::DEFAULT
    }
}

#[test]
fn output_on_pin_2_is_reported_on_input_pin_3() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    assert_eq!(
        e.handle(TO, &cmd("set_mode_digital_output", 2), 1_000, &mut sink),
        Outcome::Done
    );
    assert_eq!(
        e.handle(TO, &cmd("set_mode_digital_input", 3), 2_000, &mut sink),
        Outcome::Done
    );
    // Setting an input reports nothing: its level is the baseline.
    assert!(sink.take().is_empty());

    let write = |v| {
        map(&[
            ("command", s("digital_write")),
            ("pin", i(2)),
            ("value", i(v)),
        ])
    };
    assert_eq!(e.handle(TO, &write(1), 1_500_000, &mut sink), Outcome::Done);
    assert!(wires.level(3));
    let reports = sink.take();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert_eq!(r.topic, FROM);
    assert_eq!(r.keys(), ["report", "pin", "value", "timestamp"]);
    assert_eq!(
        (r.kind(), r.pin(), r.int("value")),
        ("digital_input", Some(3), Some(1))
    );
    assert_eq!(r.timestamp(), Some(1.5));

    assert_eq!(e.handle(TO, &write(0), 2_000_000, &mut sink), Outcome::Done);
    let reports = sink.take();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        (reports[0].pin(), reports[0].int("value")),
        (Some(3), Some(0))
    );
    assert_eq!(reports[0].timestamp(), Some(2.0));

    // Writing the same level again is no change: no report.
    assert_eq!(e.handle(TO, &write(0), 2_100_000, &mut sink), Outcome::Done);
    e.poll(2_200_000, &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(e.stats().reports, 2);
    assert_eq!(e.stats().commands, 5);
}

#[test]
fn pullup_input_reads_high_and_reports_when_pulled_low() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    assert_eq!(
        e.handle(TO, &cmd("set_mode_digital_input_pullup", 5), 0, &mut sink),
        Outcome::Done
    );
    assert_eq!(wires.mode(5), PinMode::DigitalInputPullUp);
    assert!(wires.level(5));
    wires.set_external(5, Some(false));
    e.poll(10, &mut sink);
    let reports = sink.take();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].pin(), reports[0].int("value")),
        (Some(5), Some(0))
    );
}

#[test]
fn debounce_suppresses_glitches_and_stamps_the_first_edge() {
    let wires = Wires::new();
    let mut e = engine(&wires, Config::DEFAULT); // 20 ms
    let mut sink = Recorder::new();
    e.handle(TO, &cmd("set_mode_digital_input", 7), 0, &mut sink);
    // A 5 ms glitch: never reported.
    wires.set_external(7, Some(true));
    e.poll(100_000, &mut sink);
    wires.set_external(7, Some(false));
    e.poll(105_000, &mut sink);
    e.poll(200_000, &mut sink);
    assert!(sink.take().is_empty());
    // A real press: reported once it held 20 ms, stamped with the first sighting.
    wires.set_external(7, Some(true));
    e.poll(300_000, &mut sink);
    assert_eq!(e.next_deadline(), Some(320_000));
    e.poll(310_000, &mut sink);
    assert!(sink.take().is_empty());
    e.poll(320_000, &mut sink);
    let reports = sink.take();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].int("value"), Some(1));
    assert_eq!(reports[0].timestamp(), Some(0.3));
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn disabled_digital_reporting_is_silent_and_reenabling_takes_a_new_baseline() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    e.handle(TO, &cmd("set_mode_digital_input", 9), 0, &mut sink);
    assert!(e.digital_reporting(9));
    assert_eq!(
        e.handle(TO, &cmd("disable_digital_reporting", 9), 1, &mut sink),
        Outcome::Done
    );
    assert!(!e.digital_reporting(9));
    wires.set_external(9, Some(true));
    e.poll(2, &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(
        e.handle(TO, &cmd("enable_digital_reporting", 9), 3, &mut sink),
        Outcome::Done
    );
    assert!(
        sink.take().is_empty(),
        "the level at enable time is the new baseline"
    );
    wires.set_external(9, Some(false));
    e.poll(4, &mut sink);
    assert_eq!(sink.take()[0].int("value"), Some(0));
}

#[test]
fn analog_reports_at_the_configured_rate_with_threshold() {
    let wires = Wires::new();
    let config = Config {
        analog_interval_us: 50_000,
        ..instant()
    };
    let mut e = engine(&wires, config);
    let mut sink = Recorder::new();
    assert_eq!(
        e.handle(TO, &cmd("enable_analog_reporting", 0), 1_000_000, &mut sink),
        Outcome::Done
    );
    // The first sample comes at once; the ramp of channel 0 starts at 0 and steps by 64.
    let first = sink.take();
    assert_eq!(first.len(), 1);
    let r = &first[0];
    assert_eq!(r.keys(), ["report", "pin", "value", "timestamp"]);
    assert_eq!(
        (r.kind(), r.pin(), r.int("value"), r.timestamp()),
        ("analog_input", Some(0), Some(0), Some(1.0))
    );
    // Not before the interval.
    e.poll(1_049_999, &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(e.next_deadline(), Some(1_050_000));
    for k in 1..=4u64 {
        e.poll(1_000_000 + k * 50_000, &mut sink);
    }
    let values: Vec<_> = sink
        .take()
        .iter()
        .map(|r| r.int("value").unwrap())
        .collect();
    assert_eq!(values, [64, 128, 192, 256]);

    // A threshold of 200 (ESP8266's `change_diff`) reports every fourth step of 64.
    let set = cmd_with("set_mode_analog_input", 1, "change_diff", i(200));
    assert_eq!(e.handle(TO, &set, 2_000_000, &mut sink), Outcome::Done);
    sink.take();
    for k in 1..=8u64 {
        e.poll(2_000_000 + k * 50_000, &mut sink);
    }
    let ch1: Vec<_> = sink
        .take()
        .into_iter()
        .filter(|r| r.pin() == Some(1))
        .map(|r| r.int("value").unwrap())
        .collect();
    // Channel 1 ramps from 1024: first report at once (1024, above), then at +256, +512.
    assert_eq!(
        ch1,
        [1024 + 256, 1024 + 512],
        "the first sample came with the command"
    );

    assert_eq!(
        e.handle(
            TO,
            &cmd("disable_analog_reporting", 0),
            3_000_000,
            &mut sink
        ),
        Outcome::Done
    );
    assert_eq!(
        e.handle(
            TO,
            &cmd("disable_analog_reporting", 1),
            3_000_000,
            &mut sink
        ),
        Outcome::Done
    );
    sink.take();
    e.poll(4_000_000, &mut sink);
    assert!(sink.take().is_empty());
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn pwm_servo_and_tone() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    e.handle(TO, &cmd("set_mode_pwm", 4), 0, &mut sink);
    e.handle(TO, &cmd_with("pwm_write", 4, "value", i(51)), 0, &mut sink);
    assert_eq!(wires.duty(4), (51u32 * u32::from(MAX_DUTY) / 255) as u16);
    // The Tk demo re-sends set_mode_pwm before every write: no reset to 0.
    e.handle(TO, &cmd("set_mode_pwm", 4), 0, &mut sink);
    assert_eq!(wires.duty(4), 4000);

    e.handle(TO, &cmd("set_mode_servo", 6), 0, &mut sink);
    e.handle(
        TO,
        &cmd_with("servo_position", 6, "position", i(90)),
        0,
        &mut sink,
    );
    // 544 + (2400 - 544) * 90 / 180 = 1472 µs of a 20 ms period; MAX_DUTY is 20 000.
    assert_eq!(wires.duty(6), 1472);
    e.handle(
        TO,
        &cmd_with("servo_position", 6, "position", i(180)),
        0,
        &mut sink,
    );
    assert_eq!(wires.duty(6), 2400);

    // play_tone on an unset pin, as the Tk demo does, with a duration.
    let tone = map(&[
        ("command", s("play_tone")),
        ("pin", i(8)),
        ("freq", i(1000)),
        ("duration", i(500)),
    ]);
    assert_eq!(e.handle(TO, &tone, 1_000_000, &mut sink), Outcome::Done);
    assert_eq!((wires.mode(8), wires.tone(8)), (PinMode::Tone, 1000));
    assert_eq!(e.next_deadline(), Some(1_500_000));
    e.poll(1_499_999, &mut sink);
    assert_eq!(wires.tone(8), 1000);
    e.poll(1_500_000, &mut sink);
    assert_eq!(wires.tone(8), 0);
    // Continuous, then stopped by freq 0.
    let tone = map(&[("command", s("play_tone")), ("pin", i(8)), ("freq", i(440))]);
    e.handle(TO, &tone, 2_000_000, &mut sink);
    e.poll(60_000_000, &mut sink);
    assert_eq!(wires.tone(8), 440);
    let stop = map(&[("command", s("play_tone")), ("pin", i(8)), ("freq", i(0))]);
    e.handle(TO, &stop, 61_000_000, &mut sink);
    assert_eq!(wires.tone(8), 0);
    assert!(sink.take().is_empty(), "no reports from outputs");
}

#[test]
fn blinker_tags_bind_on_success_only() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    // An unknown tag with a failing command is not bound.
    let bad = map(&[
        ("command", s("set_mode_digital_output")),
        ("pin", i(99)),
        ("tag", s("blinker")),
    ]);
    assert_eq!(
        e.handle(TO, &bad, 0, &mut sink),
        Outcome::Rejected(Reason::OutOfRange(Field::Pin))
    );
    assert_eq!(e.tag_pin("blinker"), None);
    sink.take_error();
    // blinker.py: mode with pin and tag, writes with the tag only.
    let mode = map(&[
        ("command", s("set_mode_digital_output")),
        ("pin", i(10)),
        ("tag", s("blinker")),
    ]);
    assert_eq!(e.handle(TO, &mode, 0, &mut sink), Outcome::Done);
    assert_eq!(e.tag_pin("blinker"), Some(10));
    for v in [1, 0, 1] {
        let write = map(&[
            ("command", s("digital_write")),
            ("tag", s("blinker")),
            ("value", i(v)),
        ]);
        assert_eq!(e.handle(TO, &write, 0, &mut sink), Outcome::Done);
        assert_eq!(wires.level(10), v == 1);
    }
    // As in Python, a known tag wins over a pin field.
    let write = map(&[
        ("command", s("digital_write")),
        ("pin", i(2)),
        ("tag", s("blinker")),
        ("value", i(0)),
    ]);
    assert_eq!(e.handle(TO, &write, 0, &mut sink), Outcome::Done);
    assert!(!wires.level(10));
    // An unknown tag without a pin.
    let write = map(&[
        ("command", s("digital_write")),
        ("tag", s("nope")),
        ("value", i(0)),
    ]);
    assert_eq!(
        e.handle(TO, &write, 0, &mut sink),
        Outcome::Rejected(Reason::UnknownTag)
    );
    // Falsy tags are ignored, as Python's `if tag:`.
    let write = map(&[
        ("command", s("digital_write")),
        ("pin", i(10)),
        ("tag", Value::Nil),
        ("value", i(1)),
    ]);
    assert_eq!(e.handle(TO, &write, 0, &mut sink), Outcome::Done);
    let write = map(&[
        ("command", s("digital_write")),
        ("pin", i(10)),
        ("tag", s("")),
        ("value", i(0)),
    ]);
    assert_eq!(e.handle(TO, &write, 0, &mut sink), Outcome::Done);
}

#[test]
fn a_tags_pin_is_range_checked_for_every_command() {
    // 2 digital pins, 4 analog channels: a tag bound to channel 3 is no digital pin.
    let wires = Wires::new();
    let mut e: Engine<_, 2, 4> = Engine::new(LoopbackBank::new(&wires), instant());
    let mut sink = Recorder::new();
    let bind = map(&[
        ("command", s("enable_analog_reporting")),
        ("pin", i(3)),
        ("tag", s("pot")),
    ]);
    assert_eq!(e.handle(TO, &bind, 0, &mut sink), Outcome::Done);
    assert_eq!(e.tag_pin("pot"), Some(3));
    let digital = map(&[("command", s("set_mode_digital_output")), ("tag", s("pot"))]);
    assert_eq!(
        e.handle(TO, &digital, 0, &mut sink),
        Outcome::Rejected(Reason::OutOfRange(Field::Pin))
    );
    assert_eq!(wires.mode(3), PinMode::Unset);
    let off = map(&[
        ("command", s("disable_analog_reporting")),
        ("tag", s("pot")),
    ]);
    assert_eq!(e.handle(TO, &off, 0, &mut sink), Outcome::Done);
    assert!(!e.analog_reporting(3));
}

#[test]
fn tag_table_fills_up_and_says_so() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    for n in 0..banyan_onegpio::MAX_TAGS {
        let p = map(&[
            ("command", s("set_mode_digital_output")),
            ("pin", i((n % 16) as i64)),
            ("tag", s(&format!("t{n}"))),
        ]);
        assert_eq!(e.handle(TO, &p, 0, &mut sink), Outcome::Done);
    }
    let p = map(&[
        ("command", s("set_mode_digital_output")),
        ("pin", i(1)),
        ("tag", s("one_more")),
    ]);
    assert_eq!(
        e.handle(TO, &p, 0, &mut sink),
        Outcome::Rejected(Reason::TagTableFull)
    );
    let long = "x".repeat(banyan_onegpio::MAX_TAG_LEN + 1);
    let p = map(&[
        ("command", s("set_mode_digital_output")),
        ("pin", i(1)),
        ("tag", s(&long)),
    ]);
    assert_eq!(
        e.handle(TO, &p, 0, &mut sink),
        Outcome::Rejected(Reason::TagTooLong)
    );
}

#[test]
fn refused_reports_stay_pending_and_are_bounded() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    e.handle(TO, &cmd("set_mode_digital_output", 0), 0, &mut sink);
    e.handle(TO, &cmd("set_mode_digital_input", 1), 0, &mut sink);
    e.handle(TO, &cmd("enable_analog_reporting", 2), 0, &mut sink);
    sink.take();

    sink.refuse = true;
    let write = |v| {
        map(&[
            ("command", s("digital_write")),
            ("pin", i(0)),
            ("value", i(v)),
        ])
    };
    e.handle(TO, &write(1), 10, &mut sink);
    // Polled many times while the sink is full: the change is offered each time, not queued.
    for t in 0..1000 {
        e.poll(20 + t, &mut sink);
    }
    // An error report while full is dropped and counted.
    e.handle(TO, &cmd("digital_write", 1), 2000, &mut sink);
    let stats = e.stats();
    assert!(stats.deferred >= 1000, "{stats:?}");
    assert_eq!(stats.errors_dropped, 1);

    sink.refuse = false;
    e.poll(3000, &mut sink);
    let digital: Vec<_> = sink
        .take()
        .into_iter()
        .filter(|r| r.kind() == "digital_input")
        .collect();
    assert_eq!(digital.len(), 1);
    assert_eq!(
        (digital[0].int("value"), digital[0].timestamp()),
        (Some(1), Some(0.00001))
    );

    // A change undone while the sink refuses: both edges lost, counted.
    sink.refuse = true;
    e.handle(TO, &write(0), 4000, &mut sink);
    e.handle(TO, &write(1), 5000, &mut sink);
    sink.refuse = false;
    e.poll(6000, &mut sink);
    assert!(sink.take().iter().all(|r| r.kind() != "digital_input"));
    assert_eq!(e.stats().edges_lost, 2);
}

#[test]
fn other_topics_are_ignored_and_the_device_is_settable() {
    let wires = Wires::new();
    let mut e = engine(&wires, instant());
    let mut sink = Recorder::new();
    assert_eq!(e.topics().commands(), "to_pico_gateway");
    assert_eq!(e.topics().reports(), "from_pico_gateway");
    // A prefix match on ZeroMQ would deliver these; the engine wants its exact topic.
    for topic in [
        "to_pico_gateway2",
        "to_pico",
        "from_pico_gateway",
        "to_rpi_gateway",
        "",
    ] {
        assert_eq!(
            e.handle(topic, &cmd("set_mode_digital_output", 2), 0, &mut sink),
            Outcome::Ignored
        );
    }
    assert_eq!(e.mode(2), Some(PinMode::Unset));
    assert_eq!(
        e.stats(),
        Stats {
            ignored: 5,
            ..Stats::default()
        }
    );
    assert!(sink.take().is_empty());

    e.set_device("rpi").unwrap();
    assert_eq!(
        e.handle("to_rpi_gateway", &cmd("unknown_thing", 2), 0, &mut sink),
        Outcome::Rejected(Reason::UnknownCommand)
    );
    assert_eq!(sink.take_error().topic, "from_rpi_gateway");
    assert!(e.set_device("").is_err());
    assert!(e.set_device(&"d".repeat(33)).is_err());
    assert_eq!(Topics::new("esp8266").unwrap().device(), "esp8266");
}

use banyan_proto::payload::Value;
