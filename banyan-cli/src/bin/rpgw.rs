//! `rpgw`: the Raspberry Pi Pico gateway — OneGPIO messages on the backplane to a Pico
//! running the stock Telemetrix4RpiPico firmware, a drop-in for s3-extend 1.35's `rpgw`
//! (same flags, same topics, same bytes to the board, same reports). The protocol lives in
//! `banyan_gateways::telemetrix`; this file is flags → configuration → run. See
//! `docs/telemetrix.md`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use banyan_cli::board_gateway::{init_logging, log_filter, parse};
use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_gateways::driver::{self, Topics};
use banyan_gateways::firmata::discover;
use banyan_gateways::link::{Connector, Device, SerialConnector, TcpConnector};
use banyan_gateways::reconnect::Backoff;
use banyan_gateways::telemetrix::{Config, Core};
use banyan_proto::telemetrix::Family;
use clap::Parser;

/// The Pico's USB serial rate as tmx-pico-aio opens it (USB CDC ignores it).
const BAUD: u32 = 115_200;

/// Raspberry Pi Pico gateway: OneGPIO commands (-m) to a Pico running Telemetrix4RpiPico,
/// its inputs as OneGPIO reports (-r).
#[derive(Debug, Parser)]
#[command(name = "rpgw", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Serial port of the Pico [default: found by USB vendor id]; "None" as in s3-extend
    #[arg(short = 'c', long = "com-port", value_name = "PORT")]
    com_port: Option<String>,
    /// The board is behind a TCP byte stream (a serial-to-TCP bridge, a test device)
    #[arg(long = "tcp", value_name = "HOST:PORT", conflicts_with = "com_port")]
    tcp: Option<String>,
    /// Logging: False (default: state changes), True (debug), or a level (error, warn,
    /// info, debug, trace); RUST_LOG overrides
    #[arg(short = 'l', value_name = "LEVEL", default_value = "False")]
    log: String,
    /// Topics of OneGPIO commands (prefix subscriptions, space separated)
    #[arg(short = 'm', value_name = "TOPIC", num_args = 1..,
          default_values_t = ["to_rpi_pico_gateway".to_string()])]
    subscriber_list: Vec<String>,
    /// Topic of the reports (s3-extend's -r is ignored there; its reports go to
    /// from_rpi_pico_gateway, the default here)
    #[arg(
        short = 'r',
        value_name = "TOPIC",
        default_value = "from_rpi_pico_gateway"
    )]
    publisher_topic: String,
    /// Longest wait between attempts to reopen the board's link, in seconds
    #[arg(long = "max-backoff", default_value_t = 2.0)]
    max_backoff: f64,
}

/// The board's link from the flags.
fn connector(args: &Args) -> anyhow::Result<Box<dyn Connector>> {
    if let Some(address) = &args.tcp {
        return Ok(Box::new(TcpConnector::new(address.clone())));
    }
    let path = match args.com_port.as_deref().filter(|p| *p != "None") {
        Some(path) => path.to_owned(),
        None => {
            let found = discover::picos();
            let Some(first) = found.first() else {
                anyhow::bail!(
                    "no Raspberry Pi Pico found among the serial ports (USB vendor id 2e8a); \
                     plug one in, or name it with -c PORT or --tcp HOST:PORT"
                );
            };
            eprintln!(
                "rpgw: using {} ({:04x}:{:04x}){}",
                first.path.display(),
                first.vendor,
                first.product,
                if found.len() > 1 {
                    format!("; {} more found, choose with -c", found.len() - 1)
                } else {
                    String::new()
                }
            );
            first.path.display().to_string()
        }
    };
    Ok(Box::new(SerialConnector::new(path, BAUD)))
}

fn main() -> ExitCode {
    init_logging();
    run_main("rpgw", || {
        let Some(args) = parse::<Args>("rpgw")? else {
            return Ok(());
        };
        if log_filter(&args.log).is_none() {
            anyhow::bail!("-l takes True, False or a log level, not {:?}", args.log);
        }
        if !(args.max_backoff.is_finite() && args.max_backoff > 0.0) {
            anyhow::bail!("--max-backoff must be a positive number of seconds");
        }
        let connector = connector(&args)?;
        let mut component_config = args.component.config("RpiPicoGateway");
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
        let mut device = Device::new(connector, backoff, Instant::now());
        let mut core = Core::new(Config::for_family(Family::RpiPico));
        let topics = Topics {
            commands: args.subscriber_list.clone(),
            reports: args.publisher_topic.clone(),
        };
        let summary = driver::run(&mut component, &mut device, &mut core, &topics)?;
        banyan_cli::board_gateway::print_summary("rpgw", &summary, &core);
        Ok(())
    })
}
