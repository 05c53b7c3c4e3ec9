// End to end: the unmodified StandardFirmata in the harness, spoken to with raw Firmata bytes
// on the serial port, its pins read and driven through the control port. `node --test test/`.
// Needs the image (fetch-firmware.sh): skipped locally without it, a failure in CI (CI=true).
// Waits are in emulated time or hang guards; nothing asserts on wall-clock speed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { build, MODE } from '../lib/firmata.mjs';
import { Control, FirmataClient, FIRMWARE, startHarness } from '../lib/session.mjs';
import { SERVO_90_US } from '../lib/onegpio-steps.mjs';

const skip = !existsSync(FIRMWARE) && process.env.CI !== 'true' && 'no firmware image: run fetch-firmware.sh';
let harness;
let control;
let client;
let startedAt;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(FIRMWARE), `${FIRMWARE} is missing: fetch-firmware.sh must run before the tests in CI`);
  startedAt = performance.now();
  harness = await startHarness();
  control = await Control.open(harness.controlPort);
  client = await FirmataClient.open(harness.serialPort);
});

after(async () => {
  client?.close();
  control?.close();
  if (harness) {
    const summary = await harness.stop();
    // The harness's promise: emulated time never ran ahead of wall time.
    assert.ok(summary.emulated_us <= summary.wall_us, JSON.stringify(summary));
    console.log(`# harness summary: ${JSON.stringify(summary)}`);
  }
});

test('StandardFirmata reports protocol 2.4 after its start, and answers REPORT_VERSION (F9)', { skip }, async () => {
  const hello = await client.next((m) => m.type === 'version', 'version report at start');
  assert.deepEqual(hello, { type: 'version', major: 2, minor: 4 });
  const name = await client.next((m) => m.type === 'firmware', 'firmware name at start');
  assert.equal(name.name, 'StandardFirmata.ino');
  const stats = await control.ask({ op: 'stats' });
  console.log(`# version report ${((performance.now() - startedAt) / 1000).toFixed(2)} s (wall) after the harness start; ${(stats.emulated_us / 1e6).toFixed(2)} s emulated at this point`);
  // The firmware's own baud rate: "57600" with U2X on 16 MHz is UBRR 33, 58 823 baud, 10 bits.
  assert.equal(stats.baud, 58823);
  assert.equal(stats.character_us, 170);
  client.send(build.reportVersion());
  assert.deepEqual(await client.next((m) => m.type === 'version', 'reply to F9'), { type: 'version', major: 2, minor: 4 });
});

test('D13 OUTPUT and a digital write: the pin reads 1, then 0', { skip }, async () => {
  await control.ask({ op: 'history', pin: 13 }); // forget the version blink
  client.send([build.setPinMode(13, MODE.OUTPUT), build.digitalPort(1, 1 << 5)]);
  const high = await control.ask({ op: 'wait_level', pin: 13, level: 1, ms: 1000 });
  assert.equal(high.reached, true);
  assert.deepEqual(await control.ask({ op: 'pin', pin: 13 }), { ok: true, pin: 13, level: 1, ddr: 1, driven: null });
  client.send([build.digitalPort(1, 0)]);
  assert.equal((await control.ask({ op: 'wait_level', pin: 13, level: 0, ms: 1000 })).reached, true);
  const history = await control.ask({ op: 'history', pin: 13 });
  assert.deepEqual(history.edges.map(([, level]) => level), [1, 0]);
  assert.ok(history.edges[1][0] > history.edges[0][0]);
});

