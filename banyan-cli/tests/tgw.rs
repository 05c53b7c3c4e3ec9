//! `tgw` against a simulated Pico W (`banyan_testkit::TcpDevice`: the device is the TCP
//! server, as in Python Banyan's MicroPython scripts) and an in-process backplane: both
//! directions with any chunking, refusals (over 255 bytes, malformed msgpack, empty frames),
//! the device closing, resetting and refusing connections (reconnect with back-off, each
//! state change logged once), flag errors, and byte equality with python-banyan's own `tgw`
//! on both sides and Python Banyan's own Pico W scripts driven through it (in `tgw/python.rs`;
//! skipped without python-banyan locally, a failure under `CI=true`).

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use banyan_host::{Backplane, Component};
use banyan_proto::payload::{self, Value};
use banyan_testkit::{
    ChildGuard, Scenario, Step, TcpDevice, backplane, ensure, run_scenario, try_wait_for,
};
use nix::sys::signal::Signal;

#[path = "tgw/python.rs"]
mod python;

const TGW: &str = env!("CARGO_BIN_EXE_tgw");
const TIMEOUT: Duration = Duration::from_secs(60);

fn component(backplane: &Backplane, name: &str, topics: &[&str]) -> Step<Component> {
    let mut config = banyan_testkit::config(backplane, name);
    for topic in topics {
        config = config.subscribe(*topic);
    }
    config.connect().map_err(|e| e.to_string())
}

