//! `esp32gw`: the ESP32 gateway — OneGPIO messages on the backplane to an ESP32 running the
//! stock Telemetrix4Esp32 firmware over Wi-Fi (TCP 31336), a drop-in for s3-extend 1.35's
//! `esp32gw` (same flags, same topics, same bytes to the board, same reports). The board's
//! address comes from `{'command': 'ip_address', 'address': …}` on the command topic, as
//! s3-extend's, or from `--address`. The protocol lives in `banyan_gateways::telemetrix`;
//! this file is flags → configuration → run. See `docs/telemetrix.md`.

use std::process::ExitCode;
use std::time::Instant;

use banyan_cli::ComponentArgs;
use banyan_cli::board_gateway::{self, GatewayArgs};
use banyan_gateways::link::Device;
use banyan_gateways::telemetrix::Config;
use banyan_gateways::telemetrix::address::Esp32Connector;
use banyan_proto::telemetrix::Family;
use clap::Parser;

/// ESP32 gateway: OneGPIO commands (-m) to an ESP32 running Telemetrix4Esp32 over Wi-Fi,
/// its inputs as OneGPIO reports (-r).
#[derive(Debug, Parser)]
#[command(name = "esp32gw", version)]
#[command(
    mut_arg("subscriber_list", |a| a.default_value("to_esp32_gateway")),
    mut_arg("publisher_topic", |a| a.default_value("from_esp32_gateway").help("Topic of the reports (s3-extend's -r is ignored there; its reports go to from_esp32_gateway, the default here)"))
)]
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
    #[command(flatten)]
    gateway: GatewayArgs,
}

fn main() -> ExitCode {
    board_gateway::main("esp32gw", |args: Args| {
        if args.com_port != "None" {
            anyhow::bail!(
                "esp32gw reaches the ESP32 over Wi-Fi, not a serial port: leave out -c and \
                 give the board's address with --address HOST or the ip_address message"
            );
        }
        let backoff = args.gateway.backoff()?;
        let mut component = args.gateway.start(&args.component, "esp32Gateway")?;
        let connector = Esp32Connector::new(args.address.as_deref());
        let mut device = Device::new(connector, backoff, Instant::now());
        let topics = args.gateway.topics();
        let config = Config::for_family(Family::Esp32);
        board_gateway::run_telemetrix("esp32gw", &mut component, &mut device, config, &topics)
    })
}
