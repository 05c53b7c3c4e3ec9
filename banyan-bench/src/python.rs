//! The Python Banyan anchor: python-banyan's own backplane and `BanyanBase` components
//! (scripts in `banyan-bench/python/`), measured the same way as the Rust ones; the same
//! scripts on rust_banyan's `BanyanBase` ([`Flavour`]) beside them.
//!
//! Python binds and connects to the machine's outward IPv4 address
//! ([`banyan_host::net::outward_ipv4`]); every script gets that address with `-b`, so no
//! psutil scan happens. Every process started here is a [`ChildGuard`]: killed on drop.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use banyan_testkit::{ChildGuard, free_port_pair, wait_listening};

/// How long one Python step (start, a run) may take before it is an error.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Which `BanyanBase` the scripts subclass (`bench_common.py`'s `BANYAN_BENCH_IMPL`), and
/// its loop time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flavour {
    /// `true`: rust_banyan's `BanyanBase` (the scripts with one import changed); `false`:
    /// python-banyan's.
    pub rust_banyan: bool,
    /// `loop_time` in seconds; `None`: the default, 0.1 s.
    pub loop_time: Option<f64>,
}

impl Flavour {
    /// python-banyan with its defaults.
    pub const PYTHON: Self = Self {
        rust_banyan: false,
        loop_time: None,
    };
    /// python-banyan with `loop_time=0.001`, the users' workaround for the idle sleep.
    pub const PYTHON_FAST_LOOP: Self = Self {
        rust_banyan: false,
        loop_time: Some(0.001),
    };
    /// rust_banyan with its defaults.
    pub const RUST_BANYAN: Self = Self {
        rust_banyan: true,
        loop_time: None,
    };

    /// How the report names it.
    pub fn label(&self) -> String {
        let base = if self.rust_banyan {
            "rust_banyan"
        } else {
            "python_banyan"
        };
        format!("{base} (loop_time {} s)", self.loop_time.unwrap_or(0.1))
    }
}

/// A Python interpreter with python-banyan importable, and where its scripts are.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    /// The interpreter.
    pub python: PathBuf,
    /// The directory of this crate's Python scripts.
    pub scripts: PathBuf,
    /// The address Python binds and connects to.
    pub address: IpAddr,
    /// The implementation the scripts use.
    pub flavour: Flavour,
}

impl PythonEnv {
    /// The python-banyan interpreter ([`banyan_testkit::find_banyan_python`]:
    /// `$BANYAN_PYTHON`, else the repository's `.venv/bin/python`); `Err` says why it cannot
    /// import python-banyan.
    pub fn find() -> Result<Self> {
        let python = banyan_testkit::find_banyan_python()?;
        Ok(Self {
            python,
            scripts: Path::new(env!("CARGO_MANIFEST_DIR")).join("python"),
            address: banyan_host::net::outward_ipv4(),
            flavour: Flavour::PYTHON,
        })
    }

    /// This environment with the scripts on `flavour`.
    pub fn with(&self, flavour: Flavour) -> Self {
        Self {
            flavour,
            ..self.clone()
        }
    }

    /// Whether the interpreter can import rust_banyan (the `banyan-py` package); `Err` says
    /// why not.
    pub fn rust_banyan(&self) -> std::result::Result<(), String> {
        let output = Command::new(&self.python)
            .args(["-c", "import rust_banyan"])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|error| format!("cannot run {}: {error}", self.python.display()))?;
        if output.status.success() {
            return Ok(());
        }
        let why = String::from_utf8_lossy(&output.stderr);
        Err(why.trim().lines().last().unwrap_or("").to_owned())
    }

    /// `python -u SCRIPT -b ADDR -p P -s S ARGS...`.
    pub fn script(&self, script: &str, backplane: &PyBackplane, args: &[String]) -> Command {
        let mut command = banyan_testkit::python_script(&self.python, &self.scripts.join(script));
        command
            .arg("-b")
            .arg(self.address.to_string())
            .arg("-p")
            .arg(backplane.publisher_port.to_string())
            .arg("-s")
            .arg(backplane.subscriber_port.to_string())
            .args(args);
        command.env(
            "BANYAN_BENCH_IMPL",
            if self.flavour.rust_banyan {
                "rust_banyan"
            } else {
                "python_banyan"
            },
        );
        match self.flavour.loop_time {
            Some(seconds) => command.env("BANYAN_BENCH_LOOP_TIME", seconds.to_string()),
            None => command.env_remove("BANYAN_BENCH_LOOP_TIME"),
        };
        command
    }

    /// Starts python-banyan's `backplane` on two free ports and waits until both listen.
    pub fn backplane(&self) -> Result<PyBackplane> {
        let (publisher_port, subscriber_port) = free_port_pair()?;
        let script = self.python.with_file_name("backplane");
        let mut command = if script.is_file() {
            let mut command = Command::new(&self.python);
            command.arg(script);
            command
        } else {
            let mut command = Command::new(&self.python);
            command.args([
                "-c",
                "import sys; sys.argv[0] = 'backplane'; \
                 from python_banyan.backplane.backplane import bp; bp()",
            ]);
            command
        };
        command
            .arg("-p")
            .arg(publisher_port.to_string())
            .arg("-s")
            .arg(subscriber_port.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let child = ChildGuard::spawn("python backplane", command)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        wait_listening(self.address, publisher_port, deadline)
            .and_then(|()| wait_listening(self.address, subscriber_port, deadline))
            .with_context(|| format!("python backplane: {}", child.stderr_tail()))?;
        Ok(PyBackplane {
            _child: child,
            publisher_port,
            subscriber_port,
        })
    }

    /// Starts Rust Banyan's `backplane` binary (next to this one) on ports it picks, on all
    /// interfaces (the address Python connects to included).
    pub fn rust_backplane(&self) -> Result<PyBackplane> {
        let mut command = Command::new(crate::procs::sibling_exe("backplane")?);
        command.args(["-p", "0", "-s", "0"]);
        let child = ChildGuard::spawn("rust backplane", command)?;
        let (publisher_port, subscriber_port) = banyan_testkit::backplane_ports(&child)?;
        Ok(PyBackplane {
            _child: child,
            publisher_port,
            subscriber_port,
        })
    }
}

