//! `tgw`: the TCP gateway to a networked microcontroller (a Pico W running Python Banyan's
//! MicroPython scripts), flag- and byte-compatible with python-banyan 3.17's `tgw`. See
//! `banyan_gateways::tgw` for the contract and what differs from Python.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use banyan_cli::{ComponentArgs, LimitArgs, on_termination, print_component_banner, run_main};
use banyan_gateways::tgw::link::{self, DeviceConfig};
use banyan_gateways::tgw::{
    Counters, DEFAULT_DEVICE_PORT, DEFAULT_NAME, DEFAULT_PUB_TOPIC, DEFAULT_SUB_TOPIC, Refusal,
    ToDevice, frame_for_device,
};
use banyan_host::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT};
use clap::Parser;

/// TCP gateway: Banyan topics (-g) to the device at -a:-n as length-prefixed msgpack, the
/// device's frames to Banyan topic -e.
#[derive(Debug, Parser)]
#[command(name = "tgw", version)]
struct Args {
    /// IP address (or host name) of the device's TCP server, e.g. the Pico W's
    #[arg(short = 'a', long = "device", value_name = "ADDR")]
    device: String,
    /// TCP port of the device's server
    #[arg(short = 'n', long = "device-port", value_name = "PORT", default_value_t = DEFAULT_DEVICE_PORT)]
    device_port: u16,
    /// Banyan topic for messages from the device
    #[arg(short = 'e', long = "banyan-pub-topic", value_name = "TOPIC", default_value = DEFAULT_PUB_TOPIC)]
    pub_topic: String,
    /// Banyan topics forwarded to the device (prefix subscriptions, space separated)
    #[arg(short = 'g', long = "banyan-sub-topics", value_name = "TOPIC", num_args = 1..,
          default_values_t = [DEFAULT_SUB_TOPIC.to_string()])]
    sub_topics: Vec<String>,
    /// Backplane IP address [default: this machine's outward address, as Python Banyan]
    #[arg(short = 'b', long = "backplane", value_name = "ADDR")]
    backplane: Option<String>,
    /// Backplane publisher port (components publish to it)
    #[arg(short = 'p', long = "publisher-port", default_value_t = DEFAULT_PUBLISHER_PORT)]
    publisher_port: u16,
    /// Backplane subscriber port (components subscribe on it)
    #[arg(short = 's', long = "subscriber-port", default_value_t = DEFAULT_SUBSCRIBER_PORT)]
    subscriber_port: u16,
    /// Name of this gateway, shown in the banner
    #[arg(short = 'z', long = "name", default_value = DEFAULT_NAME)]
    name: String,
    /// Python's asyncio event loop flag: accepted for compatibility, ignored
    #[arg(short = 'l', hide = true)]
    event_loop: Option<String>,
    /// Seconds to wait for the backplane before giving up
    #[arg(long = "connect-timeout", default_value_t = 2.0)]
    connect_timeout: f64,
    /// Messages waiting for the device (e.g. while it is slow to read) before new ones are
    /// dropped (1 to 100000)
    #[arg(long = "queue", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    queue: u32,
    /// Longest wait between reconnection attempts to the device, in seconds (starts at 0.1 s,
    /// doubles)
    #[arg(long = "max-backoff", default_value_t = 5.0)]
    max_backoff: f64,
    #[command(flatten)]
    limits: LimitArgs,
    /// PLAIN user name, for a backplane started with --plain-user (not encryption)
    #[arg(long = "plain-user", value_name = "USER", requires = "plain_password")]
    plain_user: Option<String>,
    /// PLAIN password (the environment variable keeps it out of `ps`)
    #[arg(
        long = "plain-password",
        value_name = "PASSWORD",
        env = "BANYAN_PLAIN_PASSWORD",
        hide_env_values = true
    )]
    plain_password: Option<String>,
}

impl Args {
    /// The backplane flags in the shape every component uses.
    fn component(&self) -> ComponentArgs {
        ComponentArgs {
            backplane: self.backplane.clone(),
            publisher_port: self.publisher_port,
            subscriber_port: self.subscriber_port,
            name: Some(self.name.clone()),
            loop_time: 0.1,
            connect_timeout: self.connect_timeout,
            limits: self.limits.clone(),
            plain_user: self.plain_user.clone(),
            plain_password: self.plain_password.clone(),
        }
    }
}

/// Parses the flags; a bad flag is one line (`-n: invalid value ... (see tgw --help)`), help
/// and version print and exit 0.
fn parse() -> anyhow::Result<Option<Args>> {
    let Some(args) = banyan_cli::parse_args::<Args>("tgw")? else {
        return Ok(None);
    };
    if !(args.max_backoff.is_finite() && args.max_backoff > 0.0) {
        anyhow::bail!("--max-backoff must be a positive number of seconds");
    }
    if args.device.is_empty() || args.device == "None" {
        anyhow::bail!("-a needs the device's IP address (the Pico W's TCP server)");
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    run_main("tgw", || {
        let Some(args) = parse()? else {
            return Ok(());
        };
        let component = args.component();
        let mut config = component.config(DEFAULT_NAME);
        for topic in &args.sub_topics {
            config = config.subscribe(topic.clone());
        }
        let mut publisher_config = component.config(DEFAULT_NAME);
        publisher_config.name = format!("{} (from device)", args.name);
        let mut subscriber = config.connect()?;
        let publisher = publisher_config.connect()?;
        print_component_banner(
            subscriber.name(),
            subscriber.backplane_address(),
            subscriber.publisher_port(),
            subscriber.subscriber_port(),
        );

        let counters = Arc::new(Counters::default());
        let device = link::start(
            DeviceConfig {
                host: args.device.clone(),
                port: args.device_port,
                pub_topic: args.pub_topic.clone(),
                max_backoff: Duration::from_secs_f64(args.max_backoff.min(3600.0)),
                queue: args.queue as usize,
            },
            publisher,
            counters.clone(),
        )?;

        let handle = subscriber.shutdown_handle();
        on_termination(move || {
            let _ = handle.shutdown();
        })?;
        subscriber.receive_loop(|_, message| {
            match frame_for_device(message.topic.as_bytes(), &message.payload) {
                ToDevice::Frame(frame) => device.send(&message.topic, frame),
                ToDevice::Probe => {}
                ToDevice::Refused(refusal) => {
                    let counter = match refusal {
                        Refusal::TooLong(_) => &counters.too_long,
                        _ => &counters.bus_malformed,
                    };
                    if let Some(n) = Counters::bump(counter) {
                        eprintln!(
                            "tgw: dropped a message on {:?} for the device: {refusal} ({n} \
                             dropped so far)",
                            message.topic
                        );
                    }
                }
            }
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
        println!("Exiting Through Signal Handler");
        println!("tgw stopped: {counters}");
        Ok(())
    })
}
