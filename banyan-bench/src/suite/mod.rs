//! The sections of the suite: each measures, prints progress to stderr and adds rows to the
//! [`Report`]. In-process measurements are in `inproc.rs`, those that start processes
//! (startup, resources, the Python anchor) in `processes.rs`.

mod inproc;
mod processes;
mod python;
mod serial;

pub use serial::SerialPlan;

use std::time::Duration;

use anyhow::Result;
use banyan_host::{Backplane, BackplaneConfig};

use crate::codec::Timing;
use crate::gateway::GatewayPlan;
use crate::python::PythonEnv;
use crate::report::Report;

/// A part of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// Codec micro-benchmarks (in-binary timing loop).
    Codec,
    /// Pub/sub throughput, Banyan vs raw ZeroMQ.
    Pubsub,
    /// Echo latency, Banyan vs raw ZeroMQ.
    Echo,
    /// Serial gateway over an in-memory pipe.
    Gateway,
    /// The MCU client over a serial line paced at 115 200 and 921 600 baud.
    Serial,
    /// Process start to component ready.
    Startup,
    /// Backplane memory and CPU, idle component CPU.
    Resources,
    /// The Python Banyan anchor.
    Python,
}

impl Section {
    /// Every section, in the order `all` runs them (Python last: its ratios need the Rust
    /// numbers).
    pub const ALL: [Section; 8] = [
        Section::Codec,
        Section::Pubsub,
        Section::Echo,
        Section::Gateway,
        Section::Serial,
        Section::Startup,
        Section::Resources,
        Section::Python,
    ];

    /// The section's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Section::Codec => "codec",
            Section::Pubsub => "pubsub",
            Section::Echo => "echo",
            Section::Gateway => "gateway",
            Section::Serial => "serial",
            Section::Startup => "startup",
            Section::Resources => "resources",
            Section::Python => "python",
        }
    }
}

/// Sizes and repetitions of a suite run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `--quick` sizes.
    pub quick: bool,
    /// Measured runs of each Rust measurement (after one warm-up).
    pub runs: usize,
    /// Interleaved Banyan/raw pairs of the pub/sub section: more than `runs`, because a
    /// single pair varies by ±15 % on 2 shared cores and the ratio's target is 5 % away.
    pub pubsub_runs: usize,
    /// Messages per throughput run.
    pub messages: u64,
    /// Messages of the throughput warm-up run.
    pub warmup_messages: u64,
    /// Quiet period that ends a throughput run with losses.
    pub quiet: Duration,
    /// Echo round trips per run.
    pub round_trips: u32,
    /// Echo round trips before each block, for each kind.
    pub echo_warmup: u32,
    /// Blocks per echo run, each with fresh Banyan and raw pairs.
    pub echo_blocks: u32,
    /// Python throughput messages per run.
    pub py_messages: u64,
    /// Python echo round trips per run.
    pub py_round_trips: u32,
    /// Python runs of each kind (after a warm-up).
    pub py_runs: usize,
    /// Gateway sizes (payload length is set per measurement).
    pub gateway: GatewayPlan,
    /// Serial line sizes.
    pub serial: SerialPlan,
    /// Startup probes spawned (after one warm-up).
    pub startup_spawns: usize,
    /// Window of the idle CPU measurement.
    pub idle_window: Duration,
    /// Codec timing loop.
    pub codec: Timing,
}

impl Plan {
    /// The full suite: 1 M messages, 10 k round trips, 5 runs.
    pub fn full() -> Self {
        Self {
            quick: false,
            runs: 5,
            pubsub_runs: 15,
            messages: 1_000_000,
            warmup_messages: 200_000,
            quiet: Duration::from_secs(2),
            round_trips: 10_000,
            echo_warmup: 100,
            echo_blocks: 20,
            py_messages: 100_000,
            py_round_trips: 100,
            py_runs: 3,
            gateway: GatewayPlan {
                payload_len: 16,
                warmup: 200,
                round_trips: 2_000,
                burst: 20_000,
                runs: 5,
                quiet: Duration::from_secs(2),
            },
            serial: SerialPlan {
                secs: 2.0,
                runs: 3,
                min_count: 100,
            },
            startup_spawns: 10,
            idle_window: Duration::from_secs(5),
            codec: Timing {
                sample: Duration::from_millis(100),
                samples: 5,
            },
        }
    }

    /// `--quick`: 100 k messages, 1 k round trips, 3 runs, Python 20 k messages and 20
    /// round trips; meant to finish within a minute on 2 cores.
    pub fn quick() -> Self {
        Self {
            quick: true,
            runs: 3,
            pubsub_runs: 3,
            messages: 100_000,
            warmup_messages: 20_000,
            quiet: Duration::from_secs(1),
            round_trips: 1_000,
            echo_warmup: 50,
            echo_blocks: 5,
            py_messages: 20_000,
            py_round_trips: 20,
            py_runs: 3,
            gateway: GatewayPlan {
                payload_len: 16,
                warmup: 50,
                round_trips: 300,
                burst: 3_000,
                runs: 3,
                quiet: Duration::from_secs(1),
            },
            serial: SerialPlan {
                secs: 0.5,
                runs: 1,
                min_count: 30,
            },
            startup_spawns: 5,
            idle_window: Duration::from_secs(5),
            codec: Timing {
                sample: Duration::from_millis(15),
                samples: 3,
            },
        }
    }

    /// Overrides the number of measured runs (at least 3 are kept).
    pub fn with_runs(mut self, runs: usize) -> Self {
        self.runs = runs.max(3);
        self.pubsub_runs = self.runs;
        self.gateway.runs = self.runs;
        self.serial.runs = self.runs;
        self.py_runs = self.py_runs.max(3);
        self
    }
}

/// Numbers one section hands to later ones.
#[derive(Debug, Default)]
pub struct Shared {
    /// Median Banyan pub/sub throughput, messages/s.
    pub rust_tput: Option<f64>,
    /// Median Banyan echo p50, µs.
    pub rust_echo_p50: Option<f64>,
    python: Option<std::result::Result<PythonEnv, String>>,
}

impl Shared {
    /// The Python environment, looked up once; `Err` says why there is none.
    pub fn python(&mut self) -> std::result::Result<PythonEnv, String> {
        self.python
            .get_or_insert_with(|| PythonEnv::find().map_err(|e| format!("{e:#}")))
            .clone()
    }
}

fn progress(section: Section, text: impl AsRef<str>) {
    eprintln!("[{}] {}", section.name(), text.as_ref());
}

fn loopback_backplane() -> Result<Backplane> {
    Ok(Backplane::bind(&BackplaneConfig::ephemeral_loopback())?)
}

/// Runs one section, adding its rows to `report`.
pub fn run(section: Section, plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    match section {
        Section::Codec => inproc::codec_section(plan, report),
        Section::Pubsub => inproc::pubsub_section(plan, report, shared),
        Section::Echo => inproc::echo_section(plan, report, shared),
        Section::Gateway => inproc::gateway_section(plan, report),
        Section::Serial => serial::serial_section(plan, report),
        Section::Startup => processes::startup_section(plan, report, shared),
        Section::Resources => processes::resources_section(plan, report, shared),
        Section::Python => python::python_section(plan, report, shared),
    }
}
