//! `monitor`: prints every message on the backplane as `topic  payload`, or with `--stats` a
//! per-topic rate table refreshed in place (the web monitor's numbers, from `banyan_web::stats`).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use banyan_cli::{ComponentArgs, on_termination, print_component_banner, run_main};
use banyan_host::Component;
use banyan_host::component::PROBE_TOPIC_PREFIX;
use banyan_host::json::hex;
use banyan_proto::payload::{self, Value};
use banyan_web::stats::{Stats, StatsConfig};
use clap::Parser;

/// Rust Banyan monitor: subscribes to all topics (or those given) and prints each message.
#[derive(Debug, Parser)]
#[command(name = "monitor", version)]
struct Args {
    #[command(flatten)]
    component: ComponentArgs,
    /// Only topics starting with this prefix (repeatable) [default: all]
    #[arg(long = "topic", value_name = "PREFIX")]
    topics: Vec<String>,
    /// Also print other components' connection probes (topics under `_banyan_probe/`)
    #[arg(long)]
    show_probes: bool,
    /// Exit after printing this many messages
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Instead of printing messages, show a per-topic table (msg/s, bytes/s, count, last seen,
    /// last payload) refreshed in place; on a pipe, one table per refresh
    #[arg(long)]
    stats: bool,
    /// Seconds between two tables (--stats)
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    interval: f64,
    /// Table width in characters (--stats) [default: the terminal's, else 120]
    #[arg(long, value_name = "N")]
    width: Option<usize>,
    /// Most topics tracked one by one (--stats); the rest are summed as "others"
    #[arg(long, default_value_t = 500, value_name = "N")]
    max_topics: usize,
    /// Exit after this many tables (--stats)
    #[arg(long, value_name = "N")]
    tables: Option<u64>,
}

/// The terminal's (rows, columns): the terminal of stdout or stdin (`terminal_size`, an
/// ioctl), else `$LINES`/`$COLUMNS`.
fn terminal_size() -> (Option<usize>, Option<usize>) {
    let env_number = |name| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let size = terminal_size::terminal_size()
        .or_else(|| terminal_size::terminal_size_of(std::io::stdin()));
    match size {
        Some((terminal_size::Width(columns), terminal_size::Height(rows)))
            if rows > 0 && columns > 0 =>
        {
            (Some(usize::from(rows)), Some(usize::from(columns)))
        }
        _ => (env_number("LINES"), env_number("COLUMNS")),
    }
}

/// `--stats`: counts every message and prints the table every `--interval`.
fn show_stats(monitor: &mut Component, args: &Args) -> anyhow::Result<()> {
    if !args.interval.is_finite() || args.interval < 0.05 || args.interval > 3600.0 {
        anyhow::bail!("--interval must be between 0.05 and 3600 seconds");
    }
    let interval = Duration::from_secs_f64(args.interval);
    let tty = std::io::stdout().is_terminal();
    let mut stats = Stats::new(StatsConfig {
        max_topics: args.max_topics,
        include_probes: args.show_probes,
        ..StatsConfig::default()
    });
    let start = Instant::now();
    let mut next = start + interval;
    let mut printed = 0u64;
    let mut out = std::io::stdout().lock();
    loop {
        match monitor.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(Some(message)) => stats.record(&message.topic, message.payload, start.elapsed()),
            Ok(None) => {}
            Err(banyan_host::Error::Shutdown) => return Ok(()),
            Err(error) => return Err(error.into()),
        }
        let now = Instant::now();
        if now < next {
            continue;
        }
        next = (next + interval).max(now + interval / 2);
        stats.sweep(start.elapsed());
        // In a terminal, its size now (it may have been resized) and as many topics as fit
        // (the busiest when cut); on a pipe, all topics at --width or 120 columns.
        let (rows, columns) = if tty { terminal_size() } else { (None, None) };
        let width = args.width.or(columns).unwrap_or(120);
        let rows = rows.map(|lines| lines.saturating_sub(4).max(3));
        let table = banyan_web::table::render(
            &stats.snapshot(start.elapsed(), SystemTime::now()),
            width,
            rows,
        );
        if tty {
            // Home, each line cleared to its end, then everything below: no flicker.
            write!(out, "\x1b[H")?;
            for line in table.lines() {
                writeln!(out, "{line}\x1b[K")?;
            }
            write!(out, "\x1b[J")?;
        } else {
            writeln!(out, "{table}")?;
        }
        out.flush()?;
        printed += 1;
        if args.tables.is_some_and(|tables| printed >= tables) {
            return Ok(());
        }
    }
}

fn main() -> ExitCode {
    run_main("monitor", || {
        let Some(args) = banyan_cli::parse_args::<Args>("monitor")? else {
            return Ok(());
        };
        let mut config = args.component.config("Monitor");
        config.subscriptions = if args.topics.is_empty() {
            vec![String::new()]
        } else {
            args.topics.clone()
        };
        let mut monitor = Component::connect(config)?;
        print_component_banner(
            monitor.name(),
            monitor.backplane_address(),
            monitor.publisher_port(),
            monitor.subscriber_port(),
        );
        let handle = monitor.shutdown_handle();
        on_termination(move || {
            let _ = handle.shutdown();
        })?;
        if args.stats {
            if std::io::stdout().is_terminal() {
                print!("\x1b[2J");
            }
            return show_stats(&mut monitor, &args);
        }
        let mut printed = 0u64;
        monitor.receive_loop(|_, message| {
            if !args.show_probes && message.topic.starts_with(PROBE_TOPIC_PREFIX) {
                return Ok(std::ops::ControlFlow::Continue(()));
            }
            match payload::from_slice::<Value>(&message.payload) {
                Ok(value) => println!("{}  {value}", message.topic),
                Err(error) => println!(
                    "{}  <not a msgpack payload ({error}): {}>",
                    message.topic,
                    hex(&message.payload)
                ),
            }
            printed += 1;
            Ok(if args.count.is_some_and(|count| printed >= count) {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            })
        })?;
        Ok(())
    })
}
