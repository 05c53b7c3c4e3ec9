//! `blk`: the Banyan launcher killer. Publishes `killall`, which stops every `bls` and `blc`
//! on the backplane and everything they launched.

use std::process::ExitCode;

use banyan_cli::launch::{KILLALL_TOPIC, killall_payload};
use banyan_cli::{ComponentArgs, run_main};
use clap::Parser;

/// Banyan launcher killer: tells every bls and blc on the backplane to stop all it launched.
#[derive(Debug, Parser)]
#[command(name = "blk", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
}

fn main() -> ExitCode {
    run_main("blk", || {
        let Some(args) = banyan_cli::parse_args::<Args>("blk")? else {
            return Ok(());
        };
        // `connect` proves the path through the backplane, so the message is not lost to a
        // slow join; linger sends it before the process exits.
        let component = args.component.config("Launcher Killer").connect()?;
        component.publish(KILLALL_TOPIC, &killall_payload())?;
        println!(
            "killall sent on the backplane at {}:{}",
            component.backplane_address(),
            component.publisher_port()
        );
        Ok(())
    })
}
