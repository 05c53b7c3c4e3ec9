//! Banyan echo client firmware for QEMU's lm3s6965evb.
//!
//! Runs `banyan_mcu::EchoClient` (the seed's echo client: 11 messages counting down from 10)
//! over UART0, which QEMU connects to a TCP socket that `banyan-gateway --tcp` dials. Logs
//! through defmt over semihosting (decode QEMU's stdout with `defmt-print -e <this elf>`), and
//! ends the QEMU run with exit status 0 when every reply arrived, 1 otherwise.
#![no_std]
#![no_main]

use banyan_board_qemu_lm3s6965::exit;
use banyan_board_qemu_lm3s6965::systick::{QEMU_CORE_HZ, SysTickClock};
use banyan_board_qemu_lm3s6965::{error, info};
use banyan_firmware::pl011::{LM3S6965_UART0, Pl011};
use banyan_mcu::{EchoClient, EchoConfig, Polled};
use cortex_m_rt::entry;
#[cfg(feature = "defmt")]
use defmt_semihosting as _;

#[cfg(feature = "defmt")]
defmt::timestamp!("{=u64:ms}", SysTickClock::millis());

/// There is no entropy source under QEMU; the gateway only logs the nonce.
const BOOT_NONCE: u32 = 0x5145_4D55;

#[entry]
fn main() -> ! {
    let Some(core) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    let clock = SysTickClock::start(core.SYST, QEMU_CORE_HZ);
    // SAFETY: UART0 is used by nothing else in this program.
    let mut uart = Polled(unsafe { Pl011::configure_8n1(LM3S6965_UART0) });
    let config = EchoConfig {
        // Generous for a loaded CI machine: ~30 s of silence before giving up.
        timeout_ms: 1000,
        max_retries: Some(30),
        ..EchoConfig::seed(BOOT_NONCE)
    };
    let mut client: EchoClient<'_> = EchoClient::new(config);
    match client.run(&mut uart, &clock, &mut ()) {
        Ok(summary) => {
            info!("echo complete: {}", summary);
            exit(true)
        }
        Err(error) => {
            error!("echo failed: {}", error);
            exit(false)
        }
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    #[cfg(feature = "defmt")]
    defmt::error!("panic: {}", defmt::Display2Format(_info));
    exit(false)
}
