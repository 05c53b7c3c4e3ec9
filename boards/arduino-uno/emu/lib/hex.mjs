// Intel HEX (the format avrdude writes to an Uno's flash) into a flash image. Strict: every
// record's length, checksum and type is checked, and nothing may land outside the flash; an
// error names the line. Record types 00 (data), 01 (end of file), 02 (extended segment
// address) and 04 (extended linear address) are read; 03/05 (start address) are accepted and
// ignored, as avrdude does for an AVR (the reset vector is at 0).

/** ATmega328P program memory: 32 KiB. */
export const FLASH_BYTES = 32 * 1024;

export class HexError extends Error {}

/**
 * Parses Intel HEX text into a flash image.
 * @param {string} text the file's content
 * @param {number} flashBytes the flash size; bytes beyond it are an error
 * @returns {{flash: Uint8Array, bytes: number, highest: number}} the image (erased bytes are
 *   0xff, as on a chip), how many data bytes the file wrote, and one past the highest address
 */
export function parseIntelHex(text, flashBytes = FLASH_BYTES) {
  const flash = new Uint8Array(flashBytes).fill(0xff);
  let base = 0;
  let bytes = 0;
  let highest = 0;
  let ended = false;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    const where = `line ${index + 1}`;
    if (line === '') continue;
    if (ended) throw new HexError(`${where}: data after the end-of-file record`);
    if (line[0] !== ':') throw new HexError(`${where}: a record starts with ':'`);
    if (line.length < 11 || line.length % 2 === 0 || !/^:[0-9A-Fa-f]+$/.test(line)) {
      throw new HexError(`${where}: not a record (odd count of hex digits or too short)`);
    }
    const record = Buffer.from(line.slice(1), 'hex');
    const length = record[0];
    if (record.length !== length + 5) {
      throw new HexError(`${where}: the record says ${length} data bytes but has ${record.length - 5}`);
    }
    const sum = record.reduce((acc, byte) => (acc + byte) & 0xff, 0);
    if (sum !== 0) throw new HexError(`${where}: checksum mismatch`);
    const offset = (record[1] << 8) | record[2];
    const type = record[3];
    const data = record.subarray(4, 4 + length);
    switch (type) {
      case 0x00: {
        const address = base + offset;
        if (address + length > flashBytes) {
          throw new HexError(
            `${where}: ${length} bytes at 0x${address.toString(16)} do not fit a ${flashBytes}-byte flash`,
          );
        }
        flash.set(data, address);
        bytes += length;
        highest = Math.max(highest, address + length);
        break;
      }
      case 0x01:
        ended = true;
        break;
      case 0x02:
        if (length !== 2) throw new HexError(`${where}: an extended segment address has 2 bytes`);
        base = ((data[0] << 8) | data[1]) << 4;
        break;
      case 0x04:
        if (length !== 2) throw new HexError(`${where}: an extended linear address has 2 bytes`);
        base = ((data[0] << 8) | data[1]) << 16;
        break;
      case 0x03:
      case 0x05:
        break;
      default:
        throw new HexError(`${where}: unknown record type 0x${type.toString(16).padStart(2, '0')}`);
    }
  }
  if (!ended) throw new HexError('no end-of-file record (a truncated file?)');
  if (bytes === 0) throw new HexError('the file holds no data');
  return { flash, bytes, highest };
}
