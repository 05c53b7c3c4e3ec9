// Corrections to rp2040js 1.4.1, made on the chip instance (never in node_modules). Each says
// what the silicon does (RP2040 datasheet, the chapter named) and how the model differs.

import { BasePeripheral } from 'rp2040js';

// PL011 registers (datasheet 4.2, UART: list of registers).
const UARTDR = 0x00;
const UARTIFLS = 0x34;
const UARTICR = 0x44;
const UARTDMACR = 0x48;
const UARTTXINTR = 1 << 5;

/**
 * UART transmit interrupt. Silicon (datasheet 4.2 and the ARM PL011 TRM, "UARTTXINTR"): with the
 * FIFOs on, TXRIS is set when the TX FIFO level *passes through* the trigger level on its way down
 * — an edge, not a level — and is cleared by writing data past the level or by ICR.TXIC. The
 * model's `checkInterrupts()` sets TXRIS on every re-check (each DR read, IMSC and ICR write), so
 * once the firmware unmasks TXIM the interrupt re-asserts forever: embassy's BufferedUart then
 * spends all its time in UART0_IRQ and sends nothing. The model has no TX FIFO (a DR write is
 * "sent" at once), so the FIFO drains through the trigger level exactly once per write: TXRIS is
 * raised once per DR write and ICR clears it.
 *
 * IFLS (FIFO levels) and DMACR (DMA enables) are unmodelled: every access logs a warning, and
 * embassy reads DMACR in every UART interrupt. They are plain read/write registers here (the
 * model's FIFO triggers at one byte whatever IFLS says; the UART's DMA requests are not used).
 */
export function fixUart(uart) {
  const registers = { [UARTIFLS]: 0x12, [UARTDMACR]: 0 }; // IFLS reset value: 1/2 full
  uart.checkInterrupts = function checkInterrupts() {
    this.rp2040.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
  };
  const read = uart.readUint32.bind(uart);
  const write = uart.writeUint32.bind(uart);
  uart.readUint32 = (offset) => (offset in registers ? registers[offset] : read(offset));
  uart.writeUint32 = (offset, value) => {
    if (offset in registers) {
      registers[offset] = value & 0xffff;
      return;
    }
    write(offset, value);
    if (offset === UARTDR) {
      uart.interruptStatus |= UARTTXINTR;
      uart.checkInterrupts();
    } else if (offset === UARTICR) {
      uart.checkInterrupts();
    }
  };
}

// ROSC (datasheet 2.17) and VREG_AND_CHIP_RESET (2.10) registers.
const ROSC_STATUS = 0x18;
const ROSC_RANDOMBIT = 0x1c;
const ROSC_STATUS_STABLE = 1 << 31;
const ROSC_STATUS_ENABLED = 1 << 12;

/**
 * Ring oscillator. Silicon: RANDOMBIT samples the free-running oscillator, a poor but real
 * source of random bits; STATUS says it is enabled and stable. The model leaves ROSC
 * unimplemented (reads return 0xffffffff and log), so every boot nonce would be 0xffffffff
 * and the gateway could not tell a reset from a repeated Hello. Here RANDOMBIT returns a
 * random bit (Math.random: a different nonce on every boot, as on the chip); other registers
 * read their reset values and accept writes.
 */
export class Rosc extends BasePeripheral {
  constructor(rp2040) {
    super(rp2040, 'ROSC');
    this.registers = new Map([
      [0x00, 0xaa0], // CTRL: enabled, LOW range
      [0x10, 0x10], // DIV
    ]);
  }
  readUint32(offset) {
    if (offset === ROSC_RANDOMBIT) return Math.random() < 0.5 ? 1 : 0;
    if (offset === ROSC_STATUS) return ROSC_STATUS_STABLE | ROSC_STATUS_ENABLED;
    return this.registers.get(offset) ?? 0;
  }
  writeUint32(offset, value) {
    this.registers.set(offset, value >>> 0);
  }
}

/**
 * Voltage regulator and chip-reset registers. Silicon: VREG = 0xb1 (1.10 V, enabled), BOD =
 * 0x91, CHIP_RESET records the last reset cause. The model leaves the block unimplemented and
 * logs every access (embassy-rp's init touches it); here it reads the reset values and keeps
 * writes. The regulator's voltage has no effect on the model (nor on the firmware's logic).
 */
export class Vreg extends BasePeripheral {
  constructor(rp2040) {
    super(rp2040, 'VREG_AND_CHIP_RESET');
    this.registers = new Map([
      [0x0, 0xb1],
      [0x4, 0x91],
      [0x8, 0],
    ]);
  }
  readUint32(offset) {
    return this.registers.get(offset) ?? 0;
  }
  writeUint32(offset, value) {
    this.registers.set(offset, value >>> 0);
  }
}

// USB device DPSRAM (datasheet 4.1, USB): buffer control registers of EP0 IN at 0x80, EP0 OUT
// at 0x84, then IN/OUT pairs every 8 bytes up to EP15 OUT at 0xfc.
const EP1_IN_BUFFER_CONTROL = 0x88;
const EP15_OUT_BUFFER_CONTROL = 0xfc;
const EP0_OUT_BUFFER_CONTROL = 0x84;
const BUF_CTRL_AVAILABLE = 1 << 10;

/**
 * USB bulk OUT buffers. Silicon (datasheet 4.1, USB, DPSRAM "buffer control register"): the device
 * arms an OUT buffer by setting AVAILABLE; the bit *stays set* until the controller has received a
 * packet from the host into that buffer, and then the controller clears AVAILABLE, sets FULL and
 * the length, and raises BUFF_STATUS. Firmware (embassy-rp's `EndpointOut::read`) waits for
 * AVAILABLE to clear and then takes LENGTH bytes. The model clears AVAILABLE the moment the buffer
 * is armed, before any packet came: the firmware's next read returns at once with the old length
 * and the old bytes — the same reply again (measured: 1 864 duplicates and 3 bad frames in one
 * echo run with Python's server) — and, with the package's host helper answering every arming with
 * a zero-length packet, reads of 0 bytes (end of file: echo_usb restarted once a second). Here
 * AVAILABLE is restored after the model's handling of an OUT-endpoint arming (EP1-15; EP0's
 * control transfers are left as the model runs them) and cleared when the packet is delivered.
 */
export function fixUsbOut(usb) {
  const view = usb.rp2040.usbDPRAMView;
  const dpramUpdated = usb.DPRAMUpdated.bind(usb);
  usb.DPRAMUpdated = (offset, value) => {
    dpramUpdated(offset, value);
    const out = offset >= EP1_IN_BUFFER_CONTROL && offset <= EP15_OUT_BUFFER_CONTROL && offset & 4;
    if (!usb.hostMode && out && value & BUF_CTRL_AVAILABLE) {
      view.setUint32(offset, view.getUint32(offset, true) | BUF_CTRL_AVAILABLE, true);
    }
  };
  const finishRead = usb.finishRead.bind(usb);
  usb.finishRead = (endpoint, buffer) => {
    const control = EP0_OUT_BUFFER_CONTROL + endpoint * 8;
    view.setUint32(control, view.getUint32(control, true) & ~BUF_CTRL_AVAILABLE, true);
    finishRead(endpoint, buffer);
  };
}

/** Applies every correction above to a fresh chip. */
export function applyFixes(rp2040) {
  for (const uart of rp2040.uart) fixUart(uart);
  fixUsbOut(rp2040.usbCtrl);
  rp2040.peripherals[0x40060] = new Rosc(rp2040);
  rp2040.peripherals[0x40064] = new Vreg(rp2040);
}
