//! ARM PL011 UART as an embedded-io 0.7 transport (`Read`, `ReadReady`, `Write`,
//! `WriteReady`): the UART of the LM3S6965 (QEMU's `lm3s6965evb`) and of the RP2040, so both
//! boards' blocking firmware share it. The only hardware access in this crate.
//!
//! Registers (offsets from the base): `DR` 0x00 (data; bits 8..11 receive errors), `FR` 0x18
//! (flags: BUSY bit 3, RXFE bit 4, TXFF bit 5, TXFE bit 7), `LCR_H` 0x2C (line control: FEN
//! bit 4 enables the 16-byte FIFOs, WLEN bits 5..6 = 0b11 for 8 data bits), `CR` 0x30
//! (UARTEN bit 0, TXE bit 8, RXE bit 9). Under QEMU the baud rate registers are ignored and
//! the UART is not rate-limited; on a real LM3S6965 the UART clock must be gated on
//! (`RCGC1`) and `IBRD`/`FBRD` set first.
//!
//! `read` blocks until at least one byte is there, as embedded-io requires; use
//! [`ReadReady`] (or `banyan_mcu::Polled`) to poll.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};

/// UART0 of the LM3S6965.
pub const LM3S6965_UART0: usize = 0x4000_C000;
/// UART0 of the RP2040.
pub const RP2040_UART0: usize = 0x4003_4000;

const DR: usize = 0x00;
const FR: usize = 0x18;
const LCR_H: usize = 0x2C;
const CR: usize = 0x30;

const FR_BUSY: u32 = 1 << 3;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
const LCR_H_FEN: u32 = 1 << 4;
const LCR_H_WLEN_8: u32 = 0b11 << 5;
const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;
const CR_RXE: u32 = 1 << 9;

/// A PL011 UART at a fixed base address.
#[derive(Debug)]
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// Takes the PL011 at `base` and configures it: 8 data bits, no parity, 1 stop bit, FIFOs
    /// on (FIFOs make QEMU's UART several times faster), transmitter and receiver enabled.
    /// The baud rate registers are left alone (QEMU ignores them).
    ///
    /// # Safety
    /// `base` must be a PL011 the caller owns: no other code may use its registers while the
    /// `Pl011` exists.
    #[allow(unsafe_code)]
    pub unsafe fn configure_8n1(base: usize) -> Self {
        let uart = Self { base };
        uart.write_reg(CR, 0);
        uart.write_reg(LCR_H, LCR_H_WLEN_8 | LCR_H_FEN);
        uart.write_reg(CR, CR_UARTEN | CR_TXE | CR_RXE);
        uart
    }

    /// Takes the PL011 at `base` as it is, already configured and enabled by a HAL (clock,
    /// pins, baud rate, frame format; e.g. embassy-rp's `Uart::new_blocking`).
    ///
    /// # Safety
    /// As [`configure_8n1`](Self::configure_8n1); and the HAL driver that configured it must
    /// not be used (nor dropped, if dropping disables it) while the `Pl011` exists.
    #[allow(unsafe_code)]
    pub unsafe fn configured(base: usize) -> Self {
        Self { base }
    }

    fn reg(&self, offset: usize) -> *mut u32 {
        (self.base + offset) as *mut u32
    }

    #[allow(unsafe_code)]
    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `base` is a PL011 owned by `self` (see the constructors); offsets are its
        // registers.
        unsafe { read_volatile(self.reg(offset)) }
    }

    #[allow(unsafe_code)]
    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { write_volatile(self.reg(offset), value) }
    }

    fn rx_empty(&self) -> bool {
        self.read_reg(FR) & FR_RXFE != 0
    }

    fn tx_full(&self) -> bool {
        self.read_reg(FR) & FR_TXFF != 0
    }
}

impl ErrorType for Pl011 {
    type Error = Infallible;
}

impl Read for Pl011 {
    /// Blocks until a byte arrives, then takes every byte the FIFO holds (up to `buf.len()`).
    /// Receive errors (framing, parity, break, overrun; `DR` bits 8..11) are not reported:
    /// the damaged byte is passed on and the frame's CRC rejects it.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.rx_empty() {
            core::hint::spin_loop();
        }
        let mut n = 0;
        while n < buf.len() && !self.rx_empty() {
            buf[n] = (self.read_reg(DR) & 0xFF) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl ReadReady for Pl011 {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.rx_empty())
    }
}

impl Write for Pl011 {
    /// Blocks until the FIFO takes at least one byte, then queues as many as fit.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.tx_full() {
            core::hint::spin_loop();
        }
        let mut n = 0;
        while n < buf.len() && !self.tx_full() {
            self.write_reg(DR, u32::from(buf[n]));
            n += 1;
        }
        Ok(n)
    }

    /// Waits until the last byte has left the shift register.
    fn flush(&mut self) -> Result<(), Infallible> {
        while self.read_reg(FR) & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
        Ok(())
    }
}

impl WriteReady for Pl011 {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.tx_full())
    }
}
