//! Golden bytes for the Firmata codec, made by real peers (see `tests/firmata_golden/`):
//! * the encoder against the bytes pymata4 1.15 and pyfirmata2 2.5.1 wrote for each call
//!   (`capture.py`: each client on a pty with a fake Uno);
//! * the decoder against what the unmodified StandardFirmata of an Uno sent under avr8js
//!   (`standard_firmata.js`).

use std::collections::BTreeMap;

use banyan_proto::firmata::{
    Capabilities, Command, Event, Feed, FirmataDecoder, I2cOp, PinMode, StepperPins, encode,
};

/// `call<TAB>hex` lines of a golden file, comments skipped, in order.
fn golden(file: &str) -> Vec<(String, Vec<u8>)> {
    let path = format!("{}/tests/firmata_golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (call, hex) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("no tab in {line:?}"));
            let bytes = hex
                .split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
            (call.to_owned(), bytes)
        })
        .collect()
}

fn encode_all(commands: &[Command<'_>]) -> Vec<u8> {
    let mut wire = Vec::new();
    for command in commands {
        let mut buf = vec![0u8; command.encoded_len()];
        let n = encode(command, &mut buf).unwrap_or_else(|e| panic!("{command:?}: {e}"));
        assert_eq!(n, command.encoded_len(), "{command:?}");
        wire.extend_from_slice(&buf[..n]);
    }
    wire
}

/// Compares every call of a golden file with the commands that should give its bytes; every
/// call must be listed, and every listed call must be in the file.
fn check_client(file: &str, expected: &[(&str, Vec<Command<'_>>)]) {
    let golden = golden(file);
    let table: BTreeMap<&str, &Vec<Command<'_>>> =
        expected.iter().map(|(call, cmds)| (*call, cmds)).collect();
    for (call, bytes) in &golden {
        let commands = table
            .get(call.as_str())
            .unwrap_or_else(|| panic!("{file}: no expected commands for {call}"));
        assert_eq!(&encode_all(commands), bytes, "{file}: {call}");
    }
    assert_eq!(
        golden.len(),
        expected.len(),
        "{file}: calls missing from the file"
    );
}

fn set_mode(pin: u8, mode: PinMode) -> Command<'static> {
    Command::SetPinMode { pin, mode }
}

#[test]
fn pymata4_calls() {
    use Command::*;
    let report_port0 = ReportDigital {
        port: 0,
        enable: true,
    };
    let report_port1 = ReportDigital {
        port: 1,
        enable: true,
    };
    let expected: Vec<(&str, Vec<Command<'_>>)> = vec![
        (
            "Pymata4(com_port, baud_rate=115200)",
            vec![
                AreYouThere,
                ReportFirmware,
                AnalogMappingQuery,
                SamplingInterval { ms: 19 },
            ],
        ),
        (
            "b.set_pin_mode_digital_output(13)",
            vec![set_mode(13, PinMode::Output)],
        ),
        (
            "b.digital_write(13, 1)",
            vec![DigitalPort {
                port: 1,
                pins: 0x20,
            }],
        ),
        (
            "b.digital_write(13, 0)",
            vec![DigitalPort { port: 1, pins: 0 }],
        ),
        (
            "b.digital_pin_write(7, 1)",
            vec![SetDigitalPin { pin: 7, high: true }],
        ),
        (
            "b.set_pin_mode_digital_input(2)",
            vec![set_mode(2, PinMode::Input), report_port0],
        ),
        (
            "b.set_pin_mode_digital_input_pullup(4)",
            vec![set_mode(4, PinMode::Pullup), report_port0],
        ),
        ("b.enable_digital_reporting(10)", vec![report_port1]),
        (
            "b.disable_digital_reporting(10)",
            vec![ReportDigital {
                port: 1,
                enable: false,
            }],
        ),
        // pymata4 numbers analog pins by channel and adds the first analog pin (14).
        (
            "b.set_pin_mode_analog_input(0)",
            vec![set_mode(14, PinMode::Analog)],
        ),
        (
            "b.enable_analog_reporting(1)",
            vec![set_mode(15, PinMode::Analog)],
        ),
        (
            "b.disable_analog_reporting(1)",
            vec![set_mode(15, PinMode::Input), report_port1],
        ),
        (
            "b.set_pin_mode_pwm_output(9)",
            vec![set_mode(9, PinMode::Pwm)],
        ),
        (
            "b.pwm_write(9, 128)",
            vec![AnalogWrite { pin: 9, value: 128 }],
        ),
        (
            "b.pwm_write(20, 255)",
            vec![AnalogWrite {
                pin: 20,
                value: 255,
            }],
        ),
        (
            "b.set_pin_mode_servo(6)",
            vec![ServoConfig {
                pin: 6,
                min_pulse_us: 544,
                max_pulse_us: 2400,
            }],
        ),
        (
            "b.set_pin_mode_servo(6, 600, 2300)",
            vec![ServoConfig {
                pin: 6,
                min_pulse_us: 600,
                max_pulse_us: 2300,
            }],
        ),
        (
            "b.servo_write(6, 90)",
            vec![AnalogWrite { pin: 6, value: 90 }],
        ),
        (
            "b.set_sampling_interval(100)",
            vec![SamplingInterval { ms: 100 }],
        ),
        ("b.set_pin_mode_i2c()", vec![I2cConfig { delay_us: 0 }]),
        ("b.set_pin_mode_i2c(300)", vec![I2cConfig { delay_us: 300 }]),
        (
            "b.i2c_read(0x48, 0, 2)",
            vec![I2cRequest {
                address: 0x48,
                restart: false,
                op: I2cOp::Read {
                    register: Some(0),
                    count: 2,
                },
            }],
        ),
        (
            "b.i2c_read(0x48, None, 2)",
            vec![I2cRequest {
                address: 0x48,
                restart: false,
                op: I2cOp::Read {
                    register: None,
                    count: 2,
                },
            }],
        ),
        (
            "b.i2c_read_continuous(0x48, 0x10, 6)",
            vec![I2cRequest {
                address: 0x48,
                restart: false,
                op: I2cOp::ReadContinuously {
                    register: Some(0x10),
                    count: 6,
                },
            }],
        ),
        (
            "b.i2c_read_restart_transmission(0x1d, 0x0d, 1)",
            vec![I2cRequest {
                address: 0x1D,
                restart: true,
                op: I2cOp::Read {
                    register: Some(0x0D),
                    count: 1,
                },
            }],
        ),
        (
            "b.i2c_write(0x48, [1, 0x60, 0xa0])",
            vec![I2cRequest {
                address: 0x48,
                restart: false,
                op: I2cOp::Write(&[1, 0x60, 0xA0]),
            }],
        ),
        ("b.set_pin_mode_tone(3)", vec![set_mode(3, PinMode::Tone)]),
        (
            "b.play_tone(3, 1000, 500)",
            vec![Tone {
                pin: 3,
                frequency_hz: 1000,
                duration_ms: 500,
            }],
        ),
        (
            "b.play_tone_continuously(3, 440)",
            vec![Tone {
                pin: 3,
                frequency_hz: 440,
                duration_ms: 0,
            }],
        ),
        ("b.play_tone_off(3)", vec![NoTone { pin: 3 }]),
        (
            "b.set_pin_mode_sonar(12, 11)",
            vec![
                set_mode(12, PinMode::Sonar),
                set_mode(11, PinMode::Sonar),
                // pymata's timeout=80000, masked to 14 bits.
                SonarConfig {
                    trigger_pin: 12,
                    echo_pin: 11,
                    max_distance: (80_000u32 % (1 << 14)) as u16,
                },
            ],
        ),
        (
            "b.set_pin_mode_stepper(200, [8, 9, 10, 11])",
            vec![StepperConfig {
                steps_per_revolution: 200,
                pins: StepperPins::Four([8, 9, 10, 11]),
            }],
        ),
        (
            "b.set_pin_mode_stepper(512, [4, 5])",
            vec![StepperConfig {
                steps_per_revolution: 512,
                pins: StepperPins::Two([4, 5]),
            }],
        ),
        (
            "b.stepper_write(21, 100)",
            vec![StepperStep {
                speed: 21,
                steps: 100,
            }],
        ),
        (
            "b.stepper_write(300, -2000)",
            vec![StepperStep {
                speed: 300,
                steps: -2000,
            }],
        ),
        (
            "b.set_pin_mode_dht(7, 22)",
            vec![DhtConfig {
                pin: 7,
                sensor_type: 22,
            }],
        ),
        ("b.get_capability_report()", vec![CapabilityQuery]),
        ("b.get_analog_map()", vec![AnalogMappingQuery]),
        ("b.get_firmware_version()", vec![ReportFirmware]),
        ("b.get_protocol_version()", vec![ReportVersion]),
        ("b.get_pin_state(13)", vec![PinStateQuery { pin: 13 }]),
        ("b.send_reset()", vec![SystemReset]),
        // pymata4 also sets the sampling interval to the period (a quirk of its own).
        (
            "b.keep_alive(period=2)",
            vec![SamplingInterval { ms: 2 }, KeepAlive { period_s: 2 }],
        ),
    ];
    check_client("pymata4.txt", &expected);
}

#[test]
fn pyfirmata2_calls() {
    use Command::*;
    let expected: Vec<(&str, Vec<Command<'_>>)> = vec![
        // With a board layout given, pyfirmata2 sends nothing at start-up.
        ("Arduino(port)", vec![]),
        (
            "b.analog[0].enable_reporting()",
            vec![ReportAnalog {
                channel: 0,
                enable: true,
            }],
        ),
        (
            "b.analog[0].disable_reporting()",
            vec![ReportAnalog {
                channel: 0,
                enable: false,
            }],
        ),
        (
            "b.digital_ports[1].enable_reporting()",
            vec![ReportDigital {
                port: 1,
                enable: true,
            }],
        ),
        (
            "b.digital_ports[1].disable_reporting()",
            vec![ReportDigital {
                port: 1,
                enable: false,
            }],
        ),
        ("b.get_pin('d:13:o')", vec![set_mode(13, PinMode::Output)]),
        (
            "b.digital[13].write(1)",
            vec![DigitalPort {
                port: 1,
                pins: 0x20,
            }],
        ),
        ("b.get_pin('d:9:p')", vec![set_mode(9, PinMode::Pwm)]),
        // 0.5 of 255, rounded by pyfirmata2.
        (
            "b.digital[9].write(0.5)",
            vec![AnalogWrite { pin: 9, value: 128 }],
        ),
        (
            "b.setSamplingInterval(19)",
            vec![SamplingInterval { ms: 19 }],
        ),
        (
            "b.servo_config(6, 544, 2400, 90)",
            vec![
                ServoConfig {
                    pin: 6,
                    min_pulse_us: 544,
                    max_pulse_us: 2400,
                },
                AnalogWrite { pin: 6, value: 90 },
            ],
        ),
    ];
    check_client("pyfirmata2.txt", &expected);
}

/// Every event of `bytes`, in order, as debug strings (events borrow the decoder).
fn decode(bytes: &[u8]) -> Vec<String> {
    let mut decoder: FirmataDecoder = FirmataDecoder::new();
    let mut out = Vec::new();
    let mut input = bytes;
    loop {
        match decoder.feed(input) {
            Feed::Consumed => break,
            Feed::Event { event, remaining } => {
                out.push(format!("{event:?}"));
                input = remaining;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(decoder.stats(), Default::default());
    out
}

#[test]
fn standard_firmata_uno_replies() {
    let replies: BTreeMap<String, Vec<u8>> =
        golden("standard_firmata_uno.txt").into_iter().collect();

    let firmware = "Firmware { major: 2, minor: 4, name: \"StandardFirmata.ino\" }";
    assert_eq!(
        decode(&replies["startup"]),
        ["ProtocolVersion { major: 2, minor: 4 }", firmware]
    );
    assert_eq!(
        decode(&replies["f9"]),
        ["ProtocolVersion { major: 2, minor: 4 }"]
    );
    assert_eq!(decode(&replies["f0 79 f7"]), [firmware]);
    assert_eq!(
        decode(&replies["f0 6d 0d f7"]),
        ["PinState { pin: 13, mode: Output, state: 0 }"]
    );
    assert_eq!(
        decode(&replies["f0 6d 0e f7"]),
        ["PinState { pin: 14, mode: Analog, state: 0 }"]
    );

    // Capability and mapping: into Capabilities, checked against the Uno's pinout.
    let mut cap_decoder: FirmataDecoder = FirmataDecoder::new();
    let Feed::Event {
        event: Event::Capabilities(response),
        remaining,
    } = cap_decoder.feed(&replies["f0 6b f7"])
    else {
        panic!("no capability response");
    };
    assert!(remaining.is_empty());
    let mut map_decoder: FirmataDecoder = FirmataDecoder::new();
    let Feed::Event {
        event: Event::AnalogMapping(mapping),
        remaining,
    } = map_decoder.feed(&replies["f0 69 f7"])
    else {
        panic!("no analog mapping response");
    };
    assert!(remaining.is_empty());
    let uno = Capabilities::new(&response, &mapping).unwrap();

    assert_eq!(uno.pin_count(), 20);
    assert_eq!(uno.analog_channels(), 6);
    // D0/D1 are the serial port: StandardFirmata lists no mode for them.
    for pin in [0, 1] {
        assert!(uno.pin(pin).unwrap().modes().is_empty());
    }
    for pin in 2..20 {
        assert!(uno.supports(pin, PinMode::Input), "pin {pin}");
        assert!(uno.supports(pin, PinMode::Output), "pin {pin}");
        assert_eq!(uno.resolution(pin, PinMode::Servo), Some(14), "pin {pin}");
        // Protocol 2.4: no pull-up mode (FACTS: 0x0B is refused).
        assert!(!uno.supports(pin, PinMode::Pullup), "pin {pin}");
        let pwm = [3, 5, 6, 9, 10, 11].contains(&pin);
        assert_eq!(
            uno.resolution(pin, PinMode::Pwm),
            pwm.then_some(8),
            "pin {pin}"
        );
        let analog = (14..20).contains(&pin);
        assert_eq!(
            uno.resolution(pin, PinMode::Analog),
            analog.then_some(10),
            "pin {pin}"
        );
        assert_eq!(
            uno.analog_channel(pin),
            analog.then(|| pin - 14),
            "pin {pin}"
        );
        assert_eq!(
            uno.supports(pin, PinMode::I2c),
            pin == 18 || pin == 19,
            "pin {pin}"
        );
    }
    for channel in 0..6 {
        assert_eq!(uno.pin_of_channel(channel), Some(14 + channel));
    }
    assert_eq!(uno.pin_of_channel(6), None);
    assert!(!uno.supports(20, PinMode::Input));
    assert_eq!(uno.analog_channel(200), None);

    // The whole start-up and every reply, one byte at a time, decode to the same events.
    let all: Vec<u8> = replies.values().flatten().copied().collect();
    let mut decoder: FirmataDecoder = FirmataDecoder::new();
    let mut events = 0;
    for byte in &all {
        if let Feed::Event { remaining, .. } = decoder.feed(std::slice::from_ref(byte)) {
            assert!(remaining.is_empty());
            events += 1;
        }
    }
    assert_eq!(events, 8);
    assert_eq!(decoder.stats(), Default::default());
}

/// Re-encoding the board's replies with `Event::encode` gives the firmware's bytes back.
#[test]
fn board_replies_reencode_exactly() {
    for (query, bytes) in golden("standard_firmata_uno.txt") {
        let mut decoder: FirmataDecoder = FirmataDecoder::new();
        let mut wire = Vec::new();
        let mut input = bytes.as_slice();
        while let Feed::Event { event, remaining } = decoder.feed(input) {
            let mut buf = vec![0u8; event.encoded_len()];
            let n = event.encode(&mut buf).unwrap();
            assert_eq!(n, buf.len());
            wire.extend_from_slice(&buf);
            input = remaining;
        }
        assert_eq!(wire, bytes, "{query}");
    }
}