/// The device's and the backplane's flags, as a user gives them.
fn flags(device: &TcpDevice, backplane: &Backplane) -> Vec<String> {
    [
        "-a",
        "127.0.0.1",
        "-n",
        &device.port().to_string(),
        "-b",
        "127.0.0.1",
        "-p",
        &backplane.publisher_port().to_string(),
        "-s",
        &backplane.subscriber_port().to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// Our tgw on `device` and `backplane`, its backplane connection proven (banner printed).
fn tgw(
    scenario: &mut Scenario,
    device: &TcpDevice,
    backplane: &Backplane,
    extra: &[&str],
) -> Step<ChildGuard> {
    let mut command = Command::new(TGW);
    command.args(flags(device, backplane));
    command.args(["--connect-timeout", "30"]);
    command.args(extra);
    let gateway = scenario.spawn("tgw", command)?;
    gateway.wait_stdout("using Back Plane IP address")?;
    Ok(gateway)
}

fn packed(value: &Value) -> Vec<u8> {
    payload::to_vec(value).expect("pack")
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![u8::try_from(payload.len()).expect("short payload")];
    frame.extend_from_slice(payload);
    frame
}

/// Payloads received on `topic` until `n` have come.
fn collect(component: &mut Component, topic: &str, n: usize) -> Step<Vec<Vec<u8>>> {
    let until = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    let what = format!("{n} messages on {topic}");
    let all = try_wait_for(until, &what, || -> Step<Option<()>> {
        if let Some(message) = component
            .recv_timeout(Duration::from_millis(100))
            .map_err(|e| e.to_string())?
            && message.topic == topic
        {
            got.push(message.payload);
        }
        Ok((got.len() >= n).then_some(()))
    });
    all.map_err(|error| format!("{error}; only {}", got.len()))?;
    Ok(got)
}

/// Stops the gateway with SIGTERM and returns its exit line's counters.
fn stop(gateway: &mut ChildGuard) -> Step<HashMap<String, u64>> {
    let status = gateway.terminate()?;
    ensure(status.success(), || format!("tgw exited with {status:?}"))?;
    let stdout = gateway.stdout();
    ensure(
        stdout.iter().any(|l| l == "Exiting Through Signal Handler"),
        || "no exit line".into(),
    )?;
    let line = stdout
        .iter()
        .find_map(|l| l.strip_prefix("tgw stopped: "))
        .ok_or("no counters line")?;
    Ok(line
        .split(' ')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect())
}

#[test]
fn forwards_both_ways_with_python_framing_and_any_chunking() {
    run_scenario("tgw: both ways", TIMEOUT, |scenario| {
        let bp = backplane();
        let device = TcpDevice::start()?;
        let mut gateway = tgw(scenario, &device, &bp, &["-g", "figura", "other"])?;
        device.wait_connections(1, scenario.deadline())?;
        gateway.wait_stdout(&format!(
            "Successfully connected to: 127.0.0.1:{}",
            device.port()
        ))?;
        let mut test = component(&bp, "test", &["from_pico"])?;

        // Backplane → device: the topic is dropped, every -g topic (prefix) is forwarded, a
        // topic no -g matches is not.
        let led = |n: i64| Value::map([("Led_0", Value::Int(n))]);
        test.publish("figura", &led(1)).map_err(|e| e.to_string())?;
        test.publish("unrelated", &led(99))
            .map_err(|e| e.to_string())?;
        test.publish("other_topic", &led(2))
            .map_err(|e| e.to_string())?;
        // Over 255 bytes: refused and counted, not a crash; the next one still passes.
        let big = Value::map([("text", Value::Str("x".repeat(300)))]);
        test.publish("figura", &big).map_err(|e| e.to_string())?;
        test.publish("figura", &led(3)).map_err(|e| e.to_string())?;
        let frames = device.wait_frames(3, scenario.deadline())?;
        ensure(
            frames == [packed(&led(1)), packed(&led(2)), packed(&led(3))],
            || format!("device frames {frames:02x?}"),
        )?;
        let mut wire = framed(&packed(&led(1)));
        ensure(wire == b"\x08\x81\xa5Led_0\x01", || format!("{wire:02x?}"))?;
        wire.extend(framed(&packed(&led(2))));
        wire.extend(framed(&packed(&led(3))));
        ensure(device.received() == wire, || "raw bytes differ".into())?;
        gateway.wait_stderr(&format!(
            "payload is {} bytes; the framing allows at most 255",
            packed(&big).len()
        ))?;

        // Device → backplane on -e, whatever the chunking: whole, byte by byte with pauses
        // (a length byte alone on the wire), three frames in one write, a zero-length frame.
        let pico = |n: i64| packed(&Value::map([("pico_data", Value::Int(n))]));
        device.send(&framed(&pico(0)))?;
        device.send_chunked(&framed(&pico(1)), 1, Duration::from_millis(5))?;
        let mut burst = framed(&pico(2));
        burst.extend(framed(b""));
        burst.extend(framed(&pico(3)));
        burst.extend(framed(&pico(4)));
        device.send_chunked(&burst, 5, Duration::from_millis(2))?;
        // Malformed: truncated map, an array, the never-used 0xc1, trailing bytes.
        for bad in [&b"\x81\xa5Led_0"[..], b"\x92\x01\x02", b"\xc1", b"\x80\x00"] {
            device.send(&framed(bad))?;
        }
        let max = Value::map([("m", Value::Str("y".repeat(250)))]);
        let max = packed(&max);
        ensure(max.len() == 255, || format!("{} bytes", max.len()))?;
        device.send(&framed(&max))?;
        let got = collect(&mut test, "from_pico", 6)?;
        ensure(
            got == [pico(0), pico(1), pico(2), pico(3), pico(4), max.clone()],
            || format!("published {got:02x?}"),
        )?;
        gateway.wait_stderr("dropped a frame from the device: empty frame")?;

        let counters = stop(&mut gateway)?;
        let expect = [
            ("connects", 1),
            ("from_device", 11),
            ("published", 6),
            ("malformed", 5),
            ("to_device", 3),
            ("too_long", 1),
            ("dropped_offline", 0),
        ];
        for (key, value) in expect {
            ensure(counters.get(key) == Some(&value), || {
                format!("{key}: {:?} in {counters:?}", counters.get(key))
            })?;
        }
        Ok(())
    });
}

#[test]
fn reconnects_when_the_device_closes_resets_or_refuses() {
    run_scenario("tgw: reconnects", TIMEOUT, |scenario| {
        let bp = backplane();
        let device = TcpDevice::start()?;
        let mut gateway = tgw(scenario, &device, &bp, &["--max-backoff", "0.4"])?;
        let mut test = component(&bp, "test", &["from_pico"])?;
        let led = |n: i64| Value::map([("Led_0", Value::Int(n))]);
        let pico = |n: i64| packed(&Value::map([("pico_data", Value::Int(n))]));
        // Traffic both ways on connection `n`.
        let round = |test: &mut Component, n: u64| -> Step {
            device.wait_connections(n, scenario.deadline())?;
            let before = device.frames().len();
            // The gateway learns of the connection a moment after the device accepts it.
            let until = Instant::now() + Duration::from_secs(20);
            let what = format!("a delivery on connection {n}");
            try_wait_for(until, &what, || -> Step<Option<()>> {
                if device.frames().len() != before {
                    return Ok(Some(()));
                }
                test.publish("figura", &led(n as i64))
                    .map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_millis(50));
                Ok(None)
            })?;
            device.send(&framed(&pico(n as i64)))?;
            let got = collect(test, "from_pico", 1)?;
            ensure(got == [pico(n as i64)], || format!("{got:02x?}"))
        };
        round(&mut test, 1)?;

        // The device closes (FIN) in the middle of a frame: the partial frame is dropped.
        device.send(&[5, 0x81, 0xa1])?;
        std::thread::sleep(Duration::from_millis(100));
        device.close_connection()?;
        gateway.wait_stderr("the device closed the connection, 3 bytes of a partial frame")?;
        round(&mut test, 2)?;

        // A reboot: the connection is reset.
        device.reset_connection()?;
        gateway.wait_stderr("Connection reset by peer")?;
        round(&mut test, 3)?;

        // The device is off for a while: refused, logged once, retried with back-off.
        device.stop_listening()?;
        device.close_connection()?;
        gateway.wait_stderr("cannot reach the device")?;
        std::thread::sleep(Duration::from_millis(1500));
        let refusals = gateway
            .stderr()
            .iter()
            .filter(|l| l.contains("cannot reach the device"))
            .count();
        ensure(refusals == 1, || format!("{refusals} 'cannot reach' lines"))?;
        // Messages while offline are dropped and counted, not queued for the rebooted device.
        test.publish("figura", &led(100))
            .map_err(|e| e.to_string())?;
        device.listen()?;
        round(&mut test, 4)?;
        let lost = gateway
            .stderr()
            .iter()
            .filter(|l| l.contains("lost the device"))
            .count();
        ensure(lost == 3, || format!("{lost} 'lost the device' lines"))?;
        let connected = gateway
            .stdout()
            .iter()
            .filter(|l| l.starts_with("Successfully connected to: "))
            .count();
        ensure(connected == 4, || format!("connected {connected} times"))?;
        ensure(!device.frames().contains(&packed(&led(100))), || {
            "an offline message reached the device".into()
        })?;

        let counters = stop(&mut gateway)?;
        ensure(counters.get("connects") == Some(&4), || {
            format!("{counters:?}")
        })?;
        ensure(counters.get("lost") == Some(&3), || format!("{counters:?}"))?;
        ensure(counters.get("truncated_bytes") == Some(&3), || {
            format!("{counters:?}")
        })?;
        ensure(counters.get("dropped_offline") >= Some(&1), || {
            format!("{counters:?}")
        })
    });
}

#[test]
fn slow_device_fills_the_bounded_queue_and_keeps_publishing() {
    run_scenario("tgw: slow device", TIMEOUT, |scenario| {
        let bp = backplane();
        let device = TcpDevice::start()?;
        let mut gateway = tgw(scenario, &device, &bp, &["--queue", "8"])?;
        device.wait_connections(1, scenario.deadline())?;
        gateway.wait_stdout("Successfully connected to:")?;
        let mut test = component(&bp, "test", &["from_pico"])?;
        let numbered = |n: i64| {
            packed(&Value::map([
                ("n", Value::Int(n)),
                ("pad", Value::Str("p".repeat(200))),
            ]))
        };
        // The device stops reading: its window, the gateway's small send buffer, then the
        // 8-frame queue fill; further messages are dropped and counted.
        device.pause_reading();
        let until = Instant::now() + Duration::from_secs(30);
        let mut n = 0;
        let overflow = try_wait_for(until, "a queue overflow", || -> Step<Option<()>> {
            if gateway
                .stderr()
                .iter()
                .any(|l| l.contains("queue to the device full"))
            {
                return Ok(Some(()));
            }
            for _ in 0..50 {
                let value: Value = payload::from_slice(&numbered(n)).map_err(|e| e.to_string())?;
                test.publish("figura", &value).map_err(|e| e.to_string())?;
                n += 1;
            }
            Ok(None)
        });
        overflow.map_err(|error| format!("{error}; {n} published"))?;
        // Meanwhile the device's own frames are still read and published.
        let pico = packed(&Value::map([("pico_data", Value::Int(7))]));
        device.send(&framed(&pico))?;
        ensure(collect(&mut test, "from_pico", 1)? == [pico], || {
            "not published".into()
        })?;

        // Reading again: what was queued arrives intact and in order, and new messages pass.
        device.resume_reading();
        let last = Value::map([("after", Value::Int(1))]);
        let until = Instant::now() + Duration::from_secs(30);
        try_wait_for(
            until,
            "a delivery after resuming",
            || -> Step<Option<()>> {
                if device.frames().contains(&packed(&last)) {
                    return Ok(Some(()));
                }
                test.publish("figura", &last).map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_millis(50));
                Ok(None)
            },
        )?;
        let frames = device.frames();
        let rebuilt: Vec<u8> = frames.iter().flat_map(|f| framed(f)).collect();
        ensure(device.received() == rebuilt, || "stray bytes".into())?;
        let numbers: Vec<i64> = frames
            .iter()
            .filter_map(|f| payload::from_slice::<Value>(f).ok())
            .filter_map(|v| match v.get("n") {
                Some(Value::Int(n)) => Some(*n),
                _ => None,
            })
            .collect();
        ensure(numbers.windows(2).all(|w| w[0] < w[1]), || {
            format!("out of order: {numbers:?}")
        })?;
        let counters = stop(&mut gateway)?;
        eprintln!("slow device: {n} published before the queue overflowed; {counters:?}");
        ensure(counters.get("dropped_queue_full") >= Some(&1), || {
            format!("{counters:?}")
        })?;
        ensure(counters.get("lost") == Some(&0), || format!("{counters:?}"))?;
        ensure(counters.get("write_failed") == Some(&0), || {
            format!("{counters:?}")
        })?;
        ensure(
            counters.get("to_device") == Some(&(frames.len() as u64)),
            || format!("device got {} frames, {counters:?}", frames.len()),
        )
    });
}

