//! Command and report ids, one table per firmware family.
//!
//! Telemetrix has no specification document: the ids exist only as constants in each Python
//! client's `private_constants.py` (and, mirrored, in each firmware's source). They **differ
//! per family** — `SERVO_ATTACH` is 7 on the Pico and the Arduino but 6 on the ESP32, the ESP32
//! has no are-you-there, only the Arduino has features — so every encoder and decoder call in
//! [`super`] takes a [`Family`](super::Family) and reads the numbers from here, nowhere else.
//!
//! Each module cites the file and the PyPI version it was copied from. The golden bytes in
//! `tests/telemetrix_golden/` were written by those Python clients themselves, so a typo here
//! is a failing test, not a board that silently does something else.

/// Telemetrix4RpiPico (USB CDC serial, 115 200 baud).
///
/// Source: `tmx_pico_aio/private_constants.py` of PyPI `tmx-pico-aio` 1.5.1 (identical ids in
/// `telemetrix_rpi_pico/private_constants.py` of PyPI `telemetrix-rpi-pico` 1.5.1), checked
/// against the firmware's `include/Telemetrix4RpiPico.h` (repository
/// MrYsLab/Telemetrix4RpiPico, firmware version 1.1).
pub mod rpi_pico {
    /// Host → board command ids.
    pub mod cmd {
        /// LOOP_COMMAND: the board echoes one byte back.
        pub const LOOP_COMMAND: u8 = 0;
        /// SET_PIN_MODE.
        pub const SET_PIN_MODE: u8 = 1;
        /// DIGITAL_WRITE.
        pub const DIGITAL_WRITE: u8 = 2;
        /// PWM_WRITE (raw duty cycle, 0 … 19 999 at 50 Hz).
        pub const PWM_WRITE: u8 = 3;
        /// MODIFY_REPORTING.
        pub const MODIFY_REPORTING: u8 = 4;
        /// GET_FIRMWARE_VERSION.
        pub const GET_FIRMWARE_VERSION: u8 = 5;
        /// RETRIEVE_PICO_UNIQUE_ID: the Pico's are-you-there.
        pub const RETRIEVE_PICO_UNIQUE_ID: u8 = 6;
        /// SERVO_ATTACH (a no-op in the firmware: servos are PWM pins on the Pico).
        pub const SERVO_ATTACH: u8 = 7;
        /// SERVO_WRITE (a no-op in the firmware).
        pub const SERVO_WRITE: u8 = 8;
        /// SERVO_DETACH (a no-op in the firmware).
        pub const SERVO_DETACH: u8 = 9;
        /// I2C_BEGIN.
        pub const I2C_BEGIN: u8 = 10;
        /// I2C_READ.
        pub const I2C_READ: u8 = 11;
        /// I2C_WRITE.
        pub const I2C_WRITE: u8 = 12;
        /// SONAR_NEW.
        pub const SONAR_NEW: u8 = 13;
        /// DHT_NEW.
        pub const DHT_NEW: u8 = 14;
        /// STOP_ALL_REPORTS.
        pub const STOP_ALL_REPORTS: u8 = 15;
        /// ENABLE_ALL_REPORTS.
        pub const ENABLE_ALL_REPORTS: u8 = 16;
        /// RESET_DATA (a no-op in the firmware).
        pub const RESET_DATA: u8 = 17;
        /// RESET_BOARD: watchdog reboot.
        pub const RESET_BOARD: u8 = 18;
        /// INITIALIZE_NEO_PIXELS.
        pub const INITIALIZE_NEO_PIXELS: u8 = 19;
        /// SHOW_NEO_PIXELS.
        pub const SHOW_NEO_PIXELS: u8 = 20;
        /// SET_NEO_PIXEL.
        pub const SET_NEO_PIXEL: u8 = 21;
        /// CLEAR_ALL_NEO_PIXELS.
        pub const CLEAR_ALL_NEO_PIXELS: u8 = 22;
        /// FILL_ALL_NEO_PIXELS.
        pub const FILL_ALL_NEO_PIXELS: u8 = 23;
        /// SPI_INIT.
        pub const SPI_INIT: u8 = 24;
        /// SPI_WRITE_BLOCKING.
        pub const SPI_WRITE_BLOCKING: u8 = 25;
        /// SPI_READ_BLOCKING.
        pub const SPI_READ_BLOCKING: u8 = 26;
        /// SPI_SET_FORMAT.
        pub const SPI_SET_FORMAT: u8 = 27;
        /// SPI_CS_CONTROL.
        pub const SPI_CS_CONTROL: u8 = 28;
    }
    /// Board → host report ids.
    pub mod report {
        /// LOOP_COMMAND echo.
        pub const LOOP_BACK: u8 = 0;
        /// DIGITAL_REPORT `[pin, value]`.
        pub const DIGITAL: u8 = 2;
        /// ANALOG_REPORT `[adc, value_hi, value_lo]`.
        pub const ANALOG: u8 = 3;
        /// FIRMWARE_REPORT `[major, minor]`.
        pub const FIRMWARE: u8 = 5;
        /// UNIQUE_ID_REPORT, 8 bytes.
        pub const UNIQUE_ID: u8 = 6;
        /// SERVO_UNAVAILABLE `[pin]`.
        pub const SERVO_UNAVAILABLE: u8 = 7;
        /// I2C_WRITE_FAILED `[port, address, x]`.
        pub const I2C_WRITE_FAILED: u8 = 8;
        /// I2C_READ_FAILED `[port, address, x]`.
        pub const I2C_READ_FAILED: u8 = 9;
        /// I2C_READ_REPORT `[port, address, register, count, data…]`.
        pub const I2C_READ: u8 = 10;
        /// SONAR_DISTANCE `[trigger, cm, hundredths]`.
        pub const SONAR_DISTANCE: u8 = 11;
        /// DHT_REPORT.
        pub const DHT: u8 = 12;
        /// SPI_REPORT.
        pub const SPI: u8 = 13;
        /// DEBUG_PRINT `[id, value_hi, value_lo]`.
        pub const DEBUG_PRINT: u8 = 99;
    }
    /// SET_PIN_MODE mode bytes (`AT_*`).
    pub mod mode {
        /// AT_INPUT.
        pub const INPUT: u8 = 0;
        /// AT_OUTPUT.
        pub const OUTPUT: u8 = 1;
        /// AT_PWM_OUTPUT (also what the client sends for a servo).
        pub const PWM_OUTPUT: u8 = 2;
        /// AT_INPUT_PULLUP.
        pub const INPUT_PULLUP: u8 = 3;
        /// AT_INPUT_PULL_DOWN.
        pub const INPUT_PULL_DOWN: u8 = 4;
        /// AT_ANALOG.
        pub const ANALOG: u8 = 5;
    }
    /// Largest frame length byte the firmware's 30-byte command buffer takes (it stores the
    /// id too: `command_buffer[i]` for `i < length`).
    pub const MAX_COMMAND_LENGTH: u8 = 30;
    /// I2C_NO_REGISTER: the register byte of an I2C read that selects no register.
    pub const I2C_NO_REGISTER: u8 = 254;
}

