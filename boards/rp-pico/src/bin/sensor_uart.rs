//! Sensor-and-command firmware on the Pico's UART0 (GP0 = TX, GP1 = RX, 115200 8N1), to a
//! Raspberry Pi running `banyan-gateway --serial /dev/serial0 --baud 115200`.
//!
//! Publishes the on-chip temperature on `sensor/pico` every 100 ms and obeys `command/pico`
//! (`rate`, `stop`), see `banyan_board_rp_pico::sensor_app`. The LED (GP25) is on while the
//! link to the gateway is up.
#![no_std]
#![no_main]

use banyan_board_rp_pico::sensor_app::{COMMAND_TOPIC, SensorApp, Thermometer};
use banyan_board_rp_pico::{UartLink, boot_nonce, error, info};
use banyan_mcu::{Client, ClientConfig};
use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::peripherals::UART0;
use embassy_rp::uart::{BufferedInterruptHandler, BufferedUart, Config};
use embassy_time::Timer;
use static_cell::ConstStaticCell;

bind_interrupts!(struct Irqs {
    UART0_IRQ => BufferedInterruptHandler<UART0>;
});

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_rp::init(Default::default());

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
    let mut thermometer = Thermometer::new(p.ADC, p.ADC_TEMP_SENSOR);

    let nonce = boot_nonce();
    info!(
        "sensor over UART0 (GP0 TX, GP1 RX, 115200), boot nonce {=u32:#x}",
        nonce
    );
    let mut client: Client = Client::new(ClientConfig::new(nonce));
    if client.subscribe(COMMAND_TOPIC).is_err() {
        panic!("command topic does not fit the client");
    }
    let mut app = SensorApp::new();
    loop {
        // UART errors are skipped inside `UartLink`; anything that still ends a run is
        // logged and the run restarts (the client keeps its subscriptions).
        let e = app.run(&mut client, &mut link, &mut thermometer).await;
        error!("sensor link failed: {}; retrying", e);
        Timer::after_secs(1).await;
    }
}