/// A running backplane process, python-banyan's or Rust Banyan's (killed on drop).
#[derive(Debug)]
pub struct PyBackplane {
    _child: ChildGuard,
    /// Port components publish to.
    pub publisher_port: u16,
    /// Port components subscribe on.
    pub subscriber_port: u16,
}

/// One Python throughput run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyThroughput {
    /// Messages published.
    pub sent: u64,
    /// Messages received.
    pub received: u64,
    /// From the publisher's first publish to the subscriber's last message (wall clocks of
    /// the two processes, which share the machine's clock).
    pub elapsed: Duration,
}

impl PyThroughput {
    /// Received messages per second.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn field<T: std::str::FromStr>(line: &str, key: &str) -> Result<T> {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .ok_or_else(|| anyhow!("no {key}= in `{line}`"))?
        .parse()
        .map_err(|_| anyhow!("bad {key}= in `{line}`"))
}

/// `{'msg': i}` for `i in 0..count` from a Python publisher to a Python subscriber through
/// the Python backplane, both `BanyanBase` components with default settings.
pub fn throughput_run(
    env: &PythonEnv,
    backplane: &PyBackplane,
    count: u64,
    quiet: Duration,
) -> Result<PyThroughput> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut subscriber = ChildGuard::spawn(
        "python subscriber",
        env.script(
            "bench_sub.py",
            backplane,
            &[
                "--count".into(),
                count.to_string(),
                "--quiet".into(),
                quiet.as_secs_f64().to_string(),
            ],
        ),
    )?;
    subscriber.wait_line_until("READY", deadline)?;
    let mut publisher = ChildGuard::spawn(
        "python publisher",
        env.script(
            "bench_pub.py",
            backplane,
            &["--count".into(), count.to_string()],
        ),
    )?;
    let start: f64 = field(&publisher.wait_line_until("START", deadline)?, "t")?;
    let result = subscriber.wait_line_until("RESULT", deadline)?;
    let received: u64 = field(&result, "received")?;
    let last: f64 = field(&result, "last")?;
    publisher.wait_line_until("DONE", deadline)?;
    Ok(PyThroughput {
        sent: count,
        received,
        elapsed: Duration::from_secs_f64((last - start).max(0.0)),
    })
}

/// A running Python echo server (the seed's, on `BanyanBase` with its default loop time).
#[derive(Debug)]
pub struct PyEchoServer {
    _child: ChildGuard,
}

impl PyEchoServer {
    /// Starts the server and waits until it subscribed.
    pub fn start(env: &PythonEnv, backplane: &PyBackplane) -> Result<Self> {
        let mut child = ChildGuard::spawn(
            "python echo server",
            env.script("bench_echo_server.py", backplane, &[]),
        )?;
        child.wait_line_until("READY", Instant::now() + STEP_TIMEOUT)?;
        Ok(Self { _child: child })
    }
}

/// One Python echo client process: `warmup` round trips, then `count` measured ones, in
/// microseconds. The server must be running.
pub fn echo_run(
    env: &PythonEnv,
    backplane: &PyBackplane,
    warmup: u32,
    count: u32,
) -> Result<Vec<f64>> {
    let mut client = ChildGuard::spawn(
        "python echo client",
        env.script(
            "bench_echo_client.py",
            backplane,
            &[
                "--warmup".into(),
                warmup.to_string(),
                "--count".into(),
                count.to_string(),
            ],
        ),
    )?;
    let line = client.wait_line_until("RTT_US", Instant::now() + STEP_TIMEOUT)?;
    let times = line
        .split_whitespace()
        .map(|t| {
            t.parse::<f64>()
                .map_err(|_| anyhow!("bad RTT_US value `{t}`"))
        })
        .collect::<Result<Vec<_>>>()?;
    if times.len() != count as usize {
        bail!(
            "python echo client reported {} round trips of {count}",
            times.len()
        );
    }
    Ok(times)
}

/// Starts a Python component that idles in `receive_loop` after connecting; returns it once
/// it printed `READY`, with the time from spawn to that line.
pub fn idle_component(
    env: &PythonEnv,
    backplane: &PyBackplane,
    exit_when_ready: bool,
) -> Result<(ChildGuard, Duration)> {
    let args = if exit_when_ready {
        vec!["--exit".to_owned()]
    } else {
        Vec::new()
    };
    let start = Instant::now();
    let mut child = ChildGuard::spawn(
        "python idle component",
        env.script("bench_idle.py", backplane, &args),
    )?;
    child.wait_line_until("READY", start + STEP_TIMEOUT)?;
    Ok((child, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_fields() {
        let line = "received=100 first=12.5 last=13.25";
        assert_eq!(field::<u64>(line, "received").unwrap(), 100);
        assert_eq!(field::<f64>(line, "last").unwrap(), 13.25);
        assert!(field::<u64>(line, "sent").is_err());
        assert!(field::<u64>("received=x", "received").is_err());
    }
}
