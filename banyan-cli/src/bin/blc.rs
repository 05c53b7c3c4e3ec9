//! `blc`: the Banyan launch client. Runs what a `bls` on another machine asks for on this
//! one (messages on its topic), acknowledges each start, restarts with back-off, and stops
//! everything on `killall`, Ctrl-C or SIGTERM.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use banyan_cli::launch::machine::Origin;
use banyan_cli::launch::{KILLALL_TOPIC, LaunchRequest, Launcher, SlotKind};
use banyan_cli::launcher::{Driver, RestartArgs, termination_flag};
use banyan_cli::{ComponentArgs, print_component_banner, run_main};
use clap::{CommandFactory, FromArgMatches, Parser};

/// Banyan launch client: starts the commands a bls publishes on TOPIC.
#[derive(Debug, Parser)]
#[command(name = "blc", version)]
struct Args {
    /// Topic this client listens on for launch requests (the launch file's `topic` column)
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    topic: String,
    #[command(flatten)]
    component: ComponentArgs,
    #[command(flatten)]
    restart: RestartArgs,
}

fn main() -> ExitCode {
    run_main("blc", || {
        // Python's blc uses -t for the topic; the loop time keeps only its long name here.
        let command = Args::command().mut_arg("loop_time", |arg| arg.short(None));
        let parsed = command
            .try_get_matches()
            .and_then(|matches| Args::from_arg_matches(&matches));
        let Some(args) = banyan_cli::parsed_args("blc", parsed)? else {
            return Ok(());
        };
        if args.topic.is_empty() {
            anyhow::bail!("the topic (-t) must not be empty");
        }
        let mut component = args
            .component
            .config("Banyan Launch Client")
            .subscribe(args.topic.clone())
            .subscribe(KILLALL_TOPIC)
            .connect()?;
        print_component_banner(
            component.name(),
            component.backplane_address(),
            component.publisher_port(),
            component.subscriber_port(),
        );
        println!("Listening for {} messages.", args.topic);
        let stop = termination_flag()?;
        let mut driver = Driver::new(
            Launcher::new(args.restart.config()),
            args.restart.grace(),
            "blc",
        );
        while !stop.load(Ordering::SeqCst) {
            driver.turn(Some(&component));
            let Some(message) = component.recv_timeout(driver.wait_budget())? else {
                continue;
            };
            if message.topic == KILLALL_TOPIC {
                println!("{KILLALL_TOPIC}");
                break;
            }
            if message.topic != args.topic {
                continue; // a longer topic that only shares our prefix
            }
            let request = message
                .value()
                .ok()
                .and_then(|value| LaunchRequest::from_value(&value, &args.topic));
            let Some(request) = request else {
                tracing::warn!(topic = %message.topic, "ignoring a malformed launch request");
                continue;
            };
            if let Some(slot) = driver.launcher.slot_of_request(request.launch_id) {
                // A repeat (the bls missed our acknowledgement): answer again.
                let ack = driver.launcher.ack_for(slot).into_iter().collect();
                driver.execute(ack, Some(&component));
                continue;
            }
            driver.launcher.add(
                SlotKind::Local {
                    command: request.command_string.clone(),
                    spawn: request.spawn,
                    auto_restart: request.auto_restart,
                    origin: Some(Origin {
                        launch_id: request.launch_id,
                        reply_topic: request.reply_topic.clone(),
                    }),
                },
                Duration::ZERO,
                0,
            );
        }
        driver.shutdown(Some(&component));
        Ok(())
    })
}
