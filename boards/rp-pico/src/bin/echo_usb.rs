//! Banyan echo client over USB CDC-ACM: the Pico appears as `/dev/ttyACM0` on the Raspberry
//! Pi, where `banyan-gateway --serial /dev/ttyACM0` bridges it to the backplane.
//!
//! Waits until the port is opened, runs the seed's echo (11 messages) and turns the LED (GP25)
//! on when every reply has arrived. When the port is closed or the cable is pulled mid-run,
//! it waits for the next connection and starts over. Logs over defmt-RTT (probe-rs).
#![no_std]
#![no_main]

use banyan_board_rp_pico::{EmbassyClock, UsbSerial, boot_nonce, error, info, warn};
use banyan_mcu::{ClientError, EchoClient, EchoConfig};
use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::USB;
use embassy_rp::usb::{Driver, InterruptHandler};
use embassy_time::{Delay, Timer};
use embassy_usb::class::cdc_acm::{CdcAcmClass, State};
use embassy_usb::{Builder, UsbDevice};
use static_cell::StaticCell;

bind_interrupts!(struct Irqs {
    USBCTRL_IRQ => InterruptHandler<USB>;
});

/// USB full speed bulk packet size.
const MAX_PACKET: u16 = 64;

#[embassy_executor::task]
async fn usb_task(mut device: UsbDevice<'static, Driver<'static, USB>>) -> ! {
    device.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    let mut led = Output::new(p.PIN_25, Level::Low);

    let driver = Driver::new(p.USB, Irqs);
    // Raspberry Pi's vendor id with the product id of the Pico SDK's CDC UART: Linux binds its
    // cdc_acm driver and names the port /dev/ttyACM0.
    let mut usb_config = embassy_usb::Config::new(0x2e8a, 0x000a);
    usb_config.manufacturer = Some("Rust Banyan");
    usb_config.product = Some("Banyan echo client");
    usb_config.serial_number = Some("banyan-echo-1");
    usb_config.max_power = 100;
    usb_config.max_packet_size_0 = 64;

    static CONFIG_DESC: StaticCell<[u8; 256]> = StaticCell::new();
    static BOS_DESC: StaticCell<[u8; 256]> = StaticCell::new();
    static CONTROL_BUF: StaticCell<[u8; 64]> = StaticCell::new();
    static CDC_STATE: StaticCell<State<'static>> = StaticCell::new();
    static RX_PACKET: StaticCell<[u8; MAX_PACKET as usize]> = StaticCell::new();
    let mut builder = Builder::new(
        driver,
        usb_config,
        CONFIG_DESC.init([0; 256]),
        BOS_DESC.init([0; 256]),
        &mut [],
        CONTROL_BUF.init([0; 64]),
    );
    let class = CdcAcmClass::new(&mut builder, CDC_STATE.init(State::new()), MAX_PACKET);
    let device = builder.build();
    let Ok(usb) = usb_task(device) else {
        panic!("USB task already running")
    };
    spawner.spawn(usb);

    let (tx, rx) = class.split();
    let mut link = UsbSerial {
        tx,
        rx: rx.into_buffered(RX_PACKET.init([0; MAX_PACKET as usize])),
    };

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
