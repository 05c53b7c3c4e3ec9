//! `simple-echo-server`: the seed's echo server (answers `echo` with `reply`).

use std::process::ExitCode;

use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_host::echo::{self, ECHO_TOPIC};
use clap::Parser;

/// Echo server: republishes every `echo` payload on `reply`.
#[derive(Debug, Parser)]
#[command(name = "simple-echo-server", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
}

fn main() -> ExitCode {
    run_main("simple-echo-server", || {
        let Some(args) = banyan_cli::parse_args::<Args>("simple-echo-server")? else {
            return Ok(());
        };
        let mut server = args
            .component
            .config("EchoServer")
            .subscribe(ECHO_TOPIC)
            .connect()?;
        print_component_banner(
            server.name(),
            server.backplane_address(),
            server.publisher_port(),
            server.subscriber_port(),
        );
        let handle = server.shutdown_handle();
        on_termination(move || {
            let _ = handle.shutdown();
        })?;
        echo::serve(&mut server, |number| println!("Message number: {number}"))?;
        Ok(())
    })
}
