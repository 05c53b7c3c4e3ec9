//! `esp32gw`: the ESP32 gateway — OneGPIO messages on the backplane to an ESP32 running the
//! stock Telemetrix4Esp32 firmware over Wi-Fi (TCP 31336), a drop-in for s3-extend 1.35's
//! `esp32gw` (same flags, same topics, same bytes to the board, same reports). The board's
//! address comes from `{'command': 'ip_address', 'address': …}` on the command topic, as
//! s3-extend's, or from `--address`. The protocol lives in `banyan_gateways::telemetrix`;
//! this file is flags → configuration → run. See `docs/telemetrix.md`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use banyan_cli::board_gateway::{init_logging, log_filter, parse};
use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_gateways::driver::{self, Topics};
use banyan_gateways::link::Device;
use banyan_gateways::reconnect::Backoff;
use banyan_gateways::telemetrix::address::Esp32Connector;
use banyan_gateways::telemetrix::{Config, Core};
use banyan_proto::telemetrix::Family;
use clap::Parser;

/// ESP32 gateway: OneGPIO commands (-m) to an ESP32 running Telemetrix4Esp32 over Wi-Fi,
/// its inputs as OneGPIO reports (-r).
#[derive(Debug, Parser)]
#[command(name = "esp32gw", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// The ESP32's address, HOST or HOST:PORT (port 31336 by default); without it, the
    /// address comes from the {'command': 'ip_address', 'address': ...} message
    #[arg(short = 'a', long = "address", value_name = "HOST")]
    address: Option<String>,
    /// Accepted for s3-extend compatibility: "None" only (the ESP32 is reached over Wi-Fi)
    #[arg(short = 'c', value_name = "PORT", default_value = "None")]
    com_port: String,
    /// Logging: False (default: state changes), True (debug), or a level (error, warn,
    /// info, debug, trace); RUST_LOG overrides
    #[arg(short = 'l', value_name = "LEVEL", default_value = "False")]
    log: String,
    /// Topics of OneGPIO commands (prefix subscriptions, space separated)
    #[arg(short = 'm', value_name = "TOPIC", num_args = 1..,
          default_values_t = ["to_esp32_gateway".to_string()])]
    subscriber_list: Vec<String>,
    /// Topic of the reports (s3-extend's -r is ignored there; its reports go to
    /// from_esp32_gateway, the default here)
    #[arg(
        short = 'r',
        value_name = "TOPIC",
        default_value = "from_esp32_gateway"
    )]
    publisher_topic: String,
    /// Longest wait between attempts to reopen the board's link, in seconds
    #[arg(long = "max-backoff", default_value_t = 2.0)]
    max_backoff: f64,
}

fn main() -> ExitCode {
    init_logging();
    run_main("esp32gw", || {
        let Some(args) = parse::<Args>("esp32gw")? else {
            return Ok(());
        };
        if log_filter(&args.log).is_none() {
            anyhow::bail!("-l takes True, False or a log level, not {:?}", args.log);
        }
        if args.com_port != "None" {
            anyhow::bail!(
                "esp32gw reaches the ESP32 over Wi-Fi, not a serial port: leave out -c and \
                 give the board's address with --address HOST or the ip_address message"
            );
        }
        if !(args.max_backoff.is_finite() && args.max_backoff > 0.0) {
            anyhow::bail!("--max-backoff must be a positive number of seconds");
        }
        let mut component_config = args.component.config("esp32Gateway");
        for topic in &args.subscriber_list {
            component_config = component_config.subscribe(topic.clone());
        }
        let mut component = component_config.connect()?;
        print_component_banner(
            component.name(),
            component.backplane_address(),
            component.publisher_port(),
            component.subscriber_port(),
        );
        let handle = component.shutdown_handle();
        on_termination(move || {
            let _ = handle.shutdown();
        })?;
        let backoff = Backoff::up_to(Duration::from_secs_f64(args.max_backoff.min(3600.0)));
        let connector = Esp32Connector::new(args.address.as_deref());
        let mut device = Device::new(connector, backoff, Instant::now());
        let mut core = Core::new(Config::for_family(Family::Esp32));
        let topics = Topics {
            commands: args.subscriber_list.clone(),
            reports: args.publisher_topic.clone(),
        };
        let summary = driver::run(&mut component, &mut device, &mut core, &topics)?;
        banyan_cli::board_gateway::print_summary("esp32gw", &summary, &core);
        Ok(())
    })
}
