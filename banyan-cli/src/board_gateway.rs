//! What the board gateways' binaries (`ardgw`, `rpgw`, `esp32gw`) share: s3-extend's `-l`
//! logging flag, Python-style boolean flag values, and flag parsing that prints one line
//! for a bad flag.

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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parses the flags of `program`; a bad flag is one line (`… (see PROGRAM --help)`), help
/// and version print and give `None`.
pub fn parse<T: clap::Parser>(program: &str) -> anyhow::Result<Option<T>> {
    use clap::error::ErrorKind;
    match T::try_parse() {
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
            let text = error.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|line| !line.is_empty() && !line.starts_with("Usage:"))
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            anyhow::bail!("{message} (see {program} --help)")
        }
    }
}

/// The exit lines of a Telemetrix gateway (`rpgw`, `esp32gw`).
pub fn print_summary(
    program: &str,
    summary: &banyan_gateways::driver::Summary,
    core: &banyan_gateways::telemetrix::Core,
) {
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