test('D2 INPUT with REPORT_DIGITAL: a DIGITAL_MESSAGE on both edges', { skip }, async () => {
  client.send([build.setPinMode(2, MODE.INPUT), build.reportDigital(0, true)]);
  const first = await client.next((m) => m.type === 'digital' && m.port === 0, 'port 0 report after REPORT_DIGITAL');
  assert.equal(first.bits & 4, 0, 'D2 released with no pull-up reads 0');
  await control.ask({ op: 'drive', pin: 2, level: 1 });
  const rising = await client.next((m) => m.type === 'digital' && m.port === 0, 'report of the rising edge');
  assert.equal(rising.bits & 4, 4);
  await control.ask({ op: 'drive', pin: 2, level: 0 });
  const falling = await client.next((m) => m.type === 'digital' && m.port === 0, 'report of the falling edge');
  assert.equal(falling.bits & 4, 0);
  // Firmata 2.4 has no INPUT_PULLUP mode; writing 1 to an input turns the pull-up on, and
  // a released pin then reads 1.
  await control.ask({ op: 'release', pin: 2 });
  client.send([build.digitalPort(0, 4)]);
  const pulled = await client.next((m) => m.type === 'digital' && m.port === 0, 'report of the pull-up');
  assert.equal(pulled.bits & 4, 4);
  assert.equal((await control.ask({ op: 'pin', pin: 2 })).level, 1);
  client.send([build.reportDigital(0, false)]);
});

test('A0 through REPORT_ANALOG: ANALOG_MESSAGEs with the value set on the control port', { skip }, async () => {
  await control.ask({ op: 'adc', channel: 0, value: 777 });
  client.send([build.reportAnalog(0, true)]);
  const report = await client.next((m) => m.type === 'analog' && m.channel === 0, 'A0 report');
  assert.equal(report.value, 777);
  await control.ask({ op: 'adc', channel: 0, value: 3 });
  const changed = await client.next((m) => m.type === 'analog' && m.channel === 0 && m.value !== 777, 'A0 report after the change');
  assert.equal(changed.value, 3);
  client.send([build.reportAnalog(0, false)]);
});

test('PWM 128 on D9: duty 0.50 at 490 Hz', { skip }, async () => {
  client.send([build.setPinMode(9, MODE.PWM), build.analogWrite(9, 128)]);
  assert.equal((await control.ask({ op: 'wait_level', pin: 9, level: 1, ms: 1000 })).reached, true);
  const pwm = await control.ask({ op: 'pwm', pin: 9, ms: 200 });
  assert.ok(Math.abs(pwm.duty - 128 / 255) < 0.01, JSON.stringify(pwm));
  assert.ok(Math.abs(pwm.hz - 490.2) < 5, JSON.stringify(pwm));
  assert.ok(pwm.periods >= 90, JSON.stringify(pwm));
});

test('servo on D10 (SERVO_CONFIG + 90°): a 1.47 ms pulse at 50 Hz', { skip }, async () => {
  client.send([build.servoConfig(10, 544, 2400), build.analogWrite(10, 90)]);
  // Let the bytes arrive and the first pulses pass (emulated time), then measure.
  await control.ask({ op: 'wait', ms: 100 });
  const pulse = await control.ask({ op: 'pulse', pin: 10, ms: 500 });
  // Servo.write(90) with 544-2400 µs: 1472 µs; measured 1471.6-1472.1 (the ISR's latency).
  assert.ok(Math.abs(pulse.high_us - SERVO_90_US) < 30, JSON.stringify(pulse));
  assert.ok(Math.abs(pulse.period_us - 20000) < 500, JSON.stringify(pulse));
  assert.ok(pulse.count >= 20, JSON.stringify(pulse));
});

test('bad control requests get an error reply, and the harness goes on', { skip }, async () => {
  const bad = [
    ['not json', /not JSON/],
    ['[1,2]', /JSON object/],
    ['{"op":"fly"}', /unknown op/],
    ['{"op":"pin","pin":20}', /Arduino pin 0-19/],
    ['{"op":"pin","pin":"13"}', /Arduino pin 0-19/],
    ['{"op":"drive","pin":2,"level":2}', /"level" must be 0 or 1/],
    ['{"op":"adc","channel":6,"value":1}', /"channel" must be 0-5/],
    ['{"op":"adc","channel":0,"value":1024}', /"value" must be 0-1023/],
    ['{"op":"pwm","pin":9,"ms":0}', /"ms" must be/],
    ['{"op":"pulse","pin":9,"ms":1e9}', /"ms" must be/],
    ['{"op":"wait_level","pin":9,"level":1}', /"ms" must be/],
  ];
  for (const [line, message] of bad) {
    const reply = await control.askRaw(line);
    assert.equal(reply.ok, false, line);
    assert.match(reply.error, message, line);
  }
  assert.equal((await control.ask({ op: 'stats' })).ok, true);
});

