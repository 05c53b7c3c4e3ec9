// The harness's command line: bad input gets one actionable line on stderr and exit 2, no
// stack trace. `node --test test/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Control, EMU_DIR, startHarness } from '../lib/session.mjs';

const dir = mkdtempSync(join(tmpdir(), 'uno-cli-test-'));

function harness(...args) {
  const run = spawnSync(process.execPath, [join(EMU_DIR, 'harness.mjs'), ...args], { input: '', encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stderr: run.stderr.trim(), stdout: run.stdout };
}

test('a missing image: exit 2, says to fetch it', () => {
  const run = harness('--hex', join(dir, 'none.hex'));
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^uno-harness: .*none\.hex: .*run fetch-firmware\.sh first\)$/);
});

test('a corrupt image: exit 2, names the line', () => {
  const file = join(dir, 'bad.hex');
  writeFileSync(file, ':0400000001020304F1\n:00000001FF\n');
  const run = harness('--hex', file);
  assert.equal(run.status, 2);
  assert.equal(run.stderr, `uno-harness: ${file}: line 1: checksum mismatch`);
});

test('bad flags: exit 2, one line', () => {
  for (const args of [['--serial-port', '70000'], ['--control-port', 'x'], ['--bogus']]) {
    const run = harness(...args);
    assert.equal(run.status, 2, args.join(' '));
    assert.equal(run.stderr.split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^uno-harness: /);
  }
});

test('a valid image with stdin closed: announces its ports, then exits 0 with a summary', () => {
  // The smallest program: RJMP to itself at the reset vector.
  const file = join(dir, 'loop.hex');
  writeFileSync(file, ':02000000FFCF30\n:00000001FF\n');
  const run = harness('--hex', file, '--quiet');
  assert.equal(run.status, 0, run.stderr);
  const [ports, summary] = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.ok(ports.serial_port > 0 && ports.control_port > 0);
  assert.equal(summary.why, 'stdin closed');
  assert.ok(summary.emulated_us <= summary.wall_us);
});

test('bytes for a receiver the firmware never enabled are lost and counted, as on the chip', async () => {
  const file = join(dir, 'loop2.hex');
  writeFileSync(file, ':02000000FFCF30\n:00000001FF\n');
  const run = await startHarness(['--hex', file]);
  try {
    const control = await Control.open(run.controlPort);
    const serial = connect(run.serialPort, '127.0.0.1');
    serial.on('error', () => {});
    await new Promise((resolve) => serial.once('connect', resolve));
    serial.write(Buffer.alloc(100, 0x55));
    let stats;
    for (let i = 0; i < 100; i++) {
      stats = await control.ask({ op: 'stats' });
      if (stats.bytes_in === 100) break;
      await control.ask({ op: 'wait', ms: 10 });
    }
    assert.equal(stats.bytes_in, 100);
    assert.equal(stats.rx_lost, 100);
    assert.equal(stats.bytes_dropped, 100);
    assert.equal(stats.baud, null, 'the USART is off');
    serial.destroy();
    control.close();
  } finally {
    await run.stop();
  }
});

test('--reset-on-connect resets the board for every new serial client (DTR)', async () => {
  const file = join(dir, 'loop3.hex');
  writeFileSync(file, ':02000000FFCF30\n:00000001FF\n');
  const run = await startHarness(['--hex', file, '--reset-on-connect']);
  try {
    const control = await Control.open(run.controlPort);
    assert.equal((await control.ask({ op: 'stats' })).resets, 0);
    for (const expected of [1, 2]) {
      const serial = connect(run.serialPort, '127.0.0.1');
      serial.on('error', () => {});
      await new Promise((resolve) => serial.once('connect', resolve));
      let stats;
      for (let i = 0; i < 100; i++) {
        stats = await control.ask({ op: 'stats' });
        if (stats.serial_connections === expected) break;
        await control.ask({ op: 'wait', ms: 10 });
      }
      assert.equal(stats.resets, expected);
      serial.destroy();
    }
    control.close();
  } finally {
    await run.stop();
  }
});
