//! The Python section: python-banyan's `BanyanBase` components on its own backplane (the
//! anchor against the Rust runs), and the same scripts on rust_banyan's `BanyanBase`
//! (`banyan-py`, one import changed) beside them in the same run — throughput and losses,
//! echo round trips (python-banyan at its default loop time and at 0.001 s), idle CPU —
//! with issue 28's goals stated against the measured ratios.

use std::time::Duration;

use anyhow::{Result, anyhow};

use super::inproc::latency_rows;
use super::{Plan, Section, Shared, progress};
use crate::python::{self, Flavour, PyBackplane, PythonEnv};
use crate::report::{Report, num};
use crate::resources;
use crate::stats::{Latency, LatencySpread, Spread};

pub(super) fn python_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
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
    let rust_banyan = match env.rust_banyan() {
        Ok(()) => true,
        Err(why) => {
            report.note(format!(
                "python: rust_banyan rows skipped ({why}); pip install ./banyan-py into {}",
                env.python.display()
            ));
            false
        }
    };
    let backplane = env.backplane()?;

    let mut flavours = vec![Flavour::PYTHON];
    if rust_banyan {
        flavours.push(Flavour::RUST_BANYAN);
    }
    let rates = throughput(plan, report, shared, &env, &backplane, "python", &flavours)?;
    if let [python_rate, rust_banyan_rate] = rates[..] {
        report.value(
            "python",
            "throughput rust_banyan / python_banyan (python backplane)",
            num(rust_banyan_rate / python_rate),
            "×",
            "issue 28 goal ≥ 3 with 0 lost",
        );
    }
    // The same two on Rust Banyan's backplane: the Python one forwards at Python's pace
    // through default high-water marks (1000), where a faster publisher loses messages.
    if rust_banyan {
        match env.rust_backplane() {
            Ok(rust_backplane) => {
                let rates = throughput(
                    plan,
                    report,
                    shared,
                    &env,
                    &rust_backplane,
                    "rust",
                    &flavours,
                )?;
                if let [python_rate, rust_banyan_rate] = rates[..] {
                    report.value(
                        "python",
                        "throughput rust_banyan / python_banyan (rust backplane)",
                        num(rust_banyan_rate / python_rate),
                        "×",
                        "issue 28 goal ≥ 3 with 0 lost",
                    );
                }
            }
            Err(error) => report.note(format!("python: rust backplane skipped: {error:#}")),
        }
    }

    let mut echo_flavours = vec![Flavour::PYTHON, Flavour::PYTHON_FAST_LOOP];
    if rust_banyan {
        echo_flavours.push(Flavour::RUST_BANYAN);
    }
    let p50s = echo(plan, report, shared, &env, &backplane, &echo_flavours)?;
    if let [python_p50, fast_p50, rust_banyan_p50] = p50s[..] {
        report.value(
            "python",
            "echo p50 python_banyan (0.1 s) / rust_banyan",
            num(python_p50 / rust_banyan_p50),
            "×",
            "issue 28 goal ≥ 100",
        );
        report.value(
            "python",
            "echo p50 python_banyan (0.001 s) / rust_banyan",
            num(fast_p50 / rust_banyan_p50),
            "×",
            "issue 28 goal ≥ 5",
        );
    }

    idle_cpu(plan, report, &env, &backplane, &echo_flavours)
}

