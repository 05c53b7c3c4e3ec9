//! The `serial` section: the MCU client at line rate (see [`crate::serial`]).

use anyhow::{Result, anyhow};
use banyan_testkit::LineRate;

use super::{Plan, Section, loopback_backplane, progress};
use crate::pubsub::Endpoints;
use crate::report::{Report, num};
use crate::serial::{self, Format, Load, RunSpec, SerialRun};
use crate::stats::{Latency, Spread};

/// Baud rates measured (8N1).
const BAUDS: [u32; 2] = [115_200, 921_600];

/// Offered rate of the latency run: twice micro-ROS's published rate at 115 200 baud.
const OFFERED_PER_S: f64 = 1000.0;

/// Sizes of the serial section.
#[derive(Debug, Clone, Copy)]
pub struct SerialPlan {
    /// Seconds of traffic per run (at the format's ideal rate).
    pub secs: f64,
    /// Runs of each case.
    pub runs: usize,
    /// Fewest readings per run.
    pub min_count: u32,
}

fn baud_name(baud: u32) -> String {
    num(f64::from(baud)).replace(',', " ")
}

fn ms(d: f64) -> String {
    format!("{d:.2}")
}

/// Medians over the runs of one case.
struct Case {
    rate: Spread,
    utilisation: Spread,
    goodput: Spread,
    latency_p50: Spread,
    latency_p99: Spread,
    lost: u64,
}

fn summarize(runs: &[SerialRun]) -> Result<Case> {
    let pick = |f: &dyn Fn(&SerialRun) -> f64| {
        Spread::of(&runs.iter().map(f).collect::<Vec<_>>()).ok_or_else(|| anyhow!("no runs"))
    };
    let latencies: Vec<Latency> = runs
        .iter()
        .filter_map(|r| Latency::of(&r.latencies))
        .collect();
    let lat = |f: fn(&Latency) -> f64| {
        Spread::of(&latencies.iter().map(|l| f(l) / 1000.0).collect::<Vec<_>>())
            .ok_or_else(|| anyhow!("no latencies"))
    };
    Ok(Case {
        rate: pick(&SerialRun::rate)?,
        utilisation: pick(&|r| r.utilisation() * 100.0)?,
        goodput: pick(&|r| r.goodput() * 100.0)?,
        latency_p50: lat(|l| l.p50)?,
        latency_p99: lat(|l| l.p99)?,
        lost: runs.iter().map(|r| r.sent - r.delivered).sum(),
    })
}

pub(super) fn serial_section(plan: &Plan, report: &mut Report) -> Result<()> {
    let section = Section::Serial;
    let backplane = loopback_backplane()?;
    let ep = Endpoints::of(&backplane);
    let sp = plan.serial;
    for baud in BAUDS {
        let rate = LineRate::uart_8n1(baud);
        let capacity = rate.bytes_per_sec();
        for load in Load::ALL {
            let mut first: Option<f64> = None;
            for format in Format::ALL {
                let per_msg = format.wire_bytes_per_msg(load, 1);
                let ideal = capacity / per_msg;
                let count = ((ideal * sp.secs) as u32).max(sp.min_count);
                let runs = (0..sp.runs)
                    .map(|_| {
                        serial::measure(
                            &ep,
                            RunSpec {
                                rate,
                                load,
                                format,
                                count,
                                offered: None,
                            },
                        )
                    })
                    .collect::<Result<Vec<_>>>()?;
                let case = summarize(&runs)?;
                let payload_len = load.payload(1).len() as f64;
                let label = format!(
                    "{} baud, {}, {}",
                    baud_name(baud),
                    load.name(),
                    format.name()
                );
                progress(
                    section,
                    format!(
                        "{label}: {} msg/s (ideal {}), utilisation {:.1} %, goodput {:.1} %, \
                         p50 {} ms, p99 {} ms, lost {}",
                        num(case.rate.median),
                        num(ideal),
                        case.utilisation.median,
                        case.goodput.median,
                        ms(case.latency_p50.median),
                        ms(case.latency_p99.median),
                        case.lost
                    ),
                );
                let vs_first = first.map_or_else(String::new, |f| {
                    format!("; {:.2}× {}", case.rate.median / f, Format::ALL[0].name())
                });
                report.spread(
                    "serial",
                    format!("{label}: readings/s delivered"),
                    case.rate,
                    "msg/s",
                    format!(
                        "ideal {} ({} B/s ÷ {:.1} B/msg) = {:.2}× ideal{vs_first}; lost {}",
                        num(ideal),
                        num(capacity),
                        per_msg,
                        case.rate.median / ideal,
                        case.lost
                    ),
                );
                report.spread(
                    "serial",
                    format!("{label}: link utilisation"),
                    case.utilisation,
                    "%",
                    format!(
                        "ideal 100 %; goodput {:.1} % (ideal {:.1} % = {} B payload ÷ {:.1} B/msg)",
                        case.goodput.median,
                        payload_len / per_msg * 100.0,
                        payload_len,
                        per_msg
                    ),
                );
                report.spread(
                    "serial",
                    format!("{label}: added latency p50, saturated"),
                    case.latency_p50,
                    "ms",
                    format!(
                        "p99 {} ms; ideal {} ms (one frame's wire time)",
                        ms(case.latency_p99.median),
                        ms(rate.wire_time(per_msg.ceil() as usize).as_secs_f64() * 1000.0)
                    ),
                );
                first.get_or_insert(case.rate.median);
                if baud == 115_200 && format == Format::default_format() {
                    match load {
                        Load::Small => {
                            report.summary.serial_small_msgs_per_s = Some(case.rate.median)
                        }
                        Load::Large => {
                            report.summary.serial_goodput_ratio = Some(case.goodput.median / 100.0)
                        }
                        Load::Sensor => {}
                    }
                }
            }
        }
    }
    // Added latency at a fixed offered load of 1 000 {'v': n}/s at 115 200 baud.
    let rate = LineRate::uart_8n1(115_200);
    for format in Format::ALL {
        let count = ((OFFERED_PER_S * sp.secs * 2.0) as u32).max(sp.min_count);
        let runs = (0..sp.runs)
            .map(|_| {
                serial::measure(
                    &ep,
                    RunSpec {
                        rate,
                        load: Load::Small,
                        format,
                        count,
                        offered: Some(OFFERED_PER_S),
                    },
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let case = summarize(&runs)?;
        let label = format!(
            "115 200 baud, {} offered at {}/s, {}",
            Load::Small.name(),
            num(OFFERED_PER_S),
            format.name()
        );
        progress(
            section,
            format!(
                "{label}: {} msg/s delivered, p50 {} ms, p99 {} ms",
                num(case.rate.median),
                ms(case.latency_p50.median),
                ms(case.latency_p99.median)
            ),
        );
        report.spread(
            "serial",
            format!("{label}: added latency p99"),
            case.latency_p99,
            "ms",
            format!(
                "p50 {} ms; delivered {} msg/s (goal ≥ 1 000 at p99 ≤ 15 ms); lost {}",
                ms(case.latency_p50.median),
                num(case.rate.median),
                case.lost
            ),
        );
        if format == Format::default_format() {
            report.summary.serial_small_latency_p99_ms = Some(case.latency_p99.median);
        }
    }
    backplane.shutdown()?;
    Ok(())
}
