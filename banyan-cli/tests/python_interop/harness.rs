//! The interop suites' own helpers (their script directory, the Rust and Python backplanes,
//! hex comparison), shared by `python_interop.rs` and `python_aio.rs`. Processes, scenarios,
//! ports and the Python lookup come from `banyan-testkit`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use banyan_testkit::{
    ChildGuard as Proc, Scenario, Step, backplane_ports, banyan_python, ensure, python_module,
};

/// How long a whole scenario may take before it fails.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// The directory holding the Python scripts.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// A `python -u SCRIPT` command for a script in [`scripts_dir`].
pub fn python_script(python: &Path, script: &str) -> Command {
    banyan_testkit::python_script(python, &scripts_dir().join(script))
}

/// A script of [`scripts_dir`] as a component of the backplane at `address` (`-b`, `-p`, `-s`),
/// told to prove its path before it starts (`--prove`: the echo scripts' flag to publish
/// probes until one comes back, instead of the seed's fixed sleep).
pub fn python_component(
    python: &Path,
    script: &str,
    address: &str,
    publisher: &str,
    subscriber: &str,
) -> Command {
    let mut command = python_script(python, script);
    command.args(["-b", address, "-p", publisher, "-s", subscriber, "--prove"]);
    command
}

/// A Python Banyan component (`ws_device.py`) on the loopback backplane and a Python page
/// (`ws_page.py`, the `websockets` package) on the ws-gateway at `gateway` (host:port): the
/// page checks the shapes of Python's `ws_gateway.py` both ways and prints `PAGE OK`.
pub fn ws_page_and_device(
    scenario: &mut Scenario,
    python: &Path,
    gateway: &str,
    publisher: &str,
    subscriber: &str,
) -> Step {
    let mut device = python_script(python, "ws_device.py");
    device.args(["-b", "127.0.0.1", "-p", publisher, "-s", subscriber]);
    let device = scenario.spawn("python ws_device", device)?;
    device.wait_stdout("ready")?;
    let mut page = python_script(python, "ws_page.py");
    page.arg(format!("ws://{gateway}/"));
    let mut page = scenario.spawn("python ws_page", page)?;
    page.wait_success()?;
    page.wait_stdout("PAGE OK")?;
    Ok(())
}

/// Two TCP ports free on all IPv4 interfaces a moment ago (for Python's backplane).
pub fn free_port_pair() -> (u16, u16) {
    banyan_testkit::free_port_pair().expect("two free ports")
}

/// Runs `body` as scenario `name` within [`SCENARIO_TIMEOUT`] (see
/// [`banyan_testkit::run_python_scenario`]: an attempt that only hit python-banyan's own
/// process-scan crash is run again).
pub fn run_scenario(name: &str, body: impl FnMut(&mut Scenario) -> Step) {
    banyan_testkit::run_python_scenario(name, SCENARIO_TIMEOUT, body);
}

/// Starts the Rust `backplane` binary on OS-chosen ports (default bind `0.0.0.0`); returns it
/// with its (publisher, subscriber) ports read from its banner.
pub fn rust_backplane(scenario: &mut Scenario) -> Step<(Proc, String, String)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backplane"));
    command.args(["-p", "0", "-s", "0"]);
    let backplane = scenario.spawn("rust backplane", command)?;
    let (publisher, subscriber) = backplane_ports(&backplane)?;
    let (publisher, subscriber) = (publisher.to_string(), subscriber.to_string());
    Ok((backplane, publisher, subscriber))
}

/// Starts python-banyan's backplane (it binds the outward address only) on free ports.
pub fn python_backplane(
    scenario: &mut Scenario,
    python: &std::path::Path,
) -> Step<(Proc, String, String)> {
    let (publisher, subscriber) = free_port_pair();
    let (publisher, subscriber) = (publisher.to_string(), subscriber.to_string());
    let mut command = python_module(python, "python_banyan.backplane.backplane");
    command.args(["-p", &publisher, "-s", &subscriber]);
    let backplane = scenario.spawn("python backplane", command)?;
    // The banner is printed just before the sockets are bound; components retry connecting.
    backplane.wait_stdout("Loop Time")?;
    Ok((backplane, publisher, subscriber))
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
