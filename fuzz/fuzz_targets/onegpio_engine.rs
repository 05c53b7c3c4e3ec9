//! Drives the OneGPIO engine (on the virtual loopback bank) with an arbitrary sequence of
//! command payloads, clock ticks, outside pin levels and sink refusals, and checks:
//! * nothing panics, whatever the bytes;
//! * a carried-out command yields no error report, a refused one exactly one (when the sink
//!   takes it), and a refused command changes no pin mode, drive, duty, tone or tag;
//! * every report is a msgpack map with a known `report` kind on `from_pico_gateway`.
//!
//! Input: a sequence of records `op, …`: op % 4 == 0: a command payload of the next byte's
//! length; 1: advance the clock by the next two bytes (µs × 16), and force pin `b & 15` to
//! `b & 16 != 0` (or release it when `b & 32`); 2: toggle whether the sink refuses; 3: a
//! command payload under another topic (must be ignored).
#![no_main]

use banyan_onegpio::loopback::{LoopbackBank, PINS, Wires};
use banyan_onegpio::{Config, Engine, Outcome, SinkFull};
use banyan_proto::payload::{MapReader, ValueRef};
use libfuzzer_sys::fuzz_target;

fn snapshot(e: &Engine<LoopbackBank<'_>, 16, 4>, w: &Wires) -> Vec<u64> {
    let mut s: Vec<u64> = (0..PINS)
        .map(|p| {
            (e.mode(p).map_or(99, |m| m as u64) << 40)
                | ((w.mode(p) as u64) << 36)
                | (u64::from(w.duty(p)) << 18)
                | (u64::from(w.tone(p)) << 1)
                | u64::from(w.level(p))
        })
        .collect();
    s.extend(
        ["led", "blinker", "x"]
            .iter()
            .map(|t| u64::from(e.tag_pin(t).unwrap_or(255))),
    );
    s
}

fuzz_target!(|data: &[u8]| {
    let wires = Wires::new();
    let debounce = if data.first().is_some_and(|b| b & 1 == 1) {
        20_000
    } else {
        0
    };
    let mut engine: Engine<_, 16, 4> = Engine::new(
        LoopbackBank::new(&wires),
        Config {
            debounce_us: debounce,
            analog_interval_us: 10_000,
            ..Config::DEFAULT
        },
    );
    let mut refuse = false;
    let mut now = 0u64;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 4 {
            0 | 3 => {
                let len = rest
                    .first()
                    .map_or(0, |&n| usize::from(n))
                    .min(rest.len().saturating_sub(1));
                let payload = rest.get(1..1 + len).unwrap_or_default();
                rest = rest.get(1 + len..).unwrap_or_default();
                // Flush timed work first, so that what follows is the command's doing alone.
                engine.poll(now, &mut |_: &str, _: &[u8]| {
                    if refuse { Err(SinkFull) } else { Ok(()) }
                });
                let mut reports: Vec<(String, Vec<u8>)> = Vec::new();
                let mut sink = |topic: &str, bytes: &[u8]| -> Result<(), SinkFull> {
                    if refuse {
                        return Err(SinkFull);
                    }
                    reports.push((topic.to_owned(), bytes.to_vec()));
                    Ok(())
                };
                let before = snapshot(&engine, &wires);
                let topic = if op % 4 == 0 {
                    "to_pico_gateway"
                } else {
                    "to_pico_gatewayX"
                };
                let outcome = engine.handle(topic, payload, now, &mut sink);
                let mut errors = 0;
                for (topic, bytes) in &reports {
                    assert_eq!(topic, "from_pico_gateway");
                    let map = MapReader::new(bytes).expect("reports are maps");
                    match map.get("report") {
                        Some(ValueRef::Str("error")) => errors += 1,
                        Some(ValueRef::Str("digital_input" | "analog_input")) => {}
                        other => panic!("unexpected report {other:?}"),
                    }
                }
                match outcome {
                    Outcome::Done => assert_eq!(errors, 0),
                    Outcome::Rejected(reason) => {
                        assert_eq!(errors, usize::from(!refuse));
                        if reason != banyan_onegpio::Reason::Hardware {
                            assert_eq!(
                                before,
                                snapshot(&engine, &wires),
                                "refused {reason:?} changed state"
                            );
                        }
                    }
                    Outcome::Ignored => assert_eq!(op % 4, 3),
                }
                if op % 4 == 3 {
                    assert_eq!(outcome, Outcome::Ignored);
                }
            }
            1 => {
                let dt = rest
                    .get(..2)
                    .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
                let b = rest.get(2).copied().unwrap_or(0);
                rest = rest.get(3..).unwrap_or_default();
                now += dt * 16;
                wires.set_external(b & 15, if b & 32 != 0 { None } else { Some(b & 16 != 0) });
                let mut sink = |_: &str, _: &[u8]| if refuse { Err(SinkFull) } else { Ok(()) };
                engine.poll(now, &mut sink);
            }
            _ => refuse = !refuse,
        }
    }
});
