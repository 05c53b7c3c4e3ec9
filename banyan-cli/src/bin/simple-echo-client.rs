//! `simple-echo-client`: the seed's echo client (sends `{'message_number': N}`, counts down).

use std::process::ExitCode;
use std::time::Duration;

use banyan_cli::{ComponentArgs, print_component_banner, run_main};
use banyan_host::echo::{self, ClientOptions, DEFAULT_COUNT, REPLY_TOPIC};
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
    /// Seconds one message may stay unanswered (re-sends included) before the client gives up
    #[arg(long = "reply-timeout", default_value_t = 30.0)]
    reply_timeout: f64,
    /// Seconds without the awaited reply before the message is sent again (the count goes on
    /// through backplane and echo server restarts; a reply is never counted twice)
    #[arg(long = "resend-after", default_value_t = 1.0)]
    resend_after: f64,
}

/// A duration flag: finite and not negative.
fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| anyhow::anyhow!("{flag} must be a number of seconds >= 0, not {value}"))
}

fn main() -> ExitCode {
    run_main("simple-echo-client", || {
        let Some(args) = banyan_cli::parse_args::<Args>("simple-echo-client")? else {
            return Ok(());
        };
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
        let options = ClientOptions {
            count: args.messages,
            resend_after: seconds("--resend-after", args.resend_after)?,
            give_up_after: seconds("--reply-timeout", args.reply_timeout)?,
        };
        echo::run_client_with(&mut client, &options, |_| {})?;
        println!("{} messages sent and received.", args.messages);
        Ok(())
    })
}
