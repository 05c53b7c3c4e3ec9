//! The classroom launchers: `s3a` (Arduino), `s3rp` (Raspberry Pi Pico), `s32` (ESP32), as
//! s3-extend 1.35's, and `s3x GATEWAY [ARGS…]` for any board gateway. Each starts a backplane
//! (unless one already answers), `wsgw` on the Scratch extension's port and the board
//! gateway, as children of its own, through the launcher of `bls` ([`crate::launcher`]): each
//! child in a process group (Unix) or Job Object (Windows) of its own, its output prefixed
//! with its name, a crash reported and restarted with back-off, and Ctrl-C, SIGTERM or the
//! console closing stops them all. No process scans, no `taskkill`.
//!
//! Why children and not one process: the board gateways are programs of their own (a
//! serial-port or Wi-Fi gateway may crash, hang on a driver, or be replaced by another
//! implementation such as s3-extend's own), and a crash of one must not take the browser's
//! connection or the backplane with it; separate processes also keep each one's output and
//! restarts apart. The process side already exists for `bls` and is reused as it is.
//!
//! What to start is decided here ([`Plan`], pure); [`run`] resolves the programs (next to
//! this executable, else on `PATH`) and drives the launcher.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::launch::{Launcher, SlotKind, SlotState};
use crate::launcher::{Driver, RestartArgs, listening, termination_flag};
use banyan_host::net::{DEFAULT_PUBLISHER_PORT, DEFAULT_SUBSCRIBER_PORT, outward_ipv4};

/// A board the Scratch 3 OneGPIO extensions know, with s3-extend's names and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// Arduino with FirmataExpress (or StandardFirmata): `s3a`, `ardgw`, port 9000.
    Arduino,
    /// Raspberry Pi Pico with Telemetrix4RpiPico: `s3rp`, `rpgw`, port 9006.
    RpiPico,
    /// ESP32 with Telemetrix4Esp32 (Wi-Fi): `s32`, `esp32gw`, port 9007.
    Esp32,
}

impl Board {
    /// The launcher's name.
    pub fn launcher(self) -> &'static str {
        match self {
            Self::Arduino => "s3a",
            Self::RpiPico => "s3rp",
            Self::Esp32 => "s32",
        }
    }

    /// The board gateway's program name.
    pub fn gateway(self) -> &'static str {
        match self {
            Self::Arduino => "ardgw",
            Self::RpiPico => "rpgw",
            Self::Esp32 => "esp32gw",
        }
    }

    /// The port the board's Scratch extension connects to (s3-extend's `wsgw -i`).
    pub fn ws_port(self) -> u16 {
        match self {
            Self::Arduino => 9000,
            Self::RpiPico => 9006,
            Self::Esp32 => 9007,
        }
    }

    /// Runs this board's classroom stack (see [`run`]): its launcher label, its gateway with
    /// `gateway_args`, `wsgw` on `--ws-port` or the board's port.
    pub fn run(self, gateway_args: &[String], args: &ClassroomArgs) -> anyhow::Result<()> {
        run(
            self.launcher(),
            self.title(),
            self.gateway(),
            gateway_args,
            args.ws_port.unwrap_or(self.ws_port()),
            args,
        )
    }

    /// The board's name for people.
    pub fn title(self) -> &'static str {
        match self {
            Self::Arduino => "Arduino",
            Self::RpiPico => "Raspberry Pi Pico",
            Self::Esp32 => "ESP32",
        }
    }
}

