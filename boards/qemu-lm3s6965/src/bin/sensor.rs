//! Sensor-and-command firmware for QEMU's lm3s6965evb, on `banyan_mcu::Client`.
//!
//! Every period (100 ms at boot) it publishes `{'count': n, 'temperature': t}` on
//! `sensor/lm3s6965`, and obeys commands on `command/lm3s6965`: `{'command': 'rate', 'ms': M}`
//! changes the period, `{'command': 'stop'}` ends the QEMU run through semihosting with exit
//! status 0. Any internal failure (a client error, a panic) exits with status 1. The
//! lm3s6965evb has no temperature sensor in QEMU: `t` is
//! `banyan_firmware::sensor::simulated_temperature_c` (a 20–24 °C triangle wave).
//!
//! Logs through defmt over semihosting (decode QEMU's stdout with `defmt-print -e <this elf>`);
//! `scripts/qemu-e2e.sh --app sensor` runs it with a Python Banyan peer.
#![no_std]
#![no_main]

use banyan_board_qemu_lm3s6965::systick::{QEMU_CORE_HZ, SysTickClock};
use banyan_board_qemu_lm3s6965::{error, exit, info, warn};
use banyan_firmware::pl011::{LM3S6965_UART0, Pl011};
use banyan_firmware::sensor::{self, Command, Sensor};
use banyan_mcu::{Client, ClientConfig, Clock, Incoming, Polled};
use cortex_m_rt::entry;
#[cfg(feature = "defmt")]
use defmt_semihosting as _;

#[cfg(feature = "defmt")]
defmt::timestamp!("{=u64:ms}", SysTickClock::millis());

/// Readings go here.
const SENSOR_TOPIC: &str = "sensor/lm3s6965";
/// Commands come from here.
const COMMAND_TOPIC: &str = "command/lm3s6965";
/// There is no entropy source under QEMU; the gateway only compares nonces.
const BOOT_NONCE: u32 = 0x5345_4E53;

#[entry]
fn main() -> ! {
    let Some(core) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    let clock = SysTickClock::start(core.SYST, QEMU_CORE_HZ);
    // SAFETY: UART0 is used by nothing else in this program.
    let mut uart = Polled(unsafe { Pl011::configure_8n1(LM3S6965_UART0) });
    let mut client: Client = Client::new(ClientConfig::new(BOOT_NONCE));
    if let Err(e) = client.subscribe(COMMAND_TOPIC) {
        error!("subscribe failed: {}", e);
        exit(false)
    }
    let mut sensor = Sensor::new(clock.now_ms());
    info!(
        "sensor: publishing on {=str}, commands on {=str}",
        SENSOR_TOPIC, COMMAND_TOPIC
    );
    loop {
        match client.poll(&mut uart, &clock) {
            Ok(Some(Incoming::Message(message))) => match sensor::parse_command(message.payload) {
                Ok(Command::Rate { ms }) => {
                    sensor.set_period(ms, clock.now_ms());
                    info!("rate: {=u32} ms", ms);
                }
                Ok(Command::Stop) => {
                    info!("stop: {=u32} readings published", sensor.count());
                    exit(true)
                }
                Err(e) => warn!("command refused: {}", e),
            },
            Ok(Some(Incoming::Link(event))) => info!("link: {}", event),
            Ok(None) => {}
            Err(e) => {
                error!("link failed: {}", e);
                exit(false)
            }
        }
        let now = clock.now_ms();
        // Readings start once the gateway answered: count 0 is the first one it forwards.
        if sensor.due(now) && client.is_up() {
            let reading = sensor.reading(sensor::simulated_temperature_c(sensor.count()));
            match client.publish(&mut uart, SENSOR_TOPIC, &reading) {
                Ok(true) => sensor.published(now),
                Ok(false) => {} // the link went down in between: the same reading goes next time
                Err(e) => {
                    error!("publish failed: {}", e);
                    exit(false)
                }
            }
        }
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    #[cfg(feature = "defmt")]
    defmt::error!("panic: {}", defmt::Display2Format(_info));
    exit(false)
}
