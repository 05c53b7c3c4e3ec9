//! `mgw` against a real mosquitto broker started by the test on a free loopback port:
//! round trips with every JSON kind, skipped bad payloads, the broker killed and restarted
//! (the gateway reconnects, traffic resumes), byte equality with python-banyan's own mgw in
//! both directions, and the scale-out recipe (two backplanes bridged through one broker).
//!
//! Needs `mosquitto` (Debian package): skipped with a reason when missing, a failure under
//! `CI=true`. The Python comparison also needs python-banyan (see `python_interop`).

use banyan_testkit::{backplane, ports};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use banyan_host::pyjson::to_json;
use banyan_host::{Backplane, Component};
use banyan_proto::payload::{self, Value};
use banyan_testkit::interop::run_interop;
use banyan_testkit::{
    ChildGuard, Scenario, Step, banyan_python, ensure, try_wait_for, wait_for, wait_until,
};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const MGW: &str = env!("CARGO_BIN_EXE_mgw");

/// mosquitto (Debian's package puts it in /usr/sbin): the kit's rule, a skip with the reason,
/// or a failure under `CI=true`.
fn mosquitto(test: &str) -> Option<PathBuf> {
    banyan_testkit::require_tool(test, "mosquitto")
}

macro_rules! mosquitto_or_skip {
    ($test:literal) => {
        match mosquitto($test) {
            Some(path) => path,
            None => return,
        }
    };
}

fn free_port() -> u16 {
    ports::free_port().expect("a free loopback port")
}

