//! OneGPIO firmware on the Pico's UART0 (GP0 = TX, GP1 = RX, 115200 8N1), to a Raspberry Pi
//! running `banyan-gateway --serial /dev/serial0 --baud 115200`.
//!
//! Any OneGPIO component drives the Pico's pins through the backplane: GP2–GP22 and GP25
//! (the LED) digital in/out, PWM, servo, tone; GP26–GP28 analog channels 0–2. GP0/GP1 are the
//! link. Commands on `to_pico_gateway`, reports on `from_pico_gateway`; see
//! `banyan_board_rp_pico::onegpio_board` and README.md.
#![no_std]
#![no_main]

use banyan_board_rp_pico::onegpio_app::{OneGpioApp, OneGpioClient};
use banyan_board_rp_pico::onegpio_board::{PicoAdc, PicoBoard};
use banyan_board_rp_pico::{UartLink, boot_nonce, error, info};
use banyan_mcu::ClientConfig;
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
    static TX_BUF: ConstStaticCell<[u8; 256]> = ConstStaticCell::new([0; 256]);
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

    // Index = GP number; GP0/GP1 are the UART, GP23/24 internal, GP26–28 analog.
    let pins = [
        None,
        None,
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
    info!(
        "onegpio over UART0 (GP0 TX, GP1 RX, 115200), boot nonce {=u32:#x}",
        nonce
    );
    let mut client: OneGpioClient = OneGpioClient::new(ClientConfig::new(nonce));
    if client.subscribe(app.commands_topic()).is_err() {
        panic!("command topic does not fit the client");
    }
    loop {
        let e = app.run(&mut client, &mut link).await;
        error!("OneGPIO link failed: {}; retrying", e);
        Timer::after_secs(1).await;
    }
}
