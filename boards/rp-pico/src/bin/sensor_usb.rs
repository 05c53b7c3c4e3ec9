//! Sensor-and-command firmware over USB CDC-ACM: the Pico appears as `/dev/ttyACM0` on the
//! Raspberry Pi, where `banyan-gateway --serial /dev/ttyACM0` bridges it to the backplane.
//!
//! Publishes the on-chip temperature on `sensor/pico` every 100 ms and obeys `command/pico`
//! (`rate`, `stop`), see `banyan_board_rp_pico::sensor_app`. When the port is closed or the
//! cable pulled, it waits for the next connection and goes on (count and rate are kept).
#![no_std]
#![no_main]

use banyan_board_rp_pico::sensor_app::{COMMAND_TOPIC, SensorApp, Thermometer};
use banyan_board_rp_pico::{boot_nonce, info, usb};
use banyan_mcu::{Client, ClientConfig};
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
    let mut link = usb::start(spawner, p.USB, Irqs, "Banyan sensor");
    let mut thermometer = Thermometer::new(p.ADC, p.ADC_TEMP_SENSOR);

    let nonce = boot_nonce();
    let mut client: Client = Client::new(ClientConfig::new(nonce));
    if client.subscribe(COMMAND_TOPIC).is_err() {
        panic!("command topic does not fit the client");
    }
    let mut app = SensorApp::new();
    loop {
        link.wait_connection().await;
        info!("USB port open, boot nonce {=u32:#x}", nonce);
        let e = app.run(&mut client, &mut link, &mut thermometer).await;
        info!("USB link lost ({}); waiting for the port again", e);
    }
}