test('the control port closes a connection that floods it, and serves the others', { skip }, async () => {
  const flood = connect(harness.controlPort, '127.0.0.1');
  flood.on('error', () => {});
  let received = '';
  flood.on('data', (data) => (received += data.toString()));
  const closed = new Promise((resolve) => flood.once('close', resolve));
  await new Promise((resolve) => flood.once('connect', resolve));
  flood.write('{"op":"wait","ms":60000}\n'.repeat(1100));
  await closed;
  assert.match(received, /more than 1024 requests waiting/);
  const long = connect(harness.controlPort, '127.0.0.1');
  long.on('error', () => {});
  let answer = '';
  long.on('data', (data) => (answer += data.toString()));
  const longClosed = new Promise((resolve) => long.once('close', resolve));
  long.write('x'.repeat(70 * 1024));
  await longClosed;
  assert.match(answer, /request line longer than 65536 bytes/);
  assert.equal((await control.ask({ op: 'stats' })).ok, true);
});

test('wait_level that is not reached says so after its emulated time', { skip }, async () => {
  await control.ask({ op: 'release', pin: 3 });
  const reply = await control.ask({ op: 'wait_level', pin: 3, level: 1, ms: 50 });
  assert.equal(reply.reached, false);
  assert.ok(reply.waited_us >= 50_000, JSON.stringify(reply));
});

test('reset: the firmware restarts (version report again, every pin an input), the client is kept', { skip }, async () => {
  client.clear();
  const reply = await control.ask({ op: 'reset' });
  assert.equal(reply.serial_client, true);
  const hello = await client.next((m) => m.type === 'version', 'version report after the reset');
  assert.deepEqual(hello, { type: 'version', major: 2, minor: 4 });
  // StandardFirmata's start-up blinks D13 (40 ms pulses): recorded in the history.
  const blinks = (await control.ask({ op: 'history', pin: 13 })).edges.filter(([, level]) => level === 1);
  assert.ok(blinks.length >= 3, `${blinks.length} blinks`);
  assert.equal((await control.ask({ op: 'stats' })).resets, 1);
});

test('drop closes the serial client; bytes sent meanwhile are dropped and counted; a new client is served', { skip }, async () => {
  const closed = new Promise((resolve) => client.socket.once('close', resolve));
  assert.equal((await control.ask({ op: 'drop' })).dropped, true);
  await closed;
  assert.equal((await control.ask({ op: 'drop' })).dropped, false);
  const before = await control.ask({ op: 'stats' });
  // With no client, what the firmware sends falls on the floor: after a reset its start-up
  // messages (version, name) go out with nobody listening.
  await control.ask({ op: 'reset' });
  await control.ask({ op: 'wait', ms: 2500 });
  const after = await control.ask({ op: 'stats' });
  assert.ok(after.tx_dropped_no_client > before.tx_dropped_no_client, JSON.stringify(after));
  assert.equal(after.serial_connected, false);
  client = await FirmataClient.open(harness.serialPort);
  client.send(build.reportVersion());
  assert.deepEqual(await client.next((m) => m.type === 'version', 'reply to F9 on the new connection'), { type: 'version', major: 2, minor: 4 });
});

test('a second serial client replaces the first', { skip }, async () => {
  const closed = new Promise((resolve) => client.socket.once('close', resolve));
  const second = await FirmataClient.open(harness.serialPort);
  await closed;
  second.send(build.reportVersion());
  assert.deepEqual(await second.next((m) => m.type === 'version', 'reply to F9 on the second client'), { type: 'version', major: 2, minor: 4 });
  client = second;
  // A raw TCP peer that sends garbage does not disturb the harness either.
  const garbage = connect(harness.serialPort, '127.0.0.1');
  garbage.on('error', () => {});
  await new Promise((resolve) => garbage.once('connect', resolve));
  garbage.end(Buffer.from([0xff, 0x00, 0xf0, 0x12]));
  assert.equal((await control.ask({ op: 'stats' })).ok, true);
});