/// Telemetrix4Esp32 (Wi-Fi, TCP port 31336; or BLE).
///
/// Source: `telemetrix_esp32_common/private_constants.py` of PyPI `telemetrix-esp32` 2.1.1
/// (the wheel that holds the `telemetrix_aio_esp32` client s3-extend imports; there is no PyPI
/// package named `telemetrix-aio-esp32`), checked against the firmware's
/// `examples/Telemetrix4Esp32WIFI/Telemetrix4Esp32WIFI.ino` (repository MrYsLab/Telemetrix4Esp32).
pub mod esp32 {
    /// Host → board command ids.
    pub mod cmd {
        /// LOOP_COMMAND.
        pub const LOOP_COMMAND: u8 = 0;
        /// SET_PIN_MODE.
        pub const SET_PIN_MODE: u8 = 1;
        /// DIGITAL_WRITE.
        pub const DIGITAL_WRITE: u8 = 2;
        /// ANALOG_WRITE (LEDC PWM duty).
        pub const ANALOG_WRITE: u8 = 3;
        /// MODIFY_REPORTING.
        pub const MODIFY_REPORTING: u8 = 4;
        /// GET_FIRMWARE_VERSION.
        pub const GET_FIRMWARE_VERSION: u8 = 5;
        /// SERVO_ATTACH.
        pub const SERVO_ATTACH: u8 = 6;
        /// SERVO_WRITE.
        pub const SERVO_WRITE: u8 = 7;
        /// SERVO_DETACH.
        pub const SERVO_DETACH: u8 = 8;
        /// I2C_BEGIN.
        pub const I2C_BEGIN: u8 = 9;
        /// I2C_READ.
        pub const I2C_READ: u8 = 10;
        /// I2C_WRITE.
        pub const I2C_WRITE: u8 = 11;
        /// SONAR_NEW.
        pub const SONAR_NEW: u8 = 12;
        /// DHT_NEW.
        pub const DHT_NEW: u8 = 13;
        /// STOP_ALL_REPORTS.
        pub const STOP_ALL_REPORTS: u8 = 14;
        /// SET_ANALOG_SCANNING_INTERVAL.
        pub const SET_ANALOG_SCANNING_INTERVAL: u8 = 15;
        /// ENABLE_ALL_REPORTS.
        pub const ENABLE_ALL_REPORTS: u8 = 16;
        /// ANALOG_OUT_ATTACH.
        pub const ANALOG_OUT_ATTACH: u8 = 17;
        /// ANALOG_OUT_DETACH.
        pub const ANALOG_OUT_DETACH: u8 = 18;
        /// DAC_WRITE.
        pub const DAC_WRITE: u8 = 19;
        /// RESET: `ESP.restart()`.
        pub const RESET: u8 = 20;
        /// DAC_DISABLE.
        pub const DAC_DISABLE: u8 = 21;
    }
    /// Board → host report ids.
    pub mod report {
        /// LOOP_COMMAND echo.
        pub const LOOP_BACK: u8 = 0;
        /// DIGITAL_REPORT `[pin, value]`.
        pub const DIGITAL: u8 = 2;
        /// ANALOG_REPORT `[gpio, value_hi, value_lo]`.
        pub const ANALOG: u8 = 3;
        /// FIRMWARE_REPORT `[major, minor, build]`.
        pub const FIRMWARE: u8 = 5;
        /// SERVO_UNAVAILABLE `[pin]`.
        pub const SERVO_UNAVAILABLE: u8 = 6;
        /// I2C_TOO_FEW_BYTES_RCVD `[port, address]`.
        pub const I2C_TOO_FEW_BYTES: u8 = 7;
        /// I2C_TOO_MANY_BYTES_RCVD `[port, address]`.
        pub const I2C_TOO_MANY_BYTES: u8 = 8;
        /// I2C_READ_REPORT `[count, address, register, data…]`.
        pub const I2C_READ: u8 = 9;
        /// SONAR_DISTANCE `[trigger, cm_hi, cm_lo]`.
        pub const SONAR_DISTANCE: u8 = 10;
        /// DHT_REPORT.
        pub const DHT: u8 = 11;
        /// TOUCH_REPORT.
        pub const TOUCH: u8 = 12;
        /// SPI_REPORT.
        pub const SPI: u8 = 13;
        /// ONE_WIRE_REPORT.
        pub const ONE_WIRE: u8 = 14;
        /// DEBUG_PRINT `[id, value_hi, value_lo]`.
        pub const DEBUG_PRINT: u8 = 99;
    }
    /// SET_PIN_MODE mode bytes (`AT_*`).
    pub mod mode {
        /// AT_INPUT.
        pub const INPUT: u8 = 0;
        /// AT_OUTPUT.
        pub const OUTPUT: u8 = 1;
        /// AT_INPUT_PULLUP.
        pub const INPUT_PULLUP: u8 = 2;
        /// AT_ANALOG.
        pub const ANALOG: u8 = 3;
        /// AT_TOUCH.
        pub const TOUCH: u8 = 7;
        /// AT_PWM_OUT (LEDC channel, resolution, frequency as a little-endian f64).
        pub const PWM_OUT: u8 = 8;
        /// AT_INPUT_PULL_DOWN.
        pub const INPUT_PULL_DOWN: u8 = 9;
    }
    /// Largest frame length byte the firmware's 30-byte command buffer takes (it stores the
    /// bytes after the id: `command_buffer[i]` for `i < length - 1`).
    pub const MAX_COMMAND_LENGTH: u8 = 31;
}