#[test]
fn device_down_at_start_then_up() {
    run_scenario("tgw: device comes up later", TIMEOUT, |scenario| {
        let bp = backplane();
        let device = TcpDevice::start()?;
        device.stop_listening()?;
        let mut gateway = tgw(scenario, &device, &bp, &[])?;
        gateway.wait_stdout("Waiting to connect to the server ...")?;
        gateway.wait_stderr("cannot reach the device at 127.0.0.1")?;
        device.listen()?;
        device.wait_connections(1, scenario.deadline())?;
        gateway.wait_stdout("Successfully connected to:")?;
        let status = gateway
            .signal(Signal::SIGINT)
            .and_then(|()| gateway.wait_exit())?;
        ensure(status.success(), || format!("{status:?}"))
    });
}

#[test]
fn bad_flags_and_missing_backplane_are_one_line_errors() {
    let one_line = |args: &[&str], needle: &str| {
        let output = Command::new(TGW).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("tgw: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    one_line(&[], "--device <ADDR>");
    one_line(&["-a", "None"], "-a needs the device's IP address");
    one_line(
        &["-a", "127.0.0.1", "-n", "99999"],
        "'--device-port <PORT>'",
    );
    one_line(&["-a", "127.0.0.1", "--max-backoff", "0"], "--max-backoff");
    one_line(
        &["-a", "127.0.0.1", "--queue", "0"],
        "0 is not in 1..=100000",
    );
    let port = banyan_testkit::free_port().unwrap().to_string();
    one_line(
        &[
            "-a",
            "127.0.0.1",
            "-b",
            "127.0.0.1",
            "-p",
            &port,
            "-s",
            &port,
            "--connect-timeout",
            "0.3",
        ],
        "no backplane reachable at 127.0.0.1",
    );
    // Python's flags and defaults are all there.
    let help = Command::new(TGW).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "-a, --device",
        "-n, --device-port <PORT>",
        "[default: 31335]",
        "[default: from_pico]",
        "[default: figura]",
        "[default: TcpGateway]",
        "[default: 43124]",
        "[default: 43125]",
        "-b, --backplane",
        "-z, --name",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}
