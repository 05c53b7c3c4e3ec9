//! The `rust_banyan` Python package (`banyan-py/`) with the seed's echo scripts: each script
//! with one import changed (`from rust_banyan import BanyanBase`) against unchanged Python
//! Banyan components and Rust components, both directions, on a Rust and on a Python Banyan
//! backplane.
//!
//! `#[ignore]`d in the plain `cargo test`: the package is a wheel built after it. The CI step
//! `.ci/steps.d/50-python-package.sh` builds the wheel, installs it with python-banyan into a
//! fresh venv and runs these with `--ignored` and `BANYAN_PYTHON` set to that venv's python.
//! By hand: the same, or `maturin develop` into `.venv` and
//! `cargo test -p banyan-cli --test python_package -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use banyan_host::net::outward_ipv4;
use banyan_testkit::interop::{
    python_backplane, python_component, run_interop, rust_backplane, scripts_dir,
};
use banyan_testkit::{ChildGuard, Scenario, Step, banyan_python, ensure, in_ci, served_numbers};

/// The one line the rust_banyan copies of the seed's scripts change.
const PYTHON_IMPORT: &str = "from python_banyan.banyan_base import BanyanBase";
const RUST_IMPORT: &str = "from rust_banyan import BanyanBase";

/// The interpreter with python-banyan and rust_banyan; `None` (skip) when rust_banyan is not
/// installed, except under `CI=true`, where that fails.
fn python_with_package(test: &str) -> Option<PathBuf> {
    let python = banyan_python(test)?;
    let found = Command::new(&python)
        .args(["-c", "import rust_banyan"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found || !in_ci(),
        "rust_banyan is not importable by {} (.ci/steps.d/50-python-package.sh installs it)",
        python.display()
    );
    if !found {
        eprintln!(
            "skipping {test}: rust_banyan is not installed in {}",
            python.display()
        );
    }
    found.then_some(python)
}

/// A directory with the echo scripts' rust_banyan copies (the import line changed, checked to
/// be there once) and their unchanged helper `banyan_interop.py`.
struct RustBanyanScripts(PathBuf);

impl RustBanyanScripts {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rust-banyan-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scripts directory");
        for script in ["simple_echo_server.py", "simple_echo_client.py"] {
            let text = std::fs::read_to_string(scripts_dir().join(script)).expect("read script");
            assert_eq!(text.matches(PYTHON_IMPORT).count(), 1, "{script}'s import");
            std::fs::write(dir.join(script), text.replace(PYTHON_IMPORT, RUST_IMPORT))
                .expect("write script");
        }
        std::fs::copy(
            scripts_dir().join("banyan_interop.py"),
            dir.join("banyan_interop.py"),
        )
        .expect("copy banyan_interop.py");
        Self(dir)
    }

    /// A rust_banyan echo script as a component of the backplane at `address`. No
    /// `--prove`: rust_banyan proves its connection and each subscription by itself.
    fn component(&self, python: &Path, script: &str, address: &str, ports: &Ports) -> Command {
        let mut command = banyan_testkit::python_script(python, &self.0.join(script));
        command.args(["-b", address, "-p", &ports.0, "-s", &ports.1]);
        command
    }
}

impl Drop for RustBanyanScripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A backplane's (publisher, subscriber) ports.
struct Ports(String, String);

/// Who runs one side of the echo.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// The seed's script on python-banyan, unchanged (with `--prove`, as the interop suite).
    PythonBanyan,
    /// The seed's script with the import changed to rust_banyan.
    RustBanyan,
    /// The Rust binary (`simple-echo-server` / `simple-echo-client`).
    Rust,
}

const PAIRS: [(Side, Side); 5] = [
    (Side::RustBanyan, Side::PythonBanyan),
    (Side::PythonBanyan, Side::RustBanyan),
    (Side::RustBanyan, Side::Rust),
    (Side::Rust, Side::RustBanyan),
    (Side::RustBanyan, Side::RustBanyan),
];