/// Publisher → backplane → subscriber runs of each flavour, interleaved run by run; the
/// median rates, in `flavours`' order.
fn throughput(
    plan: &Plan,
    report: &mut Report,
    shared: &mut Shared,
    env: &PythonEnv,
    backplane: &PyBackplane,
    backplane_name: &str,
    flavours: &[Flavour],
) -> Result<Vec<f64>> {
    let section = Section::Python;
    let (n, quiet) = (plan.py_messages, Duration::from_secs(2));
    let mut runs = vec![Vec::new(); flavours.len()];
    for flavour in flavours {
        python::throughput_run(&env.with(*flavour), backplane, (n / 5).max(1), quiet)?;
    }
    for run in 1..=plan.py_runs {
        for (index, flavour) in flavours.iter().enumerate() {
            let result = python::throughput_run(&env.with(*flavour), backplane, n, quiet)?;
            progress(
                section,
                format!(
                    "{} throughput run {run}/{} ({backplane_name} backplane): {} msg/s, lost {}",
                    flavour.label(),
                    plan.py_runs,
                    num(result.rate()),
                    result.sent - result.received
                ),
            );
            runs[index].push(result);
        }
    }
    let mut medians = Vec::new();
    for (flavour, runs) in flavours.iter().zip(&runs) {
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
            format!(
                "{} publish_payload → {backplane_name} backplane → receive_loop, {n} × {{'msg': i}}",
                flavour.label()
            ),
            rates,
            "msg/s",
            format!(
                "lost {lost} in {} runs; Rust/this {}",
                runs.len(),
                tput_ratio.map_or("na (run pubsub too)".into(), |r| format!("{r:.1}×"))
            ),
        );
        if *flavour == Flavour::PYTHON && backplane_name == "python" {
            if let Some(ratio) = tput_ratio {
                report.value(
                    "python",
                    "throughput Rust / Python",
                    num(ratio),
                    "×",
                    "target ≥ 5",
                );
            }
            report.summary.python_tput_ratio = tput_ratio;
        }
        medians.push(rates.median);
    }
    Ok(medians)
}

/// The seed's echo, server and client of the same flavour, per flavour; the median p50s in
/// `flavours`' order.
fn echo(
    plan: &Plan,
    report: &mut Report,
    shared: &mut Shared,
    env: &PythonEnv,
    backplane: &PyBackplane,
    flavours: &[Flavour],
) -> Result<Vec<f64>> {
    let section = Section::Python;
    let mut p50s = Vec::new();
    for flavour in flavours {
        let env = env.with(*flavour);
        let server = python::PyEchoServer::start(&env, backplane)?;
        let mut latencies = Vec::new();
        for run in 1..=plan.py_runs {
            let times = python::echo_run(&env, backplane, 2, plan.py_round_trips)?;
            let latency =
                Latency::of_micros(&times).ok_or_else(|| anyhow!("no python round trips"))?;
            progress(
                section,
                format!(
                    "{} echo run {run}/{}: p50 {} µs",
                    flavour.label(),
                    plan.py_runs,
                    num(latency.p50)
                ),
            );
            latencies.push(latency);
        }
        drop(server);
        let latency = LatencySpread::of(&latencies).ok_or_else(|| anyhow!("no python runs"))?;
        latency_rows(
            report,
            "python",
            &format!(
                "{} seed echo client ↔ server, {} round trips,",
                flavour.label(),
                plan.py_round_trips
            ),
            &latency,
        );
        if *flavour == Flavour::PYTHON {
            let echo_ratio = shared.rust_echo_p50.map(|rust| latency.p50.median / rust);
            if let Some(ratio) = echo_ratio {
                report.value(
                    "python",
                    "echo p50 Python / Rust",
                    num(ratio),
                    "×",
                    "Rust is this many times faster",
                );
            }
            report.summary.python_echo_ratio = echo_ratio;
        }
        if flavour.rust_banyan
            && let Some(rust) = shared.rust_echo_p50
        {
            // The floor: the same two backplane hops between two Rust components.
            report.value(
                "python",
                "echo p50 rust_banyan / Rust component pair (echo section)",
                num(latency.p50.median / rust),
                "×",
                "1 = as fast as Rust components",
            );
        }
        p50s.push(latency.p50.median);
    }
    Ok(p50s)
}

/// One idle component of each flavour (subscribed, in `receive_loop`), their CPU over the
/// same window.
fn idle_cpu(
    plan: &Plan,
    report: &mut Report,
    env: &PythonEnv,
    backplane: &PyBackplane,
    flavours: &[Flavour],
) -> Result<()> {
    let mut children = Vec::new();
    for flavour in flavours {
        let (child, _) = python::idle_component(&env.with(*flavour), backplane, false)?;
        children.push(child);
    }
    let pids: Vec<u32> = children.iter().map(|child| child.pid()).collect();
    let cpu = resources::cpu_over(&pids, plan.idle_window)?;
    drop(children);
    let window = plan.idle_window.as_secs_f64();
    for (flavour, cpu) in flavours.iter().zip(cpu) {
        report.value(
            "python",
            format!("idle {} component CPU over {window} s", flavour.label()),
            format!("{:.2}", cpu.as_secs_f64() / window * 100.0),
            "% of 1 core",
            format!("{} ms CPU", num(cpu.as_secs_f64() * 1e3)),
        );
    }
    Ok(())
}
