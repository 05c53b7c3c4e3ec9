//! `wsgw`: the WebSocket gateway under s3-extend's name and flags, for the Scratch 3 OneGPIO
//! extensions (`s3a`, `s3rp`, `s32` start it on port 9000, 9006, 9007). The same gateway as
//! `ws-gateway` (`banyan_cli::web`, `banyan_web::session`); only the command line differs.
//!
//! s3-extend 1.35's `wsgw` flags: `-b ADDR -m TOPICS… -i PORT -l True|False -n NAME -p PORT
//! -s PORT`. Where ours differs on purpose, see `docs/classroom.md` ("wsgw").

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Mutex;

use banyan_cli::web::{WebArgs, run_gateway};
use banyan_cli::{ComponentArgs, run_main};
use clap::Parser;

/// WebSocket gateway for the Scratch 3 OneGPIO extensions (s3-extend's `wsgw`).
///
/// The extension connects to ws://127.0.0.1:PORT, sends {"id": "to_arduino_gateway"}, then
/// its blocks' JSON commands, published on to_arduino_gateway; the messages published on
/// from_arduino_gateway come back to it as JSON. http://127.0.0.1:PORT/ shows the live bus.
#[derive(Debug, Parser)]
#[command(name = "wsgw", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// WebSocket port (Scratch's Arduino extension: 9000, RPi Pico: 9006, ESP32: 9007;
    /// 0 = any free port, the address is printed)
    #[arg(short = 'i', long = "port", default_value_t = 9000)]
    port: u16,
    /// Topics (accepted for s3-extend compatibility; each page gets the messages of its own
    /// from_NAME topic, whatever this lists)
    #[arg(short = 'm', value_name = "TOPIC", num_args = 1.., value_delimiter = ',')]
    subscription_list: Vec<String>,
    /// `True` writes a debug log to wsgw.log in the home directory (as s3-extend's)
    #[arg(short = 'l', value_name = "True|False", default_value = "False")]
    log: String,
    #[command(flatten)]
    web: WebArgs,
}

/// `-l`'s value as s3-extend reads it: anything but `false` (any case) turns the log on.
fn log_requested(value: &str) -> bool {
    !value.trim().eq_ignore_ascii_case("false")
}

/// Sends the log to `~/wsgw.log` (truncated, as Python's `filemode='w'`), at debug level.
fn log_to_home_file() -> anyhow::Result<std::path::PathBuf> {
    let home = std::env::home_dir()
        .ok_or_else(|| anyhow::anyhow!("-l True: no home directory for wsgw.log"))?;
    let path = home.join("wsgw.log");
    let file = std::fs::File::create(&path)
        .map_err(|error| anyhow::anyhow!("-l True: cannot create {}: {error}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .map_err(|error| anyhow::anyhow!("-l True: {error}"))?;
    Ok(path)
}

fn main() -> ExitCode {
    // Parsed before run_main: `-l True` installs the file log before the default one.
    let args = match banyan_cli::parse_args::<Args>("wsgw") {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "wsgw: error: {error}");
            return ExitCode::from(2);
        }
    };
    let log = if log_requested(&args.log) {
        match log_to_home_file() {
            Ok(path) => Some(path),
            Err(error) => {
                let _ = writeln!(std::io::stderr(), "wsgw: error: {error:#}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    run_main("wsgw", || {
        if let Some(path) = log {
            println!("wsgw: logging to {}", path.display());
        }
        run_gateway(
            "wsgw",
            &args.component,
            "WebSocket Gateway",
            args.port,
            &args.web,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_as_s3_extend_passes_them() {
        let args = Args::try_parse_from(["wsgw", "-i", "9006"]).expect("s3rp's wsgw line");
        assert_eq!(args.port, 9006);
        assert!(!log_requested(&args.log));
        let args = Args::try_parse_from([
            "wsgw",
            "-b",
            "192.168.1.2",
            "-m",
            "from_arduino_gateway",
            "from_rpi_pico_gateway",
            "-l",
            "True",
            "-n",
            "Scratch",
            "-p",
            "5000",
            "-s",
            "5001",
        ])
        .expect("every s3-extend flag");
        assert_eq!(args.port, 9000);
        assert_eq!(args.component.backplane.as_deref(), Some("192.168.1.2"));
        assert_eq!(
            args.subscription_list,
            ["from_arduino_gateway", "from_rpi_pico_gateway"]
        );
        assert!(log_requested(&args.log));
        assert_eq!(args.component.name.as_deref(), Some("Scratch"));
        assert_eq!(
            (
                args.component.publisher_port,
                args.component.subscriber_port
            ),
            (5000, 5001)
        );
        assert!(log_requested("yes") && !log_requested("FALSE") && !log_requested(" false "));
        assert!(Args::try_parse_from(["wsgw", "-i", "70000"]).is_err());
    }
}
