//! Sections measured inside this process: codec, pub/sub, echo, serial gateway.

use std::time::Duration;

use anyhow::{Result, anyhow};
use banyan_host::{Backplane, BackplaneConfig};

use super::{Plan, Section, Shared, loopback_backplane, progress};
use crate::codec;
use crate::echo;
use crate::gateway::{self, GatewayPlan};
use crate::pubsub::{self, BanyanReceive, Endpoints, HWM, Throughput};
use crate::report::{Report, num};
use crate::stats::{Latency, LatencySpread, Spread};

pub(super) fn codec_section(plan: &Plan, report: &mut Report) -> Result<()> {
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
    let backplane = Backplane::bind(&BackplaneConfig {
        limits: pubsub::THROUGHPUT_LIMITS,
        ..BackplaneConfig::ephemeral_loopback()
    })?;
    let result = run(&Endpoints::of(&backplane));
    backplane.shutdown()?;
    result
}

pub(super) fn pubsub_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let (n, quiet) = (plan.messages, plan.quiet);
    let section = Section::Pubsub;
    progress(
        section,
        format!("warm-up: {} messages each", plan.warmup_messages),
    );
    fresh_run(|ep| pubsub::banyan_run(ep, plan.warmup_messages, quiet))?;
    fresh_run(|ep| pubsub::raw_run(ep, plan.warmup_messages, quiet, HWM))?;
    let (mut banyan, mut raw, mut polled) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=plan.pubsub_runs {
        // Interleaved pairs, alternating which one runs first.
        let banyan_run = || fresh_run(|ep| pubsub::banyan_run(ep, n, quiet));
        let raw_run = || fresh_run(|ep| pubsub::raw_run(ep, n, quiet, HWM));
        let (b, r) = if run % 2 == 1 {
            let b = banyan_run()?;
            (b, raw_run()?)
        } else {
            let r = raw_run()?;
            (banyan_run()?, r)
        };
        let p = fresh_run(|ep| pubsub::banyan_run_with(ep, n, quiet, BanyanReceive::Owned))?;
        progress(
            section,
            format!(
                "run {run}/{}: banyan {} msg/s (lost {}), raw {} msg/s (lost {}), \
                 banyan owned recv {} msg/s",
                plan.pubsub_runs,
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
        format!("Banyan Component::publish → Backplane → Component::recv_ref, {n} × {{'msg': i}}"),
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
            "diagnostic: Banyan receiving owned messages (Component::recv_timeout: String + Vec each)",
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
            format!(
                "median pair ratio {:.3}; target ≥ 0.95 with 0 lost",
                pairs.median
            ),
        );
    }
    report.summary.pubsub_ratio = Some(ratio);
    report.summary.pubsub_lost = Some(lost(&banyan));
    shared.rust_tput = Some(b.median);
    Ok(())
}

pub(super) fn latency_rows(
    report: &mut Report,
    section: &'static str,
    label: &str,
    spread: &LatencySpread,
) {
    report.spread(section, format!("{label} p50"), spread.p50, "µs", "");
    report.spread(section, format!("{label} p99"), spread.p99, "µs", "");
    report.spread(section, format!("{label} max"), spread.max, "µs", "");
}

pub(super) fn echo_section(plan: &Plan, report: &mut Report, shared: &mut Shared) -> Result<()> {
    let section = Section::Echo;
    let backplane = loopback_backplane()?;
    let ep = Endpoints::of(&backplane);
    let (mut banyan, mut asynchronous, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    let (mut block_ratios, mut async_block_ratios) = (Vec::new(), Vec::new());
    let latency = |times: &[Duration]| Latency::of(times).ok_or_else(|| anyhow!("no round trips"));
    for run in 1..=plan.runs {
        let blocks =
            echo::interleaved_run(&ep, plan.echo_warmup, plan.round_trips, plan.echo_blocks)?;
        let (mut b, mut a, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for block in blocks {
            let ratio = |x: &[Duration], y: &[Duration]| {
                Latency::of(x)
                    .zip(Latency::of(y))
                    .map(|(x, y)| x.p50 / y.p50)
            };
            block_ratios.extend(ratio(&block.banyan, &block.raw));
            async_block_ratios.extend(ratio(&block.asynchronous, &block.raw_async));
            b.extend(block.banyan);
            a.extend(block.asynchronous);
            r.extend(block.raw);
            r.extend(block.raw_async);
        }
        let (b, a, r) = (latency(&b)?, latency(&a)?, latency(&r)?);
        progress(
            section,
            format!(
                "run {run}/{}: banyan p50 {} µs p99 {} µs, async p50 {} µs p99 {} µs, raw p50 {} µs p99 {} µs",
                plan.runs,
                num(b.p50),
                num(b.p99),
                num(a.p50),
                num(a.p99),
                num(r.p50),
                num(r.p99)
            ),
        );
        banyan.push(b);
        asynchronous.push(a);
        raw.push(r);
    }
    backplane.shutdown()?;
    let b = LatencySpread::of(&banyan).ok_or_else(|| anyhow!("no runs"))?;
    let a = LatencySpread::of(&asynchronous).ok_or_else(|| anyhow!("no runs"))?;
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
        &format!("Banyan async aio::echo::run_client ↔ aio::echo::serve (tokio), {n} round trips,"),
        &a,
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
    let turns = format!(
        "{} blocks, turns of {} round trips",
        block_ratios.len(),
        echo::TURN
    );
    if let Some(blocks) = Spread::of(&block_ratios) {
        report.spread(
            "echo",
            "ratio of p50s Banyan / raw, median of the blocks' ratios",
            blocks,
            "×",
            turns.clone(),
        );
    }
    let async_pairs: Vec<f64> = asynchronous
        .iter()
        .zip(&raw)
        .map(|(a, r)| a.p50 / r.p50)
        .collect();
    let async_ratio = a.p50.median / r.p50.median;
    if let Some(pairs) = Spread::of(&async_pairs) {
        report.spread(
            "echo",
            "ratio of p50s Banyan async / raw",
            Spread {
                median: async_ratio,
                ..pairs
            },
            "×",
            format!(
                "async p50 / blocking p50 {:.3}",
                a.p50.median / b.p50.median
            ),
        );
    }
    if let Some(blocks) = Spread::of(&async_block_ratios) {
        report.spread(
            "echo",
            "ratio of p50s Banyan async / raw, median of the blocks' ratios",
            blocks,
            "×",
            turns,
        );
    }
    report.summary.async_echo_p50_ratio = Some(async_ratio);
    report.summary.echo_p50_us = Some(b.p50.median);
    report.summary.echo_p50_ratio = Some(ratio);
    shared.rust_echo_p50 = Some(b.p50.median);
    Ok(())
}

pub(super) fn gateway_section(plan: &Plan, report: &mut Report) -> Result<()> {
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
