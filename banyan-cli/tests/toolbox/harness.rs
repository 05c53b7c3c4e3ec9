//! Process harness of the toolbox tests (launcher.rs, mqtt.rs): the interop suite's harness as it
//! was before its move to banyan-testkit, kept here until these tests are migrated too.
//!
//! Process harness for the Python interoperability tests: finds a Python with python-banyan,
//! spawns processes with captured output, waits for lines and exits against one deadline,
//! kills every process by handle on drop (also while unwinding from a panic), and on failure
//! panics with the captured stdout/stderr of every process of the scenario.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long a whole scenario may take before it fails.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// What a scenario step returns: an error is a sentence saying what did not happen.
pub type Step<T = ()> = Result<T, String>;

/// Fails the step with `message` unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Step {
    if condition { Ok(()) } else { Err(message()) }
}

/// The directory holding the Python scripts.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// Only one interoperability scenario runs at a time: Python components started without `-b`
/// scan every process with psutil and crash on a zombie or a process that vanishes during the
/// scan (python-banyan 3.17 catches only `AccessDenied` around `cmdline()`), and exited,
/// not yet reaped children of a parallel scenario are exactly that. It also keeps the
/// 2-core CI machines from starting a dozen Python interpreters at once.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The Python interpreter with python-banyan importable: `$BANYAN_PYTHON`, else the
/// repository's `.venv/bin/python` (what `.ci/run` creates). `None` (after printing why to
/// stderr) when there is none and `CI` is not `true`; under `CI=true` a missing
/// python-banyan is a test failure, not a skip.
pub fn banyan_python(test: &str) -> Option<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find_python) {
        Ok(python) => Some(python.clone()),
        Err(reason) => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "python-banyan not installed: run .ci/run's setup or set BANYAN_PYTHON ({reason})"
            );
            eprintln!(
                "skipping {test}: {reason}; set BANYAN_PYTHON to a python with python-banyan"
            );
            None
        }
    }
}

