//! `cargo run`: the seed's echo demo in one process — a backplane, the echo server and the
//! echo client on loopback with ephemeral ports, printing what the seed's three terminals show.

use std::process::ExitCode;
use std::time::Duration;

use banyan_cli::run_main;
use banyan_host::echo::{self, DEFAULT_COUNT, ECHO_TOPIC, REPLY_TOPIC};
use banyan_host::{Backplane, BackplaneConfig, ComponentConfig};
use clap::Parser;

/// Runs backplane, echo server and echo client together on loopback.
#[derive(Debug, Parser)]
#[command(name = "rust-banyan", version)]
struct Args {
    /// Number of messages to count down from
    #[arg(short = 'm', long = "messages", default_value_t = DEFAULT_COUNT)]
    messages: u32,
}

fn main() -> ExitCode {
    run_main("rust-banyan", || {
        let args = Args::parse();
        let backplane = Backplane::bind(&BackplaneConfig::ephemeral_loopback())?;
        let (address, publisher_port, subscriber_port) = (
            backplane.address().to_owned(),
            backplane.publisher_port(),
            backplane.subscriber_port(),
        );
        println!("[backplane]   Backplane IP address: {address}");
        println!("[backplane]   Subscriber Port = {subscriber_port}");
        println!("[backplane]   Publisher  Port = {publisher_port}");

        let config = |name: &str, topic: &str| {
            ComponentConfig::new(name)
                .backplane(address.clone(), publisher_port, subscriber_port)
                .subscribe(topic)
        };
        let mut server = config("EchoServer", ECHO_TOPIC).connect()?;
        println!("[echo server] EchoServer connected, subscribed to '{ECHO_TOPIC}'");
        let stop_server = server.shutdown_handle();
        let server_thread = std::thread::spawn(move || {
            echo::serve(&mut server, |number| {
                println!("[echo server] Message number: {number}");
            })
        });

        let mut client = config("EchoClient", REPLY_TOPIC).connect()?;
        println!("[echo client] EchoClient connected, subscribed to '{REPLY_TOPIC}'");
        let outcome = echo::run_client(&mut client, args.messages, Duration::from_secs(5), |_| {});
        stop_server.shutdown()?;
        let served = server_thread
            .join()
            .map_err(|_| anyhow::anyhow!("echo server thread panicked"))?;
        outcome?;
        served?;
        println!(
            "[echo client] {} messages sent and received.",
            args.messages
        );
        backplane.shutdown()?;
        Ok(())
    })
}
