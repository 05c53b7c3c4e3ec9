//! `bls`/`blc`/`blk` as a user runs them: a launch file starting a backplane, an echo server
//! (auto-restart) and an echo client; a killed server comes back; `blk`, SIGTERM and Ctrl-C
//! leave no process behind (checked by PID); a bad launch file is named by line and column.
//! Interop with python-banyan's `bls`/`blc` in both directions (skipped without Python,
//! failing under CI=true).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use banyan_testkit::interop::run_interop;
use banyan_testkit::{
    ChildGuard, Scenario, Step, banyan_python, ensure, free_port_pair, wait_until,
};

fn bin(name: &str) -> &'static str {
    match name {
        "bls" => env!("CARGO_BIN_EXE_bls"),
        "blc" => env!("CARGO_BIN_EXE_blc"),
        "blk" => env!("CARGO_BIN_EXE_blk"),
        "backplane" => env!("CARGO_BIN_EXE_backplane"),
        "simple-echo-server" => env!("CARGO_BIN_EXE_simple-echo-server"),
        "simple-echo-client" => env!("CARGO_BIN_EXE_simple-echo-client"),
        other => panic!("no binary {other}"),
    }
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "banyan-{tag}-{}-{:?}",
            std::process::id(),
            Instant::now()
        ));
        let dir = PathBuf::from(dir.to_string_lossy().replace([' ', '{', '}', ':', ','], ""));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `true` while a process with this PID exists (zombies count as gone: nobody runs there).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // State is the field after the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

fn wait_gone(pids: &[u32], limit: Duration) -> Step {
    wait_until(
        Instant::now() + limit,
        "the launched processes gone",
        || pids.iter().all(|&pid| !alive(pid)),
    )
    .map_err(|error| {
        let left: Vec<_> = pids.iter().filter(|&&pid| alive(pid)).collect();
        format!("{error}; still alive: {left:?}")
    })
}

/// PIDs from launcher lines `<command> PID = <pid>` whose command contains `needle`.
fn pids_of(proc: &ChildGuard, needle: &str) -> Vec<u32> {
    proc.stdout()
        .iter()
        .filter(|line| line.contains(needle) && line.contains("PID = "))
        .filter(|line| {
            !["DIED", "KILLED", "STOPPED"]
                .iter()
                .any(|w| line.contains(w))
        })
        .filter_map(|line| line.rsplit("PID = ").next()?.trim().parse().ok())
        .collect()
}

/// Waits until at least `count` start lines for `needle` were printed.
fn wait_pids(proc: &ChildGuard, needle: &str, count: usize, scenario: &Scenario) -> Step<Vec<u32>> {
    let mut pids = Vec::new();
    let what = format!("{count} starts of {needle:?}");
    wait_until(scenario.deadline(), &what, || {
        pids = pids_of(proc, needle);
        pids.len() >= count
    })
    .map_err(|error| format!("{error}; started: {pids:?}"))?;
    Ok(pids)
}

fn ports() -> (String, String) {
    let (p, s) = free_port_pair().expect("two free ports");
    (p.to_string(), s.to_string())
}

fn blk(scenario: &mut Scenario, p: &str, s: &str) -> Step {
    let mut command = Command::new(bin("blk"));
    command.args([
        "-b",
        "127.0.0.1",
        "-p",
        p,
        "-s",
        s,
        "--connect-timeout",
        "20",
    ]);
    Ok(scenario.spawn("blk", command)?.wait_success()?)
}

/// Rust's `simple-echo-client` through the backplane on `p`/`s`, to a successful exit.
fn echo_client(scenario: &mut Scenario, name: &str, p: &str, s: &str) -> Step {
    let mut echo = Command::new(bin("simple-echo-client"));
    echo.args([
        "-b",
        "127.0.0.1",
        "-p",
        p,
        "-s",
        s,
        "--connect-timeout",
        "30",
        "--reply-timeout",
        "30",
    ]);
    Ok(scenario.spawn(name, echo)?.wait_success()?)
}

const HEADER: &str = "command_string,spawn,topic,append_bp_address,auto_restart,wait\n";

