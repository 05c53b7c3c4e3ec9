//! Banyan echo client on the Pico's UART0: GP0 = TX, GP1 = RX, 115200 8N1, to a Raspberry
//! Pi's UART (GPIO14/15, `/dev/serial0`) running `banyan-gateway --serial /dev/serial0`.
//!
//! Waits for the gateway as long as it takes, runs the seed's echo (11 messages), turns the
//! LED (GP25) on when every reply has arrived, and logs over defmt-RTT (probe-rs).
#![no_std]
#![no_main]

use banyan_board_rp_pico::{EmbassyClock, UartLink, boot_nonce, error, info};
use banyan_mcu::{EchoClient, EchoConfig};
use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::UART0;
use embassy_rp::uart::{BufferedInterruptHandler, BufferedUart, Config};
use embassy_time::{Delay, Timer};
use static_cell::ConstStaticCell;

bind_interrupts!(struct Irqs {
    UART0_IRQ => BufferedInterruptHandler<UART0>;
});

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    let mut led = Output::new(p.PIN_25, Level::Low);

    // Const-initialised: in .bss, zeroed at boot, no copy at run time.
    static TX_BUF: ConstStaticCell<[u8; 128]> = ConstStaticCell::new([0; 128]);
    static RX_BUF: ConstStaticCell<[u8; 256]> = ConstStaticCell::new([0; 256]);
    let mut config = Config::default();
    config.baudrate = 115_200;
    let uart = BufferedUart::new(
        p.UART0,
        p.PIN_0,
        p.PIN_1,
        Irqs,
        TX_BUF.take(),
        RX_BUF.take(),
        config,
    );
    let mut link = UartLink(uart);

    let nonce = boot_nonce();
    info!(
        "echo over UART0 (GP0 TX, GP1 RX, 115200), boot nonce {=u32:#x}",
        nonce
    );
    let config = EchoConfig {
        // The Pi side may start later than the Pico: wait for it forever.
        max_retries: None,
        ..EchoConfig::seed(nonce)
    };
    let mut client: EchoClient<'_> = EchoClient::new(config);
    match client
        .run_async(&mut link, &EmbassyClock, &mut Delay, &mut ())
        .await
    {
        Ok(summary) => {
            info!("echo complete: {}", summary);
            led.set_high();
        }
        Err(error) => error!("echo failed: {}", error),
    }
    loop {
        Timer::after_secs(3600).await;
    }
}
