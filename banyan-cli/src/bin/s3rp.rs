//! `s3rp`: Scratch 3 OneGPIO for a Raspberry Pi Pico, as s3-extend's `s3rp`: a backplane,
//! `wsgw -i 9006` and `rpgw`, with prefixed output, restarts and a clean Ctrl-C
//! (`banyan_cli::classroom`).

use std::process::ExitCode;

use banyan_cli::classroom::{Board, ClassroomArgs};
use banyan_cli::run_main;
use clap::Parser;

/// Scratch 3 OneGPIO for a Raspberry Pi Pico (Telemetrix4RpiPico): backplane, wsgw on port 9006 and rpgw.
#[derive(Debug, Parser)]
#[command(name = "s3rp", version)]
struct Args {
    #[command(flatten)]
    classroom: ClassroomArgs,
    /// Arguments for rpgw (after `--`), e.g. its serial port
    #[arg(last = true, value_name = "GATEWAY_ARGS")]
    gateway_args: Vec<String>,
}

fn main() -> ExitCode {
    run_main("s3rp", || {
        let Some(args) = banyan_cli::parse_args::<Args>("s3rp")? else {
            return Ok(());
        };
        Board::RpiPico.run(&args.gateway_args, &args.classroom)
    })
}
