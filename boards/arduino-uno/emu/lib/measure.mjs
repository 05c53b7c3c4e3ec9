// What a logic analyser would say about one pin over a window of emulated time, computed from
// the level changes the board recorded (pure functions: unit-tested in test/measure.test.mjs).
//
// A capture is {startUs, endUs, startLevel, edges: [{us, level}]} with the edges in time order,
// inside [startUs, endUs].

/**
 * PWM: the duty cycle and frequency. With at least two rising edges the duty is measured over
 * the whole periods between the first and the last rising edge (a window that cuts a period
 * does not bias it); with fewer, over the window (a constant pin: duty 0 or 1, 0 Hz).
 * @returns {{duty: number, hz: number, periods: number}}
 */
export function pwmOf(capture) {
  const rises = capture.edges.filter((edge) => edge.level === 1).map((edge) => edge.us);
  if (rises.length >= 2) {
    const from = rises[0];
    const to = rises[rises.length - 1];
    const periods = rises.length - 1;
    return { duty: highTime(capture, from, to) / (to - from), hz: (periods * 1e6) / (to - from), periods };
  }
  const span = capture.endUs - capture.startUs;
  return { duty: span > 0 ? highTime(capture, capture.startUs, capture.endUs) / span : capture.startLevel, hz: 0, periods: 0 };
}

/**
 * Servo-style pulses: the mean width of the complete high pulses (a rise and its fall, both
 * inside the window), the mean period between their rising edges, and how many there were.
 * @returns {{high_us: number, period_us: number, count: number, min_high_us: number,
 *   max_high_us: number}}
 */
export function pulsesOf(capture) {
  const widths = [];
  const rises = [];
  let rise = null;
  for (const edge of capture.edges) {
    if (edge.level === 1) {
      rise = edge.us;
    } else if (rise !== null) {
      widths.push(edge.us - rise);
      rises.push(rise);
      rise = null;
    }
  }
  const count = widths.length;
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    high_us: count ? mean(widths) : 0,
    period_us: count >= 2 ? (rises[count - 1] - rises[0]) / (count - 1) : 0,
    count,
    min_high_us: count ? Math.min(...widths) : 0,
    max_high_us: count ? Math.max(...widths) : 0,
  };
}

/** Microseconds the pin was high between `from` and `to` (inside the capture's window). */
export function highTime(capture, from, to) {
  let level = capture.startLevel;
  let since = capture.startUs;
  let high = 0;
  const add = (a, b) => {
    const lo = Math.max(a, from);
    const hi = Math.min(b, to);
    if (hi > lo) high += hi - lo;
  };
  for (const edge of capture.edges) {
    if (level === 1) add(since, edge.us);
    level = edge.level;
    since = edge.us;
  }
  if (level === 1) add(since, capture.endUs);
  return high;
}
