//! USB CDC-ACM setup shared by the `*_usb` firmware: the device descriptors, the buffers
//! (static, once per program), the USB task, and the port as one [`UsbSerial`] transport.

use embassy_executor::Spawner;
use embassy_rp::Peri;
use embassy_rp::interrupt::typelevel::{Binding, USBCTRL_IRQ};
use embassy_rp::peripherals::USB;
use embassy_rp::usb::{Driver, InterruptHandler};
use embassy_usb::class::cdc_acm::{CdcAcmClass, State};
use embassy_usb::{Builder, UsbDevice};
use static_cell::StaticCell;

use crate::UsbSerial;

/// USB full speed bulk packet size.
pub const MAX_PACKET: u16 = 64;

/// The Pico's USB port as a CDC-ACM serial port.
pub type UsbPort = UsbSerial<'static, Driver<'static, USB>>;

#[embassy_executor::task]
async fn usb_task(mut device: UsbDevice<'static, Driver<'static, USB>>) -> ! {
    device.run().await
}

/// Starts the USB device (Raspberry Pi's vendor id with the product id of the Pico SDK's CDC
/// UART, `2e8a:000a`, manufacturer "Rust Banyan", so Linux binds `cdc_acm` and names the port
/// `/dev/ttyACM0`; `deploy/99-banyan-pico.rules` matches these) with `product` as its product
/// string, spawns its task, and returns the port.
///
/// # Panics
/// When called twice (its buffers are static) or when the task cannot be spawned.
pub fn start(
    spawner: Spawner,
    usb: Peri<'static, USB>,
    irqs: impl Binding<USBCTRL_IRQ, InterruptHandler<USB>>,
    product: &'static str,
) -> UsbPort {
    let driver = Driver::new(usb, irqs);
    let mut usb_config = embassy_usb::Config::new(0x2e8a, 0x000a);
    usb_config.manufacturer = Some("Rust Banyan");
    usb_config.product = Some(product);
    usb_config.serial_number = Some("banyan-1");
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
    let Ok(task) = usb_task(device) else {
        panic!("USB task already running")
    };
    spawner.spawn(task);

    let (tx, rx) = class.split();
    UsbSerial {
        tx,
        rx: rx.into_buffered(RX_PACKET.init([0; MAX_PACKET as usize])),
    }
}
