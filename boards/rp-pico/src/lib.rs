//! Board support for the Raspberry Pi Pico (RP2040) with embassy: a [`Clock`] over
//! `embassy_time`, a boot nonce from the ring oscillator, the two links — [`UartLink`] (UART0
//! on GP0/GP1) and [`UsbSerial`] (USB CDC-ACM, set up by [`usb::start`]) — as
//! embedded-io-async 0.7 transports, and the applications shared by their UART and USB
//! firmware: [`sensor_app`] and OneGPIO ([`onegpio_board`], [`onegpio_app`]).
//!
//! Binaries (`src/bin/`): `echo_uart`, `echo_usb`, `echo_uart_blocking` (the smallest),
//! `sensor_uart`, `sensor_usb`, `onegpio_uart`, `onegpio_usb`. Wiring, flashing and the host
//! side: README.md.
#![no_std]
#![deny(missing_docs)]

mod fmt;
pub mod onegpio_app;
pub mod onegpio_board;
pub mod sensor_app;
pub mod usb;

use banyan_mcu::Clock;
use embassy_rp::uart::{self, BufferedUart};
use embassy_usb::class::cdc_acm::{BufferedReceiver, CdcAcmError, Sender};
use embassy_usb::driver::Driver;
use embedded_io_async::{ErrorType, Read, Write};

/// `banyan_mcu::Clock` over embassy's monotonic time (the RP2040 timer, 1 MHz).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyClock;

impl Clock for EmbassyClock {
    fn now_ms(&self) -> u64 {
        // Not `as_millis()`: its u64 division costs ~0.9 KiB of flash on the M0+.
        banyan_firmware::time::micros_to_millis(embassy_time::Instant::now().as_micros())
    }
}

/// A boot nonce for `Hello`: 32 bits from the RP2040's ring-oscillator random bit, so the
/// gateway can tell a restart of the board from a repeated `Hello`.
pub fn boot_nonce() -> u32 {
    u32::from_le_bytes(core::array::from_fn(|_| {
        embassy_rp::clocks::RoscRng::next_u8()
    }))
}

/// UART0 as the client's link. A line error (framing, parity, break, overrun: noise, a
/// disconnected wire, the other side rebooting) is logged and reading goes on — the frame it
/// damaged fails its CRC and the client re-sends — instead of ending the run as a transport
/// error would.
pub struct UartLink(pub BufferedUart);

impl ErrorType for UartLink {
    type Error = uart::Error;
}

impl Read for UartLink {
    /// Cancel-safe: `BufferedUart` keeps received bytes in its ring buffer until read.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, uart::Error> {
        loop {
            match self.0.read(buf).await {
                Ok(n) => return Ok(n),
                Err(error) => crate::warn!("UART line error: {}", error),
            }
        }
    }
}

impl Write for UartLink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, uart::Error> {
        self.0.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), uart::Error> {
        self.0.flush().await
    }
}

/// The two halves of a USB CDC-ACM port joined into one transport (the client needs `Read`
/// and `Write` on one value). Reads go through embassy-usb's [`BufferedReceiver`], which is
/// cancel-safe; writes send one USB packet (≤ 64 bytes) per call.
///
/// When the host closes the port or the cable is pulled, calls fail with
/// [`CdcAcmError::NotConnected`]; wait for [`wait_connection`](Self::wait_connection) and start
/// a new run.
pub struct UsbSerial<'d, D: Driver<'d>> {
    /// Device → host.
    pub tx: Sender<'d, D>,
    /// Host → device.
    pub rx: BufferedReceiver<'d, D>,
}

impl<'d, D: Driver<'d>> UsbSerial<'d, D> {
    /// Waits until the host has configured the interface and opened the port (DTR set), so
    /// that what the client sends is read by someone.
    pub async fn wait_connection(&mut self) {
        self.tx.wait_connection().await;
        self.rx.wait_connection().await;
        while !self.rx.dtr() {
            embassy_time::Timer::after_millis(10).await;
        }
    }
}

impl<'d, D: Driver<'d>> ErrorType for UsbSerial<'d, D> {
    type Error = CdcAcmError;
}

impl<'d, D: Driver<'d>> Read for UsbSerial<'d, D> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, CdcAcmError> {
        self.rx.read(buf).await
    }
}

impl<'d, D: Driver<'d>> Write for UsbSerial<'d, D> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, CdcAcmError> {
        self.tx.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), CdcAcmError> {
        self.tx.flush().await
    }
}
