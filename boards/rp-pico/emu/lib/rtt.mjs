// Reads the firmware's defmt log out of emulated RAM, as a debug probe does over SWD: finds
// the SEGGER RTT control block (defmt-rtt's `_SEGGER_RTT`, identified by its "SEGGER RTT"
// ID) and drains up-buffer 0 (the defmt channel) by advancing its read offset. Decode the
// bytes with `defmt-print -e FIRMWARE.elf`.
//
// Control block layout (SEGGER RTT): char acID[16]; i32 MaxNumUpBuffers; i32
// MaxNumDownBuffers; then per up buffer { u32 sName, pBuffer, SizeOfBuffer, WrOff, RdOff,
// Flags } (24 bytes).

const ID = Buffer.from('SEGGER RTT\0', 'latin1');
const RAM_BASE = 0x20000000;

export class RttReader {
  constructor(onBytes) {
    this.onBytes = onBytes;
    this.block = -1; // offset of the control block in SRAM, once found
  }

  /** A fresh chip (boot or reset): the control block is set up again by the firmware. */
  attach(rp) {
    this.rp = rp;
    this.block = -1;
  }

  find() {
    const sram = Buffer.from(this.rp.sram.buffer, this.rp.sram.byteOffset, this.rp.sram.length);
    for (let at = sram.indexOf(ID); at >= 0; at = sram.indexOf(ID, at + 4)) {
      if (at % 4 === 0) return at;
    }
    return -1;
  }

  poll() {
    if (!this.rp) return;
    if (this.block < 0) {
      this.block = this.find();
      if (this.block < 0) return;
    }
    const view = this.rp.sramView;
    const up = this.block + 24; // up buffer 0
    const buffer = view.getUint32(up + 4, true) - RAM_BASE;
    const size = view.getUint32(up + 8, true);
    const write = view.getUint32(up + 12, true);
    let read = view.getUint32(up + 16, true);
    if (size === 0 || buffer < 0 || buffer + size > this.rp.sram.length || write >= size || read >= size) {
      return;
    }
    if (read === write) return;
    const chunks = [];
    while (read !== write) {
      const end = write > read ? write : size;
      chunks.push(this.rp.sram.slice(buffer + read, buffer + end));
      read = end === size ? 0 : end;
    }
    view.setUint32(up + 16, read, true);
    this.onBytes(Buffer.concat(chunks));
  }
}
