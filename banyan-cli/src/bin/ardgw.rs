//! `ardgw`: the Arduino gateway — OneGPIO messages on the backplane to a stock Arduino
//! running StandardFirmata or FirmataExpress, a drop-in for s3-extend 1.35's `ardgw` (same
//! flags, same topics, same reports); with `--telemetrix`, to one running
//! Telemetrix4Arduino. The protocols live in `banyan_gateways::firmata` and
//! `banyan_gateways::telemetrix`; this file is flags → configuration → run. See
//! `docs/arduino.md` and `docs/telemetrix.md`.

use std::process::ExitCode;
use std::time::Instant;

use banyan_cli::ComponentArgs;
use banyan_cli::board_gateway::{self, GatewayArgs, truthy};
use banyan_gateways::firmata::driver;
use banyan_gateways::firmata::{Config, Core, Pace, discover};
use banyan_gateways::link::{Connector, Device, Link, SerialConnector, TcpConnector};
use banyan_gateways::telemetrix;
use banyan_proto::telemetrix::Family;
use clap::Parser;

/// StandardFirmata's baud rate (the Arduino IDE example).
const STANDARD_BAUD: u32 = 57_600;
/// FirmataExpress's.
const EXPRESS_BAUD: u32 = 115_200;

/// Arduino gateway: OneGPIO commands (-m) to an Arduino running StandardFirmata or
/// FirmataExpress, its inputs as OneGPIO reports (-r).
#[derive(Debug, Parser)]
#[command(name = "ardgw", version)]
#[command(
    mut_arg("subscriber_list", |a| a.default_value("to_arduino_gateway")),
    mut_arg("publisher_topic", |a| a.default_value("from_arduino_gateway"))
)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Serial port of the Arduino [default: found by USB vendor id]; "None" as in s3-extend
    #[arg(short = 'c', long = "com-port", value_name = "PORT")]
    com_port: Option<String>,
    /// The board is behind a TCP byte stream (an emulator, a serial-to-Wi-Fi bridge)
    #[arg(long = "tcp", value_name = "HOST:PORT", conflicts_with = "com_port")]
    tcp: Option<String>,
    /// Serial baud rate [default: 57600 then 115200, alternating until a board answers]
    #[arg(long = "baud", value_name = "BAUD")]
    baud: Option<u32>,
    /// FirmataExpress instance id the board must answer with (1-127); "None" = 1
    #[arg(short = 'i', value_name = "ID")]
    instance_id: Option<String>,
    /// FirmataExpress keep-alive: True or False (StandardFirmata has none)
    #[arg(short = 'k', value_name = "BOOL", default_value = "True")]
    keep_alive: String,
    #[command(flatten)]
    gateway: GatewayArgs,
    /// The board runs Telemetrix4Arduino (115200 baud unless --baud; -i is its ARDUINO_ID;
    /// -k does not apply)
    #[arg(long = "telemetrix")]
    telemetrix: bool,
}

/// Without `--baud`, serial opens alternate between StandardFirmata's and FirmataExpress's
/// rates: a board that does not answer at one is given up by the core and reopened at the
/// other.
struct AutoBaud {
    path: String,
    next: usize,
}

impl Connector for AutoBaud {
    fn open(&mut self) -> std::io::Result<Box<dyn Link>> {
        let baud = [STANDARD_BAUD, EXPRESS_BAUD][self.next % 2];
        self.next += 1;
        tracing::info!("opening {} at {baud} baud", self.path);
        SerialConnector::new(self.path.clone(), baud).open()
    }

    fn describe(&self) -> String {
        format!("serial {} (57600/115200)", self.path)
    }
}

/// The board's link from the flags.
fn connector(args: &Args) -> anyhow::Result<Box<dyn Connector>> {
    if let Some(address) = &args.tcp {
        // A name that does not resolve yet may later (a board joining the Wi-Fi): retried.
        // An address without a port never will: a flag error now.
        let port = address
            .rsplit_once(':')
            .map(|(_, port)| port.parse::<u16>());
        if !matches!(port, Some(Ok(port)) if port != 0) {
            anyhow::bail!("--tcp {address}: expected HOST:PORT, e.g. 127.0.0.1:5000");
        }
        return Ok(Box::new(TcpConnector::new(address.clone())));
    }
    let path = match args.com_port.as_deref().filter(|p| *p != "None") {
        Some(path) => path.to_owned(),
        None => {
            let found = discover::arduinos();
            let Some(first) = found.first() else {
                let makers: Vec<String> = discover::VENDORS
                    .iter()
                    .map(|(id, name)| format!("{name} {id:04x}"))
                    .collect();
                anyhow::bail!(
                    "no Arduino found among the serial ports (USB vendor ids: {}); plug one \
                     in, or name it with -c PORT or --tcp HOST:PORT",
                    makers.join(", ")
                );
            };
            eprintln!(
                "ardgw: using {} ({} {:04x}:{:04x}){}",
                first.path.display(),
                first.maker,
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
    Ok(match args.baud {
        Some(baud) => Box::new(SerialConnector::new(path, baud)),
        None if args.telemetrix => Box::new(SerialConnector::new(path, EXPRESS_BAUD)),
        None => Box::new(AutoBaud { path, next: 0 }),
    })
}

/// The core's configuration from the flags.
fn core_config(args: &Args) -> anyhow::Result<Config> {
    let instance_id = match args.instance_id.as_deref() {
        None | Some("None") => 1,
        Some(text) => text
            .parse::<u8>()
            .ok()
            .filter(|id| (1..=127).contains(id))
            .ok_or_else(|| {
                anyhow::anyhow!("-i takes an instance id from 1 to 127, not {text:?}")
            })?,
    };
    if let Some(baud) = args.baud
        && !(300..=2_000_000).contains(&baud)
    {
        anyhow::bail!("--baud {baud} is not a serial rate (300 to 2000000)");
    }
    Ok(Config {
        instance_id,
        keep_alive_s: truthy("-k", &args.keep_alive)?.then_some(1),
        // Paced for the slower of the two rates unless told.
        pace: Pace::for_baud(args.baud.unwrap_or(STANDARD_BAUD)),
    })
}

fn main() -> ExitCode {
    board_gateway::main("ardgw", |args: Args| {
        let config = core_config(&args)?;
        let backoff = args.gateway.backoff()?;
        let connector = connector(&args)?;
        let mut component = args.gateway.start(&args.component, "ArduinoGateway")?;
        let mut device = Device::new(connector, backoff, Instant::now());
        let topics = args.gateway.topics();
        if args.telemetrix {
            let config = telemetrix::Config {
                family: Family::Arduino,
                instance_id: config.instance_id,
                pace: Pace::for_baud(args.baud.unwrap_or(EXPRESS_BAUD)),
            };
            return board_gateway::run_telemetrix(
                "ardgw",
                &mut component,
                &mut device,
                config,
                &topics,
            );
        }
        let mut core = Core::new(config);
        let summary = driver::run(&mut component, &mut device, &mut core, &topics)?;
        let stats = core.stats();
        let pacer = core.pacer_stats();
        println!("Exiting Through Signal Handler");
        println!(
            "ardgw stopped: {} connection(s), {} lost, {} commands ({} refused), {} reports \
             published ({} dropped), {} bytes to the board ({} messages refused, {} discarded \
             on disconnect), {} from it, {} resets seen",
            summary.connections,
            summary.losses,
            summary.commands,
            stats.rejected,
            summary.published,
            stats.reports_dropped,
            summary.bytes_out,
            pacer.refused,
            pacer.discarded,
            summary.bytes_in,
            stats.resets,
        );
        Ok(())
    })
}
