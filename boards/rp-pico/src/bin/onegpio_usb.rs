//! OneGPIO firmware over USB CDC-ACM: the Pico appears as `/dev/ttyACM0` on the Raspberry Pi,
//! where `banyan-gateway --serial /dev/ttyACM0` bridges it to the backplane.
//!
//! Any OneGPIO component drives the Pico's pins through the backplane: GP0–GP22 and GP25
//! (the LED) digital in/out, PWM, servo, tone; GP26–GP28 analog channels 0–2. When the port
//! is closed or the cable pulled, it waits for the next connection; pin states are kept.
//! Commands on `to_pico_gateway`, reports on `from_pico_gateway`; see
//! `banyan_board_rp_pico::onegpio_board` and README.md.
#![no_std]
#![no_main]

use banyan_board_rp_pico::onegpio_app::{OneGpioApp, OneGpioClient};
use banyan_board_rp_pico::onegpio_board::{PicoAdc, PicoBoard};
use banyan_board_rp_pico::{boot_nonce, info, usb};
use banyan_mcu::ClientConfig;
use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::peripherals::USB;
use embassy_rp::usb::InterruptHandler;

bind_interrupts!(struct Irqs {
    USBCTRL_IRQ => InterruptHandler<USB>;
});

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());

    let mut link = usb::start(spawner, p.USB, Irqs, "Banyan OneGPIO");

    // Index = GP number; GP23/24 are internal, GP26–28 analog.
    let pins = [
        Some(p.PIN_0.into()),
        Some(p.PIN_1.into()),
        Some(p.PIN_2.into()),
        Some(p.PIN_3.into()),
        Some(p.PIN_4.into()),
        Some(p.PIN_5.into()),
        Some(p.PIN_6.into()),
        Some(p.PIN_7.into()),
        Some(p.PIN_8.into()),
        Some(p.PIN_9.into()),
        Some(p.PIN_10.into()),
        Some(p.PIN_11.into()),
        Some(p.PIN_12.into()),
        Some(p.PIN_13.into()),
        Some(p.PIN_14.into()),
        Some(p.PIN_15.into()),
        Some(p.PIN_16.into()),
        Some(p.PIN_17.into()),
        Some(p.PIN_18.into()),
        Some(p.PIN_19.into()),
        Some(p.PIN_20.into()),
        Some(p.PIN_21.into()),
        Some(p.PIN_22.into()),
        None,
        None,
        Some(p.PIN_25.into()),
        None,
        None,
        None,
    ];
    let adc = PicoAdc::new(p.ADC, p.PIN_26, p.PIN_27, p.PIN_28);
    let mut app = OneGpioApp::new(PicoBoard::new(pins, adc));

    let nonce = boot_nonce();
    let mut client: OneGpioClient = OneGpioClient::new(ClientConfig::new(nonce));
    if client.subscribe(app.commands_topic()).is_err() {
        panic!("command topic does not fit the client");
    }
    loop {
        link.wait_connection().await;
        info!("USB port open, boot nonce {=u32:#x}", nonce);
        let e = app.run(&mut client, &mut link).await;
        info!("USB link lost ({}); waiting for the port again", e);
    }
}
