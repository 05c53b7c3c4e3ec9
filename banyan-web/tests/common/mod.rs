//! The rig of the gateway tests: an in-process backplane on ephemeral loopback ports (the test
//! kit's), the web gateway serving on 127.0.0.1:0, WebSocket clients (tokio-tungstenite) and
//! blocking Banyan components on threads. Everything stops when the rig is dropped. What is
//! not web-specific (backplane, component configuration, guards) comes from `banyan-testkit`.
#![allow(dead_code)] // Each test binary uses a different part.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use banyan_host::backplane::Backplane;
use banyan_host::{Component, ComponentConfig};
use banyan_web::allow::{AllowListener, Allowlist};
use banyan_web::{Bus, BusConfig, StatsConfig, WebConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any expected event may take on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A stream a WebSocket client runs on.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Io for T {}

/// A WebSocket client.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A backplane, the gateway's bus bridge and its server.
pub struct Rig {
    pub backplane: Backplane,
    pub bus: Arc<Bus>,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<banyan_web::Result<()>>>,
}

impl Rig {
    /// Starts everything with `web` limits and an open allowlist.
    pub async fn start(web: WebConfig) -> Self {
        Self::start_with(web, Allowlist::default()).await
    }

    /// Starts everything with `web` limits and the address allowlist `allow`.
    pub async fn start_with(web: WebConfig, allow: Allowlist) -> Self {
        let backplane = banyan_testkit::backplane();
        let bus = Bus::connect(BusConfig {
            component: component_config(&backplane, "WebSocket Gateway"),
            timestamps: Default::default(),
            stats: StatsConfig::default(),
        })
        .await
        .expect("gateway bus connects");
        let listener = banyan_web::server::bind("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("bind the web port");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(banyan_web::serve(
            bus.clone(),
            AllowListener::new(listener, allow),
            web,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            backplane,
            bus,
            addr,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// A component connected to the rig's backplane, subscribed to `topics`.
    pub fn component(&self, name: &str, topics: &[&str]) -> Component {
        let mut config = component_config(&self.backplane, name);
        config.subscriptions = topics.iter().map(|t| t.to_string()).collect();
        Component::connect(config).expect("component connects")
    }

    /// A WebSocket client on `path` (e.g. `/`).
    pub async fn client(&self, path: &str) -> Client {
        let url = format!("ws://{}{path}", self.addr);
        let (client, _) = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("WebSocket handshake");
        client
    }

    /// A gateway client that has sent `{"id": id}`.
    pub async fn joined(&self, id: &str) -> Client {
        let mut client = self.client("/").await;
        send_json(&mut client, &serde_json::json!({ "id": id })).await;
        client
    }

    /// `GET path` over plain HTTP/1.1: (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut response = Vec::new();
        tokio::time::timeout(DEADLINE, stream.read_to_end(&mut response))
            .await
            .expect("response in time")
            .expect("read");
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// `/api/stats` parsed.
    pub async fn stats(&self) -> Json {
        let (status, body) = self.get("/api/stats").await;
        assert_eq!(status, 200, "GET /api/stats: {body}");
        serde_json::from_str(&body).expect("stats are JSON")
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) -> banyan_web::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let server = self.server.take().expect("running");
        tokio::time::timeout(DEADLINE, server)
            .await
            .expect("server stops in time")
            .expect("server task")
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.bus.stop();
    }
}

/// The kit's component configuration for `backplane`, with a connect timeout for a loaded
/// machine.
fn component_config(backplane: &Backplane, name: &str) -> ComponentConfig {
    banyan_testkit::config(backplane, name).connect_timeout(Duration::from_secs(20))
}

/// Sends a JSON value as a text message.
pub async fn send_json<S: Io>(client: &mut WebSocketStream<S>, value: &Json) {
    client
        .send(Message::text(value.to_string()))
        .await
        .expect("send");
}

/// Sends a text message.
pub async fn send_text<S: Io>(client: &mut WebSocketStream<S>, text: &str) {
    client.send(Message::text(text)).await.expect("send");
}

/// The next text message, parsed as JSON (pings and pongs skipped).
pub async fn next_json<S: Io>(client: &mut WebSocketStream<S>) -> Json {
    loop {
        let message = tokio::time::timeout(DEADLINE, client.next())
            .await
            .expect("a message in time")
            .expect("connection open")
            .expect("no WebSocket error");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON text"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Receives on a blocking component from async code.
pub async fn recv_on(component: Component) -> (Component, banyan_host::Message) {
    tokio::task::spawn_blocking(move || {
        let mut component = component;
        let message = component
            .recv_timeout(DEADLINE)
            .expect("receive")
            .expect("a message in time");
        (component, message)
    })
    .await
    .expect("receiving task")
}

/// Waits until `condition` on `/api/stats` holds.
pub async fn wait_stats(rig: &Rig, what: &str, condition: impl Fn(&Json) -> bool) -> Json {
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut last = Json::Null;
    let waited =
        banyan_testkit::wait_for_async(deadline, what, Duration::from_millis(50), async || {
            last = rig.stats().await;
            condition(&last).then(|| last.clone())
        })
        .await;
    waited.unwrap_or_else(|error| panic!("{error}; last stats: {last}"))
}
