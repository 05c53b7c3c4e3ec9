//! A minimal Chrome DevTools Protocol client for the browser test: starts headless Chromium
//! (the Debian package) with a fresh profile, opens a page and talks to it over the DevTools
//! WebSocket with tokio-tungstenite (already a dependency, so no driver crate with thousands of
//! generated types to compile). Only what the test needs: open a tab, evaluate JavaScript,
//! set the viewport, take a screenshot. The browser's whole process group is killed on drop (the test kit's `ChildGuard`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use banyan_testkit::ChildGuard;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message;

/// The Chromium binary: `$BANYAN_CHROMIUM`, else `chromium` on `PATH` (the test kit's rule:
/// `None` after printing why when there is none, a failure under `CI=true`).
pub fn chromium(test: &str) -> Option<PathBuf> {
    let program = std::env::var("BANYAN_CHROMIUM")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "chromium".into());
    banyan_testkit::require_tool(test, &program)
}

/// A running headless Chromium; killed (with its helper processes) on drop.
pub struct Browser {
    child: ChildGuard,
    profile: PathBuf,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium leads its own process group: the guard ends the group (its renderer and
        // utility processes) and reaps the leader before the profile goes.
        self.child.kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// An open tab.
pub struct Tab {
    session: String,
}

impl Browser {
    /// Starts Chromium with a fresh profile under `scratch` and connects to its DevTools
    /// endpoint (an ephemeral loopback port that Chromium writes to `DevToolsActivePort`).
    pub async fn launch(binary: &Path, scratch: &Path, deadline: Duration) -> Self {
        let profile = scratch.join(format!("chromium-profile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile directory");
        let mut command = Command::new(binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,820",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank");
        let child = ChildGuard::spawn_group("chromium", command).expect("start chromium");
        let active = profile.join("DevToolsActivePort");
        let endpoint = banyan_testkit::wait_for_async(
            Instant::now() + deadline,
            "chromium's DevToolsActivePort",
            Duration::from_millis(50),
            async || {
                let text = std::fs::read_to_string(&active).ok()?;
                let mut lines = text.lines();
                let (port, path) = (lines.next()?, lines.next()?);
                Some(format!("ws://127.0.0.1:{port}{path}"))
            },
        )
        .await
        .expect("chromium's DevTools endpoint");
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .expect("connect to the DevTools endpoint");
        Self {
            child,
            profile,
            socket,
            next_id: 0,
        }
    }

    /// Sends one command (to `session`, or to the browser) and returns its `result`.
    pub async fn call(&mut self, session: Option<&str>, method: &str, params: Json) -> Json {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = session.into();
        }
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .expect("send a DevTools command");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method} within 30 s"))
                .expect("DevTools connection open")
                .expect("DevTools message");
            let Message::Text(text) = message else {
                continue;
            };
            let reply: Json = serde_json::from_str(&text).expect("DevTools JSON");
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    panic!("{method} failed: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    /// Opens `url` in a new tab.
    pub async fn open(&mut self, url: &str) -> Tab {
        let target = self
            .call(None, "Target.createTarget", json!({"url": url}))
            .await;
        let target = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await;
        Tab {
            session: attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_owned(),
        }
    }

    /// Evaluates `expression` in the tab and returns its value (JSON-serialisable results).
    pub async fn eval(&mut self, tab: &Tab, expression: &str) -> Json {
        let result = self
            .call(
                Some(&tab.session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("JavaScript failed: {exception}\n{expression}");
        }
        result["result"]["value"].clone()
    }

    /// Sets the tab's viewport (CSS pixels) and device scale; `mobile` as a phone.
    pub async fn viewport(&mut self, tab: &Tab, width: u32, height: u32, scale: f64, mobile: bool) {
        self.call(
            Some(&tab.session),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile}),
        )
        .await;
    }

    /// A PNG screenshot of the tab's viewport.
    pub async fn screenshot(&mut self, tab: &Tab) -> Vec<u8> {
        let result = self
            .call(
                Some(&tab.session),
                "Page.captureScreenshot",
                json!({"format": "png"}),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(result["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG")
    }
}
