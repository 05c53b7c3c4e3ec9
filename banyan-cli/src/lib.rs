//! Rust Banyan's commands and the pieces they share: Python Banyan's flags, logging, error exit.
//!
//! This crate holds every installable command (`cargo install --path banyan-cli`), so that the
//! library crates (`banyan-host`, `banyan-proto`) carry no CLI dependencies (clap, anyhow,
//! tracing-subscriber, ctrlc). The binaries are in `src/bin/`, one per file, named as Python
//! Banyan's commands where one exists.
#![deny(missing_docs)]

use std::process::ExitCode;
use std::time::Duration;

use banyan_host::component::ComponentConfig;
use banyan_host::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT};

pub mod launcher;

pub use banyan_host::hex;

/// Flags every component binary accepts, named as Python Banyan's.
#[derive(Debug, Clone, clap::Args)]
pub struct ComponentArgs {
    /// Backplane IP address [default: this machine's outward address, as Python Banyan]
    #[arg(short = 'b', long = "backplane", value_name = "ADDR")]
    pub backplane: Option<String>,
    /// Backplane publisher port (components publish to it)
    #[arg(short = 'p', long = "publisher-port", default_value_t = DEFAULT_PUBLISHER_PORT)]
    pub publisher_port: u16,
    /// Backplane subscriber port (components subscribe on it)
    #[arg(short = 's', long = "subscriber-port", default_value_t = DEFAULT_SUBSCRIBER_PORT)]
    pub subscriber_port: u16,
    /// Component name shown in the banner
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Receive loop time in seconds (accepted for Python compatibility; receives block instead)
    #[arg(short = 't', long = "loop-time", default_value_t = 0.1)]
    pub loop_time: f64,
    /// Seconds to wait for the backplane before giving up
    #[arg(long = "connect-timeout", default_value_t = 2.0)]
    pub connect_timeout: f64,
}

impl ComponentArgs {
    /// The component configuration these flags describe; `default_name` when `-n` is absent.
    pub fn config(&self, default_name: &str) -> ComponentConfig {
        ComponentConfig {
            name: self.name.clone().unwrap_or_else(|| default_name.into()),
            backplane: self.backplane.clone(),
            publisher_port: self.publisher_port,
            subscriber_port: self.subscriber_port,
            connect_timeout: Duration::from_secs_f64(self.connect_timeout.max(0.0)),
            ..ComponentConfig::default()
        }
    }
}

/// Prints Python Banyan's component banner.
pub fn print_component_banner(
    name: &str,
    address: &str,
    publisher_port: u16,
    subscriber_port: u16,
) {
    println!();
    println!("************************************************************");
    println!("{name} using Back Plane IP address: {address}");
    println!("Subscriber Port = {subscriber_port}");
    println!("Publisher  Port = {publisher_port}");
    println!("************************************************************");
}

/// Installs a `tracing` subscriber writing to stderr, filtered by `RUST_LOG` (default `warn`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a binary's body: an error becomes one line on stderr (`program: error: ...`) and exit
/// code 1, never a backtrace.
pub fn run_main(program: &str, body: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    init_logging();
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Calls `on_signal` once on Ctrl-C or SIGTERM.
pub fn on_termination(on_signal: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    let mut once = Some(on_signal);
    ctrlc::set_handler(move || {
        if let Some(on_signal) = once.take() {
            on_signal();
        }
    })?;
    Ok(())
}
