//! `bls`: the Banyan launch server. Starts what a Python Banyan launch file lists, locally and
//! through remote `blc`s, restarts what should be restarted, and stops it all on `blk`
//! (`killall`), Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use banyan_cli::launch::{
    KILLALL_TOPIC, LaunchAck, Launcher, SlotKind, Target, parse, split_command,
};
use banyan_cli::launcher::{Driver, RestartArgs, listening, termination_flag};
use banyan_cli::{ComponentArgs, run_main};
use banyan_host::net::outward_ipv4;
use banyan_host::{Component, Error as HostError};
use clap::Parser;

/// Banyan launch server: runs the commands of a launch file (Python Banyan's CSV format),
/// locally or through `blc` on other machines; `blk` stops everything.
#[derive(Debug, Parser)]
#[command(name = "bls", version)]
struct Args {
    /// Launch file: CSV with the header
    /// command_string,spawn,topic,append_bp_address,auto_restart,wait
    #[arg(short = 'f', long = "file", default_value = "launch.csv")]
    file: PathBuf,
    #[command(flatten)]
    component: ComponentArgs,
    #[command(flatten)]
    restart: RestartArgs,
    /// Never start a backplane (by default one is started when the launch file has no
    /// `backplane` line and nothing listens on the publisher port)
    #[arg(long)]
    no_backplane: bool,
}

/// `backplane` (`backplane.exe` on Windows) next to this executable if there is one, else
/// from `PATH`.
fn backplane_program() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            Some(
                exe.parent()?
                    .join(format!("backplane{}", std::env::consts::EXE_SUFFIX)),
            )
        })
        .filter(|path| path.is_file())
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| "backplane".into())
}

fn is_backplane(command: &str) -> bool {
    split_command(command).ok().is_some_and(|argv| {
        // `backplane`, or `backplane.exe` / `backplane` on Windows.
        let program = std::path::Path::new(&argv[0]);
        let name = if cfg!(windows) {
            program.file_stem()
        } else {
            program.file_name()
        };
        name.is_some_and(|name| name == "backplane")
    })
}

fn main() -> ExitCode {
    run_main("bls", || {
        let Some(args) = banyan_cli::parse_args::<Args>("bls")? else {
            return Ok(());
        };
        let text = std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read launch file {}", args.file.display()))?;
        let entries =
            parse(&text).with_context(|| format!("launch file {}", args.file.display()))?;
        let address = args
            .component
            .backplane
            .clone()
            .unwrap_or_else(|| outward_ipv4().to_string());
        let (publisher_port, subscriber_port) = (
            args.component.publisher_port,
            args.component.subscriber_port,
        );

        let mut launcher = Launcher::new(args.restart.config());
        let launches_backplane = entries
            .iter()
            .any(|entry| entry.target == Target::Local && is_backplane(&entry.command));
        if args.no_backplane || launches_backplane {
        } else if listening(&address, publisher_port) {
            println!("Backplane already running at {address}:{publisher_port}");
        } else {
            let command = format!(
                "{} -p {publisher_port} -s {subscriber_port}",
                backplane_program()
            );
            launcher.add(
                SlotKind::Local {
                    command,
                    spawn: false,
                    auto_restart: true,
                    origin: None,
                },
                Duration::from_millis(500),
                0,
            );
        }
        launcher.add_entries(&entries, &address);
        let subscriptions = launcher.reply_topics();

        let stop = termination_flag()?;
        let mut driver = Driver::new(launcher, args.restart.grace(), "bls");
        let mut component: Option<Component> = None;
        let mut next_connect = Instant::now();
        let mut connect_logged = false;
        while !stop.load(Ordering::SeqCst) {
            driver.turn(component.as_ref());
            let Some(connected) = component.as_mut() else {
                if Instant::now() >= next_connect {
                    let mut config = args
                        .component
                        .config("Banyan Launch Server")
                        .subscribe(KILLALL_TOPIC)
                        .connect_timeout(Duration::from_millis(500));
                    config.backplane = Some(address.clone());
                    config.publisher_port = publisher_port;
                    config.subscriber_port = subscriber_port;
                    for topic in &subscriptions {
                        config = config.subscribe(topic.clone());
                    }
                    match config.connect() {
                        Ok(connected) => {
                            println!(
                                "bls connected to the backplane at {address}:{publisher_port}/{subscriber_port}"
                            );
                            component = Some(connected);
                        }
                        Err(HostError::NoBackplane { .. }) => {
                            if !connect_logged {
                                println!(
                                    "bls: waiting for the backplane at {address}:{publisher_port}"
                                );
                                connect_logged = true;
                            }
                            next_connect = Instant::now() + Duration::from_millis(200);
                        }
                        Err(error) => return Err(error.into()),
                    }
                } else {
                    std::thread::sleep(driver.wait_budget());
                }
                continue;
            };
            let Some(message) = connected.recv_timeout(driver.wait_budget())? else {
                continue;
            };
            if message.topic == KILLALL_TOPIC {
                println!("{KILLALL_TOPIC}");
                break;
            }
            if !subscriptions.contains(&message.topic) {
                continue;
            }
            match message
                .value()
                .ok()
                .as_ref()
                .and_then(LaunchAck::from_value)
            {
                Some(ack) => {
                    if driver.launcher.acknowledged(&ack) {
                        let pid = ack.process_id.map_or("None".into(), |p| p.to_string());
                        println!("{}: {:25} PID = {pid}", message.topic, ack.command_string);
                    }
                }
                None => {
                    tracing::warn!(topic = %message.topic, "ignoring a malformed acknowledgement")
                }
            }
        }
        driver.shutdown(component.as_ref());
        Ok(())
    })
}