#[test]
fn launch_file_runs_echo_restarts_server_and_blk_stops_all() {
    run_interop("bls: echo, restart, blk", |scenario| {
        let dir = TempDir::new("bls");
        let (p, s) = ports();
        let file = dir.write(
            "launch.csv",
            &format!(
                "{HEADER}{bp} -p {p} -s {s} --bind 127.0.0.1,no,local,no,no,1\n\
                 {server} -p {p} -s {s} --connect-timeout 30,no,local,yes,yes,0.5\n\
                 {client} -p {p} -s {s} --connect-timeout 30 --reply-timeout 30,no,local,yes,no,0\n",
                bp = bin("backplane"),
                server = bin("simple-echo-server"),
                client = bin("simple-echo-client"),
            ),
        );
        let mut bls = Command::new(bin("bls"));
        bls.arg("-f").arg(&file);
        bls.args(["-b", "127.0.0.1", "-p", &p, "-s", &s, "--backoff", "0.2"]);
        let mut bls = scenario.spawn("bls", bls)?;
        bls.wait_stdout("10 messages sent and received.")?;
        bls.wait_stdout("exited (exit code 0)")?; // the client, in the status table
        let backplane = wait_pids(&bls, "backplane", 1, scenario)?;
        let server = wait_pids(&bls, "simple-echo-server", 1, scenario)?;
        let client = wait_pids(&bls, "simple-echo-client", 1, scenario)?;

        // Kill the server: bls restarts it, and the new one answers.
        let pid = Pid::from_raw(i32::try_from(server[0]).map_err(|e| e.to_string())?);
        kill(pid, Signal::SIGKILL).map_err(|e| format!("kill {pid}: {e}"))?;
        bls.wait_stdout(&format!("PID = {} DIED (signal 9)", server[0]))?;
        let servers = wait_pids(&bls, "simple-echo-server", 2, scenario)?;
        echo_client(scenario, "second echo client", &p, &s)?;

        blk(scenario, &p, &s)?;
        bls.wait_success()?;
        let mut all = backplane.clone();
        all.extend(&servers);
        all.extend(&client);
        wait_gone(&all, Duration::from_secs(10))
    });
}

#[test]
fn sigterm_stops_every_process_group_including_grandchildren() {
    run_interop("bls: SIGTERM", |scenario| {
        let dir = TempDir::new("bls-term");
        let (p, s) = ports();
        // A shell that leaves a grandchild in its process group and prints its PID.
        let file = dir.write(
            "launch.csv",
            &format!("{HEADER}\"sh -c 'sleep 300 & echo GRANDCHILD $!; wait'\",no,local,no,no,0\n"),
        );
        let mut bls = Command::new(bin("bls"));
        bls.arg("-f").arg(&file);
        bls.args(["-b", "127.0.0.1", "-p", &p, "-s", &s, "--no-backplane"]);
        let mut bls = scenario.spawn("bls", bls)?;
        let line = bls.wait_stdout("GRANDCHILD")?;
        let grandchild: u32 = line
            .rsplit(' ')
            .next()
            .and_then(|pid| pid.parse().ok())
            .ok_or_else(|| format!("no pid in {line:?}"))?;
        let shell = wait_pids(&bls, "sh -c", 1, scenario)?;
        ensure(alive(grandchild), || "grandchild not running".into())?;
        bls.signal(Signal::SIGTERM).map_err(|e| e.to_string())?;
        bls.wait_success()?;
        wait_gone(&[shell[0], grandchild], Duration::from_secs(10))
    });
}

#[test]
fn bad_launch_file_is_named_by_line_and_column() {
    let dir = TempDir::new("bls-bad");
    let file = dir.write(
        "launch.csv",
        &format!("{HEADER}backplane,no,local,no,no,0\nserver,no,local,no,perhaps,0\n"),
    );
    let output = Command::new(bin("bls"))
        .arg("-f")
        .arg(&file)
        .args(["-b", "127.0.0.1", "--no-backplane"])
        .output()
        .expect("run bls");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("line 3, column 20 (auto_restart): expected yes or no, found \"perhaps\""),
        "{stderr}"
    );
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");

    let output = Command::new(bin("bls"))
        .arg("-f")
        .arg(Path::new("/nonexistent/launch.csv"))
        .output()
        .expect("run bls");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read launch file"), "{stderr}");
}

#[test]
fn rust_bls_drives_rust_blc() {
    run_interop("bls → blc (Rust)", |scenario| {
        let dir = TempDir::new("blc");
        let (p, s) = ports();
        let file = dir.write(
            "launch.csv",
            &format!(
                "{HEADER}{bp} -p {p} -s {s} --bind 127.0.0.1,no,local,no,no,0\n\
                 {server} -p {p} -s {s} --connect-timeout 30,no,robot1,yes,yes,0\n",
                bp = bin("backplane"),
                server = bin("simple-echo-server"),
            ),
        );
        let mut bls = Command::new(bin("bls"));
        bls.arg("-f").arg(&file);
        bls.args(["-b", "127.0.0.1", "-p", &p, "-s", &s]);
        let mut bls = scenario.spawn("bls", bls)?;
        bls.wait_stdout("bls connected")?;
        let mut blc = Command::new(bin("blc"));
        blc.args(["-t", "robot1", "-b", "127.0.0.1", "-p", &p, "-s", &s]);
        blc.args(["--connect-timeout", "30"]);
        let mut blc = scenario.spawn("blc", blc)?;
        let server = wait_pids(&blc, "simple-echo-server", 1, scenario)?;
        bls.wait_stdout("ACKrobot1: ")?;
        bls.wait_stdout("running remotely")?;
        echo_client(scenario, "echo client", &p, &s)?;
        let backplane = wait_pids(&bls, "backplane", 1, scenario)?;
        blk(scenario, &p, &s)?;
        blc.wait_success()?;
        bls.wait_success()?;
        wait_gone(&[server[0], backplane[0]], Duration::from_secs(10))
    });
}

