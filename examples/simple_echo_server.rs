//! The seed's echo server, written against the component API:
//! subscribes to `echo`, republishes each payload on `reply` and prints its number.
//!
//! `cargo run --example simple_echo_server -- [-b ADDR] [-p PORT] [-s PORT]`

use std::ops::ControlFlow;
use std::process::ExitCode;

use banyan_cli::{ComponentArgs, on_termination, run_main};
use clap::Parser;
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
}

/// The part of the payload this server reads.
#[derive(Deserialize)]
struct Echo {
    message_number: i64,
}

fn main() -> ExitCode {
    run_main("simple_echo_server", || {
        let args = Args::parse();
        let mut server = args
            .component
            .config("EchoServer")
            .subscribe("echo")
            .connect()?;
        let stop = server.shutdown_handle();
        on_termination(move || {
            let _ = stop.shutdown();
        })?;
        server.receive_loop(|server, message| {
            match message.decode::<Echo>() {
                Ok(echo) => {
                    println!("Message number: {}", echo.message_number);
                    server.publish_raw(b"reply", &message.payload)?;
                }
                Err(error) => eprintln!("skipping a malformed payload: {error}"),
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(())
    })
}
