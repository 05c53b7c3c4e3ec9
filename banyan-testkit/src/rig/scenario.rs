//! [`run_scenario`]: one test's processes under one deadline, run one scenario at a time, with
//! every process's output printed when the test fails.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::process::{ChildGuard, Log};

/// What a scenario step returns: an error is a sentence saying what did not happen. The kit's
/// [`Error`](crate::Error) converts into it with `?`.
pub type Step<T = ()> = std::result::Result<T, String>;

/// Fails the step with `message` unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Step {
    if condition { Ok(()) } else { Err(message()) }
}

/// Holds a process-wide lock so scenarios of one test binary run one at a time. Needed for
/// Python components (python-banyan 3.17's psutil scan crashes on a zombie or a process that
/// vanishes during the scan — exactly what a parallel scenario's children are) and kind to
/// the 2-core machines.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One test's processes and deadline.
pub struct Scenario {
    deadline: Instant,
    logs: Vec<(String, Arc<Log>)>,
}

impl Scenario {
    /// The instant by which everything must have happened.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left until the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Spawns `command` as `name` ([`ChildGuard::spawn`]) with the scenario's deadline; its
    /// output is part of the failure report.
    pub fn spawn(&mut self, name: &str, command: Command) -> Result<ChildGuard> {
        let mut child = ChildGuard::spawn(name, command)?;
        child.set_deadline(self.deadline);
        self.logs.push((name.to_owned(), child.log()));
        Ok(child)
    }

    /// Every process's output so far, under headers.
    pub fn report(&self) -> String {
        let mut report = String::new();
        for (process, log) in &self.logs {
            log.dump(process, &mut report);
        }
        report
    }
}

/// What python-banyan 3.17 prints when its start-up process scan trips over a process that is
/// a zombie or exits during the scan (it only catches `AccessDenied` around `cmdline()`; see
/// FACTS.md). It says nothing about the code under test.
pub const PSUTIL_SCAN_CRASHES: [&str; 2] = ["psutil.ZombieProcess", "psutil.NoSuchProcess"];

/// Like [`run_scenario`], for scenarios that start Python Banyan components *without* `-b`
/// (which scan the process table at start-up): an attempt whose only failure is python-banyan's
/// own process-scan crash ([`PSUTIL_SCAN_CRASHES`]) — a zombie of some unrelated process on
/// the machine — is run again, up to six attempts in all, each with a fresh `timeout`, after
/// a pause that grows with each attempt (0.25 s, 0.5 s, 1 s, 2 s, 4 s): a zombie lives until
/// its parent reaps it, which a busy parent (a build, another test, Wine) may take seconds to
/// do, and attempts in quick succession met the same zombie (seen in CI rehearsals, once for
/// 2 s beside a Wine run). Any other failure fails at once, with every process's output.
pub fn run_python_scenario(
    name: &str,
    timeout: Duration,
    mut body: impl FnMut(&mut Scenario) -> Step,
) {
    const ATTEMPTS: u32 = 6;
    for attempt in 1..=ATTEMPTS {
        let retry = |report: &str| {
            attempt < ATTEMPTS && PSUTIL_SCAN_CRASHES.iter().any(|c| report.contains(c))
        };
        if attempt_scenario(name, timeout, &mut body, retry) {
            return;
        }
        let pause = Duration::from_millis(250) * 2u32.pow(attempt - 1);
        eprintln!(
            "{name}: attempt {attempt} hit python-banyan's process-scan crash; again in {pause:?}"
        );
        std::thread::sleep(pause);
    }
}

/// Runs `body` as scenario `name` within `timeout`, holding [`serial`]: processes it spawns
/// are killed when it returns or panics (they are [`ChildGuard`]s); an error or a panic fails
/// the test with every process's captured output.
pub fn run_scenario(name: &str, timeout: Duration, body: impl FnOnce(&mut Scenario) -> Step) {
    let mut body = Some(body);
    let once = |scenario: &mut Scenario| match body.take() {
        Some(body) => body(scenario),
        None => Err("scenario body already ran".to_owned()),
    };
    attempt_scenario(name, timeout, once, |_| false);
}

/// One run of a scenario: `true` when it passed, `false` when it failed with an error for
/// which `retry(report)` holds; any other failure panics with every process's output.
fn attempt_scenario(
    name: &str,
    timeout: Duration,
    mut body: impl FnMut(&mut Scenario) -> Step,
    retry: impl Fn(&str) -> bool,
) -> bool {
    let _serial = serial();
    let mut scenario = Scenario {
        deadline: Instant::now() + timeout,
        logs: Vec::new(),
    };
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&mut scenario)));
    let report = scenario.report();
    match outcome {
        Ok(Ok(())) => {
            eprintln!("{name}: passed in {:.2?}", started.elapsed());
            true
        }
        Ok(Err(error)) if retry(&report) => {
            eprintln!("{name}: failed ({error}), retrying");
            false
        }
        Ok(Err(error)) => panic!(
            "{name} failed after {:.2?}: {error}\n{report}",
            started.elapsed()
        ),
        Err(panic) => {
            eprintln!(
                "{name} panicked after {:.2?}; process output:\n{report}",
                started.elapsed()
            );
            resume_unwind(panic)
        }
    }
}