/// The flags every classroom launcher takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ClassroomArgs {
    /// Backplane address given to every child (default: each finds this machine's, as
    /// Python Banyan's components do); a backplane is started only on this machine
    #[arg(short = 'b', long = "backplane", value_name = "ADDR")]
    pub backplane: Option<String>,
    /// Backplane publisher port
    #[arg(short = 'p', long = "publisher-port", default_value_t = DEFAULT_PUBLISHER_PORT)]
    pub publisher_port: u16,
    /// Backplane subscriber port
    #[arg(short = 's', long = "subscriber-port", default_value_t = DEFAULT_SUBSCRIBER_PORT)]
    pub subscriber_port: u16,
    /// WebSocket port for the Scratch extension [default: the board's, as s3-extend's]
    #[arg(long = "ws-port", value_name = "PORT")]
    pub ws_port: Option<u16>,
    /// Address wsgw listens on [default: 127.0.0.1, pages on this machine only]; 0.0.0.0
    /// serves the browsers of other machines (s3-extend's wsgw always does), best with
    /// --ws-allow
    #[arg(long = "ws-bind", value_name = "ADDR")]
    pub ws_bind: Option<std::net::IpAddr>,
    /// Accept pages only from this address or network (repeatable; wsgw --allow)
    #[arg(long = "ws-allow", value_name = "CIDR")]
    pub ws_allow: Vec<String>,
    /// Never start a backplane (by default one is started when none answers)
    #[arg(long)]
    pub no_backplane: bool,
    /// Restart back-off and the stop grace period (as `bls`).
    #[command(flatten)]
    pub restart: RestartArgs,
}

/// What to start, in order: the command lines of the backplane (if one is to be started),
/// `wsgw` and the board gateway. Built by [`Plan::new`] without touching the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The backplane's command line, or `None` when one already answers (or is not ours to
    /// start).
    pub backplane: Option<String>,
    /// `wsgw`'s command line.
    pub wsgw: String,
    /// The board gateway's command line.
    pub gateway: String,
}

/// The programs a plan runs, as found on this machine.
#[derive(Debug, Clone)]
pub struct Programs {
    /// `backplane`.
    pub backplane: PathBuf,
    /// `wsgw`.
    pub wsgw: PathBuf,
    /// The board gateway.
    pub gateway: PathBuf,
}

impl Plan {
    /// The command lines for `programs` with `args`; `start_backplane` says whether a
    /// backplane is to be started; `ws_port` is the Scratch extension's port;
    /// `gateway_args` come first on the board gateway's command line, the bus flags
    /// (`-p -s [-b]`) after them.
    pub fn new(
        programs: &Programs,
        args: &ClassroomArgs,
        start_backplane: bool,
        ws_port: u16,
        gateway_args: &[String],
    ) -> Self {
        let (p, s) = (
            args.publisher_port.to_string(),
            args.subscriber_port.to_string(),
        );
        let mut bus = vec!["-p".to_owned(), p.clone(), "-s".to_owned(), s.clone()];
        if let Some(address) = &args.backplane {
            bus.extend(["-b".to_owned(), address.clone()]);
        }
        // A backplane the children reach on a loopback address (`-b 127.0.0.1`: one machine,
        // the browser and the board on it) listens there only; otherwise on every interface,
        // as Python Banyan's backplane does.
        let mut backplane_args = vec!["-p".to_owned(), p.clone(), "-s".to_owned(), s.clone()];
        if let Some(address) = args.backplane.as_deref().and_then(loopback) {
            backplane_args.extend(["--bind".to_owned(), address.to_string()]);
        }
        let backplane = start_backplane.then(|| command_line(&programs.backplane, backplane_args));
        let mut wsgw = vec!["-i".to_owned(), ws_port.to_string()];
        wsgw.extend(bus.iter().cloned());
        if let Some(bind) = args.ws_bind {
            wsgw.extend(["--bind".to_owned(), bind.to_string()]);
        }
        for allow in &args.ws_allow {
            wsgw.extend(["--allow".to_owned(), allow.clone()]);
        }
        // The gateway's own arguments first: a gateway run through an interpreter
        // (`python -u gateway.py …`) then still gets the bus flags as its script's.
        let mut gateway = gateway_args.to_vec();
        gateway.extend(bus);
        Self {
            backplane,
            wsgw: command_line(&programs.wsgw, wsgw),
            gateway: command_line(&programs.gateway, gateway),
        }
    }
}

/// `address` when it is a loopback IP address (`127.0.0.1`, `::1`).
fn loopback(address: &str) -> Option<std::net::IpAddr> {
    address
        .parse::<std::net::IpAddr>()
        .ok()
        .filter(std::net::IpAddr::is_loopback)
}

/// `program` and `args` as one command line that [`crate::launch::split_command`] splits
/// back into the same words.
fn command_line(program: &Path, args: impl IntoIterator<Item = String>) -> String {
    std::iter::once(program.display().to_string())
        .chain(args)
        .map(|word| quote(&word))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(not(windows))]
fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_owned(), |quoted| quoted.into_owned())
}

#[cfg(windows)]
fn quote(word: &str) -> String {
    // Windows paths cannot hold `"`; arguments with one are passed as they are.
    if word.is_empty() || (word.contains([' ', '\t']) && !word.contains('"')) {
        format!("\"{word}\"")
    } else {
        word.to_owned()
    }
}

/// `name` next to this executable (with `.exe` on Windows), else on `PATH`; a name holding a
/// directory is taken as a path. The error says where it looked.
pub fn find_program(name: &str) -> anyhow::Result<PathBuf> {
    let given = Path::new(name);
    if given.components().count() > 1 {
        return if given.is_file() {
            Ok(given.to_path_buf())
        } else {
            Err(anyhow::anyhow!("{name} does not exist"))
        };
    }
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.to_path_buf()));
    let path = std::env::var_os("PATH").unwrap_or_default();
    beside
        .iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(&file))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            let beside = beside.map_or_else(String::new, |dir| format!("{} or ", dir.display()));
            anyhow::anyhow!("{name} not found in {beside}the directories on PATH")
        })
}

/// A program not found, with what it is and how to get it.
fn missing(error: anyhow::Error, program: &str, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{error} ({program} is {what}; install Rust Banyan's commands into one directory, \
         e.g. `cargo install --path banyan-cli`)"
    )
}

/// Whether `address` is this machine (a backplane for it may be started here).
fn is_this_machine(address: &str) -> bool {
    address
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified() || ip == outward_ipv4())
        || address.eq_ignore_ascii_case("localhost")
}

