//! The Windows serial gateway (`banyan-gateway.exe`, under Wine) on a COM port: the MCU echo
//! client (`banyan-mcu`, the code the firmware runs) at the other end of a Linux
//! pseudo-terminal that Wine offers the gateway as `COMn`, through a native backplane and echo
//! server. On Windows, `zmq_poll` waits on sockets only, so the gateway reads the port on a
//! thread of its own and hands the bytes over a loopback socket (banyan-gateways'
//! `link::bridge`): this test runs that path end to end.
//!
//! Skipped (with the reason printed) unless `BANYAN_WINDOWS_BIN` names the `.exe` directory
//! (`.ci/steps.d/40-windows.sh` sets it). The COM name is a symlink in the Wine prefix's
//! `dosdevices`, removed on drop; the gateway is a `ChildGuard`, ended by its PID.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use banyan_mcu::{EchoClient, EchoConfig, Event, StdClock};
use banyan_testkit::{ChildGuard, EchoServer, EmbeddedIo, backplane, windows_bins};
use serialport::{SerialPort, TTYPort};

/// How long one read of the MCU's end may block (the client's polling interval).
const READ_POLL: Duration = Duration::from_millis(5);

/// `COMn` in a Wine prefix: a `dosdevices/comn` symlink to a Linux device, removed on drop.
struct ComPort {
    link: PathBuf,
    name: String,
}

impl ComPort {
    fn new(device: &str) -> Self {
        let prefix = std::env::var_os("WINEPREFIX")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".wine")
            });
        let dosdevices = prefix.join("dosdevices");
        assert!(
            dosdevices.is_dir(),
            "no Wine prefix at {} (WINEPREFIX; .ci/steps.d/40-windows.sh makes one)",
            prefix.display()
        );
        // A number of our own, from the PID (COM1..COM256 exist; the low ones may be taken).
        let number = 100 + std::process::id() % 150;
        let link = dosdevices.join(format!("com{number}"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(device, &link).expect("COM port symlink");
        Self {
            link,
            name: format!("COM{number}"),
        }
    }
}

impl Drop for ComPort {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
    }
}

#[test]
fn windows_gateway_carries_the_mcu_echo_over_a_com_port() {
    let Some(windows) = windows_bins("windows_gateway_carries_the_mcu_echo_over_a_com_port") else {
        return;
    };
    let backplane = backplane();
    let server = EchoServer::start(&backplane);

    // The MCU's end is the pty's master; the slave is what Wine opens as COMn. The slave stays
    // open here (not exclusive), so that the master reads silence, not EIO, until Wine opens it.
    let (mut mcu, mut slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    slave.set_exclusive(false).expect("slave not exclusive");
    mcu.set_timeout(READ_POLL).expect("read timeout");
    let device = slave.name().expect("the slave's device path");
    let com = ComPort::new(&device);

    let mut command = windows.command("banyan-gateway");
    command.args(["-b", "127.0.0.1"]);
    command.args(["-p", &backplane.publisher_port().to_string()]);
    command.args(["-s", &backplane.subscriber_port().to_string()]);
    command.args(["--connect-timeout", "60", "--serial", &com.name]);
    let mut gateway = ChildGuard::spawn("banyan-gateway.exe", command).expect("start the gateway");
    gateway.set_deadline(Instant::now() + Duration::from_secs(120));
    gateway.wait_stdout("Link: serial").expect("gateway banner");

    let mut link = EmbeddedIo(mcu);
    let mut events = Vec::new();
    let mut client: EchoClient<'_> = EchoClient::new(EchoConfig::seed(0x2121));
    let summary = client
        .run(&mut link, &StdClock::new(), &mut |event: Event| {
            events.push(event)
        })
        .unwrap_or_else(|error| {
            panic!(
                "echo over {}: {error:?}\n{}",
                com.name,
                gateway.output_report()
            )
        });
    assert_eq!(summary.received, 11, "{}", gateway.output_report());
    assert!(events.contains(&Event::Finished {
        first_number: 10,
        count: 11
    }));

    // Ctrl-C (SIGINT under Wine) stops the gateway cleanly, with its counters.
    gateway.signal(nix::sys::signal::Signal::SIGINT).unwrap();
    assert!(
        gateway.wait_exit().unwrap().success(),
        "{}",
        gateway.output_report()
    );
    gateway.wait_stdout("Gateway stopped").unwrap();
    let served = server.stop();
    for n in 0..=10 {
        assert!(served.contains(&n), "{n} not served: {served:?}");
    }
    drop(slave);
}