fn find_python() -> Result<PathBuf, String> {
    let candidate = match std::env::var_os("BANYAN_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
    };
    let output = Command::new(&candidate)
        .args([
            "-c",
            "import python_banyan.banyan_base, msgpack, zmq, psutil",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", candidate.display()))?;
    if output.status.success() {
        Ok(candidate)
    } else {
        Err(format!(
            "{} cannot import python_banyan: {}",
            candidate.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Two TCP ports that were free on all IPv4 interfaces a moment ago, for a backplane that
/// needs explicit ports (Python's).
pub fn free_port_pair() -> (u16, u16) {
    let a = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind a free port");
    let b = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind a free port");
    let ports = (
        a.local_addr().expect("local addr").port(),
        b.local_addr().expect("local addr").port(),
    );
    drop((a, b));
    ports
}

/// A `python -u SCRIPT` command for a script in [`scripts_dir`].
pub fn python_script(python: &Path, script: &str) -> Command {
    let mut command = Command::new(python);
    command.arg("-u").arg(scripts_dir().join(script));
    command.env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// A `python -u -m MODULE` command.
pub fn python_module(python: &Path, module: &str) -> Command {
    let mut command = Command::new(python);
    command.args(["-u", "-m", module]);
    command.env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// The captured output of one process.
#[derive(Default)]
struct LogState {
    stdout: Vec<String>,
    stderr: Vec<String>,
    open_streams: usize,
}

#[derive(Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

impl Log {
    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn dump(&self, name: &str, out: &mut String) {
        let state = self.lock();
        out.push_str(&format!("----- {name}: stdout -----\n"));
        for line in &state.stdout {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&format!("----- {name}: stderr -----\n"));
        for line in &state.stderr {
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn capture(stream: impl Read + Send + 'static, log: Arc<Log>, stderr: bool) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    let mut state = log.lock();
                    if stderr {
                        state.stderr.push(text);
                    } else {
                        state.stdout.push(text);
                    }
                    log.changed.notify_all();
                }
            }
        }
        log.lock().open_streams -= 1;
        log.changed.notify_all();
    });
}

/// A spawned process; killed (SIGKILL) and reaped on drop.
pub struct Proc {
    name: String,
    child: Child,
    log: Arc<Log>,
    deadline: Instant,
}

impl Proc {
    /// The first stdout line containing `needle`, waiting for it until the scenario deadline.
    /// Fails early when the process closed its output without printing it.
    pub fn wait_stdout(&self, needle: &str) -> Step<String> {
        let mut state = self.log.lock();
        loop {
            if let Some(line) = state.stdout.iter().find(|line| line.contains(needle)) {
                return Ok(line.clone());
            }
            if state.open_streams == 0 {
                return Err(format!(
                    "{} ended its output without printing {needle:?}",
                    self.name
                ));
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(format!("{} did not print {needle:?} in time", self.name));
            }
            state = self
                .log
                .changed
                .wait_timeout(state, self.deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Waits until the process exits (until the scenario deadline) and its output is read.
    pub fn wait_exit(&mut self) -> Step<ExitStatus> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.wait_output_closed();
                    return Ok(status);
                }
                Ok(None) if Instant::now() >= self.deadline => {
                    return Err(format!("{} did not exit in time", self.name));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(error) => return Err(format!("{}: wait failed: {error}", self.name)),
            }
        }
    }

    /// Waits for a successful exit.
    pub fn wait_success(&mut self) -> Step {
        let status = self.wait_exit()?;
        ensure(status.success(), || {
            format!("{} exited with {status}", self.name)
        })
    }

    /// The process id.
    #[allow(dead_code)] // used by tests/launcher.rs, which includes this file too
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `true` while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Every stdout line so far.
    pub fn stdout(&self) -> Vec<String> {
        self.log.lock().stdout.clone()
    }

    /// Every stderr line so far.
    pub fn stderr(&self) -> Vec<String> {
        self.log.lock().stderr.clone()
    }

    /// The number printed after `label` on the first stdout line containing `label`
    /// (banner lines such as `Publisher  Port = 40213`).
    pub fn number_after(&self, label: &str) -> Step<u16> {
        let line = self.wait_stdout(label)?;
        line.rsplit(label)
            .next()
            .and_then(|rest| rest.trim().parse().ok())
            .ok_or_else(|| format!("{}: no number after {label:?} in {line:?}", self.name))
    }

    fn wait_output_closed(&self) {
        // Bounded: a grandchild could keep a pipe open.
        let until = Instant::now() + Duration::from_secs(2);
        let mut state = self.log.lock();
        while state.open_streams > 0 {
            let now = Instant::now();
            if now >= until {
                break;
            }
            state = self
                .log
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.wait_output_closed();
    }
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

    /// Spawns `command` (stdin closed, stdout/stderr captured) as `name`.
    pub fn spawn(&mut self, name: &str, mut command: Command) -> Step<Proc> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot spawn {name} ({command:?}): {error}"))?;
        let log = Arc::new(Log::default());
        log.lock().open_streams = 2;
        if let Some(stdout) = child.stdout.take() {
            capture(stdout, log.clone(), false);
        }
        if let Some(stderr) = child.stderr.take() {
            capture(stderr, log.clone(), true);
        }
        self.logs.push((name.to_owned(), log.clone()));
        Ok(Proc {
            name: name.to_owned(),
            child,
            log,
            deadline: self.deadline,
        })
    }
}

/// Runs `body` as scenario `name`: processes it spawns are killed when it returns or panics;
/// an error or panic fails the test with every process's captured output.
pub fn run_scenario(name: &str, body: impl FnOnce(&mut Scenario) -> Step) {
    let _serial = serial();
    let mut scenario = Scenario {
        deadline: Instant::now() + SCENARIO_TIMEOUT,
        logs: Vec::new(),
    };
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&mut scenario)));
    let mut report = String::new();
    for (process, log) in &scenario.logs {
        log.dump(process, &mut report);
    }
    match outcome {
        Ok(Ok(())) => {
            eprintln!("{name}: passed in {:.2?}", started.elapsed());
        }
        Ok(Err(error)) => {
            panic!(
                "{name} failed after {:.2?}: {error}\n{report}",
                started.elapsed()
            )
        }
        Err(panic) => {
            eprintln!(
                "{name} panicked after {:.2?}; process output:\n{report}",
                started.elapsed()
            );
            resume_unwind(panic)
        }
    }
}

/// Decodes lower-case or upper-case hex (as printed by Python's `bytes.hex()`).
pub fn unhex(text: &str) -> Step<Vec<u8>> {
    let text = text.trim();
    ensure(text.len().is_multiple_of(2), || {
        format!("odd-length hex: {text:?}")
    })?;
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(text.get(i..i + 2).unwrap_or("?"), 16)
                .map_err(|error| format!("bad hex at {i}: {error}"))
        })
        .collect()
}

/// Where two byte strings first differ, with a few bytes of context from each.
pub fn byte_difference(actual: &[u8], expected: &[u8]) -> String {
    let at = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    let from = at.saturating_sub(8);
    let window = |bytes: &[u8]| {
        bytes
            .get(from..(at + 8).min(bytes.len()))
            .unwrap_or(&[])
            .to_vec()
    };
    format!(
        "lengths {} vs {}, first difference at byte {at}; from byte {from}: {:02x?} vs {:02x?}",
        actual.len(),
        expected.len(),
        window(actual),
        window(expected)
    )
}
