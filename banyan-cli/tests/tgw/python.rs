//! Byte equality with python-banyan 3.17's own `tgw` (`python -m
//! python_banyan.utils.tcp_gateway.tcp_gateway`, unmodified, run with `-b`), each gateway on
//! its own simulated device and both on one backplane; and python-banyan's own MicroPython
//! scripts for the Pico W, unmodified, as the device.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use banyan_proto::payload::{self, Value};
use banyan_testkit::{
    Step, TcpDevice, backplane, banyan_python, ensure, python_module, run_scenario, try_wait_for,
    wait_for,
};

use super::{TIMEOUT, component, flags, framed, packed, tgw};

/// Python's own gateway module (`tgw` is its console script).
const PYTHON_TGW: &str = "python_banyan.utils.tcp_gateway.tcp_gateway";

/// Frames received after the last warm-up frame.
fn after_warmup(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let is_warmup = |f: &Vec<u8>| {
        payload::from_slice::<Value>(f)
            .ok()
            .is_some_and(|v| v.get("warmup").is_some())
    };
    let start = frames.iter().rposition(is_warmup).map_or(0, |i| i + 1);
    frames[start..].to_vec()
}

#[test]
fn same_bytes_as_python_tgw_both_ways() {
    let Some(python) = banyan_python("same_bytes_as_python_tgw_both_ways") else {
        return;
    };
    run_scenario("tgw: bytes equal Python's", TIMEOUT, |scenario| {
        let bp = backplane();
        let (rs_device, py_device) = (TcpDevice::start()?, TcpDevice::start()?);
        let subs = ["-g", "figura", "other"];
        let ours = tgw(
            scenario,
            &rs_device,
            &bp,
            &["-e", "rs_from", "-g", "figura", "other"],
        )?;
        // Python's own gateway, unmodified, with the same flags (-g last: nargs='+').
        let mut py = python_module(&python, PYTHON_TGW);
        py.args(flags(&py_device, &bp));
        py.args(["-e", "py_from"]);
        py.args(subs);
        let theirs = scenario.spawn("python tgw", py)?;
        py_device.wait_connections(1, scenario.deadline())?;
        rs_device.wait_connections(1, scenario.deadline())?;
        let connected = format!("Successfully connected to: 127.0.0.1:{}", py_device.port());
        theirs.wait_stdout(&connected)?;
        ours.wait_stdout(&format!(
            "Successfully connected to: 127.0.0.1:{}",
            rs_device.port()
        ))?;
        for line in [
            "Waiting to connect to the server ...",
            "TcpGateway using Back Plane IP address: 127.0.0.1",
        ] {
            theirs.wait_stdout(line)?;
            ours.wait_stdout(line)?;
        }
        let mut test = component(&bp, "test", &["rs_from", "py_from"])?;

        // Backplane → device. Warm up until both devices hear (Python's subscription may
        // take a moment), then the same messages, then an end marker.
        let until = Instant::now() + Duration::from_secs(30);
        let mut n = 0;
        try_wait_for(
            until,
            "the warm-up at both devices",
            || -> Step<Option<()>> {
                if !rs_device.frames().is_empty() && !py_device.frames().is_empty() {
                    return Ok(Some(()));
                }
                let warmup = Value::map([("warmup", Value::Int(n))]);
                test.publish("figura", &warmup).map_err(|e| e.to_string())?;
                n += 1;
                std::thread::sleep(Duration::from_millis(100));
                Ok(None)
            },
        )?;
        let sequence = [
            ("figura", Value::map([("Led_0", Value::Int(1))])),
            (
                "other",
                Value::map([("s", Value::Str("é € 😀".into())), ("f", Value::F64(0.5))]),
            ),
            (
                "figurative",
                Value::map([(
                    "nested",
                    Value::map([(
                        "a",
                        Value::Array(vec![Value::Nil, Value::Bool(true), Value::Int(-70000)]),
                    )]),
                )]),
            ),
            (
                "other_x",
                Value::map([("max", Value::Str("z".repeat(248)))]),
            ),
            ("figura", Value::map([("end", Value::Int(1))])),
        ];
        for (topic, value) in &sequence {
            test.publish(topic, value).map_err(|e| e.to_string())?;
        }
        let wanted = sequence.len();
        let deadline = scenario.deadline();
        let wait = |device: &TcpDevice| -> Step<Vec<Vec<u8>>> {
            let until = Instant::now() + Duration::from_secs(20);
            let what = format!("{wanted} frames at the device");
            let frames = wait_for(until.min(deadline), &what, || {
                let frames = after_warmup(&device.frames());
                (frames.len() >= wanted).then_some(frames)
            });
            frames.map_err(|error| format!("{error}; got {}", after_warmup(&device.frames()).len()))
        };
        let (rs_frames, py_frames) = (wait(&rs_device)?, wait(&py_device)?);
        ensure(rs_frames == py_frames, || {
            format!("device frames differ:\n ours:   {rs_frames:02x?}\n python: {py_frames:02x?}")
        })?;
        let expected: Vec<Vec<u8>> = sequence.iter().map(|(_, v)| packed(v)).collect();
        ensure(rs_frames == expected, || format!("{rs_frames:02x?}"))?;
        // The raw streams are the frames, length-prefixed, nothing else.
        for device in [&rs_device, &py_device] {
            let rebuilt: Vec<u8> = device.frames().iter().flat_map(|f| framed(f)).collect();
            ensure(device.received() == rebuilt, || "stray bytes".into())?;
        }

        // Device → backplane: the same frames from both devices, published on each -e.
        let until = Instant::now() + Duration::from_secs(30);
        let mut got: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        let mut n = 0;
        let warm = try_wait_for(
            until,
            "the warm-up from both devices",
            || -> Step<Option<()>> {
                let warmup = framed(&packed(&Value::map([("warmup", Value::Int(n))])));
                rs_device.send(&warmup)?;
                py_device.send(&warmup)?;
                n += 1;
                if let Some(message) = test
                    .recv_timeout(Duration::from_millis(100))
                    .map_err(|e| e.to_string())?
                {
                    got.entry(message.topic).or_default().push(message.payload);
                }
                Ok((got.len() >= 2).then_some(()))
            },
        );
        warm.map_err(|error| format!("{error}; only {:?}", got.keys()))?;
        let from_device: Vec<Vec<u8>> = [
            Value::map([("pico_data", Value::Int(0))]),
            Value::map([("pico_data", Value::Int(255)), ("t", Value::F64(21.5))]),
            Value::map([
                ("report", Value::Str("analog_input".into())),
                ("pin", Value::Int(26)),
                ("value", Value::Int(1023)),
            ]),
            Value::map([("long", Value::Str("q".repeat(245)))]),
            Value::map([("end", Value::Bool(true))]),
        ]
        .iter()
        .map(packed)
        .collect();
        for frame in &from_device {
            rs_device.send(&framed(frame))?;
            py_device.send(&framed(frame))?;
            std::thread::sleep(Duration::from_millis(10));
        }
        let until = Instant::now() + Duration::from_secs(30);
        let done = |got: &HashMap<String, Vec<Vec<u8>>>, topic: &str| {
            got.get(topic)
                .is_some_and(|p| after_warmup(p).len() >= from_device.len())
        };
        let all = try_wait_for(until, "every frame published", || -> Step<Option<()>> {
            if done(&got, "rs_from") && done(&got, "py_from") {
                return Ok(Some(()));
            }
            if let Some(message) = test
                .recv_timeout(Duration::from_millis(100))
                .map_err(|e| e.to_string())?
            {
                got.entry(message.topic).or_default().push(message.payload);
            }
            Ok(None)
        });
        all.map_err(|error| {
            let counts: Vec<_> = got.iter().map(|(k, v)| (k, v.len())).collect();
            format!("{error}; published: {counts:?}")
        })?;
        let (rs, py) = (after_warmup(&got["rs_from"]), after_warmup(&got["py_from"]));
        ensure(rs == py, || {
            format!("published payloads differ:\n ours:   {rs:02x?}\n python: {py:02x?}")
        })?;
        ensure(rs == from_device, || format!("{rs:02x?}"))
    });
}

