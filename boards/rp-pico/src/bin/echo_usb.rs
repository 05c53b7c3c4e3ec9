//! Banyan echo client over USB CDC-ACM: the Pico appears as `/dev/ttyACM0` on the Raspberry
//! Pi, where `banyan-gateway --serial /dev/ttyACM0` bridges it to the backplane.
//!
//! Waits until the port is opened, runs the seed's echo (11 messages) and turns the LED (GP25)
//! on when every reply has arrived. When the port is closed or the cable is pulled mid-run,
//! it waits for the next connection and starts over. Logs over defmt-RTT (probe-rs).
#![no_std]
#![no_main]

use banyan_board_rp_pico::{EmbassyClock, boot_nonce, error, info, usb, warn};
use banyan_mcu::{ClientError, EchoClient, EchoConfig};
use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::USB;
use embassy_rp::usb::InterruptHandler;
use embassy_time::{Delay, Timer};

bind_interrupts!(struct Irqs {
    USBCTRL_IRQ => InterruptHandler<USB>;
});

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    let mut led = Output::new(p.PIN_25, Level::Low);

    let mut link = usb::start(spawner, p.USB, Irqs, "Banyan echo client");

    let nonce = boot_nonce();
    loop {
        link.wait_connection().await;
        info!("USB port open, boot nonce {=u32:#x}", nonce);
        let config = EchoConfig {
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
                loop {
                    Timer::after_secs(3600).await;
                }
            }
            Err(ClientError::Transport(kind)) => {
                warn!("USB link lost ({}); waiting for the port again", kind);
            }
            Err(error) => {
                error!("echo failed: {}; starting over", error);
                Timer::after_secs(1).await;
            }
        }
    }
}
