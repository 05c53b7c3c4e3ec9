//! `rpgw`: the Raspberry Pi Pico gateway — OneGPIO messages on the backplane to a Pico
//! running the stock Telemetrix4RpiPico firmware, a drop-in for s3-extend 1.35's `rpgw`
//! (same flags, same topics, same bytes to the board, same reports). The protocol lives in
//! `banyan_gateways::telemetrix`; this file is flags → configuration → run. See
//! `docs/telemetrix.md`.

use std::process::ExitCode;
use std::time::Instant;

use banyan_cli::{ComponentArgs, board_gateway};
use banyan_gateways::driver::Topics;
use banyan_gateways::firmata::discover;
use banyan_gateways::link::{Connector, Device, SerialConnector, TcpConnector};
use banyan_gateways::telemetrix::Config;
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
    board_gateway::main("rpgw", |args: Args| {
        let backoff = board_gateway::backoff(&args.log, args.max_backoff)?;
        let connector = connector(&args)?;
        let mut component = board_gateway::start_component(
            &args.component,
            "RpiPicoGateway",
            &args.subscriber_list,
        )?;
        let mut device = Device::new(connector, backoff, Instant::now());
        let topics = Topics {
            commands: args.subscriber_list.clone(),
            reports: args.publisher_topic.clone(),
        };
        let config = Config::for_family(Family::RpiPico);
        board_gateway::run_telemetrix("rpgw", &mut component, &mut device, config, &topics)
    })
}
