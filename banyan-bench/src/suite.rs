//! The sections of the suite: each measures, prints progress to stderr and adds rows to the
//! [`Report`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow};
use banyan_host::{Backplane, BackplaneConfig};

use crate::codec::{self, Timing};
use crate::echo;
use crate::gateway::{self, GatewayPlan};
use crate::procs::sibling_exe;
use crate::pubsub::{self, Endpoints, HWM, RawReceive, Throughput};
use crate::python::{self, PythonEnv};
use crate::report::{Report, num};
use crate::resources;
use crate::startup;
use crate::stats::{Latency, LatencySpread, Spread};

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
    pub const ALL: [Section; 7] = [
        Section::Codec,
        Section::Pubsub,
        Section::Echo,
        Section::Gateway,
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
    /// Messages per throughput run.
    pub messages: u64,
    /// Messages of the throughput warm-up run.
    pub warmup_messages: u64,
    /// Quiet period that ends a throughput run with losses.
    pub quiet: Duration,
    /// Echo round trips per run.
    pub round_trips: u32,
    /// Echo round trips before each run.
    pub echo_warmup: u32,
    /// Python throughput messages per run.
    pub py_messages: u64,
    /// Python echo round trips per run.
    pub py_round_trips: u32,
    /// Python runs of each kind (after a warm-up).
    pub py_runs: usize,
    /// Gateway sizes (payload length is set per measurement).
    pub gateway: GatewayPlan,
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
            messages: 1_000_000,
            warmup_messages: 200_000,
            quiet: Duration::from_secs(2),
            round_trips: 10_000,
            echo_warmup: 500,
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
            messages: 100_000,
            warmup_messages: 20_000,
            quiet: Duration::from_secs(1),
            round_trips: 1_000,
            echo_warmup: 100,
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
        self.gateway.runs = self.runs;
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
        Section::Codec => codec_section(plan, report),
        Section::Pubsub => pubsub_section(plan, report, shared),
        Section::Echo => echo_section(plan, report, shared),
        Section::Gateway => gateway_section(plan, report),
        Section::Startup => startup_section(plan, report, shared),
        Section::Resources => resources_section(plan, report, shared),
        Section::Python => python_section(plan, report, shared),
    }
}

fn codec_section(plan: &Plan, report: &mut Report) -> Result<()> {
    for (name, spread) in codec::time_all(plan.codec) {
        progress(
            Section::Codec,
            format!("{name}: {} ns/op", num(spread.median)),
        );
        report.spread("codec", name, spread, "ns/op", "");
    }
    Ok(())
}

/// One throughput run through a fresh in-process backplane.
fn fresh_run(run: impl FnOnce(&Endpoints) -> Result<Throughput>) -> Result<Throughput> {
    let backplane = loopback_backplane()?;
    let result = run(&Endpoints::of(&backplane));
    backplane.shutdown()?;
    result
}

fn pubsub_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let (n, quiet) = (plan.messages, plan.quiet);
    let section = Section::Pubsub;
    progress(
        section,
        format!("warm-up: {} messages each", plan.warmup_messages),
    );
    fresh_run(|ep| pubsub::banyan_run(ep, plan.warmup_messages, quiet))?;
    fresh_run(|ep| pubsub::raw_run(ep, plan.warmup_messages, quiet, HWM))?;
    let (mut banyan, mut raw, mut polled) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=plan.runs {
        let b = fresh_run(|ep| pubsub::banyan_run(ep, n, quiet))?;
        let r = fresh_run(|ep| pubsub::raw_run(ep, n, quiet, HWM))?;
        let p = fresh_run(|ep| pubsub::raw_run_with(ep, n, quiet, HWM, RawReceive::PollEach))?;
        progress(
            section,
            format!(
                "run {run}/{}: banyan {} msg/s (lost {}), raw {} msg/s (lost {}), \
                 raw+poll {} msg/s",
                plan.runs,
                num(b.rate()),
                b.lost(),
                num(r.rate()),
                r.lost(),
                num(p.rate()),
            ),
        );
        banyan.push(b);
        raw.push(r);
        polled.push(p);
    }
    let rates =
        |runs: &[Throughput]| Spread::of(&runs.iter().map(Throughput::rate).collect::<Vec<_>>());
    let lost = |runs: &[Throughput]| runs.iter().map(Throughput::lost).sum::<u64>();
    let (b, r) = (
        rates(&banyan).ok_or_else(|| anyhow!("no runs"))?,
        rates(&raw).ok_or_else(|| anyhow!("no runs"))?,
    );
    let ratio = b.median / r.median;
    let pairs: Vec<f64> = banyan
        .iter()
        .zip(&raw)
        .map(|(b, r)| b.rate() / r.rate())
        .collect();
    report.spread(
        "pubsub",
        format!("Banyan Component::publish → Backplane → Component::recv, {n} × {{'msg': i}}"),
        b,
        "msg/s",
        format!("lost {} in {} runs", lost(&banyan), banyan.len()),
    );
    report.spread(
        "pubsub",
        "raw zmq PUB → same forwarder → raw SUB, pre-encoded 10 B payload, same HWM",
        r,
        "msg/s",
        format!("lost {} in {} runs", lost(&raw), raw.len()),
    );
    if let Some(p) = rates(&polled) {
        report.spread(
            "pubsub",
            "diagnostic: raw SUB with zmq::poll + recv_multipart per message (Component's pattern)",
            p,
            "msg/s",
            format!("{:.2}× raw; lost {}", p.median / r.median, lost(&polled)),
        );
    }
    if let Some(pairs) = Spread::of(&pairs) {
        report.spread(
            "pubsub",
            "ratio Banyan / raw (medians; spread of run pairs)",
            Spread {
                median: ratio,
                ..pairs
            },
            "×",
            "target ≥ 0.95 with 0 lost",
        );
    }
    report.summary.pubsub_ratio = Some(ratio);
    report.summary.pubsub_lost = Some(lost(&banyan));
    shared.rust_tput = Some(b.median);
    Ok(())
}

