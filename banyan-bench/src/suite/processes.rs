//! Sections that start processes: startup and resources (the Python Banyan anchor is in
//! `python.rs`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::{Plan, Section, Shared, loopback_backplane, progress};
use crate::procs::sibling_exe;
use crate::pubsub::Endpoints;
use crate::python;
use crate::report::{Report, num};
use crate::resources;
use crate::startup;
use crate::stats::Spread;

fn own_exe() -> Result<PathBuf> {
    Ok(std::env::current_exe()?)
}

pub(super) fn startup_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let section = Section::Startup;
    let backplane = loopback_backplane()?;
    let ep = Endpoints::of(&backplane);
    let exe = own_exe()?;
    startup::spawn_probe(&exe, &ep, Duration::ZERO, false)?;
    let (mut ready, mut connect) = (Vec::new(), Vec::new());
    for _ in 0..plan.startup_spawns {
        let mut probe = startup::spawn_probe(&exe, &ep, Duration::ZERO, false)?;
        ready.push(probe.spawn_to_ready.as_secs_f64() * 1e3);
        connect.push(probe.connect.as_secs_f64() * 1e3);
        probe
            .child
            .wait_exit_until(Instant::now() + Duration::from_secs(10))?;
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
                child.wait_exit_until(Instant::now() + Duration::from_secs(10))?;
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

pub(super) fn resources_section(
    plan: &Plan,
    report: &mut Report,
    shared: &mut Shared,
) -> Result<()> {
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
    let probe = startup::spawn_probe(&own_exe()?, &ep, plan.idle_window + margin, false)?;
    let async_probe = startup::spawn_probe(&own_exe()?, &ep, plan.idle_window + margin, true)?;
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
    let mut pids = vec![probe.child.pid(), async_probe.child.pid()];
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
    report.value(
        "resources",
        format!("idle async Rust component CPU over {window} s (aio, awaiting recv)"),
        format!("{:.2}", percent(cpu[1])),
        "% of 1 core",
        format!("{} ms CPU", num(cpu[1].as_secs_f64() * 1e3)),
    );
    if let Some(&py) = cpu.get(2) {
        report.value(
            "resources",
            format!("idle Python component CPU over {window} s (receive_loop polls every 0.1 s)"),
            format!("{:.2}", percent(py)),
            "% of 1 core",
            format!("{} ms CPU", num(py.as_secs_f64() * 1e3)),
        );
    }
    drop(python);
    drop(async_probe);
    drop(probe);
    backplane.shutdown()?;
    Ok(())
}
