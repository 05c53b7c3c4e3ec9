// The tests' Firmata parser (lib/firmata.mjs) on golden bytes from StandardFirmata, bad input
// and random bytes: `node --test test/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirmataParser, build } from '../lib/firmata.mjs';

test('golden bytes: version, firmware name, digital and analog reports', () => {
  // What StandardFirmata 2.4 sent at start (captured from the harness), then two reports.
  const name = [...'StandardFirmata.ino'].flatMap((c) => [c.charCodeAt(0), 0]);
  const bytes = [0xf9, 2, 4, 0xf0, 0x79, 2, 4, ...name, 0xf7, 0x90, 0x04, 0x00, 0xe0, 0x00, 0x04];
  assert.deepEqual(new FirmataParser().push(bytes), [
    { type: 'version', major: 2, minor: 4 },
    { type: 'firmware', major: 2, minor: 4, name: 'StandardFirmata.ino' },
    { type: 'digital', port: 0, bits: 4 },
    { type: 'analog', channel: 0, value: 512 },
  ]);
});

test('builders: the bytes of the Firmata protocol', () => {
  assert.deepEqual(build.digitalPort(1, 1 << 5), [0x91, 0x20, 0x00]);
  assert.deepEqual(build.digitalPort(0, 0xff), [0x90, 0x7f, 0x01]);
  assert.deepEqual(build.analogWrite(9, 128), [0xe9, 0x00, 0x01]);
  assert.deepEqual(build.servoConfig(10, 544, 2400), [0xf0, 0x70, 10, 0x20, 0x04, 0x60, 0x12, 0xf7]);
  assert.deepEqual(build.setPinMode(13, 1), [0xf4, 13, 1]);
  assert.deepEqual(build.reportAnalog(0, true), [0xc0, 1]);
});

test('stray data bytes are counted, a cut sysex is dropped and the next message still parses', () => {
  const parser = new FirmataParser();
  const messages = parser.push([0x01, 0x02, 0xf0, 0x71, 0x05, 0xf9, 2, 4, 0x90, 0x7f]);
  assert.deepEqual(messages, [{ type: 'version', major: 2, minor: 4 }]);
  assert.equal(parser.strayBytes, 2);
  assert.equal(parser.droppedSysex, 1);
  // A digital message cut by a command byte is forgotten.
  assert.deepEqual(parser.push([0xe1, 0x10, 0x00]), [{ type: 'analog', channel: 1, value: 16 }]);
});

test('an over-long sysex is dropped without growing', () => {
  const parser = new FirmataParser();
  assert.deepEqual(parser.push([0xf0, ...new Array(5000).fill(0x11), 0xf7, 0xf9, 2, 4]), [{ type: 'version', major: 2, minor: 4 }]);
  assert.equal(parser.droppedSysex, 1);
});

test('random bytes: never a throw, and the same messages whatever the chunking', () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let round = 0; round < 200; round++) {
    const bytes = Array.from({ length: 300 }, () => (random() < 0.3 ? 0xe0 + Math.floor(random() * 32) : Math.floor(random() * 256)));
    const whole = new FirmataParser().push(bytes);
    const chunked = new FirmataParser();
    const pieces = [];
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + Math.floor(random() * 7);
      pieces.push(...chunked.push(bytes.slice(i, i + n)));
      i += n;
    }
    assert.deepEqual(pieces, whole);
  }
});
