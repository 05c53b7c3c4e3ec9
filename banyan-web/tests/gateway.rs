//! The WebSocket gateway with real WebSocket clients (tokio-tungstenite) and real Banyan
//! components through a real backplane: relay both ways, malformed input, many clients, a
//! client that stops reading, access control.

mod common;

use std::time::Duration;

use banyan_proto::payload::{self, Value};
use banyan_web::WebConfig;
use banyan_web::allow::{Allowlist, OriginList};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_both_ways_with_python_shapes() {
    let rig = Rig::start(WebConfig::default()).await;
    let device = rig.component("device", &["to_device"]);
    let mut page = rig.joined("to_device").await;

    // Page → bus: published on the id topic, byte for byte what Python's
    // msgpack.packb(json.loads(text), use_bin_type=True) makes.
    send_text(
        &mut page,
        r#"{"command": "digital_write", "pin": 2, "value": 1}"#,
    )
    .await;
    let (device, message) = recv_on(device).await;
    assert_eq!(message.topic, "to_device");
    assert_eq!(message.payload, banyan_testkit::GOLDEN_DIGITAL_WRITE);

    // Bus → page: only the exact reply topic, as Python's gateway (a longer topic with the
    // same prefix and other topics are not forwarded). The page's first message proved that
    // it joined, so nothing below can race the join.
    device
        .publish("from_device_extra", &Value::map([("wrong", Value::Int(1))]))
        .expect("publish");
    device
        .publish("from_other", &Value::map([("wrong", Value::Int(2))]))
        .expect("publish");
    let report = Value::map([
        ("report", Value::from("digital_input")),
        ("pin", Value::Int(12)),
        ("value", Value::Int(1)),
        ("timestamp", Value::F64(1_700_000_000.25)),
        ("raw", Value::Bin(vec![0xca, 0xfe])),
    ]);
    device.publish("from_device", &report).expect("publish");
    let received = next_json(&mut page).await;
    let local = banyan_web::session::python_local_time(1_700_000_000.0).expect("in range");
    assert_eq!(
        received,
        json!({"report": "digital_input", "pin": 12, "value": 1, "timestamp": local, "raw": "cafe"})
    );
    // Key order is kept, as Python's json.dumps of the unpacked dict.
    let text = received.to_string();
    assert!(text.find("report") < text.find("pin") && text.find("pin") < text.find("raw"));
    drop(device);
    rig.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_error_frames_and_the_connection_stays() {
    let config = WebConfig {
        max_message_bytes: 1000,
        ..WebConfig::default()
    };
    let codec_limit = config.codec_limit();
    let rig = Rig::start(config).await;
    let device = rig.component("device", &["to_bad"]);
    let mut page = rig.client("/").await;

    let error_of = |value: serde_json::Value| value["error"].as_str().map(str::to_owned);
    send_text(&mut page, "hello").await;
    assert_eq!(
        error_of(next_json(&mut page).await).as_deref(),
        Some("not_json")
    );
    send_text(&mut page, r#"{"name": "no id"}"#).await;
    assert_eq!(
        error_of(next_json(&mut page).await).as_deref(),
        Some("no_id")
    );
    send_text(&mut page, r#"{"id": 42}"#).await;
    assert_eq!(
        error_of(next_json(&mut page).await).as_deref(),
        Some("no_id")
    );
    send_text(&mut page, r#"{"id": "to_bad"}"#).await;
    send_text(&mut page, "[1, 2, 3]").await;
    assert_eq!(
        error_of(next_json(&mut page).await).as_deref(),
        Some("not_an_object")
    );
    send_text(&mut page, "{\"truncated\": ").await;
    assert_eq!(
        error_of(next_json(&mut page).await).as_deref(),
        Some("not_json")
    );
    page.send(Message::binary(vec![0xff, 0x00, 0x81]))
        .await
        .expect("send");
    assert_eq!(
        error_of(next_json(&mut page).await).as_deref(),
        Some("not_utf8")
    );
    let big = format!(r#"{{"blob": "{}"}}"#, "x".repeat(5000));
    send_text(&mut page, &big).await;
    let frame = next_json(&mut page).await;
    assert_eq!(
        error_of(frame.clone()).as_deref(),
        Some("too_large"),
        "{frame}"
    );
    let deep = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
    send_text(&mut page, &deep).await;
    assert_eq!(
        error_of(next_json(&mut page).await).as_deref(),
        Some("too_deep")
    );

    // Still usable: the next good message is published.
    send_text(&mut page, r#"{"still": "alive"}"#).await;
    let (_device, message) = recv_on(device).await;
    assert_eq!(message.topic, "to_bad");
    assert_eq!(
        message.value().expect("decodes"),
        Value::map([("still", Value::from("alive"))])
    );

    // Above the codec's hard limit: an error frame, then the connection is closed (1009);
    // the gateway itself carries on.
    let huge = format!(r#"{{"blob": "{}"}}"#, "y".repeat(codec_limit + 10));
    let _ = page.send(Message::text(huge)).await;
    let mut saw_error = false;
    let mut closed = false;
    while let Ok(Some(message)) = tokio::time::timeout(DEADLINE, page.next()).await {
        match message {
            Ok(Message::Text(text)) => {
                saw_error |= text.contains("too_large");
            }
            Ok(Message::Close(frame)) => {
                closed = true;
                if let Some(frame) = frame {
                    assert_eq!(u16::from(frame.code), 1009);
                }
                break;
            }
            Ok(_) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(
        saw_error && closed,
        "error frame {saw_error}, closed {closed}"
    );
    let mut again = rig.joined("to_again").await;
    send_text(&mut again, "nope").await;
    assert_eq!(
        error_of(next_json(&mut again).await).as_deref(),
        Some("not_json")
    );
    let stats = rig.stats().await;
    assert!(
        stats["gateway"]["client_errors"].as_u64() >= Some(9),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_each_get_their_own_topic_and_shared_ids_all_get_it() {
    const PAGES: usize = 24;
    const SHARED: usize = 8;
    let rig = Rig::start(WebConfig::default()).await;
    let device = rig.component("device", &["to_page_", "to_shared"]);
    let mut pages = Vec::new();
    for i in 0..PAGES {
        let mut page = rig.joined(&format!("to_page_{i}")).await;
        // A first message proves the join (see relays_both_ways_...).
        send_json(&mut page, &json!({"hello": i})).await;
        pages.push(page);
    }
    let mut shared = Vec::new();
    for i in 0..SHARED {
        let mut page = rig.joined("to_shared").await;
        send_json(&mut page, &json!({"hello": i})).await;
        shared.push(page);
    }
    // Wait until the device heard every page: every join is in force then.
    let device = tokio::task::spawn_blocking(move || {
        let mut device = device;
        for _ in 0..PAGES + SHARED {
            device
                .recv_timeout(DEADLINE)
                .expect("receive")
                .expect("every hello arrives");
        }
        for i in 0..PAGES {
            device
                .publish(
                    &format!("from_page_{i}"),
                    &Value::map([("page", Value::Int(i as i64))]),
                )
                .expect("publish");
        }
        device
            .publish("from_shared", &Value::map([("all", Value::Bool(true))]))
            .expect("publish");
        device
    })
    .await
    .expect("device task");
    for (i, page) in pages.iter_mut().enumerate() {
        assert_eq!(next_json(page).await, json!({"page": i}));
    }
    for page in &mut shared {
        assert_eq!(next_json(page).await, json!({"all": true}));
    }
    let stats = wait_stats(&rig, "every client counted", |s| {
        s["gateway"]["clients"] == PAGES + SHARED
    })
    .await;
    assert_eq!(stats["gateway"]["bus"]["dropped"], 0, "{stats}");
    drop(pages);
    drop(shared);
    wait_stats(&rig, "every client gone", |s| s["gateway"]["clients"] == 0).await;
    drop(device);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_neither_blocks_the_bus_nor_grows() {
    const MESSAGES: usize = 3000;
    const BATCH: usize = 50;
    let config = WebConfig {
        client_queue_messages: 64,
        client_queue_bytes: 64 * 1024,
        send_timeout: Duration::from_secs(3),
        ..WebConfig::default()
    };
    let rig = Rig::start(config).await;
    let device = rig.component("device", &["to_flood"]);
    let watcher = rig.component("watcher", &["from_flood"]);

    // The stalled page: a tiny receive buffer, joins, then never reads again.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let stream = socket.connect(rig.addr).await.expect("connect");
    let request = format!("ws://{}/", rig.addr)
        .into_client_request()
        .expect("request");
    let (mut stalled, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("handshake");
    send_json(&mut stalled, &json!({"id": "to_flood"})).await;
    send_json(&mut stalled, &json!({"stalled": true})).await;
    // The reading page.
    let mut reader = rig.joined("to_flood").await;
    send_json(&mut reader, &json!({"reader": true})).await;
    let (device, _) = recv_on(device).await;
    let (mut device, _) = recv_on(device).await;

    // Publish in batches; the reader must see every message in order while the stalled
    // page's queue overflows. The watcher (a plain component) must see them all too.
    let filler = "z".repeat(1000);
    let mut watcher = Some(watcher);
    let mut next = 0usize;
    while next < MESSAGES {
        let (d, w) = tokio::task::spawn_blocking({
            let filler = filler.clone();
            let mut watcher = watcher.take().expect("watcher");
            move || {
                for seq in next..next + BATCH {
                    device
                        .publish(
                            "from_flood",
                            &Value::map([
                                ("seq", Value::Int(seq as i64)),
                                ("filler", Value::from(filler.as_str())),
                            ]),
                        )
                        .expect("publish");
                }
                for seq in next..next + BATCH {
                    let message = watcher
                        .recv_timeout(DEADLINE)
                        .expect("receive")
                        .expect("the watcher keeps up");
                    let value = message.value().expect("decodes");
                    assert_eq!(value.get("seq").and_then(Value::as_i64), Some(seq as i64));
                }
                (device, watcher)
            }
        })
        .await
        .expect("batch");
        device = d;
        watcher = Some(w);
        for seq in next..next + BATCH {
            let message = next_json(&mut reader).await;
            assert_eq!(
                message["seq"], seq,
                "the reading page lost or reordered messages"
            );
        }
        next += BATCH;
    }
    let stats = wait_stats(&rig, "drops counted for the stalled page", |s| {
        s["gateway"]["bus"]["dropped"].as_u64() > Some(0)
    })
    .await;
    // Everything the stalled page did not get was dropped, not queued: its queue holds at
    // most 64 messages, and the rest either went into TCP buffers or was dropped.
    let relayed = stats["gateway"]["bus"]["relayed"].as_u64().expect("count");
    assert!(relayed >= MESSAGES as u64, "{stats}");
    // The stalled page is disconnected by the send timeout (or still stuck): either way the
    // gateway still serves a new page at once.
    let mut fresh = rig.joined("to_fresh").await;
    send_text(&mut fresh, "{").await;
    assert_eq!(next_json(&mut fresh).await["error"], "not_json");
    drop(stalled);
    drop(device);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_and_addresses_are_checked() {
    // Origin allowlist: a foreign page is refused at the handshake, the listed one and
    // clients without Origin (not browsers) are accepted.
    let rig = Rig::start(WebConfig {
        origins: OriginList::new(["http://good.example"]),
        ..WebConfig::default()
    })
    .await;
    let url = format!("ws://{}/", rig.addr);
    let with_origin = |origin: &str| {
        let mut request = url.clone().into_client_request().expect("request");
        request
            .headers_mut()
            .insert("Origin", origin.parse().expect("header"));
        request
    };
    let refused = tokio_tungstenite::connect_async(with_origin("http://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("a foreign origin must be refused, got {other:?}"),
    }
    tokio_tungstenite::connect_async(with_origin("http://good.example"))
        .await
        .expect("listed origin accepted");
    let monitor_origin = format!("http://{}", rig.addr);
    let monitor = format!("ws://{}/monitor/ws", rig.addr);
    let mut request = monitor.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("Origin", monitor_origin.parse().expect("header"));
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the page's own origin is accepted");
    drop(rig);

    // Address allowlist: only 127.0.0.2 may connect.
    let rig = Rig::start_with(
        WebConfig::default(),
        Allowlist::parse(["127.0.0.2/32"]).expect("parses"),
    )
    .await;
    let from_1 = tokio::net::TcpSocket::new_v4().expect("socket");
    from_1
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let stream = from_1.connect(rig.addr).await.expect("TCP connects");
    let request = format!("ws://{}/", rig.addr)
        .into_client_request()
        .expect("request");
    let outcome = tokio::time::timeout(
        DEADLINE,
        tokio_tungstenite::client_async(request.clone(), stream),
    )
    .await
    .expect("refusal in time");
    assert!(outcome.is_err(), "127.0.0.1 is not allowed");
    let from_2 = tokio::net::TcpSocket::new_v4().expect("socket");
    from_2
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind");
    let stream = from_2.connect(rig.addr).await.expect("TCP connects");
    let (mut page, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("127.0.0.2 is allowed");
    send_text(&mut page, "x").await;
    assert_eq!(next_json(&mut page).await["error"], "not_json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_feed_history_and_publish() {
    let rig = Rig::start(WebConfig {
        snapshot_interval: Duration::from_millis(100),
        ..WebConfig::default()
    })
    .await;
    let mut page = rig.client("/monitor/ws").await;
    let first = next_json(&mut page).await;
    assert_eq!(first["type"], "snapshot");
    let device = rig.component("device", &["poke"]);
    let device = tokio::task::spawn_blocking(move || {
        for i in 0..20 {
            device
                .publish("sensors/a", &Value::map([("i", Value::Int(i))]))
                .expect("publish");
            device
                .publish(
                    "sensors/b",
                    &Value::map([("raw", Value::Bin(vec![1, 2, i as u8]))]),
                )
                .expect("publish");
        }
        device
    })
    .await
    .expect("publisher");
    let snapshot = banyan_testkit::wait_for_async(
        std::time::Instant::now() + DEADLINE,
        "a snapshot with both topics counted 20 times",
        Duration::ZERO,
        async || {
            let message = next_json(&mut page).await;
            if message["type"] != "snapshot" {
                return None;
            }
            let topics = message["topics"].as_array().expect("topics");
            let done = topics.iter().filter(|t| t["count"] == 20).count() == 2;
            done.then_some(message)
        },
    )
    .await
    .expect("snapshot");
    let topics = snapshot["topics"].as_array().expect("topics");
    let a = topics
        .iter()
        .find(|t| t["topic"] == "sensors/a")
        .expect("a");
    let b = topics
        .iter()
        .find(|t| t["topic"] == "sensors/b")
        .expect("b");
    assert_eq!(a["last"], r#"{"i":19}"#);
    assert_eq!(b["last"], r#"{"raw":"010213"}"#);
    assert!(a["rate"].as_f64() > Some(0.0), "{a}");
    assert!(a["bytes"].as_u64() > Some(0));
    assert_eq!(snapshot["gateway"]["monitors"], 1);
    // No probe topics unless asked for.
    assert!(
        topics
            .iter()
            .all(|t| !t["topic"].as_str().unwrap_or("").starts_with("_banyan"))
    );

    send_json(&mut page, &json!({"op": "history", "topic": "sensors/a"})).await;
    let history = loop {
        let message = next_json(&mut page).await;
        if message["type"] == "history" {
            break message;
        }
    };
    assert_eq!(history["topic"], "sensors/a");
    assert!(!history["rates"].as_array().expect("rates").is_empty());

    send_json(
        &mut page,
        &json!({"op": "publish", "topic": "poke", "payload": {"command": "blink", "times": 3}}),
    )
    .await;
    let (_device, message) = recv_on(device).await;
    assert_eq!(message.topic, "poke");
    assert_eq!(
        payload::from_slice::<Value>(&message.payload).expect("decodes"),
        Value::map([("command", Value::from("blink")), ("times", Value::Int(3))])
    );
    let reply = loop {
        let message = next_json(&mut page).await;
        if message["type"] != "snapshot" {
            break message;
        }
    };
    assert_eq!(reply["type"], "published");
    for (command, code) in [
        (
            json!({"op": "publish", "topic": "poke", "payload": [1]}),
            "not_an_object",
        ),
        (
            json!({"op": "publish", "topic": "", "payload": {}}),
            "bad_command",
        ),
        (json!({"op": "dance"}), "bad_command"),
        (
            json!({"op": "history", "topic": "never/seen"}),
            "bad_command",
        ),
    ] {
        send_json(&mut page, &command).await;
        let reply = loop {
            let message = next_json(&mut page).await;
            if message["type"] != "snapshot" {
                break message;
            }
        };
        assert_eq!(reply["type"], "error", "{command} → {reply}");
        assert_eq!(reply["error"], code, "{command} → {reply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_page_and_its_assets() {
    let rig = Rig::start(WebConfig::default()).await;
    let (status, body) = rig.get("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Banyan <span>monitor</span>") && body.contains("/monitor.js"));
    let (status, body) = rig.get("/monitor.js").await;
    assert_eq!(status, 200);
    assert!(body.contains("/monitor/ws"));
    assert_eq!(rig.get("/monitor.css").await.0, 200);
    assert_eq!(rig.get("/nope").await.0, 404);
    let stats = rig.stats().await;
    assert_eq!(stats["type"], "snapshot");
    assert_eq!(stats["max_topics"], 500);

    // Python's pages may connect on any path.
    let mut page = rig.joined("to_path").await;
    send_text(&mut page, "[").await;
    assert_eq!(next_json(&mut page).await["error"], "not_json");
    let mut other_path = rig.client("/some/path").await;
    send_text(&mut other_path, "[").await;
    assert_eq!(next_json(&mut other_path).await["error"], "not_json");

    let disabled = Rig::start(WebConfig {
        monitor: false,
        ..WebConfig::default()
    })
    .await;
    let (status, body) = disabled.get("/").await;
    assert_eq!(status, 200);
    assert!(!body.contains("<html"));
}
