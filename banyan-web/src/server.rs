//! The HTTP/WebSocket server: the gateway endpoint, the monitor page and its live feed.
//!
//! # Endpoints (one port)
//! - WebSocket upgrade on any path except the monitor's: the Python-compatible gateway
//!   ([`crate::session`]); Python's pages connect to `ws://HOST:9000` (path `/`).
//! - `GET /`: the monitor page; `/monitor.js`, `/monitor.css`: its assets (in the binary).
//! - `GET /monitor/ws` (WebSocket): snapshots (`{"type": "snapshot", ...}`) at most
//!   [`WebConfig::snapshot_interval`] apart, and the page's commands (`history`, `publish`;
//!   the protocol, sans-IO: [`crate::monitor`]).
//! - `GET /api/stats`: one snapshot as JSON, for scripts.
//!
//! # Slow and vanished clients
//! A browser's messages wait in its own [`ClientQueue`] (bounded in messages and bytes,
//! oldest dropped and counted; the page is told how many with a `dropped` error frame once it
//! catches up). A send that does not finish within [`WebConfig::send_timeout`] closes the
//! connection. Monitor pages get only the newest snapshot (a `watch` channel): a slow page
//! skips snapshots, it never queues them.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};
use tokio::sync::watch;

use crate::allow::{AllowListener, OriginList};
use crate::assets;
use crate::bus::{Bus, ClientQueue};
use crate::error::{Error, Result};
use crate::monitor::{self, Reply, Step};
use crate::session::{Action, ErrorFrame, ErrorKind, Session};

/// Limits and options of the web side.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest client message accepted (larger ones get an error frame).
    pub max_message_bytes: usize,
    /// Most messages queued for one browser.
    pub client_queue_messages: usize,
    /// Most bytes queued for one browser.
    pub client_queue_bytes: usize,
    /// Origins allowed to open WebSockets (empty = all).
    pub origins: OriginList,
    /// Shortest time between two monitor snapshots.
    pub snapshot_interval: Duration,
    /// Serve the monitor page and its feed.
    pub monitor: bool,
    /// A send to a browser that takes longer closes its connection.
    pub send_timeout: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: crate::session::DEFAULT_MAX_MESSAGE_BYTES,
            client_queue_messages: 1024,
            client_queue_bytes: 4 * 1024 * 1024,
            origins: OriginList::default(),
            snapshot_interval: Duration::from_millis(250),
            monitor: true,
            send_timeout: Duration::from_secs(30),
        }
    }
}

impl WebConfig {
    /// The hard limit given to the WebSocket codec: messages above
    /// [`max_message_bytes`](Self::max_message_bytes) but below it get an error frame and
    /// the connection stays; above it the codec stops reading and the connection is closed
    /// (after an error frame).
    pub fn codec_limit(&self) -> usize {
        self.max_message_bytes.saturating_mul(4).max(1024 * 1024)
    }
}

/// The peer address of a connection.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<axum::serve::IncomingStream<'_, AllowListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, AllowListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

#[derive(Debug, Default)]
struct WebCounters {
    gateway_clients: AtomicUsize,
    monitor_clients: AtomicUsize,
    connections: AtomicU64,
    client_errors: AtomicU64,
}

struct AppState {
    bus: Arc<Bus>,
    config: WebConfig,
    snapshots: watch::Sender<Utf8Bytes>,
    shutdown: watch::Receiver<bool>,
    counters: WebCounters,
    refused: Arc<AtomicU64>,
}

type Shared = Arc<AppState>;

/// Serves the gateway and the monitor on `listener` until `shutdown` resolves or the
/// backplane bridge fails; then closes every WebSocket (code 1001, "going away").
pub async fn serve(
    bus: Arc<Bus>,
    listener: AllowListener,
    config: WebConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (snapshots, _) = watch::channel(Utf8Bytes::from_static("{}"));
    let state = Arc::new(AppState {
        bus: bus.clone(),
        config,
        snapshots,
        shutdown: shutdown_rx,
        counters: WebCounters::default(),
        refused: listener.refused(),
    });
    let producer = tokio::spawn(produce_snapshots(state.clone()));
    let router = Router::new()
        .route("/", get(root))
        .route(
            "/monitor.js",
            get(|| async { asset(assets::MONITOR_JS, "text/javascript") }),
        )
        .route(
            "/monitor.css",
            get(|| async { asset(assets::MONITOR_CSS, "text/css") }),
        )
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/monitor/ws", get(monitor_ws))
        .route("/api/stats", get(api_stats))
        .fallback(fallback)
        .with_state(state.clone());

    let bridge_failed = {
        let bus = bus.clone();
        async move { bus.stopped().await }
    };
    let (stop_serving_tx, stop_serving_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<PeerAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop_serving_rx.await;
    });
    let server = tokio::spawn(async move { server.await });
    let outcome = tokio::select! {
        () = shutdown => Ok(()),
        result = bridge_failed => match result {
            Ok(()) => Ok(()),
            Err(error) => Err(error),
        },
    };
    let _ = shutdown_tx.send(true);
    let _ = stop_serving_tx.send(());
    producer.abort();
    // Give open WebSockets a moment to send their close frames.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while state.counters.gateway_clients.load(Ordering::Relaxed)
        + state.counters.monitor_clients.load(Ordering::Relaxed)
        > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Ok(Ok(Err(error))) = tokio::time::timeout(Duration::from_secs(2), server).await {
        return Err(Error::Io(error));
    }
    outcome
}