fn latency_rows(report: &mut Report, section: &'static str, label: &str, spread: &LatencySpread) {
    report.spread(section, format!("{label} p50"), spread.p50, "µs", "");
    report.spread(section, format!("{label} p99"), spread.p99, "µs", "");
    report.spread(section, format!("{label} max"), spread.max, "µs", "");
}

fn echo_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let section = Section::Echo;
    let backplane = loopback_backplane()?;
    let ep = Endpoints::of(&backplane);
    let (mut banyan, mut raw) = (Vec::new(), Vec::new());
    for run in 1..=plan.runs {
        let (b, r) = echo::interleaved_run(&ep, plan.echo_warmup, plan.round_trips, 10)?;
        let (b, r) = (
            Latency::of(&b).ok_or_else(|| anyhow!("no round trips"))?,
            Latency::of(&r).ok_or_else(|| anyhow!("no round trips"))?,
        );
        progress(
            section,
            format!(
                "run {run}/{}: banyan p50 {} µs p99 {} µs, raw p50 {} µs p99 {} µs",
                plan.runs,
                num(b.p50),
                num(b.p99),
                num(r.p50),
                num(r.p99)
            ),
        );
        banyan.push(b);
        raw.push(r);
    }
    backplane.shutdown()?;
    let b = LatencySpread::of(&banyan).ok_or_else(|| anyhow!("no runs"))?;
    let r = LatencySpread::of(&raw).ok_or_else(|| anyhow!("no runs"))?;
    let n = plan.round_trips;
    latency_rows(
        report,
        "echo",
        &format!("Banyan echo::run_client ↔ echo::serve, {n} round trips,"),
        &b,
    );
    latency_rows(
        report,
        "echo",
        "raw zmq client ↔ raw server, same forwarder,",
        &r,
    );
    let pairs: Vec<f64> = banyan
        .iter()
        .zip(&raw)
        .map(|(b, r)| b.p50 / r.p50)
        .collect();
    let ratio = b.p50.median / r.p50.median;
    if let Some(pairs) = Spread::of(&pairs) {
        report.spread(
            "echo",
            "ratio of p50s Banyan / raw",
            Spread {
                median: ratio,
                ..pairs
            },
            "×",
            "target ≤ 1.10",
        );
    }
    report.summary.echo_p50_us = Some(b.p50.median);
    report.summary.echo_p50_ratio = Some(ratio);
    shared.rust_echo_p50 = Some(b.p50.median);
    Ok(())
}

fn gateway_section(plan: &Plan, report: &mut Report) -> Result<()> {
    let section = Section::Gateway;
    let backplane = loopback_backplane()?;
    let ep = Endpoints::of(&backplane);
    for len in [16, 256] {
        let runs = gateway::measure(
            &ep,
            GatewayPlan {
                payload_len: len,
                ..plan.gateway
            },
        )?;
        let latencies: Vec<Latency> = runs
            .round_trips
            .iter()
            .filter_map(|r| Latency::of(r))
            .collect();
        let latency = LatencySpread::of(&latencies).ok_or_else(|| anyhow!("no gateway runs"))?;
        let rates: Vec<f64> = runs.bursts.iter().map(gateway::Burst::rate).collect();
        let rate = Spread::of(&rates).ok_or_else(|| anyhow!("no bursts"))?;
        let lost: u32 = runs.bursts.iter().map(|b| b.sent - b.received).sum();
        progress(
            section,
            format!(
                "{len} B: {} frames/s, p50 {} µs, stats {:?}",
                num(rate.median),
                num(latency.p50.median),
                runs.stats
            ),
        );
        report.spread(
            "gateway",
            format!(
                "{len} B payload: echoed frames/s, bursts of {}",
                plan.gateway.burst
            ),
            rate,
            "frames/s",
            format!("lost {lost}; corrupt {}", runs.stats.corrupt),
        );
        report.spread(
            "gateway",
            format!(
                "{len} B payload: round trip p50 ({} per run)",
                plan.gateway.round_trips
            ),
            latency.p50,
            "µs",
            format!("p99 {} µs", num(latency.p99.median)),
        );
    }
    backplane.shutdown()?;
    Ok(())
}