/// PATH with the directory of the Rust binaries first, for processes that launch them by
/// name.
fn path_with_bins() -> String {
    let dir = Path::new(bin("bls")).parent().expect("bin dir");
    match std::env::var("PATH") {
        Ok(path) => format!("{}:{path}", dir.display()),
        Err(_) => dir.display().to_string(),
    }
}

#[test]
fn rust_bls_drives_python_blc() {
    let Some(python) = banyan_python("rust_bls_drives_python_blc") else {
        return;
    };
    run_interop("bls (Rust) → blc (Python)", |scenario| {
        let dir = TempDir::new("pyblc");
        let (p, s) = ports();
        let mut backplane = Command::new(bin("backplane"));
        backplane.args(["-p", &p, "-s", &s]);
        let _backplane = scenario.spawn("backplane", backplane)?;
        let file = dir.write(
            "launch.csv",
            &format!("{HEADER}simple-echo-server -p {p} -s {s},no,pyrobot,yes,yes,0\n"),
        );
        let mut bls = Command::new(bin("bls"));
        bls.arg("-f").arg(&file);
        bls.args([
            "-b",
            "127.0.0.1",
            "-p",
            &p,
            "-s",
            &s,
            "--connect-timeout",
            "30",
        ]);
        let mut bls = scenario.spawn("bls", bls)?;
        bls.wait_stdout("bls connected")?;
        let mut blc =
            banyan_testkit::python_module(&python, "python_banyan.utils.banyan_launcher.blc");
        blc.args(["-b", "127.0.0.1", "-p", &p, "-s", &s, "-t", "pyrobot"]);
        blc.env("PATH", path_with_bins()).env("HOME", &dir.0);
        let mut blc = scenario.spawn("python blc", blc)?;
        let server = wait_pids(&blc, "simple-echo-server", 1, scenario)?;
        bls.wait_stdout(&format!("PID = {}", server[0]))?;
        bls.wait_stdout("running remotely")?;
        echo_client(scenario, "echo client", &p, &s)?;
        blk(scenario, &p, &s)?;
        bls.wait_success()?;
        blc.wait_exit()?;
        wait_gone(&server, Duration::from_secs(10))
    });
}

#[test]
fn python_bls_drives_rust_blc() {
    let Some(python) = banyan_python("python_bls_drives_rust_blc") else {
        return;
    };
    run_interop("bls (Python) → blc (Rust)", |scenario| {
        let dir = TempDir::new("pybls");
        let (p, s) = ports();
        // Python's bls looks for a process named `backplane` and starts none when it finds
        // ours; it has no -b flag, so the wrapper points it at 127.0.0.1.
        let mut backplane = Command::new(bin("backplane"));
        backplane.args(["-p", &p, "-s", &s]);
        let _backplane = scenario.spawn("backplane", backplane)?;
        let mut blc = Command::new(bin("blc"));
        blc.args(["-t", "rustrobot", "-b", "127.0.0.1", "-p", &p, "-s", &s]);
        blc.args(["--connect-timeout", "30"]);
        blc.env("PATH", path_with_bins());
        let mut blc = scenario.spawn("blc", blc)?;
        blc.wait_stdout("Listening for rustrobot messages.")?;
        let file = dir.write(
            "launch.csv",
            &format!("{HEADER}simple-echo-server -p {p} -s {s},no,rustrobot,yes,yes,0\n"),
        );
        let mut bls = banyan_testkit::interop::interop_script(&python, "bls_loopback.py");
        bls.arg("-f").arg(&file).args(["-p", &p, "-s", &s]);
        bls.env("HOME", &dir.0);
        let mut bls = scenario.spawn("python bls", bls)?;
        let server = wait_pids(&blc, "simple-echo-server", 1, scenario)?;
        // Python's bls prints `ACK<topic>: <command> PID = <pid>` on our acknowledgement.
        bls.wait_stdout(&format!("PID = {}", server[0]))?;
        let line = bls.wait_stdout("ACKrustrobot:")?;
        ensure(line.contains("-b 127.0.0.1"), || {
            format!("no -b appended: {line}")
        })?;
        echo_client(scenario, "echo client", &p, &s)?;
        blk(scenario, &p, &s)?;
        blc.wait_success()?;
        bls.wait_exit()?;
        wait_gone(&server, Duration::from_secs(10))
    });
}
