//! `backplane`: the Rust Banyan backplane, flag-compatible with Python Banyan's.

use std::process::ExitCode;
use std::sync::mpsc;

use banyan_cli::{on_termination, run_main};
use banyan_host::backplane::{Backplane, BackplaneConfig, DEFAULT_HWM};
use banyan_host::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, outward_ipv4};
use clap::Parser;

/// Rust Banyan backplane: forwards every message published to the publisher port to the
/// components subscribed on the subscriber port.
#[derive(Debug, Parser)]
#[command(name = "backplane", version)]
struct Args {
    /// Name of this backplane (shown in the banner)
    #[arg(short = 'n', default_value = "")]
    name: String,
    /// Publisher port: components publish to it (0 = pick a free port)
    #[arg(short = 'p', default_value_t = DEFAULT_PUBLISHER_PORT)]
    publisher_port: u16,
    /// Subscriber port: components subscribe on it (0 = pick a free port)
    #[arg(short = 's', default_value_t = DEFAULT_SUBSCRIBER_PORT)]
    subscriber_port: u16,
    /// Event loop time in seconds (accepted for Python compatibility; the forwarder blocks)
    #[arg(short = 't', default_value_t = 0.001)]
    loop_time: f64,
    /// Address to listen on (all IPv4 interfaces by default, so both loopback and
    /// Python components, which use the machine's outward address, can connect)
    #[arg(long, default_value = "0.0.0.0")]
    bind: String,
    /// High-water mark of the forwarder sockets in messages (0 = unbounded)
    #[arg(long, default_value_t = DEFAULT_HWM)]
    hwm: i32,
}

fn main() -> ExitCode {
    run_main("backplane", || {
        let args = Args::parse();
        let backplane = Backplane::bind(&BackplaneConfig {
            bind: args.bind.clone(),
            publisher_port: args.publisher_port,
            subscriber_port: args.subscriber_port,
            hwm: args.hwm,
        })?;
        let shown = if args.bind == "0.0.0.0" {
            format!("{} (listening on all interfaces)", outward_ipv4())
        } else {
            args.bind.clone()
        };
        let label = if args.name.is_empty() {
            String::new()
        } else {
            format!("{} ", args.name)
        };
        println!();
        println!("******************************************");
        println!("{label}Backplane IP address: {shown}");
        println!("Subscriber Port = {}", backplane.subscriber_port());
        println!("Publisher  Port = {}", backplane.publisher_port());
        println!("Loop Time = {} seconds", args.loop_time);
        println!("******************************************");
        let (stop_tx, stop_rx) = mpsc::channel();
        on_termination(move || {
            let _ = stop_tx.send(());
        })?;
        let _ = stop_rx.recv();
        println!("Exiting Through Signal Handler");
        backplane.shutdown()?;
        Ok(())
    })
}
