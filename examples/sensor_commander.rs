//! Reads and commands the sensor firmware (`boards/*` `sensor*`): prints `-r N` readings from
//! `sensor/<board>`, sets the period with `{'command': 'rate', 'ms': M}`, prints `N` more, and
//! with `--stop` sends `{'command': 'stop'}` (QEMU: the firmware exits; Pico: it pauses).
//!
//! `cargo run --example sensor_commander -- --board pico --rate-ms 500 [-b ADDR] [--stop]`

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use banyan_cli::{ComponentArgs, run_main};
use clap::Parser;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// The board: `pico` or `lm3s6965` (topics sensor/<board>, command/<board>)
    #[arg(long, default_value = "pico")]
    board: String,
    /// Readings to print before and after the rate command
    #[arg(short = 'r', long, default_value_t = 5)]
    readings: u32,
    /// The new period in milliseconds (1..=3600000)
    #[arg(long, default_value_t = 500)]
    rate_ms: u32,
    /// Send `stop` at the end
    #[arg(long)]
    stop: bool,
}

/// What the firmware publishes.
#[derive(Deserialize)]
struct Reading {
    count: u32,
    temperature: f64,
}

/// What it obeys.
#[derive(Serialize)]
struct Command<'a> {
    command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ms: Option<u32>,
}

fn main() -> ExitCode {
    run_main("sensor_commander", || {
        let args = Args::parse();
        let sensor_topic = format!("sensor/{}", args.board);
        let command_topic = format!("command/{}", args.board);
        let mut component = args
            .component
            .config("SensorCommander")
            .subscribe(sensor_topic.as_str())
            .connect()?;
        let print_readings = |component: &mut banyan_host::Component| -> anyhow::Result<()> {
            for _ in 0..args.readings {
                let Some(message) = component.recv_timeout(Duration::from_secs(10))? else {
                    bail!("no reading on {sensor_topic} for 10 s: is the gateway running?");
                };
                let reading: Reading = message.decode().context("not a sensor reading")?;
                println!("#{:<5} {:6.2} °C", reading.count, reading.temperature);
            }
            Ok(())
        };
        print_readings(&mut component)?;
        let rate = Command {
            command: "rate",
            ms: Some(args.rate_ms),
        };
        component.publish(&command_topic, &rate)?;
        println!("rate: {} ms", args.rate_ms);
        print_readings(&mut component)?;
        if args.stop {
            let stop = Command {
                command: "stop",
                ms: None,
            };
            component.publish(&command_topic, &stop)?;
            println!("stop sent");
        }
        Ok(())
    })
}
