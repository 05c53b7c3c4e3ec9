//! `s3x GATEWAY [ARGS…]`: the classroom launcher for any board gateway — a backplane, `wsgw`
//! and GATEWAY, as `s3a`/`s3rp`/`s32` do for theirs (`banyan_cli::classroom`). The name
//! follows s3-extend's `s3` + board letter, `x` standing for any board.

use std::process::ExitCode;

use banyan_cli::classroom::{ClassroomArgs, run};
use banyan_cli::run_main;
use clap::Parser;

/// Scratch 3 OneGPIO for any board gateway: backplane, wsgw and GATEWAY, with prefixed
/// output, restarts with back-off and a clean Ctrl-C.
///
/// Example: `s3x --ws-port 9006 rpgw -c /dev/ttyACM0`.
#[derive(Debug, Parser)]
#[command(name = "s3x", version)]
struct Args {
    #[command(flatten)]
    classroom: ClassroomArgs,
    /// The board gateway: a program next to s3x, on PATH, or a path
    #[arg(value_name = "GATEWAY")]
    gateway: String,
    /// Its arguments (everything after GATEWAY)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    gateway_args: Vec<String>,
}

fn main() -> ExitCode {
    run_main("s3x", || {
        let Some(args) = banyan_cli::parse_args::<Args>("s3x")? else {
            return Ok(());
        };
        let title = banyan_cli::launcher::program_name(&args.gateway);
        run(
            "s3x",
            &title,
            &args.gateway,
            &args.gateway_args,
            args.classroom.ws_port.unwrap_or(9000),
            &args.classroom,
        )
    })
}
