//! `mgw`: the MQTT gateway, flag- and byte-compatible with python-banyan's `mgw`. The flags
//! are mapped here; the gateway is `banyan_gateways::mqtt` (see its docs for the contract and
//! what differs from Python).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_gateways::mqtt::{self, MqttConfig};
use clap::Parser;

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

fn main() -> ExitCode {
    run_main("mgw", || {
        let Some(args) = banyan_cli::parse_args::<Args>("mgw")? else {
            return Ok(());
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(run(args))
    })
}

/// Connects the Banyan side, then runs the gateway on the current runtime.
async fn run(args: Args) -> anyhow::Result<()> {
    if !(args.max_backoff.is_finite() && args.max_backoff > 0.0) {
        anyhow::bail!(
            "--max-backoff must be a positive number of seconds, not {}",
            args.max_backoff
        );
    }
    let mut config = args.component.config("MQTT Gateway");
    for topic in &args.banyan_sub_topics {
        config = config.subscribe(topic.clone());
    }
    let subscriber = banyan_host::aio::Component::connect(config).await?;
    print_component_banner(
        subscriber.name(),
        subscriber.backplane_address(),
        subscriber.publisher_port(),
        subscriber.subscriber_port(),
    );
    let handle = subscriber.shutdown_handle();
    on_termination(move || {
        let _ = handle.shutdown();
    })?;
    let config = MqttConfig {
        client_id: args
            .client_id
            .unwrap_or_else(|| format!("banyan-mgw-{}", std::process::id())),
        mqtt_host: args.mqtt_host,
        mqtt_port: args.mqtt_port,
        banyan_pub_topic: args.banyan_pub_topic,
        mqtt_pub_topic: args.mqtt_pub_topic,
        mqtt_sub_topics: args.mqtt_sub_topics,
        qos: args.qos,
        queue: args.queue,
        max_packet: args.max_packet,
        max_backoff: Duration::from_secs_f64(args.max_backoff.clamp(0.1, 3600.0)),
    };
    mqtt::run(config, subscriber).await?;
    Ok(())
}
