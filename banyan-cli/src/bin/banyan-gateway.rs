//! `banyan-gateway`: bridges a microcontroller's serial link (or a TCP byte stream) onto the
//! backplane.

use std::process::ExitCode;

use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_gateways::serial::Gateway;
use banyan_gateways::{Connector, SerialConnector, TcpConnector};
use clap::Parser;

/// Serial gateway: MCU frames (COBS + CRC-32 + postcard) in, Banyan messages out, and back.
#[derive(Debug, Parser)]
#[command(name = "banyan-gateway", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Serial device of the MCU, e.g. /dev/ttyACM0
    #[arg(
        long,
        value_name = "DEVICE",
        conflicts_with = "tcp",
        required_unless_present = "tcp"
    )]
    serial: Option<String>,
    /// Baud rate of the serial device
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Connect to a TCP byte stream instead, e.g. QEMU's serial port at 127.0.0.1:5555
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
}

fn main() -> ExitCode {
    run_main("banyan-gateway", || {
        let Some(args) = banyan_cli::parse_args::<Args>("banyan-gateway")? else {
            return Ok(());
        };
        let component = args.component.config("Gateway").connect()?;
        print_component_banner(
            component.name(),
            component.backplane_address(),
            component.publisher_port(),
            component.subscriber_port(),
        );
        let connector: Box<dyn Connector> = match (&args.serial, &args.tcp) {
            (Some(path), _) => Box::new(SerialConnector::new(path, args.baud)),
            (None, Some(address)) => Box::new(TcpConnector::new(address)),
            (None, None) => anyhow::bail!("give --serial DEVICE or --tcp HOST:PORT"),
        };
        println!("Link: {}", connector.describe());
        let gateway = Gateway::new(component, connector);
        let stop = gateway.shutdown_handle();
        on_termination(move || {
            let _ = stop.shutdown();
        })?;
        let stats = gateway.run()?;
        println!("Gateway stopped: {stats:?}");
        Ok(())
    })
}