fn server(
    scenario: &mut Scenario,
    side: Side,
    python: &Path,
    scripts: &RustBanyanScripts,
    ports: &Ports,
) -> Step<ChildGuard> {
    let address = outward_ipv4().to_string();
    let (command, ready) = match side {
        Side::PythonBanyan => (
            python_component(
                python,
                "simple_echo_server.py",
                &address,
                &ports.0,
                &ports.1,
            ),
            "EchoServer ready",
        ),
        Side::RustBanyan => (
            scripts.component(python, "simple_echo_server.py", &address, ports),
            "EchoServer ready",
        ),
        Side::Rust => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_simple-echo-server"));
            command.args(["-b", &address, "-p", &ports.0, "-s", &ports.1]);
            command.args(["--connect-timeout", "30"]);
            // The banner follows the proven connection and subscription.
            (command, "EchoServer using Back Plane IP address")
        }
    };
    let server = scenario.spawn(&format!("{side:?} echo server"), command)?;
    server.wait_stdout(ready)?;
    Ok(server)
}

fn client(
    scenario: &mut Scenario,
    side: Side,
    python: &Path,
    scripts: &RustBanyanScripts,
    ports: &Ports,
) -> Step<ChildGuard> {
    let address = outward_ipv4().to_string();
    let mut command = match side {
        Side::PythonBanyan => python_component(
            python,
            "simple_echo_client.py",
            &address,
            &ports.0,
            &ports.1,
        ),
        Side::RustBanyan => scripts.component(python, "simple_echo_client.py", &address, ports),
        Side::Rust => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_simple-echo-client"));
            command.args(["-b", &address, "-p", &ports.0, "-s", &ports.1]);
            command.args(["--connect-timeout", "30", "--reply-timeout", "20"]);
            command
        }
    };
    if !matches!(side, Side::Rust) {
        command.arg("--no-wait");
    }
    Ok(scenario.spawn(&format!("{side:?} echo client"), command)?)
}

/// The client said it finished and exited 0; the server served 10 down to 0.
fn check_echo(client: &mut ChildGuard, server: &ChildGuard) -> Step {
    client.wait_success()?;
    client.wait_stdout("10 messages sent and received.")?;
    server.wait_stdout("Message number: 0")?;
    let served = served_numbers(server);
    ensure(served == (0..=10).rev().collect::<Vec<i64>>(), || {
        format!("server served {served:?}")
    })
}

/// Every pair of [`PAIRS`] on a backplane started by `backplane`.
fn echo_pairs(
    test: &str,
    backplane_name: &str,
    backplane: impl Fn(&mut Scenario, &Path) -> Step<(ChildGuard, String, String)>,
) {
    let Some(python) = python_with_package(test) else {
        return;
    };
    let scripts = RustBanyanScripts::new(test);
    for (server_side, client_side) in PAIRS {
        run_interop(
            &format!("{backplane_name} backplane: {server_side:?} server + {client_side:?} client"),
            |scenario| {
                let (_backplane, publisher, subscriber) = backplane(scenario, &python)?;
                let ports = Ports(publisher, subscriber);
                let server = server(scenario, server_side, &python, &scripts, &ports)?;
                let mut client = client(scenario, client_side, &python, &scripts, &ports)?;
                check_echo(&mut client, &server)
            },
        );
    }
}

#[test]
#[ignore = "needs the rust_banyan wheel: run by .ci/steps.d/50-python-package.sh"]
fn rust_banyan_echo_scripts_on_a_rust_backplane() {
    echo_pairs(
        "rust_banyan_echo_scripts_on_a_rust_backplane",
        "rust",
        |scenario, _| rust_backplane(scenario),
    );
}

#[test]
#[ignore = "needs the rust_banyan wheel: run by .ci/steps.d/50-python-package.sh"]
fn rust_banyan_echo_scripts_on_a_python_backplane() {
    echo_pairs(
        "rust_banyan_echo_scripts_on_a_python_backplane",
        "python",
        python_backplane,
    );
}