/// A mosquitto on 127.0.0.1:`port` with a generated config (killed by its `ChildGuard` guard). The
/// config file is removed once the broker listens (mosquitto has read it by then), also when
/// it never does.
fn start_broker(scenario: &mut Scenario, binary: &PathBuf, port: u16) -> Step<ChildGuard> {
    let config = std::env::temp_dir().join(format!(
        "banyan-mosquitto-{}-{port}.conf",
        std::process::id()
    ));
    std::fs::write(
        &config,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .map_err(|e| e.to_string())?;
    let mut command = Command::new(binary);
    command.arg("-c").arg(&config);
    let broker = scenario
        .spawn("mosquitto", command)
        .map_err(|e| e.to_string());
    let listening = broker.and_then(|broker| {
        ports::wait_listening(
            ports::LOOPBACK,
            port,
            Instant::now() + Duration::from_secs(30),
        )
        .map_err(|e| format!("mosquitto: {e}"))?;
        Ok(broker)
    });
    let _ = std::fs::remove_file(&config);
    listening
}

/// A test MQTT client: publishes through `client`; `messages` yields (topic, payload).
struct Mqtt {
    client: Client,
    messages: Receiver<(String, Vec<u8>)>,
    subacks: Receiver<()>,
}

impl Mqtt {
    fn connect(port: u16, id: &str, subscriptions: &[&str]) -> Step<Self> {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(options, 100);
        let (tx, messages) = channel();
        let (ack_tx, subacks) = channel();
        let subscriber = client.clone();
        let topics: Vec<String> = subscriptions.iter().map(|s| s.to_string()).collect();
        std::thread::spawn(move || {
            while let Ok(event) = connection.recv() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for topic in &topics {
                            let _ = subscriber.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ack_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        let mqtt = Self {
            client,
            messages,
            subacks,
        };
        for _ in subscriptions {
            mqtt.subacks
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| format!("{id}: no SUBACK"))?;
        }
        Ok(mqtt)
    }

    fn publish(&self, topic: &str, payload: &[u8]) {
        let _ = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, false, payload.to_vec());
    }

    /// The next message on `topic`, repeating `again` every 500 ms until it comes.
    fn expect_on(&self, topic: &str, mut again: impl FnMut()) -> Step<Vec<u8>> {
        let until = Instant::now() + Duration::from_secs(40);
        let mut next = Instant::now();
        let what = format!("a message on MQTT {topic}");
        Ok(wait_for(until, &what, || {
            if Instant::now() >= next {
                again();
                next = Instant::now() + Duration::from_millis(500);
            }
            match self.messages.recv_timeout(Duration::from_millis(100)) {
                Ok((t, payload)) if t == topic => Some(payload),
                Ok(_) | Err(_) => None,
            }
        })?)
    }
}

fn component(backplane: &Backplane, name: &str, topics: &[&str]) -> Step<Component> {
    let mut config =
        banyan_testkit::config(backplane, name).connect_timeout(Duration::from_secs(30));
    for topic in topics {
        config = config.subscribe(*topic);
    }
    config.connect().map_err(|e| e.to_string())
}

/// The next message on Banyan `topic`, repeating `again` every 500 ms until it comes.
fn expect_banyan(component: &mut Component, topic: &str, mut again: impl FnMut()) -> Step<Vec<u8>> {
    let until = Instant::now() + Duration::from_secs(40);
    let mut next = Instant::now();
    let what = format!("a message on Banyan {topic}");
    Ok(try_wait_for(until, &what, || -> Step<Option<Vec<u8>>> {
        if Instant::now() >= next {
            again();
            next = Instant::now() + Duration::from_millis(500);
        }
        let message = component
            .recv_timeout(Duration::from_millis(100))
            .map_err(|e| e.to_string())?;
        Ok(message.filter(|m| m.topic == topic).map(|m| m.payload))
    })?)
}

fn mgw(
    scenario: &mut Scenario,
    name: &str,
    backplane: &Backplane,
    port: u16,
    extra: &[&str],
) -> Step<ChildGuard> {
    let mut command = Command::new(MGW);
    command.args([
        "-a",
        "127.0.0.1",
        "-d",
        &port.to_string(),
        "-b",
        "127.0.0.1",
    ]);
    command.args(["-p", &backplane.publisher_port().to_string()]);
    command.args(["-s", &backplane.subscriber_port().to_string()]);
    command.args(["--connect-timeout", "30", "--client-id", name]);
    command.args(extra);
    let gateway = scenario.spawn(name, command)?;
    gateway.wait_stdout("MQTT Gateway Connected to MQTT")?;
    Ok(gateway)
}

/// A Banyan payload with every kind JSON can carry (and float 32, which Python widens).
fn every_kind() -> Value {
    Value::map([
        (
            "str",
            Value::Str("quote\" back\\ slash/ \n\t\u{1}\u{7f} é € 😀".into()),
        ),
        (
            "ints",
            Value::Array(vec![
                Value::Int(0),
                Value::Int(-1),
                Value::Int(127),
                Value::Int(128),
                Value::Int(-33),
                Value::Int(65536),
                Value::Int(i64::MIN),
                Value::UInt(u64::MAX),
            ]),
        ),
        (
            "floats",
            Value::Array(vec![
                Value::F64(0.1),
                Value::F64(1.0),
                Value::F64(-0.0),
                Value::F64(1e16),
                Value::F64(1e-5),
                Value::F64(123456.789),
                Value::F64(5e-324),
                Value::F64(1.7976931348623157e308),
                Value::F32(0.1),
                Value::F64(f64::INFINITY),
                Value::F64(f64::NAN),
            ]),
        ),
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("none", Value::Nil),
        (
            "nested",
            Value::map([
                ("empty_list", Value::Array(vec![])),
                ("empty_map", Value::Map(vec![])),
                (
                    "list",
                    Value::Array(vec![
                        Value::Str("x".into()),
                        Value::map([("k", Value::Int(1))]),
                    ]),
                ),
            ]),
        ),
        ("ünïcode kéy", Value::Int(1)),
    ])
}

/// MQTT JSON text with every kind, Python's escapes, int/float distinction and a repeated key.
const EVERY_KIND_JSON: &str = r#"{"s": "\u00e9\ud83d\ude00\/\n", "i": 1, "f": 1.0, "e": 1e2, "neg": -9223372036854775808, "big": 18446744073709551615, "n": null, "t": true, "fa": false, "a": [1, "x", {"k": []}, 2.5e-7], "i": 2, "nan": NaN, "inf": -Infinity, "u": "日本"}"#;

#[test]
fn round_trips_every_json_kind_and_skips_bad_payloads() {
    let broker_bin = mosquitto_or_skip!("round_trips_every_json_kind_and_skips_bad_payloads");
    run_interop("mgw: round trips", |scenario| {
        let port = free_port();
        let _broker = start_broker(scenario, &broker_bin, port)?;
        let bp = backplane();
        let gateway = mgw(scenario, "mgw", &bp, port, &[])?;
        let mqtt = Mqtt::connect(port, "test-client", &["from_banyan"])?;
        let mut banyan = component(&bp, "test", &["from_mqtt"])?;

        // Banyan → MQTT: Python's json.dumps bytes.
        let value = every_kind();
        let expected = to_json(&value).map_err(|e| e.to_string())?;
        ensure(
            expected.starts_with(r#"{"str": "quote\" back\\ slash/ \n\t\u0001"#)
                && expected.contains(r#"\u00e9 \u20ac \ud83d\ude00""#)
                && expected.contains("[0, -1, 127, 128, -33, 65536, -9223372036854775808, 18446744073709551615]")
                && expected.contains("[0.1, 1.0, -0.0, 1e+16, 1e-05, 123456.789, 5e-324, 1.7976931348623157e+308, 0.10000000149011612, Infinity, NaN]")
                && expected.contains(r#""true": true, "false": false, "none": null"#)
                && expected.ends_with(r#""\u00fcn\u00efcode k\u00e9y": 1}"#),
            || format!("unexpected JSON {expected}"),
        )?;
        let received = mqtt.expect_on("from_banyan", || {
            banyan.publish("to_mqtt", &value).expect("publish");
        })?;
        ensure(received == expected.as_bytes(), || {
            format!("MQTT payload {:?}", String::from_utf8_lossy(&received))
        })?;

        // MQTT → Banyan: json.loads then msgpack.packb.
        let bytes = expect_banyan(&mut banyan, "from_mqtt", || {
            mqtt.publish("mqtt_network", EVERY_KIND_JSON.as_bytes());
        })?;
        let got: Value = payload::from_slice(&bytes).map_err(|e| e.to_string())?;
        let expected =
            banyan_host::pyjson::from_json(EVERY_KIND_JSON).map_err(|e| e.to_string())?;
        ensure(got.get("i") == Some(&Value::Int(2)), || format!("{got}"))?;
        ensure(got.get("f") == Some(&Value::F64(1.0)), || format!("{got}"))?;
        ensure(got.get("e") == Some(&Value::F64(100.0)), || {
            format!("{got}")
        })?;
        ensure(got.get("big") == Some(&Value::UInt(u64::MAX)), || {
            format!("{got}")
        })?;
        ensure(
            got.get("s") == Some(&Value::Str("é😀/\n".into())),
            || format!("{got}"),
        )?;
        ensure(bytes == payload::to_vec(&expected).unwrap(), || {
            "bytes differ".into()
        })?;

        // Not JSON, not a map, not UTF-8: reported and skipped; the next good one passes.
        for bad in [&b"not json"[..], b"[1, 2]", b"\xff\xfe", b"{\"a\": 1,}"] {
            mqtt.publish("mqtt_network", bad);
        }
        let good = br#"{"after": "bad ones"}"#;
        mqtt.publish("mqtt_network", good);
        let bytes = expect_banyan(&mut banyan, "from_mqtt", || {})?;
        let first: Value = payload::from_slice(&bytes).map_err(|e| e.to_string())?;
        ensure(first.get("after").is_some(), || {
            format!("a bad payload got through: {first}")
        })?;
        gateway.wait_stderr("skipped an MQTT message on \"mqtt_network\": not JSON")?;
        Ok(())
    });
}

#[test]
fn gateway_reconnects_after_broker_restart() {
    let broker_bin = mosquitto_or_skip!("gateway_reconnects_after_broker_restart");
    run_interop("mgw: broker restart", |scenario| {
        let port = free_port();
        let broker = start_broker(scenario, &broker_bin, port)?;
        let bp = backplane();
        let gateway = mgw(scenario, "mgw", &bp, port, &["-q", "1"])?;
        let mut banyan = component(&bp, "test", &["from_mqtt"])?;
        let payload = Value::map([("n", Value::Int(1))]);
        {
            let mqtt = Mqtt::connect(port, "before", &["from_banyan"])?;
            mqtt.expect_on("from_banyan", || {
                banyan.publish("to_mqtt", &payload).unwrap()
            })?;
        }
        drop(broker); // SIGKILL
        gateway.wait_stderr("lost the MQTT broker")?;
        // Keep the broker away a little, so the gateway's reconnect back-off is exercised.
        std::thread::sleep(Duration::from_millis(500));
        let _broker = start_broker(scenario, &broker_bin, port)?;
        // Traffic resumes both ways once the gateway has reconnected and resubscribed.
        let mqtt = Mqtt::connect(port, "after", &["from_banyan"])?;
        let until = Instant::now() + Duration::from_secs(40);
        wait_until(until, "the gateway reconnected", || {
            gateway
                .stdout()
                .iter()
                .filter(|l| l.contains("MQTT Gateway Connected"))
                .count()
                >= 2
        })?;
        let after = Value::map([("n", Value::Int(2))]);
        let got = mqtt.expect_on("from_banyan", || banyan.publish("to_mqtt", &after).unwrap())?;
        ensure(got == br#"{"n": 2}"#, || {
            format!("{:?}", String::from_utf8_lossy(&got))
        })?;
        let got = expect_banyan(&mut banyan, "from_mqtt", || {
            mqtt.publish("mqtt_network", br#"{"back": true}"#)
        })?;
        ensure(
            payload::from_slice::<Value>(&got).ok()
                == Some(Value::map([("back", Value::Bool(true))])),
            || "wrong payload after reconnect".into(),
        )
    });
}

#[test]
fn same_mqtt_bytes_as_python_mgw_both_ways() {
    let broker_bin = mosquitto_or_skip!("same_mqtt_bytes_as_python_mgw_both_ways");
    let Some(python) = banyan_python("same_mqtt_bytes_as_python_mgw_both_ways") else {
        return;
    };
    run_interop("mgw: bytes equal Python's", |scenario| {
        let port = free_port();
        let _broker = start_broker(scenario, &broker_bin, port)?;
        let bp = backplane();
        let _ours = mgw(
            scenario,
            "mgw",
            &bp,
            port,
            &["-i", "rs_out", "-j", "shared_in", "-e", "rs_from"],
        )?;
        let mut py = banyan_testkit::interop::interop_script(&python, "mgw_loopback.py");
        py.args([
            bp.publisher_port().to_string(),
            bp.subscriber_port().to_string(),
            port.to_string(),
        ]);
        py.args(["py_out", "shared_in", "py_from"]);
        let python_gateway = scenario.spawn("python mgw", py)?;
        python_gateway.wait_stdout("MQTT Gateway Connected to MQTT")?;
        let mqtt = Mqtt::connect(port, "compare", &["rs_out", "py_out"])?;
        let mut banyan = component(&bp, "test", &["rs_from", "py_from"])?;

        // Python's mgw raises on non-string keys and bytes, so the message has neither.
        let value = every_kind();
        let publish = || banyan.publish("to_mqtt", &value).expect("publish");
        let ours = mqtt.expect_on("rs_out", publish)?;
        let theirs = mqtt.expect_on("py_out", publish)?;
        ensure(ours == theirs, || {
            format!(
                "MQTT bytes differ:\n ours:   {}\n python: {}",
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            )
        })?;

        // The other way: the same MQTT JSON becomes the same msgpack bytes.
        let mut got = std::collections::HashMap::new();
        let until = Instant::now() + Duration::from_secs(40);
        let mut next = Instant::now();
        let both = try_wait_for(until, "both gateways' messages", || -> Step<Option<()>> {
            if Instant::now() >= next {
                mqtt.publish("shared_in", EVERY_KIND_JSON.as_bytes());
                next = Instant::now() + Duration::from_millis(500);
            }
            if let Some(message) = banyan
                .recv_timeout(Duration::from_millis(100))
                .map_err(|e| e.to_string())?
            {
                got.entry(message.topic).or_insert(message.payload);
            }
            Ok((got.len() >= 2).then_some(()))
        });
        both.map_err(|error| format!("{error}; only {:?}", got.keys()))?;
        ensure(got["rs_from"] == got["py_from"], || {
            banyan_testkit::interop::byte_difference(&got["rs_from"], &got["py_from"])
        })
    });
}

#[test]
fn two_backplanes_bridged_through_one_broker() {
    let broker_bin = mosquitto_or_skip!("two_backplanes_bridged_through_one_broker");
    run_interop("mgw: scale-out recipe", |scenario| {
        let port = free_port();
        let _broker = start_broker(scenario, &broker_bin, port)?;
        let (site_a, site_b) = (backplane(), backplane());
        let _gw_a = mgw(
            scenario,
            "mgw-a",
            &site_a,
            port,
            &["-i", "site_a", "-j", "site_b"],
        )?;
        let _gw_b = mgw(
            scenario,
            "mgw-b",
            &site_b,
            port,
            &["-i", "site_b", "-j", "site_a"],
        )?;
        let mut on_a = component(&site_a, "robot-a", &["from_mqtt"])?;
        let mut on_b = component(&site_b, "robot-b", &["from_mqtt"])?;
        let hello_b = Value::map([("from", Value::Str("a".into())), ("n", Value::Int(1))]);
        let got = expect_banyan(&mut on_b, "from_mqtt", || {
            on_a.publish("to_mqtt", &hello_b).unwrap()
        })?;
        ensure(
            payload::from_slice::<Value>(&got).ok() == Some(hello_b.clone()),
            || "site b got the wrong payload".into(),
        )?;
        let hello_a = Value::map([("from", Value::Str("b".into())), ("f", Value::F64(0.5))]);
        let got = expect_banyan(&mut on_a, "from_mqtt", || {
            on_b.publish("to_mqtt", &hello_a).unwrap()
        })?;
        ensure(
            payload::from_slice::<Value>(&got).ok() == Some(hello_a.clone()),
            || "site a got the wrong payload".into(),
        )
    });
}

/// A back-off that is not a positive number of seconds is a one-line error before anything
/// connects (it was a panic for `nan`); needs no broker.
#[test]
fn bad_max_backoff_is_a_one_line_error() {
    for value in ["nan", "inf", "0", "-1"] {
        let output = Command::new(MGW)
            .arg(format!("--max-backoff={value}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "--max-backoff {value} succeeded");
        assert_eq!(stderr.trim().lines().count(), 1, "{value}: {stderr}");
        assert!(stderr.starts_with("mgw: error: "), "{stderr}");
        assert!(stderr.contains("--max-backoff"), "{value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
