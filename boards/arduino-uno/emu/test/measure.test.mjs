// The logic-analyser arithmetic of lib/measure.mjs on hand-made captures: `node --test test/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pwmOf, pulsesOf, highTime } from '../lib/measure.mjs';

/** A square wave: period and high time in µs, `count` periods from `start`. */
function wave(start, period, high, count) {
  const edges = [];
  for (let i = 0; i < count; i++) {
    edges.push({ us: start + i * period, level: 1 });
    edges.push({ us: start + i * period + high, level: 0 });
  }
  return edges;
}

test('PWM: duty and frequency over whole periods, whatever the window cuts', () => {
  // 490 Hz at 50.2 %, the window starting mid-period.
  const period = 1e6 / 490;
  const capture = { startUs: 0, endUs: 100_000, startLevel: 1, edges: [{ us: 700, level: 0 }, ...wave(1000, period, period * 0.502, 48)] };
  const pwm = pwmOf(capture);
  assert.ok(Math.abs(pwm.duty - 0.502) < 1e-9, `duty ${pwm.duty}`);
  assert.ok(Math.abs(pwm.hz - 490) < 1e-6, `hz ${pwm.hz}`);
  assert.equal(pwm.periods, 47);
});

test('PWM: a constant pin is duty 0 or 1 at 0 Hz; one edge gives the time-weighted level', () => {
  assert.deepEqual(pwmOf({ startUs: 0, endUs: 1000, startLevel: 1, edges: [] }), { duty: 1, hz: 0, periods: 0 });
  assert.deepEqual(pwmOf({ startUs: 0, endUs: 1000, startLevel: 0, edges: [] }), { duty: 0, hz: 0, periods: 0 });
  assert.deepEqual(pwmOf({ startUs: 0, endUs: 1000, startLevel: 0, edges: [{ us: 750, level: 1 }] }), { duty: 0.25, hz: 0, periods: 0 });
});

test('servo pulses: complete pulses only, mean width and period, extremes', () => {
  // Starts high (a cut pulse, ignored), then 1 472 µs pulses every 20 ms, the last one cut.
  const edges = [{ us: 100, level: 0 }, ...wave(5000, 20000, 1472, 4), { us: 85000, level: 1 }];
  edges[4].us += 2; // the second pulse ends 2 µs later
  const pulses = pulsesOf({ startUs: 0, endUs: 86000, startLevel: 1, edges });
  assert.equal(pulses.count, 4);
  assert.equal(pulses.period_us, 20000);
  assert.equal(pulses.high_us, 1472.5);
  assert.equal(pulses.min_high_us, 1472);
  assert.equal(pulses.max_high_us, 1474);
});

test('servo pulses: none in a window without a complete pulse', () => {
  const pulses = pulsesOf({ startUs: 0, endUs: 1000, startLevel: 0, edges: [{ us: 500, level: 1 }] });
  assert.deepEqual(pulses, { high_us: 0, period_us: 0, count: 0, min_high_us: 0, max_high_us: 0 });
});

test('high time is clipped to the asked span', () => {
  const capture = { startUs: 0, endUs: 100, startLevel: 1, edges: [{ us: 30, level: 0 }, { us: 60, level: 1 }] };
  assert.equal(highTime(capture, 0, 100), 70);
  assert.equal(highTime(capture, 20, 70), 20);
});

test('a pin history keeps the last changes in order and counts the dropped ones', async () => {
  const { EdgeRing } = await import('../lib/board.mjs');
  const ring = new EdgeRing(4);
  for (let i = 0; i < 6; i++) ring.push(i * 1.5, i & 1);
  assert.deepEqual(ring.take(), { edges: [[3, 0], [4.5, 1], [6, 0], [7.5, 1]], dropped: 2 });
  assert.deepEqual(ring.take(), { edges: [], dropped: 0 });
  ring.push(1, 1);
  assert.deepEqual(ring.take(), { edges: [[1, 1]], dropped: 0 });
});
