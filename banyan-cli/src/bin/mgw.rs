//! `mgw`: the MQTT gateway, flag- and byte-compatible with python-banyan's `mgw`.
//!
//! Banyan messages on the `-g` topics go to the MQTT topic `-i` as JSON; MQTT messages on the
//! `-j` subscriptions come to Banyan on topic `-e` as msgpack. JSON is written and read as
//! Python's `json.dumps`/`json.loads` do (`banyan_host::json`), so the MQTT bytes equal
//! Python's. Beyond Python: the broker may be down at start or go away (reconnect with
//! back-off, subscriptions renewed), QoS is selectable, MQTT payloads that are not JSON maps
//! are reported and skipped, and the outgoing queue is bounded (overflow counted and logged).
//!
//! One single-threaded tokio runtime carries both sides, no thread of ours: the Banyan side
//! is an async component (`banyan_host::aio`) receiving in the main task; the MQTT side is
//! rumqttc's `EventLoop`, polled in a second task that publishes to Banyan through the
//! component's `Publisher` handle (never blocking; the component sends what it queues while
//! it waits in `recv`). The event loop's `poll` is never cancelled (its cancel safety is not
//! documented), so it gets a task of its own rather than a `select!` arm.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_host::Publisher;
use banyan_host::json::{from_json, to_json};
use banyan_proto::payload::{self, Value};
use clap::Parser;
use rumqttc::{AsyncClient, ClientError, Event, EventLoop, MqttOptions, Packet, QoS};

/// MQTT gateway: Banyan topics (-g) to an MQTT topic (-i) as JSON, MQTT subscriptions (-j) to
/// a Banyan topic (-e).
#[derive(Debug, Parser)]
#[command(name = "mgw", version)]
struct Args {
    /// MQTT broker host
    #[arg(short = 'a', long = "mqtt-host", default_value = "localhost")]
    mqtt_host: String,
    /// MQTT broker port
    #[arg(short = 'd', long = "mqtt-port", default_value_t = 1883)]
    mqtt_port: u16,
    #[command(flatten)]
    component: ComponentArgs,
    /// Banyan topic for messages from MQTT
    #[arg(short = 'e', long = "banyan-pub-topic", default_value = "from_mqtt")]
    banyan_pub_topic: String,
    /// Banyan topics forwarded to MQTT (prefix subscriptions, space separated)
    #[arg(short = 'g', long = "banyan-sub-topics", num_args = 1.., default_values_t = ["to_mqtt".to_string()])]
    banyan_sub_topics: Vec<String>,
    /// MQTT topic for messages from Banyan
    #[arg(short = 'i', long = "mqtt-pub-topic", default_value = "from_banyan")]
    mqtt_pub_topic: String,
    /// MQTT topics (filters, wildcards allowed) forwarded to Banyan, space separated
    #[arg(short = 'j', long = "mqtt-sub-topics", num_args = 1.., default_values_t = ["mqtt_network".to_string()])]
    mqtt_sub_topics: Vec<String>,
    /// MQTT quality of service for publishing and subscribing (0, 1 or 2)
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Messages waiting for the broker (e.g. while it is unreachable) before new ones are
    /// dropped
    #[arg(long = "queue", default_value_t = 1000)]
    queue: usize,
    /// Largest MQTT packet accepted or sent, in bytes
    #[arg(long = "max-packet", default_value_t = 1 << 20)]
    max_packet: usize,
    /// Longest wait between reconnection attempts, in seconds (starts at 0.1 s, doubles)
    #[arg(long = "max-backoff", default_value_t = 5.0)]
    max_backoff: f64,
    /// MQTT client id [default: banyan-mgw-PID]
    #[arg(long = "client-id")]
    client_id: Option<String>,
}

fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Logs the first and then every 100th occurrence of a recurring problem.
fn every_hundredth(counter: &AtomicU64) -> Option<u64> {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    (n == 1 || n.is_multiple_of(100)).then_some(n)
}