fn own_exe() -> Result<PathBuf> {
    Ok(std::env::current_exe()?)
}

fn startup_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let section = Section::Startup;
    let backplane = loopback_backplane()?;
    let ep = Endpoints::of(&backplane);
    let exe = own_exe()?;
    startup::spawn_probe(&exe, &ep, Duration::ZERO)?;
    let (mut ready, mut connect) = (Vec::new(), Vec::new());
    for _ in 0..plan.startup_spawns {
        let mut probe = startup::spawn_probe(&exe, &ep, Duration::ZERO)?;
        ready.push(probe.spawn_to_ready.as_secs_f64() * 1e3);
        connect.push(probe.connect.as_secs_f64() * 1e3);
        probe
            .child
            .wait_exit(std::time::Instant::now() + Duration::from_secs(10))?;
    }
    backplane.shutdown()?;
    let ready = Spread::of(&ready).ok_or_else(|| anyhow!("no probes"))?;
    let connect = Spread::of(&connect).ok_or_else(|| anyhow!("no probes"))?;
    progress(
        section,
        format!("rust: spawn → ready {} ms", num(ready.median)),
    );
    report.spread(
        "startup",
        "Rust component process: spawn → Component::connect returned",
        ready,
        "ms",
        "Python sleeps a fixed 300 ms in connect",
    );
    report.spread(
        "startup",
        "Rust Component::connect (path proven)",
        connect,
        "ms",
        "",
    );
    report.value(
        "startup",
        "Python BanyanBase connect sleep (fixed)",
        "300",
        "ms",
        "connect_time=0.3",
    );
    match shared.python() {
        Ok(env) => {
            let backplane = env.backplane()?;
            python::idle_component(&env, &backplane, true)?;
            let mut times = Vec::new();
            for _ in 0..3 {
                let (mut child, took) = python::idle_component(&env, &backplane, true)?;
                child.wait_exit(std::time::Instant::now() + Duration::from_secs(10))?;
                times.push(took.as_secs_f64() * 1e3);
            }
            let spread = Spread::of(&times).ok_or_else(|| anyhow!("no python probes"))?;
            progress(
                section,
                format!("python: spawn → ready {} ms", num(spread.median)),
            );
            report.spread(
                "startup",
                "Python component process: spawn → BanyanBase ready",
                spread,
                "ms",
                format!("{:.1}× the Rust time", spread.median / ready.median),
            );
        }
        Err(reason) => report.note(format!("startup: Python part skipped: {reason}")),
    }
    Ok(())
}

