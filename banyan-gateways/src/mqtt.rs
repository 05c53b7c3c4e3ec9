//! `mgw`'s gateway: Banyan ⇄ MQTT, flag- and byte-compatible with python-banyan's `mgw` (the
//! binary, `banyan-cli/src/bin/mgw.rs`, maps the flags onto [`MqttConfig`]).
//!
//! Banyan messages on the `-g` topics go to the MQTT topic `-i` as JSON; MQTT messages on the
//! `-j` subscriptions come to Banyan on topic `-e` as msgpack. JSON is written and read as
//! Python's `json.dumps`/`json.loads` do (`banyan_host::json`), so the MQTT bytes equal
//! Python's. Beyond Python: the broker may be down at start or go away (reconnect on the
//! crate's [`Reconnect`] machine, subscriptions renewed), QoS is selectable, MQTT payloads
//! that are not JSON maps are reported and skipped, and the outgoing queue is bounded
//! (overflow counted and logged, first and every hundredth: [`Tally`]).
//!
//! ```text
//!  backplane ─ -g ─▶ [main task: aio::Component::recv] ─ to_json ─▶ AsyncClient (bounded) ─▶ -i
//!  backplane ◀─ -e ─ Publisher ◀─ from_json, pack ◀─ [MQTT task: EventLoop::poll] ◀─ -j ─ broker
//! ```
//!
//! One single-threaded tokio runtime carries both sides, no thread of ours: the Banyan side
//! is an async component (`banyan_host::aio`) receiving in the main task; the MQTT side is
//! rumqttc's `EventLoop`, polled in a second task that publishes to Banyan through the
//! component's `Publisher` handle (never blocking; the component sends what it queues while
//! it waits in `recv`). The event loop's `poll` is never cancelled (its cancel safety is not
//! documented), so it gets a task of its own rather than a `select!` arm.

use std::time::{Duration, Instant};

use banyan_host::Publisher;
use banyan_host::json::{from_json, to_json};
use banyan_proto::payload::{self, Value};
use rumqttc::{AsyncClient, ClientError, Event, EventLoop, MqttOptions, Packet, QoS};

use crate::reconnect::{Backoff, Reconnect, Say, Tally};

/// The gateway's settings (`mgw`'s flags).
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// MQTT broker host (`-a`).
    pub mqtt_host: String,
    /// MQTT broker port (`-d`).
    pub mqtt_port: u16,
    /// Banyan topic for messages from MQTT (`-e`).
    pub banyan_pub_topic: String,
    /// MQTT topic for messages from Banyan (`-i`).
    pub mqtt_pub_topic: String,
    /// MQTT topic filters forwarded to Banyan (`-j`).
    pub mqtt_sub_topics: Vec<String>,
    /// MQTT quality of service, 0, 1 or 2 (`-q`; above 2 counts as 2).
    pub qos: u8,
    /// Messages waiting for the broker before new ones are dropped (`--queue`, at least 1).
    pub queue: usize,
    /// Largest MQTT packet accepted or sent, in bytes (`--max-packet`).
    pub max_packet: usize,
    /// Longest wait between reconnection attempts (`--max-backoff`; the first is 0.1 s).
    pub max_backoff: Duration,
    /// MQTT client id.
    pub client_id: String,
}

fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Runs the gateway on the current tokio runtime until `subscriber` is shut down (its
/// [`ShutdownHandle`](banyan_host::ShutdownHandle)); `subscriber` is connected and
/// subscribed to the Banyan topics to forward (`-g`). Prints Python's lines.
///
/// # Errors
/// The component's receive error (a shutdown is not an error).
pub async fn run(
    config: MqttConfig,
    mut subscriber: banyan_host::aio::Component,
) -> banyan_host::Result<()> {
    // MQTT → Banyan publishes go through this component's connection from the MQTT task;
    // the receive loop below sends them.
    let publisher = subscriber.publisher()?;
    let mut options = MqttOptions::new(
        config.client_id.clone(),
        config.mqtt_host.clone(),
        config.mqtt_port,
    );
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(config.max_packet, config.max_packet);
    let (client, connection) = AsyncClient::new(options, config.queue.max(1));
    let mqtt = tokio::spawn(mqtt_to_banyan(
        connection,
        client.clone(),
        publisher,
        config.clone(),
    ));

    let qos = qos(config.qos);
    let mut dropped = Tally::new();
    let mut skipped = Tally::new();
    loop {
        let message = match subscriber.recv().await {
            Ok(message) => message,
            Err(banyan_host::Error::Shutdown) => break,
            Err(error) => {
                mqtt.abort();
                return Err(error);
            }
        };
        let json = message
            .value()
            .map_err(|error| error.to_string())
            .and_then(|value| to_json(&value).map_err(|error| error.to_string()));
        match json {
            Ok(json) => match client.try_publish(&config.mqtt_pub_topic, qos, false, json) {
                Ok(()) => {}
                Err(ClientError::TryRequest(_)) => {
                    if let Some(n) = dropped.bump() {
                        eprintln!(
                            "mgw: MQTT queue full (broker slow or unreachable): dropped a \
                             message from {:?} ({n} dropped so far)",
                            message.topic
                        );
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot queue an MQTT publish"),
            },
            Err(reason) => {
                if let Some(n) = skipped.bump() {
                    eprintln!(
                        "mgw: skipped a Banyan message on {:?}: {reason} ({n} skipped so far)",
                        message.topic
                    );
                }
            }
        }
    }
    println!("Exiting Through Signal Handler");
    let _ = client.try_disconnect();
    // The event loop ends once it sent the DISCONNECT (at most a moment: a broker that is
    // down gets none).
    let abort = mqtt.abort_handle();
    if tokio::time::timeout(Duration::from_millis(500), mqtt)
        .await
        .is_err()
    {
        abort.abort();
    }
    Ok(())
}

/// MQTT → Banyan: the connection's event loop, reconnecting on the [`Reconnect`] machine
/// (rumqttc reconnects at the next `poll`; the machine says how long to wait before it).
/// Runs until the runtime ends or the main task's DISCONNECT went out.
async fn mqtt_to_banyan(
    mut connection: EventLoop,
    client: AsyncClient,
    publisher: Publisher,
    config: MqttConfig,
) {
    let qos = qos(config.qos);
    let mut reconnect = Reconnect::new(Backoff::up_to(config.max_backoff), Instant::now());
    let mut subscribed = true;
    let mut skipped = Tally::new();
    loop {
        match connection.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                println!(
                    "MQTT Gateway Connected to MQTT {}:{}.",
                    config.mqtt_host, config.mqtt_port
                );
                reconnect.opened(Instant::now());
                subscribed = false;
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                match mqtt_payload_to_banyan(&publish.payload) {
                    Ok(bytes) => {
                        if let Err(error) =
                            publisher.publish_raw(config.banyan_pub_topic.as_bytes(), &bytes)
                        {
                            tracing::warn!(%error, "cannot publish to the backplane");
                        }
                    }
                    Err(reason) => {
                        if let Some(n) = skipped.bump() {
                            eprintln!(
                                "mgw: skipped an MQTT message on {:?}: {reason} ({n} skipped so far)",
                                publish.topic
                            );
                        }
                    }
                }
            }
            // The main task asked to disconnect (exiting): sent, done.
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(error) => {
                let now = Instant::now();
                if reconnect.is_up() {
                    eprintln!("mgw: lost the MQTT broker ({error}); reconnecting");
                    reconnect.lost(now);
                } else {
                    match reconnect.open_failed(now) {
                        Say::First => eprintln!(
                            "mgw: cannot reach the MQTT broker at {}:{} ({error}); retrying",
                            config.mqtt_host, config.mqtt_port
                        ),
                        Say::Count(n) => eprintln!(
                            "mgw: still cannot reach the MQTT broker at {}:{} ({error}); {n} \
                             attempts so far",
                            config.mqtt_host, config.mqtt_port
                        ),
                        Say::Quiet => {}
                    }
                }
                if let Some(wait) = reconnect.wait(Instant::now()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        // A clean session forgets subscriptions: renew them after every (re)connection. The
        // request queue may be full of publishes; try again on the next event.
        if reconnect.is_up() && !subscribed {
            subscribed = config
                .mqtt_sub_topics
                .iter()
                .all(|topic| client.try_subscribe(topic.clone(), qos).is_ok());
        }
    }
}

/// An MQTT payload as Python's mgw reads it (UTF-8, `json.loads`), packed as msgpack; only
/// JSON objects are forwarded (a Banyan payload is a map).
///
/// # Errors
/// Why the payload is skipped (not UTF-8, not JSON, not an object), for the log line.
pub fn mqtt_payload_to_banyan(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))?;
    let value = from_json(text).map_err(|error| format!("not JSON: {error}"))?;
    if !matches!(value, Value::Map(_)) {
        return Err("JSON is not an object (a Banyan payload must be a map)".into());
    }
    payload::to_vec(&value).map_err(|error| format!("cannot pack: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_objects_cross_to_banyan() {
        let packed = mqtt_payload_to_banyan(br#"{"a": 1}"#).unwrap();
        assert_eq!(packed, b"\x81\xa1a\x01");
        assert!(
            mqtt_payload_to_banyan(b"[1, 2]")
                .unwrap_err()
                .contains("not an object")
        );
        assert!(
            mqtt_payload_to_banyan(b"{nope")
                .unwrap_err()
                .starts_with("not JSON")
        );
        assert!(
            mqtt_payload_to_banyan(b"\xff")
                .unwrap_err()
                .starts_with("not UTF-8")
        );
    }

    #[test]
    fn qos_levels_map_and_saturate() {
        assert_eq!(qos(0), QoS::AtMostOnce);
        assert_eq!(qos(1), QoS::AtLeastOnce);
        assert_eq!(qos(2), QoS::ExactlyOnce);
        assert_eq!(qos(9), QoS::ExactlyOnce);
    }
}
