//! `ws-gateway`: WebSocket ⇄ backplane, wire-compatible with Python Banyan's `ws_gateway.py`,
//! plus the live web monitor on the same port. The logic is in the `banyan-web` crate, the
//! process side (shared with `wsgw`) in `banyan_cli::web`.

use std::process::ExitCode;

use banyan_cli::web::{WebArgs, run_gateway};
use banyan_cli::{ComponentArgs, run_main};
use clap::Parser;

/// Rust Banyan WebSocket gateway and web monitor.
///
/// A page connects a WebSocket, sends {"id": "to_NAME"}, then JSON objects that are
/// published on to_NAME; it receives the messages published on from_NAME as JSON (as Python
/// Banyan's ws_gateway.py). http://HOST:PORT/ shows the live bus.
#[derive(Debug, Parser)]
#[command(name = "ws-gateway", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Extra topics (accepted for Python compatibility; the gateway subscribes to every topic
    /// for its monitor and forwards to each page only its from_NAME topic)
    #[arg(short = 'm', value_name = "TOPIC", num_args = 1.., value_delimiter = ',')]
    subscription_list: Vec<String>,
    /// HTTP/WebSocket port (0 = any free port; the address is printed)
    #[arg(long, default_value_t = 9000)]
    port: u16,
    #[command(flatten)]
    web: WebArgs,
}

fn main() -> ExitCode {
    run_main("ws-gateway", || {
        let Some(args) = banyan_cli::parse_args::<Args>("ws-gateway")? else {
            return Ok(());
        };
        run_gateway(
            "ws-gateway",
            &args.component,
            "WebSocket Gateway",
            args.port,
            &args.web,
        )
    })
}