/// Binds `address` for [`serve`], with a message that says what to do when it is taken.
pub async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind { address, source })
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn root(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    headers: HeaderMap,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => gateway_upgrade(state, peer, &headers, upgrade),
        Err(_) if state.config.monitor => asset(assets::INDEX_HTML, "text/html; charset=utf-8"),
        Err(_) => (
            StatusCode::OK,
            "Rust Banyan ws-gateway: connect a WebSocket here (the monitor page is disabled)\n",
        )
            .into_response(),
    }
}

async fn fallback(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    headers: HeaderMap,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => gateway_upgrade(state, peer, &headers, upgrade),
        Err(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

fn origin_allowed(state: &AppState, headers: &HeaderMap, peer: PeerAddr) -> bool {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    let origin = text(header::ORIGIN);
    let allowed = state.config.origins.allows(origin, text(header::HOST));
    if !allowed {
        tracing::warn!(peer = %peer.0, origin = origin.unwrap_or(""), "WebSocket refused: origin not in --allow-origin");
    }
    allowed
}

fn forbidden_origin() -> Response {
    (
        StatusCode::FORBIDDEN,
        "origin not allowed (see ws-gateway --allow-origin)\n",
    )
        .into_response()
}

fn gateway_upgrade(
    state: Shared,
    peer: PeerAddr,
    headers: &HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&state, headers, peer) {
        return forbidden_origin();
    }
    let limit = state.config.codec_limit();
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| gateway_client(socket, state, peer))
}

async fn monitor_ws(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<PeerAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.config.monitor {
        return (StatusCode::NOT_FOUND, "the monitor is disabled\n").into_response();
    }
    if !origin_allowed(&state, &headers, peer) {
        return forbidden_origin();
    }
    let limit = state.config.codec_limit();
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| monitor_client(socket, state, peer))
}

async fn api_stats(State(state): State<Shared>) -> Response {
    match snapshot_json(&state) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "application/json")],
            text.as_str().to_owned(),
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
    }
}

/// The snapshot message sent to monitor pages.
fn snapshot_json(state: &AppState) -> std::result::Result<Utf8Bytes, serde_json::Error> {
    let mut value = serde_json::to_value(state.bus.snapshot())?;
    if let Json::Object(map) = &mut value {
        map.insert("type".into(), "snapshot".into());
        let c = &state.counters;
        map.insert(
            "gateway".into(),
            json!({
                "name": state.bus.name(),
                "backplane": format!("{}:{}/{}", state.bus.backplane_address(),
                    state.bus.publisher_port(), state.bus.subscriber_port()),
                "clients": c.gateway_clients.load(Ordering::Relaxed),
                "monitors": c.monitor_clients.load(Ordering::Relaxed),
                "connections": c.connections.load(Ordering::Relaxed),
                "client_errors": c.client_errors.load(Ordering::Relaxed),
                "refused": state.refused.load(Ordering::Relaxed),
                "bus": state.bus.counters(),
            }),
        );
    }
    Ok(Utf8Bytes::from(value.to_string()))
}

async fn produce_snapshots(state: Shared) {
    let mut ticks = tokio::time::interval(state.config.snapshot_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        if state.snapshots.receiver_count() == 0 {
            continue; // nobody watches: no work
        }
        match snapshot_json(&state) {
            Ok(text) => {
                state.snapshots.send_replace(text);
            }
            Err(error) => tracing::error!(%error, "cannot serialise a snapshot"),
        }
    }
}

/// Counts a client while it lives.
struct ClientGuard<'a>(&'a AtomicUsize);

impl<'a> ClientGuard<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for ClientGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sends `message` within the configured time; `false` when the client is gone or stuck.
async fn send(socket: &mut WebSocket, message: Message, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, socket.send(message)).await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
}

/// Whether a receive error means the message was too large for the codec.
fn is_capacity(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(tungstenite::Error::Capacity(_)) = current.downcast_ref::<tungstenite::Error>()
        {
            return true;
        }
        source = current.source();
    }
    false
}

