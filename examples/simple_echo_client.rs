//! The seed's echo client, written against the component API: sends
//! `{'message_number': N}` on `echo`, and on every `reply` sends the next lower number until 0.
//!
//! `cargo run --example simple_echo_client -- [-m N] [-b ADDR] [-p PORT] [-s PORT]`

use std::ops::ControlFlow;
use std::process::ExitCode;

use banyan_cli::{ComponentArgs, run_main};
use clap::Parser;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Number of messages to count down from
    #[arg(short = 'm', default_value_t = 10)]
    messages: i64,
}

#[derive(Serialize, Deserialize)]
struct Echo {
    message_number: i64,
}

fn main() -> ExitCode {
    run_main("simple_echo_client", || {
        let args = Args::parse();
        let mut client = args
            .component
            .config("EchoClient")
            .subscribe("reply")
            .connect()?;
        // connect() returned: the path through the backplane is proven, no sleep needed.
        client.publish(
            "echo",
            &Echo {
                message_number: args.messages,
            },
        )?;
        client.receive_loop(|client, message| {
            let reply: Echo = message.decode()?;
            if reply.message_number == 0 {
                println!("{} messages sent and received.", args.messages);
                return Ok(ControlFlow::Break(()));
            }
            let next = Echo {
                message_number: reply.message_number - 1,
            };
            client.publish("echo", &next)?;
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(())
    })
}
