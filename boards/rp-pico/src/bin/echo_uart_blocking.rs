//! The smallest Pico echo firmware: the echo client on UART0 (GP0 = TX, GP1 = RX, 115200 8N1)
//! with `banyan-mcu`'s **blocking** driver — no async executor, no interrupt-driven buffers:
//! embassy-rp only sets up the clocks, the pins and the UART, then the client polls the
//! UART's PL011 registers (`banyan_firmware::pl011`, the same driver as under QEMU).
//!
//! Same behaviour as `echo_uart`: waits for the gateway as long as it takes, runs the seed's
//! echo (11 messages), turns the LED (GP25) on when every reply has arrived. Without the
//! `defmt` feature this is the configuration measured against the 16 KiB / 4 KiB footprint
//! target (BENCHMARKS.md "Firmware footprint"). The CPU spins while waiting (no sleep): fine
//! on USB power, not for batteries.
#![no_std]
#![no_main]

use banyan_board_rp_pico::{EmbassyClock, boot_nonce, error, info};
use banyan_firmware::pl011::{Pl011, RP2040_UART0};
use banyan_mcu::{EchoClient, EchoConfig, Polled};
use embassy_rp::gpio::{Level, Output};
use embassy_rp::uart::{Config, Uart};

#[cortex_m_rt::entry]
fn main() -> ! {
    let p = embassy_rp::init(Default::default());
    let mut led = Output::new(p.PIN_25, Level::Low);

    let mut config = Config::default();
    config.baudrate = 115_200;
    // embassy-rp sets up the UART's clock, pins, baud rate, 8N1 and FIFOs; the client then
    // talks to its registers directly. The driver is kept (not dropped) so nothing undoes that.
    let uart = Uart::new_blocking(p.UART0, p.PIN_0, p.PIN_1, config);
    // SAFETY: UART0 was configured just above and `uart` is never used again.
    let mut link = Polled(unsafe { Pl011::configured(RP2040_UART0) });

    let nonce = boot_nonce();
    info!("echo (blocking) over UART0, boot nonce {=u32:#x}", nonce);
    let config = EchoConfig {
        // The Pi side may start later than the Pico: wait for it forever.
        max_retries: None,
        ..EchoConfig::seed(nonce)
    };
    let mut client: EchoClient<'_> = EchoClient::new(config);
    match client.run(&mut link, &EmbassyClock, &mut ()) {
        Ok(summary) => {
            info!("echo complete: {}", summary);
            led.set_high();
        }
        Err(e) => error!("echo failed: {}", e),
    }
    let _keep = uart;
    loop {
        cortex_m::asm::wfi();
    }
}