async fn gateway_client(mut socket: WebSocket, state: Shared, peer: PeerAddr) {
    let _guard = ClientGuard::new(&state.counters.gateway_clients);
    state.counters.connections.fetch_add(1, Ordering::Relaxed);
    let config = &state.config;
    let mut session = Session::new(config.max_message_bytes);
    let queue = Arc::new(ClientQueue::new(
        config.client_queue_messages,
        config.client_queue_bytes,
    ));
    let mut joined: Option<String> = None;
    let mut reported_drops = 0u64;
    let mut shutdown = state.shutdown.clone();
    tracing::info!(peer = %peer.0, "gateway client connected");
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let action = match incoming {
                    Some(Ok(Message::Text(text))) => session.on_text(text.as_str()),
                    Some(Ok(Message::Binary(bytes))) => session.on_binary(&bytes),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(error)) => {
                        if is_capacity(&error) {
                            let frame = ErrorFrame::new(
                                ErrorKind::TooLarge,
                                format!("message larger than {} bytes: connection closed", config.codec_limit()),
                            );
                            let _ = send(&mut socket, Message::Text(frame.to_json().into()), config.send_timeout).await;
                            close(&mut socket, close_code::SIZE, "message too large").await;
                        }
                        tracing::info!(peer = %peer.0, %error, "gateway client connection failed");
                        break;
                    }
                };
                match action {
                    Action::Join { publish, subscribe } => {
                        tracing::info!(peer = %peer.0, %publish, %subscribe, "gateway client joined");
                        state.bus.join(&subscribe, queue.clone());
                        joined = Some(subscribe);
                    }
                    Action::Publish { topic, payload } => {
                        if let Err(error) = state.bus.publish(&topic, &payload) {
                            let frame = ErrorFrame::new(ErrorKind::NotPublished, error.to_string());
                            if !send(&mut socket, Message::Text(frame.to_json().into()), config.send_timeout).await {
                                break;
                            }
                        }
                    }
                    Action::Reply(frame) => {
                        state.counters.client_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(peer = %peer.0, error = frame.kind.code(), detail = %frame.detail, "client input refused");
                        if !send(&mut socket, Message::Text(frame.to_json().into()), config.send_timeout).await {
                            break;
                        }
                    }
                }
            }
            text = queue.pop() => {
                let Some(text) = text else { break };
                if !send(&mut socket, Message::Text(text), config.send_timeout).await {
                    tracing::info!(peer = %peer.0, "gateway client gone or stuck: closing");
                    break;
                }
                let dropped = queue.dropped();
                if dropped > reported_drops && queue.is_empty() {
                    let frame = ErrorFrame::new(
                        ErrorKind::Dropped,
                        format!("{} messages were dropped because this client read too slowly", dropped - reported_drops),
                    );
                    reported_drops = dropped;
                    if !send(&mut socket, Message::Text(frame.to_json().into()), config.send_timeout).await {
                        break;
                    }
                }
            }
            _ = shutdown.changed() => {
                close(&mut socket, close_code::AWAY, "ws-gateway is shutting down").await;
                break;
            }
        }
    }
    if let Some(topic) = joined {
        state.bus.leave(&topic, &queue);
    }
    queue.close();
    if queue.dropped() > 0 {
        tracing::warn!(peer = %peer.0, dropped = queue.dropped(), "gateway client left; messages were dropped for it");
    } else {
        tracing::info!(peer = %peer.0, "gateway client left");
    }
}

async fn monitor_client(mut socket: WebSocket, state: Shared, peer: PeerAddr) {
    let _guard = ClientGuard::new(&state.counters.monitor_clients);
    let timeout = state.config.send_timeout;
    let mut snapshots = state.snapshots.subscribe();
    let mut shutdown = state.shutdown.clone();
    tracing::info!(peer = %peer.0, "monitor page connected");
    if let Ok(first) = snapshot_json(&state)
        && !send(&mut socket, Message::Text(first), timeout).await
    {
        return;
    }
    loop {
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break;
                }
                let text = snapshots.borrow_and_update().clone();
                if !send(&mut socket, Message::Text(text), timeout).await {
                    break;
                }
            }
            incoming = socket.recv() => {
                let reply = match incoming {
                    Some(Ok(Message::Text(text))) => monitor_command(&state, text.as_str()),
                    Some(Ok(Message::Binary(_))) => Reply::error(ErrorKind::BadCommand, "commands are JSON text"),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                };
                if !send(&mut socket, Message::Text(reply.to_json().into()), timeout).await {
                    break;
                }
            }
            _ = shutdown.changed() => {
                close(&mut socket, close_code::AWAY, "ws-gateway is shutting down").await;
                break;
            }
        }
    }
    tracing::info!(peer = %peer.0, "monitor page left");
}

/// Handles one command of a monitor page (the protocol: [`crate::monitor`]).
fn monitor_command(state: &AppState, text: &str) -> Reply {
    match monitor::decide(text, state.config.max_message_bytes) {
        Step::History(topic) => Reply::history(&topic, state.bus.history(&topic)),
        Step::Publish { topic, payload } => match state.bus.publish(&topic, &payload) {
            Ok(()) => Reply::published(topic, payload.len()),
            Err(error) => Reply::not_published(error),
        },
        Step::Reply(reply) => reply,
    }
}
