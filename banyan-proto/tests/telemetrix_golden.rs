//! Golden Telemetrix bytes written by the real Python clients (tmx-pico-aio 1.5.1,
//! telemetrix-esp32 2.1.1, telemetrix 1.47), captured by `telemetrix_golden/capture.py`
//! against the device model. Commands: our encoder must write the same bytes for the same
//! call. Reports: our decoder must read the same numbers the client's callback received.
//! Needs no Python: the capture is committed.

use banyan_proto::telemetrix::{
    Command, Family, Feed, PinMode, Report, ReportDecoder, Reporting, SonarDistance, encode,
};

const GOLDEN: &str = include_str!("telemetrix_golden/golden.txt");

fn family(name: &str) -> Family {
    match name {
        "rpi_pico" => Family::RpiPico,
        "esp32" => Family::Esp32,
        "arduino" => Family::Arduino,
        other => panic!("unknown family {other}"),
    }
}

fn input(report: bool) -> PinMode {
    PinMode::DigitalInput { report }
}

/// The typed commands that the Python call sends, in order.
fn commands(family: Family, call: &str) -> Vec<Command<'static>> {
    use Command::*;
    use Family::*;
    let mode = |pin, mode| SetPinMode { pin, mode };
    let analog = |pin, differential| SetPinMode {
        pin,
        mode: PinMode::AnalogInput {
            differential,
            report: true,
        },
    };
    let i2c_write = |port| I2cWrite {
        port,
        address: 0x53,
        data: &[0x2D, 0x08],
        no_stop: false,
    };
    let i2c_read = |register| I2cRead {
        port: 0,
        address: 0x53,
        register,
        count: if register.is_some() { 6 } else { 2 },
        restart: false,
    };
    match (family, call) {
        (RpiPico, "handshake") => vec![AreYouThere, GetFirmwareVersion],
        (Esp32, "handshake") => vec![GetFirmwareVersion, EnableAllReports],
        (Arduino, "handshake") => vec![
            AreYouThere,
            GetFirmwareVersion,
            GetFirmwareVersion,
            EnableAllReports,
            GetFeatures,
            Reset,
        ],
        (RpiPico, "shutdown()") | (Esp32, "shutdown()") => vec![StopAllReports, Reset],
        (Arduino, "shutdown()") => vec![StopAllReports],
        (_, "set_pin_mode_digital_output(25)")
        | (_, "set_pin_mode_digital_output(2)")
        | (_, "set_pin_mode_digital_output(13)") => {
            let pin = call[28..call.len() - 1].parse().unwrap();
            vec![mode(pin, PinMode::DigitalOutput)]
        }
        (_, "digital_write(25, 1)") => vec![DigitalWrite {
            pin: 25,
            value: true,
        }],
        (_, "digital_write(25, 0)") => vec![DigitalWrite {
            pin: 25,
            value: false,
        }],
        (_, "digital_write(2, 1)") => vec![DigitalWrite {
            pin: 2,
            value: true,
        }],
        (_, "digital_write(13, 1)") => vec![DigitalWrite {
            pin: 13,
            value: true,
        }],
        (_, "set_pin_mode_digital_input(15)") => vec![mode(15, input(true))],
        (_, "set_pin_mode_digital_input(4)") => vec![mode(4, input(true))],
        (_, "set_pin_mode_digital_input(2)") => vec![mode(2, input(true))],
        (_, "set_pin_mode_digital_input_pullup(14)") => {
            vec![mode(14, PinMode::DigitalInputPullUp { report: true })]
        }
        (_, "set_pin_mode_digital_input_pullup(5)") => {
            vec![mode(5, PinMode::DigitalInputPullUp { report: true })]
        }
        (_, "set_pin_mode_digital_input_pullup(3)") => {
            vec![mode(3, PinMode::DigitalInputPullUp { report: true })]
        }
        (_, "set_pin_mode_digital_input_pull_down(13)") => {
            vec![mode(13, PinMode::DigitalInputPullDown { report: true })]
        }
        (_, "set_pin_mode_digital_input_pulldown(12)") => {
            vec![mode(12, PinMode::DigitalInputPullDown { report: true })]
        }
        (_, "set_pin_mode_analog_input(0)") => vec![analog(0, 0)],
        (_, "set_pin_mode_analog_input(1, differential=300)") => vec![analog(1, 300)],
        (_, "set_pin_mode_analog_input(32)") => vec![analog(32, 0)],
        (_, "set_pin_mode_analog_input(0, differential=5)") => vec![analog(0, 5)],
        (_, "set_pin_mode_pwm_output(16)") => vec![mode(16, PinMode::PwmOutput)],
        (_, "set_pin_mode_analog_output(9)") => vec![mode(9, PinMode::PwmOutput)],
        (_, "set_pin_mode_analog_output(13)") => vec![mode(
            13,
            PinMode::Ledc {
                channel: 0,
                resolution: 8,
                frequency: 5000.0,
            },
        )],
        // 50 % of the 20 000-step period.
        (_, "pwm_write(16, 50)") => vec![PwmWrite {
            pin: 16,
            value: 10_000,
        }],
        (_, "pwm_write(16, 19999, raw=True)") => vec![PwmWrite {
            pin: 16,
            value: 19_999,
        }],
        (_, "analog_write(13, 128)") => vec![PwmWrite {
            pin: 13,
            value: 128,
        }],
        (_, "analog_write(9, 128)") => vec![PwmWrite { pin: 9, value: 128 }],
        // The Pico drives a servo as a PWM pin.
        (_, "set_pin_mode_servo(17, 300, 1900)") => vec![mode(17, PinMode::PwmOutput)],
        // int(90 / 180 * (1900 - 300)) + 300.
        (_, "servo_write(17, 90)") => vec![PwmWrite {
            pin: 17,
            value: 1100,
        }],
        (_, "set_pin_mode_servo(14)") => vec![ServoAttach {
            pin: 14,
            min_pulse: 544,
            max_pulse: 2400,
        }],
        (_, "set_pin_mode_servo(10)") => vec![ServoAttach {
            pin: 10,
            min_pulse: 544,
            max_pulse: 2400,
        }],
        (_, "servo_write(14, 90)") => vec![ServoWrite { pin: 14, angle: 90 }],
        (_, "servo_write(10, 90)") => vec![ServoWrite { pin: 10, angle: 90 }],
        (_, "servo_detach(14)") => vec![ServoDetach { pin: 14 }],
        (_, "servo_detach(10)") => vec![ServoDetach { pin: 10 }],
        (_, c) if c.starts_with("enable_digital_reporting(") => {
            vec![ModifyReporting(Reporting::DigitalEnable(arg(c)))]
        }
        (_, c) if c.starts_with("disable_digital_reporting(") => {
            vec![ModifyReporting(Reporting::DigitalDisable(arg(c)))]
        }
        (_, c) if c.starts_with("enable_analog_reporting(") => {
            vec![ModifyReporting(Reporting::AnalogEnable(arg(c)))]
        }
        (_, c) if c.starts_with("disable_analog_reporting(") => {
            vec![ModifyReporting(Reporting::AnalogDisable(arg(c)))]
        }
        (_, "disable_all_reporting()") => vec![ModifyReporting(Reporting::DisableAll)],
        (_, "set_pin_mode_i2c(0, 4, 5)") | (_, "set_pin_mode_i2c()") => vec![I2cBegin {
            port: 0,
            sda: 4,
            scl: 5,
        }],
        (_, "i2c_read(0x53, 0x32, 6)") => vec![i2c_read(Some(0x32))],
        (_, "i2c_read(0x53, None, 2)") => vec![i2c_read(None)],
        (_, "i2c_write(0x53, [0x2d, 0x08])") => vec![i2c_write(0)],
        (_, "set_pin_mode_sonar(2, 3)") => vec![SonarNew {
            trigger: 2,
            echo: 3,
        }],
        (_, "set_pin_mode_sonar(16, 17)") => vec![SonarNew {
            trigger: 16,
            echo: 17,
        }],
        (_, "set_pin_mode_sonar(7, 8)") => vec![SonarNew {
            trigger: 7,
            echo: 8,
        }],
        (_, "set_pin_mode_dht(6)") => vec![DhtNew {
            pin: 6,
            dht_type: 22,
        }],
        (_, "set_pin_mode_dht(4, dht_type=11)") => vec![DhtNew {
            pin: 4,
            dht_type: 11,
        }],
        (_, "set_analog_scan_interval(50)") => vec![SetAnalogScanInterval { ms: 50 }],
        (_, "loop_back('A')") => vec![LoopBack { byte: b'A' }],
        (f, c) => panic!("no typed command for {f} call {c}: add it to this table"),
    }
}

