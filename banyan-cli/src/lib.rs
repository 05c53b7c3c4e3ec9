//! Rust Banyan's commands and the pieces they share: Python Banyan's flags, logging, error exit.
//!
//! This crate holds every installable command (`cargo install --path banyan-cli`), so that the
//! library crates (`banyan-host`, `banyan-proto`) carry no CLI dependencies (clap, anyhow,
//! tracing-subscriber, ctrlc). The binaries are in `src/bin/`, one per file, named as Python
//! Banyan's commands where one exists (see `banyan-cli/README.md`).
//!
//! # Layout
//! - this file: [`ComponentArgs`] (the flags every component binary accepts), [`parse_args`]
//!   (a bad flag is one line and exit code 2), [`run_main`] (one-line error exit) and
//!   [`flag_hint`] (which flag to change for a library error).
//! - [`launch`]: the launcher's sans-IO logic (launch file, state machine, wire messages).
//! - [`launcher`]: the launcher's process side (spawning, process groups, restarts).
//! - [`board_gateway`]: what the board gateways' binaries share (`main`, flag checks, the
//!   component's start, a Telemetrix run).
//! - [`classroom`]: the classroom launchers `s3a`, `s3rp`, `s32`, `s3x` (s3-extend's).
//! - [`web`]: the WebSocket gateway's process side, shared by `ws-gateway` and `wsgw`.
#![deny(missing_docs)]

use std::process::ExitCode;
use std::time::Duration;

use banyan_host::access::PlainCredentials;
use banyan_host::component::ComponentConfig;
use banyan_host::limits::{DEFAULT_MAX_MESSAGE, DEFAULT_QUEUE_BUDGET, Limits};
use banyan_host::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT};

pub mod board_gateway;
pub mod classroom;
pub mod launch;
pub mod launcher;
pub mod web;

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
    /// Message size limit and queue budget (`--max-message`, `--max-queue-mib`).
    #[command(flatten)]
    pub limits: LimitArgs,
    /// PLAIN user name, for a backplane started with --plain-user (not encryption)
    #[arg(long = "plain-user", value_name = "USER", requires = "plain_password")]
    pub plain_user: Option<String>,
    /// PLAIN password (clear text on the wire; the environment variable keeps it out of `ps`)
    #[arg(
        long = "plain-password",
        value_name = "PASSWORD",
        env = "BANYAN_PLAIN_PASSWORD",
        hide_env_values = true
    )]
    pub plain_password: Option<String>,
}

/// Memory flags shared by the backplane and every component.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Largest message part accepted, in bytes (K/M suffixes allowed; 0 = no limit); bigger
    /// ones are dropped before any memory is allocated for them
    #[arg(long = "max-message", value_name = "BYTES", default_value_t = DEFAULT_MAX_MESSAGE as u64,
          value_parser = parse_size)]
    pub max_message: u64,
    /// Memory budget for queued messages, in MiB (0 = unbounded): a backplane evicts a
    /// subscriber that stops reading once its queue passes this, whatever the message sizes
    #[arg(long = "max-queue-mib", value_name = "MIB",
          default_value_t = (DEFAULT_QUEUE_BUDGET / (1024 * 1024)) as u64)]
    pub max_queue_mib: u64,
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn limits(&self) -> Limits {
        Limits::from_flags(self.max_message, self.max_queue_mib)
    }
}

/// Parses a byte count: `1048576`, `512K`, `1M`, `1MiB`, `2k` (K = 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 1048576, 512K, 1M)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("unknown unit in `{text}` (use K, M or G)")),
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
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
            limits: self.limits.limits(),
            plain: self.plain(),
            ..ComponentConfig::default()
        }
    }

    /// The PLAIN credentials given by `--plain-user` and `--plain-password`.
    pub fn plain(&self) -> Option<PlainCredentials> {
        let user = self.plain_user.as_ref()?;
        let password = self.plain_password.clone().unwrap_or_default();
        Some(PlainCredentials::new(user.clone(), password))
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
    init_logging_at("warn");
}

