//! `s32`: Scratch 3 OneGPIO for an ESP32, as s3-extend's `s32`: a backplane,
//! `wsgw -i 9007` and `esp32gw`, with prefixed output, restarts and a clean Ctrl-C
//! (`banyan_cli::classroom`).

use std::process::ExitCode;

use banyan_cli::classroom::{Board, ClassroomArgs};
use banyan_cli::run_main;
use clap::Parser;

/// Scratch 3 OneGPIO for an ESP32 (Telemetrix4Esp32 over Wi-Fi): backplane, wsgw on port 9007 and esp32gw.
#[derive(Debug, Parser)]
#[command(name = "s32", version)]
struct Args {
    #[command(flatten)]
    classroom: ClassroomArgs,
    /// Arguments for esp32gw (after `--`), e.g. the board's address
    #[arg(last = true, value_name = "GATEWAY_ARGS")]
    gateway_args: Vec<String>,
}

fn main() -> ExitCode {
    run_main("s32", || {
        let Some(args) = banyan_cli::parse_args::<Args>("s32")? else {
            return Ok(());
        };
        Board::Esp32.run(&args.gateway_args, &args.classroom)
    })
}
