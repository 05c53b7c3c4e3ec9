//! `onegpio-sim`: the OneGPIO engine on a virtual pin bank, as a Banyan component.
//!
//! Drive it with any OneGPIO program (`blinker.py -d rpi` with `-d rpi` here, the Tk demo, a
//! Rust component) without hardware: commands on `to_<device>_gateway`, reports on
//! `from_<device>_gateway`, exactly as the microcontroller firmware does. The pins are
//! `banyan_onegpio::loopback`'s: 16 pins, pin 2k wired to pin 2k+1, 4 analog ramp channels.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use banyan_cli::board_gateway::start_component;
use banyan_cli::{ComponentArgs, run_main};
use banyan_host::Error as HostError;
use banyan_onegpio::loopback::{LoopbackBank, Wires};
use banyan_onegpio::{Config, Engine, Outcome, SinkFull, Topics};
use clap::Parser;

/// OneGPIO on virtual pins (pin 2k wired to 2k+1, analog ramps), for trying OneGPIO programs
/// without hardware.
#[derive(Debug, Parser)]
#[command(name = "onegpio-sim", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Device name: commands on `to_<DEVICE>_gateway`, reports on `from_<DEVICE>_gateway`
    #[arg(short = 'd', long = "device", default_value = banyan_onegpio::DEFAULT_DEVICE)]
    device: String,
    /// Debounce time of digital inputs in milliseconds (virtual pins do not bounce)
    #[arg(long = "debounce-ms", default_value_t = 0)]
    debounce_ms: u32,
    /// Analog sampling interval in milliseconds
    #[arg(long = "analog-interval-ms", default_value_t = 100)]
    analog_interval_ms: u32,
}

/// How often inputs are sampled when no message arrives.
const TICK: Duration = Duration::from_millis(1);

fn main() -> ExitCode {
    run_main("onegpio-sim", || {
        let Some(args) = banyan_cli::parse_args::<Args>("onegpio-sim")? else {
            return Ok(());
        };
        let topics = Topics::new(&args.device).context("--device")?;
        let mut component = start_component(&args.component, "OneGpioSim", [topics.commands()])?;

        let config = Config {
            debounce_us: args.debounce_ms.saturating_mul(1000),
            analog_interval_us: args.analog_interval_ms.saturating_mul(1000),
            ..Config::DEFAULT
        };
        let wires = Wires::new();
        let mut engine: Engine<_, 16, 4> =
            Engine::with_topics(LoopbackBank::new(&wires), config, topics);
        println!(
            "OneGPIO virtual pins ready: commands on {}, reports on {}",
            engine.topics().commands(),
            engine.topics().reports()
        );

        let start = Instant::now();
        let now_us = || u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        loop {
            let message = match component.recv_timeout(TICK) {
                Ok(message) => message,
                Err(HostError::Shutdown) => return Ok(()),
                Err(error) => return Err(error.into()),
            };
            // A ZeroMQ PUB socket queues (and at its high-water mark drops) on its own: the
            // sink never refuses, and a send error ends the program.
            let mut failure = None;
            let mut publish = |topic: &str, payload: &[u8]| -> Result<(), SinkFull> {
                if let Err(error) = component.publish_raw(topic.as_bytes(), payload) {
                    failure.get_or_insert(error);
                }
                Ok(())
            };
            if let Some(message) = message {
                if let Outcome::Rejected(reason) =
                    engine.handle(&message.topic, &message.payload, now_us(), &mut publish)
                {
                    tracing::info!(%reason, "command refused");
                }
            } else {
                engine.poll(now_us(), &mut publish);
            }
            if let Some(error) = failure {
                return Err(error.into());
            }
        }
    })
}
