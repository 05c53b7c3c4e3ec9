// One OneGPIO-style script — D13 output high/low, D9 PWM 128, D10 servo 90°, D2 digital input
// read on both levels, A0 analog read — as steps that any Firmata client performs (raw bytes
// from Node here, pyfirmata2 in python_firmata_client.py, later the Rust ardgw), and what the
// pins must show after each step, read through the harness's control port.
//
// Each step: `before(control)` (what the outside world does first: drive an input),
// `raw(client)` (the step as raw Firmata bytes; returns the value the client read, for
// inputs), `observe(control)` (the pins as the harness sees them, waited for in emulated
// time: bytes reach the firmware at 58 823 baud) and `check(observation, clientValue)` (a list
// of what is wrong, empty when the step is right).

import { build, MODE } from './firmata.mjs';

/** A0's value for the analog step (10 bits). */
export const ADC_VALUE = 512;
/** The Servo library's default pulse range (Servo.h MIN_PULSE_WIDTH, MAX_PULSE_WIDTH). */
export const SERVO_MIN_US = 544;
export const SERVO_MAX_US = 2400;
/** Servo.write(90) with that range: map(90, 0, 180, 544, 2400). */
export const SERVO_90_US = SERVO_MIN_US + ((SERVO_MAX_US - SERVO_MIN_US) * 90) / 180;

const near = (value, want, tolerance) => Math.abs(value - want) <= tolerance;

/** Repeats `measure` until `good` holds on its result (or `tries` are used): the last result. */
async function until(measure, good, tries = 20) {
  let result;
  for (let i = 0; i < tries; i++) {
    result = await measure();
    if (!result.ok) throw new Error(`the harness refused a measurement: ${result.error}`);
    if (good(result)) break;
  }
  const { ok: _ok, pin: _pin, truncated: _truncated, ...measured } = result;
  return measured;
}

async function level(control, pin, want) {
  const waited = await control.ask({ op: 'wait_level', pin, level: want, ms: 2000 });
  const now = await control.ask({ op: 'pin', pin });
  return { level: now.level, ddr: now.ddr, reached: waited.reached };
}

export const STEPS = [
  {
    name: 'd13_high',
    what: 'D13 OUTPUT, write 1',
    raw: (c) => c.send([build.setPinMode(13, MODE.OUTPUT), build.digitalPort(1, 1 << 5)]),
    observe: (control) => level(control, 13, 1),
    check: (o) => (o.level === 1 && o.ddr === 1 ? [] : [`D13 level ${o.level} ddr ${o.ddr}, want 1/1`]),
  },
  {
    name: 'd13_low',
    what: 'D13 write 0',
    raw: (c) => c.send([build.digitalPort(1, 0)]),
    observe: (control) => level(control, 13, 0),
    check: (o) => (o.level === 0 && o.ddr === 1 ? [] : [`D13 level ${o.level} ddr ${o.ddr}, want 0/1`]),
  },
  {
    name: 'd9_pwm_128',
    what: 'D9 PWM, write 128/255',
    raw: (c) => c.send([build.setPinMode(9, MODE.PWM), build.analogWrite(9, 128)]),
    observe: (control) =>
      until(
        () => control.ask({ op: 'pwm', pin: 9, ms: 100 }),
        (r) => r.periods >= 10 && near(r.duty, 128 / 255, 0.01),
      ),
    check: (o) => {
      const wrong = [];
      if (!near(o.duty, 128 / 255, 0.01)) wrong.push(`D9 duty ${o.duty}, want 0.502 ± 0.01`);
      // Timer1 phase-correct PWM, prescaler 64: 16 MHz / 64 / 510 = 490.2 Hz.
      if (!near(o.hz, 490.2, 5)) wrong.push(`D9 ${o.hz} Hz, want 490.2 ± 5`);
      return wrong;
    },
  },
  {
    name: 'd10_servo_90',
    what: `D10 servo (${SERVO_MIN_US}-${SERVO_MAX_US} µs), write 90°`,
    raw: (c) => c.send([build.servoConfig(10, SERVO_MIN_US, SERVO_MAX_US), build.analogWrite(10, 90)]),
    observe: (control) =>
      until(
        () => control.ask({ op: 'pulse', pin: 10, ms: 100 }),
        (r) => r.count >= 3 && near(r.min_high_us, SERVO_90_US, 30) && near(r.max_high_us, SERVO_90_US, 30),
      ),
    check: (o) => {
      const wrong = [];
      if (!near(o.high_us, SERVO_90_US, 30)) wrong.push(`D10 pulse ${o.high_us} µs, want ${SERVO_90_US} ± 30`);
      if (!near(o.period_us, 20000, 500)) wrong.push(`D10 period ${o.period_us} µs, want 20000 ± 500 (50 Hz)`);
      return wrong;
    },
  },
  {
    name: 'd2_input',
    what: 'D2 INPUT, report port 0',
    raw: (c) => c.send([build.setPinMode(2, MODE.INPUT), build.reportDigital(0, true)]),
    observe: async (control) => {
      // The firmware's pinMode(2, INPUT) clears DDR bit 2; wait for it in emulated time.
      let pin;
      for (let i = 0; i < 50; i++) {
        pin = await control.ask({ op: 'pin', pin: 2 });
        if (pin.ddr === 0) break;
        await control.ask({ op: 'wait', ms: 20 });
      }
      return { ddr: pin.ddr };
    },
    check: (o) => (o.ddr === 0 ? [] : [`D2 ddr ${o.ddr}, want 0 (input)`]),
  },
  {
    name: 'd2_read_high',
    what: 'D2 driven 1 -> the client reads 1',
    before: (control) => control.ask({ op: 'drive', pin: 2, level: 1 }),
    raw: (c) => c.next((m) => m.type === 'digital' && m.port === 0 && (m.bits & 4) !== 0, 'D2 = 1 report').then(() => 1),
    observe: async (control) => ({ level: (await control.ask({ op: 'pin', pin: 2 })).level }),
    check: (o, value) => (o.level === 1 && value === 1 ? [] : [`D2 level ${o.level}, client read ${value}; want 1/1`]),
  },
  {
    name: 'd2_read_low',
    what: 'D2 driven 0 -> the client reads 0',
    before: (control) => control.ask({ op: 'drive', pin: 2, level: 0 }),
    raw: (c) => c.next((m) => m.type === 'digital' && m.port === 0 && (m.bits & 4) === 0, 'D2 = 0 report').then(() => 0),
    observe: async (control) => ({ level: (await control.ask({ op: 'pin', pin: 2 })).level }),
    check: (o, value) => (o.level === 0 && value === 0 ? [] : [`D2 level ${o.level}, client read ${value}; want 0/0`]),
  },
  {
    name: 'a0_read',
    what: `A0 = ${ADC_VALUE} -> the client reads ${ADC_VALUE}`,
    before: (control) => control.ask({ op: 'adc', channel: 0, value: ADC_VALUE }),
    raw: (c) => {
      c.send([build.reportAnalog(0, true)]);
      return c.next((m) => m.type === 'analog' && m.channel === 0, 'A0 report').then((m) => m.value);
    },
    observe: async () => ({}),
    check: (_o, value) => (value === ADC_VALUE ? [] : [`client read A0 = ${value}, want ${ADC_VALUE}`]),
  },
];
