//! Finding the Python with python-banyan, and the rule for tools a test needs.
//!
//! The interpreter is `$BANYAN_PYTHON` if set, else `<repo>/.venv/bin/python` (what `.ci/run`
//! creates). A test that needs it calls [`banyan_python`]: under `CI=true` a missing
//! python-banyan **fails** the test; elsewhere the test prints why it skips and returns.
//! [`require_tool`] applies the same rule to a program on `PATH` (qemu, socat, mosquitto).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Modules a usable interpreter must import.
const REQUIRED_MODULES: &str = "import python_banyan.banyan_base, msgpack, zmq, psutil";

/// The repository's root directory (the workspace this crate belongs to).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `true` when running under CI (`CI=true` or `CI=1`): missing tools are failures there.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The interpreter to try: `$BANYAN_PYTHON`, else `<repo>/.venv/bin/python`.
pub fn python_candidate() -> PathBuf {
    match std::env::var_os("BANYAN_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => repo_root().join(".venv/bin/python"),
    }
}

/// The interpreter with python-banyan (and msgpack, pyzmq, psutil) importable, or why there
/// is none. Checked once per process.
pub fn find_banyan_python() -> Result<PathBuf> {
    static FOUND: OnceLock<std::result::Result<PathBuf, (PathBuf, String)>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let python = python_candidate();
            let output = Command::new(&python)
                .args(["-c", REQUIRED_MODULES])
                .stdin(Stdio::null())
                .output();
            match output {
                Err(error) => Err((python, format!("cannot run it: {error}"))),
                Ok(out) if out.status.success() => Ok(python),
                Ok(out) => {
                    let why = String::from_utf8_lossy(&out.stderr);
                    let last = why.trim().lines().last().unwrap_or("").to_owned();
                    Err((python, format!("cannot import python-banyan: {last}")))
                }
            }
        })
        .clone()
        .map_err(|(python, reason)| Error::NoPython { python, reason })
}

/// The python-banyan interpreter for test `test`. `None` (after printing why the test skips)
/// when there is none; **panics** (fails the test) instead when [`in_ci`].
pub fn banyan_python(test: &str) -> Option<PathBuf> {
    match find_banyan_python() {
        Ok(python) => Some(python),
        Err(error) => {
            assert!(
                !in_ci(),
                "python-banyan is required under CI=true: {error} (run .ci/run's setup or set \
                 BANYAN_PYTHON)"
            );
            eprintln!("skipping {test}: {error}; set BANYAN_PYTHON to a python with python-banyan");
            None
        }
    }
}

/// Whether `python` has the `websockets` package (the Python page of the WebSocket tests).
/// `false` (after printing why test `test` skips) when it has not; **panics** instead when
/// [`in_ci`] (CI installs it: `.ci/pip.d/web.txt`).
pub fn python_websockets(python: &Path, test: &str) -> bool {
    let websockets = Command::new(python)
        .args(["-c", "import websockets.sync.client"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        websockets || !in_ci(),
        "the Python `websockets` package is missing (.ci/pip.d/web.txt)"
    );
    if !websockets {
        eprintln!("skipping {test}: the Python `websockets` package is not installed");
    }
    websockets
}

/// Where Debian installs daemons (mosquitto), often not on a user's `PATH`.
const SBIN: [&str; 2] = ["/usr/sbin", "/usr/local/sbin"];

/// `program` found on `PATH`, else in `/usr/sbin` or `/usr/local/sbin` (or an existing path as
/// given).
pub fn find_tool(program: &str) -> Option<PathBuf> {
    let given = Path::new(program);
    if given.components().count() > 1 {
        return given.is_file().then(|| given.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `program` for test `test`: `None` (after printing a skip reason) when it is not installed;
/// **panics** (fails the test) instead when [`in_ci`], where `.ci/apt.d` installs it.
pub fn require_tool(test: &str, program: &str) -> Option<PathBuf> {
    match find_tool(program) {
        Some(path) => Some(path),
        None => {
            assert!(
                !in_ci(),
                "{program} is required under CI=true (list it in .ci/apt.d)"
            );
            eprintln!("skipping {test}: {program} is not installed");
            None
        }
    }
}

/// `python -u SCRIPT` (no `.pyc` files written).
pub fn python_script(python: &Path, script: &Path) -> Command {
    let mut command = Command::new(python);
    command.arg("-u").arg(script);
    command.env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// `python -u -m MODULE`.
pub fn python_module(python: &Path, module: &str) -> Command {
    let mut command = Command::new(python);
    command.args(["-u", "-m", module]);
    command.env("PYTHONDONTWRITEBYTECODE", "1");
    command
}
