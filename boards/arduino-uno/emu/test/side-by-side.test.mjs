// The side-by-side requirement: the same OneGPIO script through raw Firmata bytes and
// through the real Python client pyfirmata2 (on a socat pty) against the same emulated
// StandardFirmata gives the same pin levels and readings (side-by-side.mjs). Needs the image,
// socat and a Python with pyfirmata2 ($BANYAN_PYTHON, the repository's .venv, python3):
// skipped locally when one is missing, a failure in CI (CI=true).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { FIRMWARE, startHarness } from '../lib/session.mjs';
import { compare, pythonCommand, pythonMissing, runPython, runRaw } from '../side-by-side.mjs';

const python = pythonCommand();
const missing = !existsSync(FIRMWARE) ? 'no firmware image (run fetch-firmware.sh)' : pythonMissing(python);
const skip = missing && process.env.CI !== 'true' ? missing : false;

test('OneGPIO script: raw Firmata and pyfirmata2 leave the same pins', { skip }, async () => {
  assert.equal(missing, null, `in CI everything must be there: ${missing}`);
  const harness = await startHarness();
  try {
    const raw = await runRaw(harness);
    const { hello, results: python_ } = await runPython(harness, python);
    assert.equal(hello.firmware, 'StandardFirmata.ino');
    assert.deepEqual(hello.version, [2, 4]);
    const { rows, failures } = compare(raw, python_);
    for (const row of rows) console.log(`# ${row}`);
    assert.equal(failures, 0, rows.join('\n'));
    assert.equal(python_.length, raw.length);
  } finally {
    const summary = await harness.stop();
    console.log(`# harness summary: ${JSON.stringify(summary)}`);
  }
});