/// Runs `gateway` (a program name or path) with `gateway_args` for `title`'s Scratch
/// extension on `ws_port`, with the backplane and `wsgw`, until Ctrl-C/SIGTERM (or every
/// child ended for good). `label` prefixes the launcher's own lines.
pub fn run(
    label: &'static str,
    title: &str,
    gateway: &str,
    gateway_args: &[String],
    ws_port: u16,
    args: &ClassroomArgs,
) -> anyhow::Result<()> {
    let programs = Programs {
        backplane: find_program("backplane")
            .map_err(|error| missing(error, "backplane", "the backplane"))?,
        wsgw: find_program("wsgw")
            .map_err(|error| missing(error, "wsgw", "the WebSocket gateway"))?,
        gateway: find_program(gateway)
            .map_err(|error| missing(error, gateway, "the board gateway"))?,
    };
    let address = args
        .backplane
        .clone()
        .unwrap_or_else(|| outward_ipv4().to_string());
    let answering = listening(&address, args.publisher_port);
    let start_backplane = !args.no_backplane && !answering && is_this_machine(&address);
    if answering {
        println!(
            "[{label}] a backplane already answers at {address}:{}; using it",
            args.publisher_port
        );
    } else if !start_backplane {
        println!(
            "[{label}] no backplane answers at {address}:{} yet; the gateways retry until one does",
            args.publisher_port
        );
    }
    let plan = Plan::new(&programs, args, start_backplane, ws_port, gateway_args);

    let mut launcher = Launcher::new(args.restart.config());
    let local = |command: String| SlotKind::Local {
        command,
        spawn: false,
        auto_restart: true,
        origin: None,
    };
    if let Some(backplane) = plan.backplane {
        launcher.add(local(backplane), Duration::from_millis(500), 0);
    }
    launcher.add(local(plan.wsgw), Duration::from_millis(200), 0);
    launcher.add(local(plan.gateway), Duration::ZERO, 0);

    println!(
        "[{label}] Scratch 3 OneGPIO for {title}: its extension connects to ws://127.0.0.1:{ws_port}"
    );
    println!("[{label}] Ctrl-C stops everything");
    let stop = termination_flag()?;
    let mut driver = Driver::new(launcher, args.restart.grace(), label).prefix_output();
    let mut all_ended = false;
    while !stop.load(Ordering::SeqCst) {
        driver.turn(None);
        all_ended = driver.launcher.slots().iter().all(|slot| {
            matches!(
                slot.state,
                SlotState::GaveUp { .. } | SlotState::Exited { .. }
            )
        });
        if all_ended {
            break;
        }
        std::thread::sleep(driver.wait_budget());
    }
    let started = Instant::now();
    driver.shutdown(None);
    tracing::debug!(took = ?started.elapsed(), "children stopped");
    if all_ended {
        anyhow::bail!("every process gave up (see the lines above); nothing left to run");
    }
    println!("[{label}] stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::split_command;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Args {
        #[command(flatten)]
        classroom: ClassroomArgs,
    }

    fn programs() -> Programs {
        Programs {
            backplane: PathBuf::from("/opt/rust banyan/backplane"),
            wsgw: PathBuf::from("/opt/rust banyan/wsgw"),
            gateway: PathBuf::from("/usr/bin/ardgw"),
        }
    }

    #[test]
    fn the_ports_and_names_of_s3_extend() {
        assert_eq!(
            [Board::Arduino, Board::RpiPico, Board::Esp32].map(|b| (
                b.launcher(),
                b.gateway(),
                b.ws_port()
            )),
            [
                ("s3a", "ardgw", 9000),
                ("s3rp", "rpgw", 9006),
                ("s32", "esp32gw", 9007)
            ]
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn a_plan_passes_the_bus_to_every_child_and_survives_spaces_in_paths() {
        let args = Args::parse_from(["s3a", "-b", "127.0.0.1", "-p", "5000", "-s", "5001"]);
        let extra = ["-c".to_owned(), "/dev/tty ACM0".to_owned()];
        let plan = Plan::new(&programs(), &args.classroom, true, 9000, &extra);
        let words = |line: &str| split_command(line).expect("splits");
        assert_eq!(
            words(plan.backplane.as_deref().expect("a backplane")),
            [
                "/opt/rust banyan/backplane",
                "-p",
                "5000",
                "-s",
                "5001",
                "--bind",
                "127.0.0.1"
            ]
        );
        assert_eq!(
            words(&plan.wsgw),
            [
                "/opt/rust banyan/wsgw",
                "-i",
                "9000",
                "-p",
                "5000",
                "-s",
                "5001",
                "-b",
                "127.0.0.1"
            ]
        );
        assert_eq!(
            words(&plan.gateway),
            [
                "/usr/bin/ardgw",
                "-c",
                "/dev/tty ACM0",
                "-p",
                "5000",
                "-s",
                "5001",
                "-b",
                "127.0.0.1"
            ]
        );
        let args = Args::parse_from([
            "s3rp",
            "--ws-bind",
            "0.0.0.0",
            "--ws-allow",
            "192.168.1.0/24",
        ]);
        let plan = Plan::new(&programs(), &args.classroom, false, 9006, &[]);
        assert_eq!(plan.backplane, None);
        let started = Plan::new(&programs(), &args.classroom, true, 9006, &[]);
        // No -b: the backplane serves every interface, as Python Banyan's.
        assert_eq!(
            words(started.backplane.as_deref().expect("a backplane")),
            ["/opt/rust banyan/backplane", "-p", "43124", "-s", "43125"]
        );
        assert_eq!(
            words(&plan.wsgw)[7..],
            ["--bind", "0.0.0.0", "--allow", "192.168.1.0/24"]
        );
        assert_eq!(
            words(&plan.gateway),
            ["/usr/bin/ardgw", "-p", "43124", "-s", "43125"]
        );
    }

    #[test]
    fn a_missing_program_is_named_with_where_it_was_looked_for() {
        let error = find_program("no-such-gateway-here").expect_err("missing");
        let text = error.to_string();
        assert!(
            text.starts_with("no-such-gateway-here not found in "),
            "{text}"
        );
        assert!(text.contains("PATH"), "{text}");
        let error = find_program("/no/such/dir/ardgw").expect_err("missing");
        assert_eq!(error.to_string(), "/no/such/dir/ardgw does not exist");
    }

    #[test]
    fn only_this_machine_gets_a_backplane() {
        assert!(is_this_machine("127.0.0.1"));
        assert!(is_this_machine("localhost"));
        assert!(is_this_machine(&outward_ipv4().to_string()));
        assert!(!is_this_machine("203.0.113.9"));
    }
}
