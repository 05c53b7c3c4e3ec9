//! `ardgw`: the Arduino gateway — OneGPIO messages on the backplane to a stock Arduino
//! running StandardFirmata or FirmataExpress, a drop-in for s3-extend 1.35's `ardgw` (same
//! flags, same topics, same reports); with `--telemetrix`, to one running
//! Telemetrix4Arduino. The protocols live in `banyan_gateways::firmata` and
//! `banyan_gateways::telemetrix`; this file is flags → configuration → run. See
//! `docs/arduino.md` and `docs/telemetrix.md`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use banyan_cli::board_gateway::{init_logging, log_filter, parse, truthy};
use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_gateways::firmata::driver::{self, Topics};
use banyan_gateways::firmata::{Config, Core, Pace, discover};
use banyan_gateways::link::{Connector, Device, Link, SerialConnector, TcpConnector};
use banyan_gateways::reconnect::Backoff;
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
    /// Logging: False (default: state changes), True (debug), or a level (error, warn,
    /// info, debug, trace); RUST_LOG overrides
    #[arg(short = 'l', value_name = "LEVEL", default_value = "False")]
    log: String,
    /// Topics of OneGPIO commands (prefix subscriptions, space separated)
    #[arg(short = 'm', value_name = "TOPIC", num_args = 1..,
          default_values_t = ["to_arduino_gateway".to_string()])]
    subscriber_list: Vec<String>,
    /// Topic of the reports
    #[arg(
        short = 'r',
        value_name = "TOPIC",
        default_value = "from_arduino_gateway"
    )]
    publisher_topic: String,
    /// Longest wait between attempts to reopen the board's link, in seconds
    #[arg(long = "max-backoff", default_value_t = 2.0)]
    max_backoff: f64,
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
    if log_filter(&args.log).is_none() {
        anyhow::bail!("-l takes True, False or a log level, not {:?}", args.log);
    }
    if !(args.max_backoff.is_finite() && args.max_backoff > 0.0) {
        anyhow::bail!("--max-backoff must be a positive number of seconds");
    }
    Ok(Config {
        instance_id,
        keep_alive_s: truthy("-k", &args.keep_alive)?.then_some(1),
        // Paced for the slower of the two rates unless told.
        pace: Pace::for_baud(args.baud.unwrap_or(STANDARD_BAUD)),
    })
}

fn main() -> ExitCode {
    init_logging();
    run_main("ardgw", || {
        let Some(args) = parse::<Args>("ardgw")? else {
            return Ok(());
        };
        let config = core_config(&args)?;
        let connector = connector(&args)?;
        let mut component_config = args.component.config("ArduinoGateway");
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
        let topics = Topics {
            commands: args.subscriber_list.clone(),
            reports: args.publisher_topic.clone(),
        };
        if args.telemetrix {
            let mut core = telemetrix::Core::new(telemetrix::Config {
                family: Family::Arduino,
                instance_id: config.instance_id,
                pace: Pace::for_baud(args.baud.unwrap_or(EXPRESS_BAUD)),
            });
            let summary =
                banyan_gateways::driver::run(&mut component, &mut device, &mut core, &topics)?;
            banyan_cli::board_gateway::print_summary("ardgw", &summary, &core);
            return Ok(());
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
