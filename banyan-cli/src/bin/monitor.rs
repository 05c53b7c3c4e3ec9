//! `monitor`: prints every message on the backplane as `topic  payload`.

use std::process::ExitCode;

use banyan_cli::{ComponentArgs, hex, on_termination, print_component_banner, run_main};
use banyan_host::Component;
use banyan_host::component::PROBE_TOPIC_PREFIX;
use banyan_proto::payload::{self, Value};
use clap::Parser;

/// Rust Banyan monitor: subscribes to all topics (or those given) and prints each message.
#[derive(Debug, Parser)]
#[command(name = "monitor", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Only topics starting with this prefix (repeatable) [default: all]
    #[arg(long = "topic", value_name = "PREFIX")]
    topics: Vec<String>,
    /// Also print other components' connection probes (topics under `_banyan_probe/`)
    #[arg(long)]
    show_probes: bool,
    /// Exit after printing this many messages
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

fn main() -> ExitCode {
    run_main("monitor", || {
        let args = Args::parse();
        let mut config = args.component.config("Monitor");
        config.subscriptions = if args.topics.is_empty() {
            vec![String::new()]
        } else {
            args.topics.clone()
        };
        let mut monitor = Component::connect(config)?;
        print_component_banner(
            monitor.name(),
            monitor.backplane_address(),
            monitor.publisher_port(),
            monitor.subscriber_port(),
        );
        let handle = monitor.shutdown_handle();
        on_termination(move || {
            let _ = handle.shutdown();
        })?;
        let mut printed = 0u64;
        monitor.receive_loop(|_, message| {
            if !args.show_probes && message.topic.starts_with(PROBE_TOPIC_PREFIX) {
                return Ok(std::ops::ControlFlow::Continue(()));
            }
            match payload::from_slice::<Value>(&message.payload) {
                Ok(value) => println!("{}  {value}", message.topic),
                Err(error) => println!(
                    "{}  <not a msgpack payload ({error}): {}>",
                    message.topic,
                    hex(&message.payload)
                ),
            }
            printed += 1;
            Ok(if args.count.is_some_and(|count| printed >= count) {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            })
        })?;
        Ok(())
    })
}