fn resources_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let section = Section::Resources;
    match sibling_exe("backplane") {
        Ok(exe) => {
            let usage = resources::backplane_usage(&exe, plan.messages, plan.quiet)?;
            let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
            progress(
                section,
                format!(
                    "backplane process: peak RSS {} MiB, {} msg/s",
                    num(mib(usage.peak_rss)),
                    num(usage.throughput.rate())
                ),
            );
            report.value(
                "resources",
                format!(
                    "backplane process peak RSS (VmHWM) during {} messages",
                    plan.messages
                ),
                num(mib(usage.peak_rss)),
                "MiB",
                format!(
                    "idle {} MiB before, {} MiB after",
                    num(mib(usage.rss_before)),
                    num(mib(usage.rss_after))
                ),
            );
            report.value(
                "resources",
                "backplane process CPU during that run",
                num(usage.cpu.as_secs_f64() / usage.wall.as_secs_f64() * 100.0),
                "% of 1 core",
                format!(
                    "{} msg/s through the process, lost {}",
                    num(usage.throughput.rate()),
                    usage.throughput.lost()
                ),
            );
        }
        Err(error) => report.note(format!("resources: backplane process skipped: {error:#}")),
    }

    let backplane = loopback_backplane()?;
    let ep = Endpoints::of(&backplane);
    let margin = Duration::from_secs(3);
    let probe = startup::spawn_probe(&own_exe()?, &ep, plan.idle_window + margin)?;
    let python = match shared.python() {
        Ok(env) => {
            let py_backplane = env.backplane()?;
            let (child, _) = python::idle_component(&env, &py_backplane, false)?;
            Some((py_backplane, child))
        }
        Err(reason) => {
            report.note(format!("resources: Python idle CPU skipped: {reason}"));
            None
        }
    };
    let mut pids = vec![probe.child.pid()];
    pids.extend(python.as_ref().map(|(_, child)| child.pid()));
    let cpu = resources::cpu_over(&pids, plan.idle_window)?;
    let window = plan.idle_window.as_secs_f64();
    let percent = |cpu: Duration| cpu.as_secs_f64() / window * 100.0;
    progress(section, format!("idle CPU over {window} s: {cpu:?}"));
    report.value(
        "resources",
        format!("idle Rust component CPU over {window} s (blocked in recv)"),
        format!("{:.2}", percent(cpu[0])),
        "% of 1 core",
        format!("{} ms CPU", num(cpu[0].as_secs_f64() * 1e3)),
    );
    if let Some(&py) = cpu.get(1) {
        report.value(
            "resources",
            format!("idle Python component CPU over {window} s (receive_loop polls every 0.1 s)"),
            format!("{:.2}", percent(py)),
            "% of 1 core",
            format!("{} ms CPU", num(py.as_secs_f64() * 1e3)),
        );
    }
    drop(python);
    drop(probe);
    backplane.shutdown()?;
    Ok(())
}

fn python_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let section = Section::Python;
    let env = match shared.python() {
        Ok(env) => env,
        Err(reason) => {
            report.note(format!(
                "python: skipped ({reason}); set BANYAN_PYTHON to a python with python-banyan"
            ));
            return Ok(());
        }
    };
    progress(
        section,
        format!("python {} via {}", env.python.display(), env.address),
    );
    let backplane = env.backplane()?;
    let (n, quiet) = (plan.py_messages, Duration::from_secs(2));
    python::throughput_run(&env, &backplane, (n / 5).max(1), quiet)?;
    let mut runs = Vec::new();
    for run in 1..=plan.py_runs {
        let result = python::throughput_run(&env, &backplane, n, quiet)?;
        progress(
            section,
            format!(
                "throughput run {run}/{}: {} msg/s, lost {}",
                plan.py_runs,
                num(result.rate()),
                result.sent - result.received
            ),
        );
        runs.push(result);
    }
    let rates = Spread::of(
        &runs
            .iter()
            .map(python::PyThroughput::rate)
            .collect::<Vec<_>>(),
    )
    .ok_or_else(|| anyhow!("no python runs"))?;
    let lost: u64 = runs.iter().map(|r| r.sent - r.received).sum();
    let tput_ratio = shared.rust_tput.map(|rust| rust / rates.median);
    report.spread(
        "python",
        format!("Python Banyan publish_payload → backplane → receive_loop, {n} × {{'msg': i}}"),
        rates,
        "msg/s",
        format!(
            "lost {lost} in {} runs; Rust/Python {}",
            runs.len(),
            tput_ratio.map_or("na (run pubsub too)".into(), |r| format!("{r:.1}×"))
        ),
    );

    if let Some(ratio) = tput_ratio {
        report.value(
            "python",
            "throughput Rust / Python",
            num(ratio),
            "×",
            "target ≥ 5",
        );
    }

    let server = python::PyEchoServer::start(&env, &backplane)?;
    let mut latencies = Vec::new();
    for run in 1..=plan.py_runs {
        let times = python::echo_run(&env, &backplane, 2, plan.py_round_trips)?;
        let latency = Latency::of_micros(&times).ok_or_else(|| anyhow!("no python round trips"))?;
        progress(
            section,
            format!(
                "echo run {run}/{}: p50 {} µs",
                plan.py_runs,
                num(latency.p50)
            ),
        );
        latencies.push(latency);
    }
    drop(server);
    let latency = LatencySpread::of(&latencies).ok_or_else(|| anyhow!("no python runs"))?;
    let echo_ratio = shared.rust_echo_p50.map(|rust| latency.p50.median / rust);
    latency_rows(
        report,
        "python",
        &format!(
            "Python seed echo client ↔ server, loop time 0.1 s, {} round trips,",
            plan.py_round_trips
        ),
        &latency,
    );
    if let Some(ratio) = echo_ratio {
        report.value(
            "python",
            "echo p50 Python / Rust",
            num(ratio),
            "×",
            "Rust is this many times faster",
        );
    }
    report.summary.python_tput_ratio = tput_ratio;
    report.summary.python_echo_ratio = echo_ratio;
    Ok(())
}