/// MQTT → Banyan: the connection's event loop, reconnecting with back-off. Runs until the
/// runtime ends.
async fn mqtt_to_banyan(
    mut connection: EventLoop,
    client: AsyncClient,
    publisher: Publisher,
    args: Arc<Args>,
) {
    let qos = qos(args.qos);
    let max_backoff = Duration::from_secs_f64(args.max_backoff.clamp(0.1, 3600.0));
    let mut backoff = Duration::from_millis(100);
    let mut connected = false;
    let mut reported_down = false;
    let mut subscribed = true;
    let skipped = AtomicU64::new(0);
    loop {
        match connection.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                println!(
                    "MQTT Gateway Connected to MQTT {}:{}.",
                    args.mqtt_host, args.mqtt_port
                );
                connected = true;
                reported_down = false;
                backoff = Duration::from_millis(100);
                subscribed = false;
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                match mqtt_payload_to_banyan(&publish.payload) {
                    Ok(bytes) => {
                        if let Err(error) =
                            publisher.publish_raw(args.banyan_pub_topic.as_bytes(), &bytes)
                        {
                            tracing::warn!(%error, "cannot publish to the backplane");
                        }
                    }
                    Err(reason) => {
                        if let Some(n) = every_hundredth(&skipped) {
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
                if connected {
                    eprintln!("mgw: lost the MQTT broker ({error}); reconnecting");
                    connected = false;
                } else if !reported_down {
                    eprintln!(
                        "mgw: cannot reach the MQTT broker at {}:{} ({error}); retrying",
                        args.mqtt_host, args.mqtt_port
                    );
                    reported_down = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(max_backoff);
            }
        }
        // A clean session forgets subscriptions: renew them after every (re)connection. The
        // request queue may be full of publishes; try again on the next event.
        if connected && !subscribed {
            subscribed = args
                .mqtt_sub_topics
                .iter()
                .all(|topic| client.try_subscribe(topic.clone(), qos).is_ok());
        }
    }
}

/// An MQTT payload as Python's mgw reads it (UTF-8, `json.loads`), packed as msgpack; only
/// JSON objects are forwarded (a Banyan payload is a map).
fn mqtt_payload_to_banyan(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))?;
    let value = from_json(text).map_err(|error| format!("not JSON: {error}"))?;
    if !matches!(value, Value::Map(_)) {
        return Err("JSON is not an object (a Banyan payload must be a map)".into());
    }
    payload::to_vec(&value).map_err(|error| format!("cannot pack: {error}"))
}

fn main() -> ExitCode {
    run_main("mgw", || {
        let args = Args::parse();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(run(args))
    })
}

/// Both sides on the current runtime (see the module docs).
async fn run(args: Args) -> anyhow::Result<()> {
    let mut config = args.component.config("MQTT Gateway");
    for topic in &args.banyan_sub_topics {
        config = config.subscribe(topic.clone());
    }
    let mut subscriber = banyan_host::aio::Component::connect(config).await?;
    // MQTT → Banyan publishes go through this component's connection from the MQTT task;
    // the receive loop below sends them.
    let publisher = subscriber.publisher()?;
    print_component_banner(
        subscriber.name(),
        subscriber.backplane_address(),
        subscriber.publisher_port(),
        subscriber.subscriber_port(),
    );

    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| format!("banyan-mgw-{}", std::process::id()));
    let mut options = MqttOptions::new(client_id, args.mqtt_host.clone(), args.mqtt_port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(args.max_packet, args.max_packet);
    let (client, connection) = AsyncClient::new(options, args.queue.max(1));
    let args = Arc::new(args);
    let mqtt = tokio::spawn(mqtt_to_banyan(
        connection,
        client.clone(),
        publisher,
        args.clone(),
    ));

    let handle = subscriber.shutdown_handle();
    on_termination(move || {
        let _ = handle.shutdown();
    })?;
    let qos = qos(args.qos);
    let dropped = AtomicU64::new(0);
    let skipped = AtomicU64::new(0);
    loop {
        let message = match subscriber.recv().await {
            Ok(message) => message,
            Err(banyan_host::Error::Shutdown) => break,
            Err(error) => {
                mqtt.abort();
                return Err(error.into());
            }
        };
        let json = message
            .value()
            .map_err(|error| error.to_string())
            .and_then(|value| to_json(&value).map_err(|error| error.to_string()));
        match json {
            Ok(json) => match client.try_publish(&args.mqtt_pub_topic, qos, false, json) {
                Ok(()) => {}
                Err(ClientError::TryRequest(_)) => {
                    if let Some(n) = every_hundredth(&dropped) {
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
                if let Some(n) = every_hundredth(&skipped) {
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
