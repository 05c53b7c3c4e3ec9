//! `rpgw`: the Raspberry Pi Pico gateway — OneGPIO messages on the backplane to a Pico
//! running the stock Telemetrix4RpiPico firmware, a drop-in for s3-extend 1.35's `rpgw`
//! (same flags, same topics, same bytes to the board, same reports). The protocol lives in
//! `banyan_gateways::telemetrix`; this file is flags → configuration → run. See
//! `docs/telemetrix.md`.

use std::process::ExitCode;
use std::time::Instant;

use banyan_cli::ComponentArgs;
use banyan_cli::board_gateway::{self, GatewayArgs};
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
#[command(
    mut_arg("subscriber_list", |a| a.default_value("to_rpi_pico_gateway")),
    mut_arg("publisher_topic", |a| a.default_value("from_rpi_pico_gateway").help("Topic of the reports (s3-extend's -r is ignored there; its reports go to from_rpi_pico_gateway, the default here)"))
)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Serial port of the Pico [default: found by USB vendor id]; "None" as in s3-extend
    #[arg(short = 'c', long = "com-port", value_name = "PORT")]
    com_port: Option<String>,
    /// The board is behind a TCP byte stream (a serial-to-TCP bridge, a test device)
    #[arg(long = "tcp", value_name = "HOST:PORT", conflicts_with = "com_port")]
    tcp: Option<String>,
    #[command(flatten)]
    gateway: GatewayArgs,
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
        let backoff = args.gateway.backoff()?;
        let connector = connector(&args)?;
        let mut component = args.gateway.start(&args.component, "RpiPicoGateway")?;
        let mut device = Device::new(connector, backoff, Instant::now());
        let topics = args.gateway.topics();
        let config = Config::for_family(Family::RpiPico);
        board_gateway::run_telemetrix("rpgw", &mut component, &mut device, config, &topics)
    })
}