/// Telemetrix4Arduino (USB serial, 115 200 baud; or TCP 31335 through an ESP8266 bridge).
///
/// Source: `telemetrix/private_constants.py` of PyPI `telemetrix` 1.47, checked against the
/// firmware's `examples/Telemetrix4Arduino/Telemetrix4Arduino.ino` (repository
/// MrYsLab/Telemetrix4Arduino, library version 5.4.4).
pub mod arduino {
    /// Host → board command ids.
    pub mod cmd {
        /// LOOP_COMMAND.
        pub const LOOP_COMMAND: u8 = 0;
        /// SET_PIN_MODE.
        pub const SET_PIN_MODE: u8 = 1;
        /// DIGITAL_WRITE.
        pub const DIGITAL_WRITE: u8 = 2;
        /// ANALOG_WRITE (`analogWrite`, PWM).
        pub const ANALOG_WRITE: u8 = 3;
        /// MODIFY_REPORTING.
        pub const MODIFY_REPORTING: u8 = 4;
        /// GET_FIRMWARE_VERSION.
        pub const GET_FIRMWARE_VERSION: u8 = 5;
        /// ARE_U_THERE: answered by I_AM_HERE with the sketch's instance id.
        pub const ARE_U_THERE: u8 = 6;
        /// SERVO_ATTACH.
        pub const SERVO_ATTACH: u8 = 7;
        /// SERVO_WRITE.
        pub const SERVO_WRITE: u8 = 8;
        /// SERVO_DETACH.
        pub const SERVO_DETACH: u8 = 9;
        /// I2C_BEGIN.
        pub const I2C_BEGIN: u8 = 10;
        /// I2C_READ.
        pub const I2C_READ: u8 = 11;
        /// I2C_WRITE.
        pub const I2C_WRITE: u8 = 12;
        /// SONAR_NEW.
        pub const SONAR_NEW: u8 = 13;
        /// DHT_NEW.
        pub const DHT_NEW: u8 = 14;
        /// STOP_ALL_REPORTS.
        pub const STOP_ALL_REPORTS: u8 = 15;
        /// SET_ANALOG_SCANNING_INTERVAL.
        pub const SET_ANALOG_SCANNING_INTERVAL: u8 = 16;
        /// ENABLE_ALL_REPORTS.
        pub const ENABLE_ALL_REPORTS: u8 = 17;
        /// RESET: the firmware's `reset_data()` (pin state cleared, reports stopped).
        pub const RESET: u8 = 18;
        /// GET_FEATURES.
        pub const GET_FEATURES: u8 = 54;
        /// SONAR_DISABLE.
        pub const SONAR_DISABLE: u8 = 55;
        /// SONAR_ENABLE.
        pub const SONAR_ENABLE: u8 = 56;
    }
    /// Board → host report ids.
    pub mod report {
        /// LOOP_COMMAND echo.
        pub const LOOP_BACK: u8 = 0;
        /// DIGITAL_REPORT `[pin, value]`.
        pub const DIGITAL: u8 = 2;
        /// ANALOG_REPORT `[analog pin, value_hi, value_lo]`.
        pub const ANALOG: u8 = 3;
        /// FIRMWARE_REPORT `[major, minor, patch]`.
        pub const FIRMWARE: u8 = 5;
        /// I_AM_HERE `[instance id]`.
        pub const I_AM_HERE: u8 = 6;
        /// SERVO_UNAVAILABLE `[pin]`.
        pub const SERVO_UNAVAILABLE: u8 = 7;
        /// I2C_TOO_FEW_BYTES_RCVD `[port, address]`.
        pub const I2C_TOO_FEW_BYTES: u8 = 8;
        /// I2C_TOO_MANY_BYTES_RCVD `[port, address]`.
        pub const I2C_TOO_MANY_BYTES: u8 = 9;
        /// I2C_READ_REPORT `[port, count, address, register, data…]`.
        pub const I2C_READ: u8 = 10;
        /// SONAR_DISTANCE `[trigger, cm_hi, cm_lo]`.
        pub const SONAR_DISTANCE: u8 = 11;
        /// DHT_REPORT.
        pub const DHT: u8 = 12;
        /// SPI_REPORT.
        pub const SPI: u8 = 13;
        /// ONE_WIRE_REPORT.
        pub const ONE_WIRE: u8 = 14;
        /// FEATURES `[bitmask]`.
        pub const FEATURES: u8 = 20;
        /// DEBUG_PRINT `[id, value_hi, value_lo]`.
        pub const DEBUG_PRINT: u8 = 99;
    }
    /// SET_PIN_MODE mode bytes (`AT_*`).
    pub mod mode {
        /// AT_INPUT.
        pub const INPUT: u8 = 0;
        /// AT_OUTPUT (also what the client sends for a PWM pin).
        pub const OUTPUT: u8 = 1;
        /// AT_INPUT_PULLUP.
        pub const INPUT_PULLUP: u8 = 2;
        /// AT_ANALOG.
        pub const ANALOG: u8 = 3;
    }
    /// FEATURES bits.
    pub mod feature {
        /// ONEWIRE_FEATURE.
        pub const ONEWIRE: u8 = 0x01;
        /// DHT_FEATURE.
        pub const DHT: u8 = 0x02;
        /// STEPPERS_FEATURE.
        pub const STEPPERS: u8 = 0x04;
        /// SPI_FEATURE.
        pub const SPI: u8 = 0x08;
        /// SERVO_FEATURE.
        pub const SERVO: u8 = 0x10;
        /// SONAR_FEATURE.
        pub const SONAR: u8 = 0x20;
    }
    /// Largest frame length byte the firmware's 30-byte command buffer takes (it stores the
    /// bytes after the id).
    pub const MAX_COMMAND_LENGTH: u8 = 31;
}

/// MODIFY_REPORTING sub-commands, the same in every family.
pub mod reporting {
    /// REPORTING_DISABLE_ALL.
    pub const DISABLE_ALL: u8 = 0;
    /// REPORTING_ANALOG_ENABLE.
    pub const ANALOG_ENABLE: u8 = 1;
    /// REPORTING_DIGITAL_ENABLE.
    pub const DIGITAL_ENABLE: u8 = 2;
    /// REPORTING_ANALOG_DISABLE.
    pub const ANALOG_DISABLE: u8 = 3;
    /// REPORTING_DIGITAL_DISABLE.
    pub const DIGITAL_DISABLE: u8 = 4;
}
