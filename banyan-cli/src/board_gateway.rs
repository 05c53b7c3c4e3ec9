//! What the board gateways' binaries (`ardgw`, `rpgw`, `esp32gw`) share: the `main` frame
//! ([`main`]: logging from s3-extend's `-l` flag, flag parsing that prints one line for a bad
//! flag, the one-line error exit), the checks of `-l` and `--max-backoff` ([`backoff`]), the
//! component's start ([`start_component`], also `onegpio-sim`'s) and a Telemetrix run with
//! its exit lines ([`run_telemetrix`]).

use std::process::ExitCode;
use std::time::Duration;

use banyan_gateways::driver::{self, Topics};
use banyan_gateways::link::{Connector, Device};
use banyan_gateways::reconnect::Backoff;
use banyan_gateways::telemetrix;
use banyan_host::Component;

use crate::{ComponentArgs, on_termination, print_component_banner, run_main};

/// The flags every board gateway has after its link flags: `-l`, `-m`, `-r`,
/// `--max-backoff`. The topics' defaults are the gateway's own, set with
/// `#[command(mut_arg("subscriber_list", …), mut_arg("publisher_topic", …))]` on its flags
/// (without them `-m` defaults to nothing and a missing `-r` is a flag error).
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// Logging: False (default: state changes), True (debug), or a level (error, warn,
    /// info, debug, trace); RUST_LOG overrides
    #[arg(short = 'l', value_name = "LEVEL", default_value = "False")]
    pub log: String,
    /// Topics of OneGPIO commands (prefix subscriptions, space separated)
    #[arg(short = 'm', value_name = "TOPIC", num_args = 1..)]
    pub subscriber_list: Vec<String>,
    /// Topic of the reports
    #[arg(short = 'r', value_name = "TOPIC", required = false)]
    pub publisher_topic: String,
    /// Longest wait between attempts to reopen the board's link, in seconds
    #[arg(long = "max-backoff", default_value_t = 2.0)]
    pub max_backoff: f64,
}

impl GatewayArgs {
    /// Checks `-l` and `--max-backoff` and gives the reconnect back-off ([`backoff`]).
    pub fn backoff(&self) -> anyhow::Result<Backoff> {
        backoff(&self.log, self.max_backoff)
    }

    /// Where the driver listens (`-m`) and publishes (`-r`).
    pub fn topics(&self) -> Topics {
        Topics {
            commands: self.subscriber_list.clone(),
            reports: self.publisher_topic.clone(),
        }
    }

    /// The component (named `default_name` unless `-n`), subscribed to `-m`, started as
    /// [`start_component`] does.
    pub fn start(
        &self,
        component: &ComponentArgs,
        default_name: &str,
    ) -> anyhow::Result<Component> {
        start_component(component, default_name, &self.subscriber_list)
    }
}

/// A board gateway's `main`: logging as `-l` asks, the flags of `T` parsed (help and version
/// print and exit 0), then `body`; an error is one line and exit code 1.
pub fn main<T: clap::Parser>(
    program: &str,
    body: impl FnOnce(T) -> anyhow::Result<()>,
) -> ExitCode {
    init_logging();
    run_main(program, || match crate::parse_args::<T>(program)? {
        Some(args) => body(args),
        None => Ok(()),
    })
}

/// Checks `-l LEVEL` and `--max-backoff SECONDS` (the flags every board gateway has) and gives
/// the reconnect back-off they ask for (at most an hour).
pub fn backoff(log: &str, max_backoff: f64) -> anyhow::Result<Backoff> {
    if log_filter(log).is_none() {
        anyhow::bail!("-l takes True, False or a log level, not {log:?}");
    }
    if !(max_backoff.is_finite() && max_backoff > 0.0) {
        anyhow::bail!("--max-backoff must be a positive number of seconds");
    }
    Ok(Backoff::up_to(Duration::from_secs_f64(
        max_backoff.min(3600.0),
    )))
}

/// Connects the component (named `default_name` unless `-n`) subscribed to `commands`, prints
/// Python Banyan's banner and arranges for Ctrl-C or SIGTERM to shut it down.
pub fn start_component<S: Into<String>>(
    args: &ComponentArgs,
    default_name: &str,
    commands: impl IntoIterator<Item = S>,
) -> anyhow::Result<Component> {
    let mut config = args.config(default_name);
    for topic in commands {
        config = config.subscribe(topic);
    }
    let component = config.connect()?;
    print_component_banner(
        component.name(),
        component.backplane_address(),
        component.publisher_port(),
        component.subscriber_port(),
    );
    let handle = component.shutdown_handle();
    on_termination(move || {
        let _ = handle.shutdown();
    })?;
    Ok(component)
}

/// Serves a Telemetrix board (`rpgw`, `esp32gw`, `ardgw --telemetrix`) until shut down, then
/// prints the exit lines.
pub fn run_telemetrix<C: Connector>(
    program: &str,
    component: &mut Component,
    device: &mut Device<C>,
    config: telemetrix::Config,
    topics: &Topics,
) -> anyhow::Result<()> {
    let mut core = telemetrix::Core::new(config);
    let summary = driver::run(component, device, &mut core, topics)?;
    print_summary(program, &summary, &core);
    Ok(())
}

/// A Python-style boolean flag value (`True`/`False`, `1`/`0`, `None` = false).
pub fn truthy(flag: &str, value: &str) -> anyhow::Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "none" => Ok(false),
        _ => anyhow::bail!("{flag} takes True or False, not {value:?}"),
    }
}

/// The `tracing` filter `-l VALUE` asks for: `False` (state changes), `True` (debug) or a
/// level; `None` for anything else.
pub fn log_filter(value: &str) -> Option<&'static str> {
    Some(match value.to_ascii_lowercase().as_str() {
        "false" | "none" | "" => "warn",
        "true" | "debug" => "debug",
        "error" => "error",
        "warn" | "warning" => "warn",
        "info" => "info",
        "trace" => "trace",
        _ => return None,
    })
}

/// Logging is set up before the flags are parsed (so that parse errors go through the same
/// path): `-l` is looked up in the raw arguments; `RUST_LOG` overrides it.
pub fn init_logging() {
    let args: Vec<String> = std::env::args().collect();
    let level = args
        .iter()
        .position(|a| a == "-l")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| log_filter(v))
        .unwrap_or("warn");
    crate::init_logging_at(level);
}

/// The exit lines of a Telemetrix gateway (`rpgw`, `esp32gw`, `ardgw --telemetrix`).
pub fn print_summary(program: &str, summary: &driver::Summary, core: &telemetrix::Core) {
    let stats = core.stats();
    let pacer = core.pacer_stats();
    println!("Exiting Through Signal Handler");
    println!(
        "{program} stopped: {} connection(s), {} lost, {} commands ({} refused), {} reports \
         published ({} dropped), {} bytes to the board ({} commands refused, {} discarded on \
         disconnect), {} from it ({} undecodable frames)",
        summary.connections,
        summary.losses,
        summary.commands,
        stats.rejected,
        summary.published,
        stats.reports_dropped,
        summary.bytes_out,
        pacer.refused,
        pacer.discarded,
        summary.bytes_in,
        stats.garbled,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_flag_values_are_read_as_s3_extend_writes_them() {
        assert!(truthy("-k", "True").unwrap());
        assert!(!truthy("-k", "None").unwrap());
        assert!(truthy("-k", "maybe").is_err());
        assert_eq!(log_filter("False"), Some("warn"));
        assert_eq!(log_filter("True"), Some("debug"));
        assert_eq!(log_filter("loud"), None);
    }
}