/// Installs a `tracing` subscriber writing to stderr, filtered by `RUST_LOG` (default
/// `default_filter`); a second call keeps the first subscriber.
pub fn init_logging_at(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A command line the binary cannot run with: a flag it does not know, a missing or malformed
/// value. [`run_main`] exits with code 2 for it (the usage-error code of clap and of Python's
/// argparse, which s3-extend's and Python Banyan's commands use), 1 for every other error.
#[derive(Debug, thiserror::Error)]
#[error("{message} (see {program} --help)")]
pub struct UsageError {
    /// The binary's name.
    pub program: String,
    /// What is wrong, in one line (clap's message without its usage block).
    pub message: String,
}

/// Parses the flags of `program`: `Ok(None)` after `--help` or `--version` printed (the
/// binary then exits 0); a bad command line is a [`UsageError`], one line instead of clap's
/// five (message, blank, usage, hint), so that every binary fails the same way: `program:
/// error: unexpected argument '--x' found (see program --help)`, exit code 2.
pub fn parse_args<T: clap::Parser>(program: &str) -> Result<Option<T>, UsageError> {
    parse_args_from(program, std::env::args_os())
}

/// [`parse_args`] on given arguments (the first is the program's name, as in `argv`).
pub fn parse_args_from<T, I>(program: &str, args: I) -> Result<Option<T>, UsageError>
where
    T: clap::Parser,
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString> + Clone,
{
    parsed_args(program, T::try_parse_from(args))
}

/// What [`parse_args`] makes of clap's result, for a binary that builds its own
/// `clap::Command` (`blc` takes `-t` from the loop time): `Ok(None)` after help or version
/// printed, a one-line [`UsageError`] for a bad command line.
pub fn parsed_args<T>(
    program: &str,
    parsed: Result<T, clap::Error>,
) -> Result<Option<T>, UsageError> {
    use clap::error::ErrorKind;
    match parsed {
        Ok(args) => Ok(Some(args)),
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            let _ = error.print();
            Ok(None)
        }
        Err(error) => {
            // clap's text: "error: MESSAGE", then "tip: ..." lines, a blank line, "Usage:
            // ...", "For more information, try '--help'.": the lines before the blank one.
            let text = error.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|line| !line.is_empty() && !line.starts_with("Usage:"))
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            Err(UsageError {
                program: program.to_owned(),
                message: message.to_owned(),
            })
        }
    }
}

/// Runs a binary's body: an error becomes one line on stderr (`program: error: ...`) and exit
/// code 1 (2 for a [`UsageError`]), never a backtrace.
pub fn run_main(program: &str, body: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    init_logging();
    quiet_panics(program);
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let hint = error
                .chain()
                .find_map(|cause| {
                    cause.downcast_ref::<banyan_host::Error>().or_else(|| {
                        cause
                            .downcast_ref::<banyan_host::echo::EchoError>()
                            .and_then(banyan_host::echo::EchoError::host)
                    })
                })
                .and_then(flag_hint)
                .map(|hint| format!(" ({hint})"))
                .unwrap_or_default();
            eprintln!("{program}: error: {error:#}{hint}");
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Which command-line flag to change for a library error, if one is to blame: the library's
/// errors describe what failed, the binaries say which flag to change.
pub fn flag_hint(error: &banyan_host::Error) -> Option<&'static str> {
    use banyan_host::Error;
    Some(match error {
        Error::PortInUse { .. } => "stop it, or pick other ports with -p/-s",
        Error::Bind { .. } => "--bind must be an address of this machine",
        Error::Connect { .. } => "check -b ADDR and the ports",
        Error::NoBackplane { .. } => "is `backplane` running there? are -b/-p/-s right?",
        Error::MessageTooLarge { .. } => "see --max-message",
        _ => return None,
    })
}

/// Replaces the default panic output (message plus backtrace hint) by one line on stderr,
/// `program: internal error: MESSAGE (at FILE:LINE)`. The exit status stays non-zero (101).
/// Writing to a closed stdout (`monitor | head`) is the common case; it is reported as such.
pub fn quiet_panics(program: &str) {
    let program = program.to_owned();
    std::panic::set_hook(Box::new(move |info| {
        use std::io::Write;
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        let location = info
            .location()
            .map(|at| format!(" (at {}:{})", at.file(), at.line()))
            .unwrap_or_default();
        // Never panic here: stderr may be closed too.
        let _ = writeln!(
            std::io::stderr(),
            "{program}: internal error: {message}{location}"
        );
    }));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_names_the_flag_the_library_does_not() {
        let busy = banyan_host::Error::PortInUse {
            address: "0.0.0.0".into(),
            port: 43124,
        };
        assert!(!busy.to_string().contains("-p"), "{busy}");
        assert_eq!(
            flag_hint(&busy),
            Some("stop it, or pick other ports with -p/-s")
        );
        let large = banyan_host::Error::MessageTooLarge { size: 2, limit: 1 };
        assert!(!large.to_string().contains("--max-message"), "{large}");
        assert_eq!(flag_hint(&large), Some("see --max-message"));
        assert_eq!(flag_hint(&banyan_host::Error::Shutdown), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in ["", "M", "1T", "-1", "1.5M", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
