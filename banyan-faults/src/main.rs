//! `banyan-faults`: the fault suite (issue 11). Each fault starts real processes (the host
//! binaries next to this one, QEMU, socat), does its damage and checks that nothing the
//! design promises to keep was lost. One line per fault, then the summary:
//!
//! ```text
//! FAULT backplane-restart: survived — …
//! FAULT stalled-subscriber: NOT SURVIVED (lost 0) — …
//! FAULTS survived=N/M lost=K
//! ```
//!
//! `lost` counts messages (or echo rounds) that should have arrived and did not. A fault that
//! cannot run (a feature or tool missing) is reported as not survived, never skipped. Exit
//! status 0 only when every selected fault survived.
//!
//! ```text
//! banyan-faults [--bin-dir DIR] [--only a,b,…] [--list]
//! ```

mod hostile;
mod restarts;
mod rig;
mod subscriptions;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use rig::Bins;

/// What a fault run came to.
#[derive(Debug)]
pub struct Outcome {
    survived: bool,
    lost: u64,
    detail: String,
}

impl Outcome {
    fn survived(detail: String) -> Self {
        Self {
            survived: true,
            lost: 0,
            detail,
        }
    }

    fn failed(lost: u64, detail: String) -> Self {
        Self {
            survived: false,
            lost,
            detail,
        }
    }
}

type FaultFn = fn(&Bins) -> Result<Outcome>;

/// Every fault, in the order they run.
const FAULTS: &[(&str, FaultFn)] = &[
    ("backplane-restart", restarts::backplane_restart),
    ("echo-server-restart", restarts::echo_server_restart),
    ("gateway-restart", restarts::gateway_restart),
    ("mcu-reboot", restarts::mcu_reboot),
    ("serial-vanish", restarts::serial_vanish),
    ("serial-corruption", restarts::serial_corruption),
    ("garbage-connections", hostile::garbage_connections),
    ("stalled-subscriber", hostile::stalled_subscriber),
    ("stalled-subscriber-big", hostile::stalled_subscriber_big),
    ("huge-message", hostile::huge_message),
    ("malformed-input", hostile::malformed_input),
    ("denied-address", hostile::denied_address),
    ("subscription-flood", subscriptions::subscription_flood),
    ("many-topics-burst", subscriptions::many_topics_burst),
];

struct Options {
    bins: Bins,
    only: Option<Vec<String>>,
    list: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/debug"));
    let mut only = None;
    let mut list = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bin-dir" => dir = args.next().ok_or("--bin-dir needs a directory")?.into(),
            "--only" => {
                let names: Vec<String> = args
                    .next()
                    .ok_or("--only needs fault names")?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                for name in &names {
                    if !FAULTS.iter().any(|(n, _)| n == name) {
                        return Err(format!("unknown fault {name:?} (see --list)"));
                    }
                }
                only = Some(names);
            }
            "--list" => list = true,
            "-h" | "--help" => {
                return Err(
                    "usage: banyan-faults [--bin-dir DIR] [--only a,b,...] [--list]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(Options {
        bins: Bins { dir },
        only,
        list,
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("banyan-faults: {message}");
            return ExitCode::from(2);
        }
    };
    if options.list {
        for (name, _) in FAULTS {
            println!("{name}");
        }
        return ExitCode::SUCCESS;
    }
    let selected: Vec<_> = FAULTS
        .iter()
        .filter(|(name, _)| {
            options
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| n == name))
        })
        .collect();
    let (mut survived, mut lost) = (0, 0);
    for (name, fault) in &selected {
        let started = Instant::now();
        // A panic inside a fault is that fault's failure, not the suite's end; its guards
        // have already killed its processes while unwinding.
        let outcome = std::panic::catch_unwind(|| fault(&options.bins));
        let outcome = match outcome {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => Outcome::failed(0, format!("could not run: {error:#}")),
            Err(_) => Outcome::failed(0, "the fault's driver panicked".into()),
        };
        let took = started.elapsed();
        if outcome.survived {
            survived += 1;
            println!("FAULT {name}: survived in {took:.1?} — {}", outcome.detail);
        } else {
            lost += outcome.lost;
            println!(
                "FAULT {name}: NOT SURVIVED (lost {}) in {took:.1?} — {}",
                outcome.lost, outcome.detail
            );
        }
    }
    println!("FAULTS survived={survived}/{} lost={lost}", selected.len());
    if survived == selected.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
