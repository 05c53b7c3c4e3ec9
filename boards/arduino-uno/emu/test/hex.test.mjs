// The firmware image and the Intel HEX reader (lib/hex.mjs): `node --test test/`.
// The image check needs fetch-firmware.sh to have run; without the image the test is skipped
// locally and fails in CI (CI=true).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseIntelHex, HexError, FLASH_BYTES } from '../lib/hex.mjs';
import { FIRMWARE } from '../lib/session.mjs';

/** The sha256 pinned in fetch-firmware.sh (one place for the value: read from the script). */
function pinnedSha256() {
  const script = readFileSync(new URL('../fetch-firmware.sh', import.meta.url), 'utf8');
  return /^SHA256=([0-9a-f]{64})$/m.exec(script)[1];
}

const haveImage = existsSync(FIRMWARE);
const inCi = process.env.CI === 'true';

test('the firmware image is the pinned StandardFirmata for the Uno', { skip: !haveImage && !inCi && 'run fetch-firmware.sh first' }, () => {
  assert.ok(haveImage, `${FIRMWARE} is missing: fetch-firmware.sh must run before the tests in CI`);
  const bytes = readFileSync(FIRMWARE);
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(sha, pinnedSha256());
  assert.ok(sha.startsWith('6d57ea7c') && sha.endsWith('8b8f36'), 'the hash FACTS.md measured');
  const image = parseIntelHex(bytes.toString('latin1'));
  // StandardFirmata 2.4 for the Uno: 12 194 bytes of program from address 0 (reset vector).
  assert.equal(image.bytes, 12194);
  assert.equal(image.highest, 12194);
  // The reset vector is a JMP (0x940c) to the program's start.
  assert.equal(image.flash[0] | (image.flash[1] << 8), 0x940c);
});

/** One Intel HEX record with its checksum. */
function record(type, address, data) {
  const bytes = [data.length, address >> 8, address & 0xff, type, ...data];
  const sum = (0x100 - (bytes.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
  return ':' + Buffer.from([...bytes, sum]).toString('hex').toUpperCase();
}
const EOF_RECORD = ':00000001FF';

test('Intel HEX: data records land at their address, the rest stays erased (0xff)', () => {
  const text = [record(0, 0x0010, [1, 2, 3]), record(4, 0, [0, 0]), record(0, 0x0100, [9]), EOF_RECORD].join('\n');
  const image = parseIntelHex(text);
  assert.deepEqual([...image.flash.subarray(0x10, 0x13)], [1, 2, 3]);
  assert.equal(image.flash[0x100], 9);
  assert.equal(image.flash[0], 0xff);
  assert.equal(image.bytes, 4);
  assert.equal(image.highest, 0x101);
  assert.equal(image.flash.length, FLASH_BYTES);
});

test('Intel HEX: a bad file is refused with the line that is wrong', () => {
  const good = record(0, 0, [1, 2]);
  const cases = [
    [[good.slice(0, -2) + '00', EOF_RECORD], /line 1: checksum mismatch/],
    [[good], /no end-of-file record/],
    [['garbage', EOF_RECORD], /line 1: a record starts with ':'/],
    [[':0100', EOF_RECORD], /line 1: not a record/],
    [[record(0, 0x7fff, [1, 2]), EOF_RECORD], /line 1: 2 bytes at 0x7fff do not fit/],
    [[record(0x06, 0, [1]), EOF_RECORD], /line 1: unknown record type 0x06/],
    [[EOF_RECORD, good], /line 2: data after the end-of-file record/],
    [[EOF_RECORD], /holds no data/],
    [[':05000000010203', EOF_RECORD], /line 1: the record says 5 data bytes but has 2/],
  ];
  for (const [lines, message] of cases) {
    assert.throws(() => parseIntelHex(lines.join('\n')), (error) => error instanceof HexError && message.test(error.message), lines.join(' | '));
  }
});

test('Intel HEX: no input makes it throw anything but a HexError', () => {
  // Deterministic pseudo-random lines built from HEX-like characters.
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const alphabet = ':0123456789ABCDEFx \r';
  for (let i = 0; i < 2000; i++) {
    let text = '';
    const length = Math.floor(random() * 60);
    for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
    try {
      parseIntelHex(text + '\n' + EOF_RECORD);
    } catch (error) {
      assert.ok(error instanceof HexError, `${JSON.stringify(text)}: ${error}`);
    }
  }
});
