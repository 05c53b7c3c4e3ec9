//! `simple-echo-client`: the seed's echo client (sends `{'message_number': N}`, counts down).

use std::process::ExitCode;
use std::time::Duration;

use banyan_cli::{ComponentArgs, print_component_banner, run_main};
use banyan_host::echo::{self, DEFAULT_COUNT, REPLY_TOPIC};
use clap::Parser;

/// Echo client: sends `{'message_number': N}` on `echo` and counts down to 0 on `reply`.
#[derive(Debug, Parser)]
#[command(name = "simple-echo-client", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Number of messages to count down from
    #[arg(short = 'm', long = "messages", default_value_t = DEFAULT_COUNT)]
    messages: u32,
    /// Seconds to wait for each reply
    #[arg(long = "reply-timeout", default_value_t = 5.0)]
    reply_timeout: f64,
}

fn main() -> ExitCode {
    run_main("simple-echo-client", || {
        let args = Args::parse();
        let mut client = args
            .component
            .config("EchoClient")
            .subscribe(REPLY_TOPIC)
            .connect()?;
        print_component_banner(
            client.name(),
            client.backplane_address(),
            client.publisher_port(),
            client.subscriber_port(),
        );
        let timeout = Duration::from_secs_f64(args.reply_timeout.max(0.0));
        echo::run_client(&mut client, args.messages, timeout, |_| {})?;
        println!("{} messages sent and received.", args.messages);
        Ok(())
    })
}
