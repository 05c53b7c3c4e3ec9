//! The seed's echo server on the async component API (`banyan_host::aio`, tokio):
//! subscribes to `echo`, republishes each payload on `reply` and prints its number. It
//! answers the seed's Python client (and Python Banyan's `BanyanBaseAIO` components) as the
//! blocking `simple_echo_server` does; `banyan-cli/tests/python_aio.rs` runs its server loop
//! (`aio::echo::serve`) against them.
//!
//! `cargo run --example async_echo_server -- [-b ADDR] [-p PORT] [-s PORT]`

use std::process::ExitCode;

use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_host::aio;
use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
}

fn main() -> ExitCode {
    run_main("async_echo_server", || {
        let args = Args::parse();
        // One thread is plenty: the component sleeps on the reactor between messages.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let config = args.component.config("EchoServer").subscribe("echo");
            // Returns once the `echo` subscription is proven at the backplane.
            let mut server = aio::Component::connect(config).await?;
            print_component_banner(
                server.name(),
                server.backplane_address(),
                server.publisher_port(),
                server.subscriber_port(),
            );
            let stop = server.shutdown_handle();
            on_termination(move || {
                let _ = stop.shutdown();
            })?;
            aio::echo::serve(&mut server, |n| println!("Message number: {n}")).await?;
            Ok(())
        })
    })
}
