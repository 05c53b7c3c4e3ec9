//! The Telemetrix device model against banyan-proto's codec: our encoder's commands are
//! answered as the firmware would (handshake, pull-up level, reports on change, the analog
//! differential), the model records exactly the bytes sent, and unplug/reset behave as the
//! firmware does (an ESP32 keeps its pin state across a reconnect; a reset clears it).
//! Needs `python3` (standard library only): skipped when absent, a failure under CI=true.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use banyan_proto::telemetrix::{
    Command, Family, Feed, FirmwareVersion, PinMode, Report, ReportDecoder, encode,
};
use banyan_testkit::require_tool;
use banyan_testkit::telemetrix::{Board, TelemetrixDevice};

/// A host end of the board link: our encoder out, our decoder in.
struct Host {
    stream: TcpStream,
    decoder: ReportDecoder,
    sent: Vec<Vec<u8>>,
}

impl Host {
    fn connect(device: &TelemetrixDevice) -> Self {
        let stream = TcpStream::connect(device.tcp_addr().expect("a TCP board")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            stream,
            decoder: ReportDecoder::new(device.family()),
            sent: Vec::new(),
        }
    }

    fn send(&mut self, command: Command<'_>) {
        let mut out = [0u8; 64];
        let n = encode(self.decoder.family(), &command, &mut out).unwrap();
        self.stream.write_all(&out[..n]).unwrap();
        self.sent.push(out[..n].to_vec());
    }

    /// The next `count` reports, rendered; fails on a read timeout or end of stream.
    fn reports(&mut self, count: usize) -> Vec<String> {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.len() < count {
            let n = self.stream.read(&mut buf).expect("a report in time");
            assert!(n > 0, "the board closed the link; got {got:?}");
            let mut input = &buf[..n];
            loop {
                input = match self.decoder.feed(input) {
                    Feed::Consumed => break,
                    Feed::Report { report, remaining } => {
                        got.push(format!("{report:?}"));
                        remaining
                    }
                    Feed::Malformed { error, .. } => panic!("malformed report: {error}"),
                };
            }
        }
        got
    }

    /// `true` when the board closed the link.
    fn closed(&mut self) -> bool {
        let mut buf = [0u8; 16];
        matches!(self.stream.read(&mut buf), Ok(0) | Err(_))
    }
}

fn start(family: Family, test: &str) -> Option<TelemetrixDevice> {
    let python = require_tool(test, "python3")?;
    Some(TelemetrixDevice::start(&python, family, Board::Tcp).unwrap())
}

#[test]
fn pico_model_answers_our_commands_as_the_firmware_does() {
    let Some(mut device) = start(Family::RpiPico, "pico_model") else {
        return;
    };
    let mut host = Host::connect(&device);
    host.send(Command::AreYouThere);
    host.send(Command::GetFirmwareVersion);
    let handshake = host.reports(2);
    assert!(handshake[0].starts_with("PicoUniqueId("), "{handshake:?}");
    assert_eq!(
        handshake[1],
        format!(
            "{:?}",
            Report::FirmwareVersion(FirmwareVersion {
                major: 1,
                minor: 1,
                patch: None
            })
        )
    );

    // A pull-up input idles high: the firmware reports 1 as soon as the mode is set.
    host.send(Command::SetPinMode {
        pin: 15,
        mode: PinMode::DigitalInputPullUp { report: true },
    });
    assert_eq!(host.reports(1), ["Digital { pin: 15, value: 1 }"]);
    device.input(15, 0).unwrap();
    assert_eq!(host.reports(1), ["Digital { pin: 15, value: 0 }"]);

    // Analog with a differential of 100: a change of 50 is not reported, 150 is. The loop
    // back after the small change proves nothing was sent before it (one ordered stream).
    host.send(Command::SetPinMode {
        pin: 0,
        mode: PinMode::AnalogInput {
            differential: 100,
            report: true,
        },
    });
    device.analog(0, 50).unwrap();
    host.send(Command::LoopBack { byte: b'x' });
    assert_eq!(host.reports(1), ["LoopBack { byte: 120 }"]);
    device.analog(0, 150).unwrap();
    assert_eq!(host.reports(1), ["Analog { pin: 0, value: 150 }"]);

    host.send(Command::SetPinMode {
        pin: 25,
        mode: PinMode::DigitalOutput,
    });
    host.send(Command::DigitalWrite {
        pin: 25,
        value: true,
    });
    host.send(Command::LoopBack { byte: b'y' });
    host.reports(1);
    let state = device.state().unwrap();
    assert_eq!(state["outputs"]["25"], 1);
    // The model recorded exactly the frames we sent.
    assert_eq!(device.take_frames().unwrap(), host.sent);

    // A reset (watchdog reboot) clears the pin state and drops the link.
    device.reset().unwrap();
    assert!(host.closed());
    let mut host = Host::connect(&device);
    host.send(Command::GetFirmwareVersion);
    host.reports(1);
    let state = device.state().unwrap();
    assert_eq!(state["modes"], serde_json::json!({}));
    assert_eq!(state["outputs"], serde_json::json!({}));
}

#[test]
fn esp32_model_keeps_state_across_a_reconnect_and_stops_reports_on_request() {
    let Some(mut device) = start(Family::Esp32, "esp32_model") else {
        return;
    };
    let mut host = Host::connect(&device);
    host.send(Command::GetFirmwareVersion);
    assert_eq!(
        host.reports(1),
        ["FirmwareVersion(FirmwareVersion { major: 3, minor: 1, patch: Some(0) })"]
    );
    host.send(Command::EnableAllReports);
    host.send(Command::SetPinMode {
        pin: 4,
        mode: PinMode::DigitalInput { report: true },
    });
    device.input(4, 1).unwrap();
    assert_eq!(host.reports(1), ["Digital { pin: 4, value: 1 }"]);

    // STOP_ALL_REPORTS silences the board; ENABLE_ALL_REPORTS brings the change back.
    host.send(Command::StopAllReports);
    host.send(Command::LoopBack { byte: 1 });
    host.reports(1);
    device.input(4, 0).unwrap();
    host.send(Command::LoopBack { byte: 2 });
    assert_eq!(host.reports(1), ["LoopBack { byte: 2 }"]);
    host.send(Command::EnableAllReports);
    assert_eq!(host.reports(1), ["Digital { pin: 4, value: 0 }"]);

    // Unplug: the connection closes, the pin state stays (the firmware's setup() alone
    // clears it), so a reconnecting host gets reports without setting modes again.
    device.drop_link().unwrap();
    assert!(host.closed());
    let mut host = Host::connect(&device);
    host.send(Command::LoopBack { byte: 3 });
    host.reports(1);
    device.input(4, 1).unwrap();
    assert_eq!(host.reports(1), ["Digital { pin: 4, value: 1 }"]);
}
