//! Faults that kill and restart a process mid-run: backplane, echo server, gateway, the MCU
//! (QEMU), the serial device (socat pty), and a serial link that corrupts bytes.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use banyan_testkit::{ChildGuard, Faults, PERCENT, SerialWire, free_port, repo_root};

use crate::Outcome;
use crate::rig::{
    BackplaneProc, Bins, component_flags, echo_client, echo_server, served, two_ports, wait_served,
};

/// Messages of the long echo runs (a restart lands in the middle).
const LONG_RUN: u32 = 200;

/// How long a run may take after a restart.
const AFTER_RESTART: Duration = Duration::from_secs(45);

/// Judges an echo client that should have counted down `messages` to 0: survived when it
/// exited 0 saying so; otherwise lost = countdown numbers no server ever served.
fn judge_echo(
    client: &mut ChildGuard,
    messages: u32,
    served_numbers: &BTreeSet<i64>,
    what: &str,
) -> Outcome {
    let finished = client.wait_exit().map(|s| s.success()).unwrap_or(false)
        && client
            .stdout()
            .iter()
            .any(|l| l.contains(&format!("{messages} messages sent and received.")));
    let never = (0..=i64::from(messages))
        .filter(|n| !served_numbers.contains(n))
        .count() as u64;
    if finished {
        Outcome::survived(format!(
            "{what}; the client counted {messages}..0 and exited 0"
        ))
    } else {
        let why = client
            .stderr()
            .last()
            .cloned()
            .unwrap_or_else(|| "no error printed (killed at the deadline)".into());
        Outcome::failed(
            never.max(1),
            format!("{what}; the client did not finish: {why}"),
        )
    }
}

/// Backplane killed (SIGKILL) and restarted on the same ports mid-echo.
pub fn backplane_restart(bins: &Bins) -> Result<Outcome> {
    let ports = two_ports()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut backplane = BackplaneProc::start(bins, ports, &[])?;
    let server = echo_server(bins, ports, deadline)?;
    let mut client = echo_client(bins, ports, LONG_RUN, deadline)?;
    wait_served(&server, 20, deadline)?;
    backplane.child.kill();
    std::thread::sleep(Duration::from_millis(500));
    let _backplane = BackplaneProc::start(bins, ports, &[]).context("restarting the backplane")?;
    client.set_deadline(Instant::now() + AFTER_RESTART);
    let numbers: BTreeSet<i64> = served(&server).into_iter().collect();
    let mut outcome = judge_echo(
        &mut client,
        LONG_RUN,
        &numbers,
        "backplane killed after 20 echoes, restarted 0.5 s later",
    );
    if !outcome.survived {
        outcome.lost = (0..=i64::from(LONG_RUN))
            .filter(|n| !served(&server).contains(n))
            .count() as u64;
    }
    Ok(outcome)
}

/// Echo server killed and a new one started mid-echo.
pub fn echo_server_restart(bins: &Bins) -> Result<Outcome> {
    let ports = two_ports()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let _backplane = BackplaneProc::start(bins, ports, &[])?;
    let mut first = echo_server(bins, ports, deadline)?;
    let mut client = echo_client(bins, ports, LONG_RUN, deadline)?;
    wait_served(&first, 20, deadline)?;
    first.kill();
    let second = echo_server(bins, ports, deadline).context("restarting the echo server")?;
    client.set_deadline(Instant::now() + AFTER_RESTART);
    let mut numbers: BTreeSet<i64> = served(&first).into_iter().collect();
    let outcome_numbers = |second: &ChildGuard, numbers: &mut BTreeSet<i64>| {
        numbers.extend(served(second));
    };
    outcome_numbers(&second, &mut numbers);
    let mut outcome = judge_echo(
        &mut client,
        LONG_RUN,
        &numbers,
        "echo server killed after 20 echoes, a new one started",
    );
    if !outcome.survived {
        outcome_numbers(&second, &mut numbers);
        outcome.lost = (0..=i64::from(LONG_RUN))
            .filter(|n| !numbers.contains(n))
            .count() as u64;
    }
    Ok(outcome)
}

