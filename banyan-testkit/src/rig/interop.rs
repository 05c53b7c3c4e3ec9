//! The Python interop rig: the interop scripts (`banyan-cli/tests/python/`), the Rust and
//! Python backplanes as scenario processes, Python components proving their path, and the
//! byte comparisons the suites print on a mismatch. Used by banyan-cli's interop, launcher,
//! MQTT, OneGPIO, ws-gateway and Wine suites (it was a second kit they each included).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{ChildGuard, backplane_ports, cargo_bin};
use crate::python::{python_module, repo_root};
use crate::scenario::{Scenario, Step, ensure, run_python_scenario};

/// How long a whole interop scenario may take before it fails.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// The directory holding the interop suites' Python scripts.
pub fn scripts_dir() -> PathBuf {
    repo_root().join("banyan-cli/tests/python")
}

/// A `python -u SCRIPT` command for a script of [`scripts_dir`].
pub fn interop_script(python: &Path, name: &str) -> Command {
    crate::python::python_script(python, &scripts_dir().join(name))
}

/// A script of [`scripts_dir`] as a component of the backplane at `address` (`-b`, `-p`, `-s`),
/// told to prove its path before it starts (`--prove`: the echo scripts' flag to publish
/// probes until one comes back, instead of the seed's fixed sleep).
pub fn python_component(
    python: &Path,
    name: &str,
    address: &str,
    publisher: &str,
    subscriber: &str,
) -> Command {
    let mut command = interop_script(python, name);
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
    let mut device = interop_script(python, "ws_device.py");
    device.args(["-b", "127.0.0.1", "-p", publisher, "-s", subscriber]);
    let device = scenario.spawn("python ws_device", device)?;
    device.wait_stdout("ready")?;
    let mut page = interop_script(python, "ws_page.py");
    page.arg(format!("ws://{gateway}/"));
    let mut page = scenario.spawn("python ws_page", page)?;
    page.wait_success()?;
    page.wait_stdout("PAGE OK")?;
    Ok(())
}

/// Runs `body` as scenario `name` within [`SCENARIO_TIMEOUT`] (see [`run_python_scenario`]:
/// an attempt that only hit python-banyan's own process-scan crash is run again).
pub fn run_interop(name: &str, body: impl FnMut(&mut Scenario) -> Step) {
    run_python_scenario(name, SCENARIO_TIMEOUT, body);
}

/// Starts the Rust `backplane` binary (built beside the test) on OS-chosen ports (default
/// bind `0.0.0.0`); returns it with its (publisher, subscriber) ports read from its banner.
pub fn rust_backplane(scenario: &mut Scenario) -> Step<(ChildGuard, String, String)> {
    let program = cargo_bin("backplane")
        .ok_or("no `backplane` binary beside the test (build banyan-cli's binaries)")?;
    let mut command = Command::new(program);
    command.args(["-p", "0", "-s", "0"]);
    let backplane = scenario.spawn("rust backplane", command)?;
    let (publisher, subscriber) = backplane_ports(&backplane)?;
    Ok((backplane, publisher.to_string(), subscriber.to_string()))
}

/// Starts python-banyan's backplane (it binds the outward address only) on free ports.
pub fn python_backplane(
    scenario: &mut Scenario,
    python: &Path,
) -> Step<(ChildGuard, String, String)> {
    let (publisher, subscriber) = crate::ports::free_port_pair()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_either_case_decodes_and_bad_hex_is_an_error() {
        assert_eq!(unhex("81aE0a\n").unwrap(), [0x81, 0xae, 0x0a]);
        assert!(unhex("abc").unwrap_err().contains("odd-length"));
        assert!(unhex("zz").unwrap_err().contains("bad hex at 0"));
    }

    #[test]
    fn the_first_difference_is_located() {
        let text = byte_difference(&[1, 2, 3], &[1, 9, 3, 4]);
        assert!(
            text.starts_with("lengths 3 vs 4, first difference at byte 1"),
            "{text}"
        );
    }
}
