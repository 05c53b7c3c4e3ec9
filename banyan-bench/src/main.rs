//! `banyan-bench`: runs the benchmark suite and prints a table and a `SUMMARY` line.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use banyan_bench::report::Report;
use banyan_bench::startup::{PROBE_COMMAND, probe_main};
use banyan_bench::suite::{self, Plan, Section, Shared};
use clap::{Parser, Subcommand};

/// Rust Banyan benchmark suite.
#[derive(Debug, Parser)]
#[command(name = "banyan-bench", version)]
struct Args {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Runs every section.
    All(RunArgs),
    /// Runs the named sections only.
    Run {
        /// Sections to run, in this order.
        #[arg(required = true, value_enum)]
        sections: Vec<Section>,
        #[command(flatten)]
        options: RunArgs,
    },
    /// Internal: a component that connects, prints READY and idles (startup and idle CPU).
    #[command(name = PROBE_COMMAND, hide = true)]
    StartupProbe {
        /// Backplane address.
        #[arg(long)]
        backplane: String,
        /// Backplane publisher port.
        #[arg(short = 'p')]
        publisher_port: u16,
        /// Backplane subscriber port.
        #[arg(short = 's')]
        subscriber_port: u16,
        /// Seconds to stay connected after READY.
        #[arg(long, default_value_t = 0.0)]
        idle_secs: f64,
        /// The async component (`banyan_host::aio`) instead of the blocking one.
        #[arg(long = "async")]
        asynchronous: bool,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct RunArgs {
    /// Smaller sizes (100 k messages, 1 k round trips, 3 runs): about a minute on 2 cores.
    #[arg(long)]
    quick: bool,
    /// Measured runs per measurement (at least 3).
    #[arg(long)]
    runs: Option<usize>,
}

fn run_sections(sections: &[Section], options: &RunArgs) -> ExitCode {
    let mut plan = if options.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    if let Some(runs) = options.runs {
        plan = plan.with_runs(runs);
    }
    let started = Instant::now();
    let mut report = Report::default();
    let mut shared = Shared::default();
    let mut failed = Vec::new();
    for &section in sections {
        let begun = Instant::now();
        eprintln!("== {} ==", section.name());
        if let Err(error) = suite::run(section, &plan, &mut report, &mut shared) {
            eprintln!("error: section {} failed: {error:#}", section.name());
            report.note(format!("section {} FAILED: {error:#}", section.name()));
            failed.push(section.name());
        }
        eprintln!(
            "== {} done in {:.1} s ==",
            section.name(),
            begun.elapsed().as_secs_f64()
        );
    }
    println!();
    println!(
        "Rust Banyan benchmarks ({}, {} runs after a warm-up, {:.0} s)",
        if plan.quick { "--quick" } else { "full" },
        plan.runs,
        started.elapsed().as_secs_f64()
    );
    println!();
    print!("{}", report.table());
    for note in &report.notes {
        println!("note: {note}");
    }
    println!("{}", report.summary);
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("banyan-bench: failed sections: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

/// `RUST_LOG` on stderr (default `warn`), as the Rust Banyan binaries log.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    init_logging();
    match Args::parse().command {
        Commands::All(options) => run_sections(&Section::ALL, &options),
        Commands::Run { sections, options } => run_sections(&sections, &options),
        Commands::StartupProbe {
            backplane,
            publisher_port,
            subscriber_port,
            idle_secs,
            asynchronous,
        } => match probe_main(
            &backplane,
            publisher_port,
            subscriber_port,
            Duration::from_secs_f64(idle_secs.max(0.0)),
            asynchronous,
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("banyan-bench {PROBE_COMMAND}: error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}
