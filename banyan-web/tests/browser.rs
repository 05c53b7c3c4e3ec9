//! The web monitor in a real browser: headless Chromium (Debian package `chromium`) opens the
//! page while a Rust component publishes on two topics; the test reads the DOM over the
//! DevTools protocol and checks both topics with non-zero rates and the right last payloads,
//! then publishes a JSON object through the page's form and a Rust component receives it.
//! Screenshots (desktop and phone) are saved under `target/web-monitor/` (a CI artifact).
//!
//! Without Chromium the test prints why and passes, except under `CI=true`, where it fails.

mod cdp;
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use banyan_proto::payload::Value;
use banyan_testkit::{ThreadGuard, wait_for_async};
use banyan_web::WebConfig;
use common::*;
use serde_json::{Value as Json, json};

/// Where the screenshots go: `$CARGO_TARGET_DIR/web-monitor`, else the workspace's
/// `target/web-monitor`.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| banyan_testkit::repo_root().join("target"));
    let dir = target.join("web-monitor");
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

/// The table as the page shows it: one object per row.
const ROWS: &str = r#"JSON.stringify([...document.querySelectorAll('#topic-rows tr')].map(tr => ({
    topic: tr.dataset.topic,
    rate: Number(tr.dataset.rate),
    count: Number(tr.dataset.count),
    shownRate: tr.querySelector('td.rate').textContent,
    last: tr.querySelector('td.last').textContent,
})))"#;

async fn rows(browser: &mut cdp::Browser, tab: &cdp::Tab) -> Vec<Json> {
    let text = browser.eval(tab, ROWS).await;
    serde_json::from_str(text.as_str().unwrap_or("[]")).expect("rows JSON")
}