/// The number in `name(N)`.
fn arg(call: &str) -> u8 {
    let start = call.find('(').unwrap() + 1;
    call[start..call.len() - 1].parse().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(text: &str) -> Vec<u8> {
    text.split(' ')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

/// What the Python client's callback receives for `report` (its list without the time
/// stamp), rendered as the capture prints it.
fn client_view(family: Family, report: &Report<'_>) -> String {
    let ids = |pico: u8, esp32: u8, arduino: u8| match family {
        Family::RpiPico => pico,
        Family::Esp32 => esp32,
        Family::Arduino => arduino,
    };
    let join = |v: Vec<String>| v.join(" ");
    match *report {
        Report::Digital { pin, value } => format!("2 {pin} {value}"),
        Report::Analog { pin, value } => format!("3 {pin} {value}"),
        Report::LoopBack { byte } => format!("{byte}"),
        Report::Sonar {
            trigger_pin,
            distance,
        } => {
            let value = match distance {
                SonarDistance::Centimeters(cm) => cm.to_string(),
                SonarDistance::CentimetersHundredths {
                    cm: 0,
                    hundredths: 0,
                } => "0".to_string(),
                // Python: report[1] + (report[2] / 100), printed as a float.
                SonarDistance::CentimetersHundredths { cm, hundredths } => {
                    format!("{:?}", f64::from(cm) + f64::from(hundredths) / 100.0)
                }
            };
            format!("{} {trigger_pin} {value}", ids(11, 10, 11))
        }
        Report::I2cData {
            port,
            address,
            register,
            data,
        } => {
            let count = data.len();
            let head: Vec<String> = match (family, port) {
                (Family::RpiPico, Some(p)) => vec![p, address, register, count as u8],
                (Family::Esp32, None) => vec![count as u8, address, register],
                (Family::Arduino, Some(p)) => vec![p, count as u8, address, register],
                other => panic!("I2C report of the wrong shape {other:?}"),
            }
            .iter()
            .map(u8::to_string)
            .collect();
            let mut all = vec![ids(10, 9, 10).to_string()];
            all.extend(head);
            all.extend(data.iter().map(u8::to_string));
            join(all)
        }
        ref other => panic!("no client view for {other:?}"),
    }
}

#[test]
fn golden_commands_and_reports() {
    let (mut commands_checked, mut reports_checked) = (0, 0);
    for line in GOLDEN.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        let f = family(fields[1]);
        match fields[0] {
            "command" => {
                let (call, want) = (fields[2], fields[3]);
                let mut got = Vec::new();
                for command in commands(f, call) {
                    let mut out = [0u8; 64];
                    let n =
                        encode(f, &command, &mut out).unwrap_or_else(|e| panic!("{f} {call}: {e}"));
                    got.extend_from_slice(&out[..n]);
                }
                assert_eq!(hex(&got), want, "{f} {call}");
                commands_checked += 1;
            }
            "report" => {
                let (frame, want) = (fields[2], fields[3]);
                let bytes = unhex(frame);
                let mut decoder = ReportDecoder::new(f);
                let Feed::Report { report, remaining } = decoder.feed(&bytes) else {
                    panic!("{f} {frame}: not a report");
                };
                assert!(remaining.is_empty(), "{f} {frame}: bytes left");
                assert_eq!(client_view(f, &report), want, "{f} {frame}");
                // The board side writes the same bytes back.
                let mut out = [0u8; 64];
                let n = report.emit(f, &mut out).unwrap();
                assert_eq!(&out[..n], bytes.as_slice(), "{f} {frame} re-emitted");
                reports_checked += 1;
            }
            other => panic!("unknown golden line kind {other}"),
        }
    }
    assert_eq!((commands_checked, reports_checked), (75, 19));
}