/// Backplane + echo server, and the MCU echo client (`banyan-serial-echo`, the firmware's
/// client code) on a [`SerialWire`] whose host end the gateway uses.
struct McuRig {
    ports: (u16, u16),
    _backplane: BackplaneProc,
    server: ChildGuard,
    wire: SerialWire,
    mcu: ChildGuard,
}

impl McuRig {
    fn start(bins: &Bins, messages: u32, wire: SerialWire, deadline: Instant) -> Result<Self> {
        let ports = two_ports()?;
        let backplane = BackplaneProc::start(bins, ports, &[])?;
        let server = echo_server(bins, ports, deadline)?;
        let mut command = bins.command("banyan-serial-echo")?;
        command.args([
            "--tcp",
            &wire.mcu_address().to_string(),
            "-m",
            &messages.to_string(),
            "--timeout-ms",
            "500",
            "--max-retries",
            "0",
        ]);
        let mut mcu = ChildGuard::spawn("mcu echo client", command)?;
        mcu.set_deadline(deadline);
        Ok(Self {
            ports,
            _backplane: backplane,
            server,
            wire,
            mcu,
        })
    }

    fn gateway(&self, bins: &Bins, link: &[String]) -> Result<ChildGuard> {
        let mut command = bins.command("banyan-gateway")?;
        command.args(link).args(component_flags(self.ports));
        command.args(["--connect-timeout", "30"]);
        let child = ChildGuard::spawn("gateway", command)?;
        Ok(child)
    }

    fn tcp_link(&self) -> Vec<String> {
        vec!["--tcp".into(), self.wire.host_address().to_string()]
    }

    /// Survived when the MCU client exited 0 having counted `messages` down to 0.
    fn judge(&mut self, messages: u32, what: String) -> Outcome {
        let done = self.mcu.wait_exit().map(|s| s.success()).unwrap_or(false)
            && self
                .mcu
                .stdout()
                .iter()
                .any(|l| l.contains(&format!("{messages} messages sent and received.")));
        if done {
            Outcome::survived(format!("{what}; the MCU client counted {messages}..0"))
        } else {
            let numbers: BTreeSet<i64> = served(&self.server).into_iter().collect();
            let lost = (0..=i64::from(messages))
                .filter(|n| !numbers.contains(n))
                .count() as u64;
            let why = self.mcu.stderr().last().cloned().unwrap_or_default();
            Outcome::failed(
                lost.max(1),
                format!("{what}; the MCU client did not finish: {why}"),
            )
        }
    }
}

/// The gateway killed and restarted while the MCU echo runs.
pub fn gateway_restart(bins: &Bins) -> Result<Outcome> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let wire = SerialWire::tcp(1, Faults::NONE, Faults::NONE)?;
    let mut rig = McuRig::start(bins, 60, wire, deadline)?;
    let mut gateway = rig.gateway(bins, &rig.tcp_link())?;
    wait_served(&rig.server, 10, deadline)?;
    gateway.kill();
    let _gateway = rig.gateway(bins, &rig.tcp_link())?;
    rig.mcu.set_deadline(Instant::now() + AFTER_RESTART);
    Ok(rig.judge(60, "gateway killed after 10 echoes and restarted".into()))
}

/// 1 % of the bytes on the serial link corrupted, both ways.
pub fn serial_corruption(bins: &Bins) -> Result<Outcome> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let faults = Faults {
        corrupt_byte: PERCENT,
        ..Faults::NONE
    };
    let wire = SerialWire::tcp(0x5EED, faults, faults)?;
    let mut rig = McuRig::start(bins, 100, wire, deadline)?;
    let _gateway = rig.gateway(bins, &rig.tcp_link())?;
    let mut outcome = rig.judge(100, "1 % of bytes corrupted both ways".into());
    let (up, down) = (rig.wire.to_host(), rig.wire.to_mcu());
    outcome.detail.push_str(&format!(
        " ({} of {} bytes corrupted)",
        up.corrupted_bytes + down.corrupted_bytes,
        up.bytes + down.bytes
    ));
    Ok(outcome)
}