/// Python Banyan's own Pico W script (`SCRIPT`, unmodified, CPython with the hardware stood in
/// for: `tests/python/pico_script.py`) on a free loopback port; returns it and the port.
fn pico_script(
    scenario: &mut banyan_testkit::Scenario,
    python: &std::path::Path,
    script: &str,
) -> Step<(banyan_testkit::ChildGuard, u16)> {
    let runner =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/pico_script.py");
    let mut command = banyan_testkit::python_script(python, &runner);
    command.arg(script);
    let device = scenario.spawn(script, command)?;
    let port = device.number_after("PICO_PORT")?;
    Ok((device, port))
}

/// tgw's flags for a device on `port`.
fn flags_for(port: u16, backplane: &banyan_host::Backplane) -> Vec<String> {
    [
        "-a".to_string(),
        "127.0.0.1".into(),
        "-n".into(),
        port.to_string(),
        "-b".into(),
        "127.0.0.1".into(),
        "-p".into(),
        backplane.publisher_port().to_string(),
        "-s".into(),
        backplane.subscriber_port().to_string(),
        "--connect-timeout".into(),
        "30".into(),
    ]
    .to_vec()
}

#[test]
fn python_banyans_own_pico_scripts_work_unchanged() {
    let Some(python) = banyan_python("python_banyans_own_pico_scripts_work_unchanged") else {
        return;
    };
    run_scenario("tgw: Python Banyan's Pico W scripts", TIMEOUT, |scenario| {
        let bp = backplane();
        let mut test = component(&bp, "test", &["from_pico"])?;

        // select.py: reads `recv(1)` + `recv(length)`, unpacks, and answers every message
        // with {'from pico_data': count}.
        let (device, port) = pico_script(scenario, &python, "select.py")?;
        let mut command = std::process::Command::new(super::TGW);
        command.args(flags_for(port, &bp));
        let gateway = scenario.spawn("tgw (select.py)", command)?;
        gateway.wait_stdout(&format!("Successfully connected to: 127.0.0.1:{port}"))?;
        device.wait_stdout("LED LED off")?; // the script accepted the gateway
        for n in 0..4i64 {
            let led = Value::map([("Led_0", Value::Int(n))]);
            test.publish("figura", &led).map_err(|e| e.to_string())?;
            let reply = super::collect(&mut test, "from_pico", 1)?;
            let expected = packed(&Value::map([("from pico_data", Value::Int(n))]));
            ensure(reply == [expected], || format!("reply {n}: {reply:02x?}"))?;
            device.wait_stdout(&format!("{{'Led_0': {n}}}"))?;
        }
        drop(gateway);
        drop(device);

        // messages_from_pico.py: sends {'pico_data': count} every 10 ms, framed.
        let (_device, port) = pico_script(scenario, &python, "messages_from_pico.py")?;
        let mut command = std::process::Command::new(super::TGW);
        command.args(flags_for(port, &bp));
        let gateway = scenario.spawn("tgw (messages_from_pico.py)", command)?;
        gateway.wait_stdout("Successfully connected to:")?;
        let got = super::collect(&mut test, "from_pico", 20)?;
        let counts: Vec<i64> = got
            .iter()
            .map(|p| {
                match payload::from_slice::<Value>(p)
                    .ok()
                    .and_then(|v| v.get("pico_data").cloned())
                {
                    Some(Value::Int(n)) => Ok(n),
                    _ => Err(format!("not a pico_data payload: {p:02x?}")),
                }
            })
            .collect::<Step<_>>()?;
        ensure(counts.windows(2).all(|w| w[1] == w[0] + 1), || {
            format!("counts not consecutive: {counts:?}")
        })
    });
}