fn row<'a>(rows: &'a [Json], topic: &str) -> Option<&'a Json> {
    rows.iter().find(|r| r["topic"] == topic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_page_in_headless_chromium() {
    let Some(chromium) = cdp::chromium("monitor_page_in_headless_chromium") else {
        return;
    };
    let rig = Rig::start(WebConfig::default()).await;
    let device = rig.component("device", &["to_pico"]);
    let publisher = rig.component("sensors", &[]);

    // Two topics at ~25 msg/s each until told to stop, then one known last payload each.
    let running = Arc::new(AtomicBool::new(true));
    let flow = {
        let running = running.clone();
        let stop = running.clone();
        ThreadGuard::spawn(
            "publisher",
            move || stop.store(false, Ordering::Relaxed),
            move || {
                let mut seq = 0i64;
                while running.load(Ordering::Relaxed) {
                    seq += 1;
                    let celsius = 21.0 + (seq % 20) as f64 / 10.0;
                    publisher
                        .publish(
                            "demo/temperature",
                            &Value::map([
                                ("celsius", Value::F64(celsius)),
                                ("seq", Value::Int(seq)),
                            ]),
                        )
                        .expect("publish");
                    publisher
                        .publish(
                            "from_pico_gateway",
                            &Value::map([
                                ("report", Value::from("digital_input")),
                                ("pin", Value::Int(15)),
                                ("value", Value::Int(seq % 2)),
                                ("raw", Value::Bin(vec![0x0f, (seq % 256) as u8])),
                            ]),
                        )
                        .expect("publish");
                    std::thread::sleep(Duration::from_millis(40));
                }
                publisher
                    .publish(
                        "demo/temperature",
                        &Value::map([("celsius", Value::F64(22.5)), ("final", Value::Bool(true))]),
                    )
                    .expect("publish");
                publisher
                    .publish(
                        "from_pico_gateway",
                        &Value::map([
                            ("report", Value::from("done")),
                            ("raw", Value::Bin(vec![0xbe, 0xef])),
                        ]),
                    )
                    .expect("publish");
                publisher
            },
        )
    };

    let scratch = artifacts();
    let mut browser = cdp::Browser::launch(&chromium, &scratch, DEADLINE).await;
    let tab = browser.open(&format!("http://{}/", rig.addr)).await;

    // Both topics appear with non-zero rates while the flow runs.
    let mut last = Vec::new();
    let live = wait_for_async(
        Instant::now() + DEADLINE,
        "the page showing both topics flowing",
        Duration::from_millis(200),
        async || {
            last = rows(&mut browser, &tab).await;
            let flowing = |topic| row(&last, topic).is_some_and(|r| r["rate"].as_f64() > Some(1.0));
            (flowing("demo/temperature") && flowing("from_pico_gateway")).then(|| last.clone())
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{error}; rows: {last:?}"));
    for topic in ["demo/temperature", "from_pico_gateway"] {
        let r = row(&live, topic).expect("row");
        assert_ne!(r["shownRate"], "0", "{r}");
        assert!(r["count"].as_f64() > Some(0.0), "{r}");
    }
    let status = browser
        .eval(&tab, "document.getElementById('status').textContent")
        .await;
    assert_eq!(status, "live");

    // Select a topic (the chart), let a few seconds of history build, take the screenshots.
    browser
        .eval(
            &tab,
            "document.querySelector('tr[data-topic=\"demo/temperature\"]').click(); true",
        )
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let chart_points = browser
        .eval(&tab, "document.getElementById('chart-topic').textContent")
        .await;
    assert_eq!(chart_points, "demo/temperature");
    browser
        .eval(
            &tab,
            "document.getElementById('pub-topic').value = 'to_pico'; true",
        )
        .await;
    let png = browser.screenshot(&tab).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(scratch.join("monitor.png"), &png).expect("save screenshot");
    browser.viewport(&tab, 390, 844, 2.0, true).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let phone = browser.screenshot(&tab).await;
    std::fs::write(scratch.join("monitor-phone.png"), &phone).expect("save screenshot");
    // On a phone the table is one card per topic, no wider than the screen.
    let overflow = browser
        .eval(
            &tab,
            "document.documentElement.scrollWidth <= window.innerWidth + 1",
        )
        .await;
    assert_eq!(overflow, true, "the page is wider than a phone screen");

    // Stop the flow: the last payloads shown are the final ones (bytes as hex).
    let publisher = tokio::task::spawn_blocking(move || flow.stop().expect("publisher"))
        .await
        .expect("join");
    let mut shown = Vec::new();
    wait_for_async(
        Instant::now() + DEADLINE,
        "the page showing the final payloads",
        Duration::from_millis(200),
        async || {
            shown = rows(&mut browser, &tab).await;
            let last = |topic| row(&shown, topic).map(|r| r["last"].clone());
            (last("demo/temperature") == Some(json!(r#"{"celsius":22.5,"final":true}"#))
                && last("from_pico_gateway") == Some(json!(r#"{"report":"done","raw":"beef"}"#)))
            .then_some(())
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{error}; rows: {shown:?}"));

    // Publish through the page's form; the device component receives it.
    browser
        .eval(
            &tab,
            r#"document.getElementById('pub-topic').value = 'to_pico';
               document.getElementById('pub-payload').value = '{"command": "digital_write", "pin": 25, "value": 1}';
               document.getElementById('pub-send').click(); true"#,
        )
        .await;
    let (_device, message) = recv_on(device).await;
    assert_eq!(message.topic, "to_pico");
    assert_eq!(
        message.value().expect("decodes"),
        Value::map([
            ("command", Value::from("digital_write")),
            ("pin", Value::Int(25)),
            ("value", Value::Int(1)),
        ])
    );
    let mut result = Json::Null;
    wait_for_async(
        Instant::now() + DEADLINE,
        "the page's publish confirmation",
        Duration::from_millis(100),
        async || {
            result = browser
                .eval(&tab, "document.getElementById('pub-result').textContent")
                .await;
            result
                .as_str()
                .is_some_and(|t| t.starts_with("Published on to_pico"))
                .then_some(())
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{error}; shown: {result}"));
    // A payload that is not an object is refused in the page, nothing is sent.
    let refused = browser
        .eval(
            &tab,
            r#"document.getElementById('pub-payload').value = '[1, 2]';
               document.getElementById('pub-send').click();
               document.getElementById('pub-result').className"#,
        )
        .await;
    assert_eq!(refused, "error");
    drop(publisher);
    drop(browser);
    eprintln!(
        "screenshots: {} and monitor-phone.png",
        scratch.join("monitor.png").display()
    );
}