/// The serial device (a socat pty) vanishes for a second and comes back at the same path.
pub fn serial_vanish(bins: &Bins) -> Result<Outcome> {
    let Some(socat) = banyan_testkit::find_tool("socat") else {
        bail!("socat is not installed");
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let wire = SerialWire::tcp(2, Faults::NONE, Faults::NONE)?;
    let mut rig = McuRig::start(bins, 60, wire, deadline)?;
    let dir = std::env::temp_dir().join(format!("banyan-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let device = dir.join("ttyGW");
    let pty = |rig: &McuRig| -> Result<ChildGuard> {
        let mut command = Command::new(&socat);
        command.arg(format!("PTY,link={},rawer", device.display()));
        command.arg(format!("TCP:{}", rig.wire.host_address()));
        let child = ChildGuard::spawn("socat pty", command)?;
        let until = Instant::now() + Duration::from_secs(10);
        while !device.exists() {
            if Instant::now() > until {
                bail!("socat made no {}", device.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(child)
    };
    let mut first = pty(&rig)?;
    let link = vec!["--serial".to_string(), device.display().to_string()];
    let _gateway = rig.gateway(bins, &link)?;
    wait_served(&rig.server, 10, deadline)?;
    first.kill();
    std::thread::sleep(Duration::from_secs(1));
    let _second = pty(&rig)?;
    rig.mcu.set_deadline(Instant::now() + AFTER_RESTART);
    let outcome = rig.judge(60, "pty removed after 10 echoes, back 1 s later".into());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(outcome)
}

/// The QEMU echo firmware, built by `scripts/build-boards.sh`.
fn qemu_firmware() -> PathBuf {
    repo_root().join("boards/qemu-lm3s6965/target/thumbv7m-none-eabi/release/echo")
}

fn qemu(port: u16, elf: &std::path::Path) -> Result<ChildGuard> {
    let mut command = Command::new("qemu-system-arm");
    command.args([
        "-cpu",
        "cortex-m3",
        "-M",
        "lm3s6965evb",
        "-display",
        "none",
        "-monitor",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        "-serial",
        &format!("tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"),
        "-kernel",
    ]);
    command.arg(elf);
    Ok(ChildGuard::spawn("qemu", command)?)
}

/// The MCU reboots mid-run: QEMU is killed and started again; the new firmware run must
/// complete through the same gateway (which reconnects by itself).
pub fn mcu_reboot(bins: &Bins) -> Result<Outcome> {
    let elf = qemu_firmware();
    if !elf.is_file() {
        bail!("{} not built (scripts/build-boards.sh)", elf.display());
    }
    if banyan_testkit::find_tool("qemu-system-arm").is_none() {
        bail!("qemu-system-arm is not installed");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let ports = two_ports()?;
    let _backplane = BackplaneProc::start(bins, ports, &[])?;
    let server = echo_server(bins, ports, deadline)?;
    let port = free_port()?;
    let mut first = qemu(port, &elf)?;
    let mut command = bins.command("banyan-gateway")?;
    command
        .args(["--tcp", &format!("127.0.0.1:{port}")])
        .args(component_flags(ports));
    let _gateway = ChildGuard::spawn("gateway", command)?;
    wait_served(&server, 3, deadline)?;
    first.kill();
    let before = served(&server).len();
    let mut second = qemu(port, &elf)?;
    second.set_deadline(Instant::now() + AFTER_RESTART);
    let status = second.wait_exit();
    let after: Vec<i64> = served(&server).into_iter().skip(before).collect();
    match status {
        Ok(status) if status.success() => Ok(Outcome::survived(format!(
            "QEMU killed after 3 echoes; the rebooted firmware finished its run ({} echoes after the reboot) and exited 0",
            after.len()
        ))),
        other => Ok(Outcome::failed(
            1,
            format!(
                "the rebooted firmware did not finish: {other:?}; served after reboot: {after:?}"
            ),
        )),
    }
}
