// One emulated Pico: an rp2040js RP2040 with the corrections of fixes.mjs, the firmware image
// in flash, a run loop that never lets emulated time pass wall time, UART0 receive pacing,
// pin-to-pin wires and harness-set input levels and ADC values.
//
// A "reset" builds a new chip with the same flash, pins, wires and ADC values: on silicon a
// RUN-pin or watchdog reset restarts every block (timer included), which is what a fresh model
// is; the model's own `reset()` only resets the core and PWM (and erases flash).

import { RP2040, GPIOPinState } from 'rp2040js';
import { applyFixes } from './fixes.mjs';
import { FLASH_BASE } from './image.mjs';

/** Where embassy-rp's vector table sits: after the 256-byte boot2 (memory.x). */
const VECTOR_TABLE = FLASH_BASE + 0x100;
/** Instructions run between checks of the wall clock and of the event loop. */
const SLICE_INSTRUCTIONS = 20000;
/** UART0 receive FIFO depth (datasheet 4.2.2: 32 entries). */
const RX_FIFO_DEPTH = 32;
/** Bytes held for UART0 before it can take them; more are dropped (and counted). */
const RX_QUEUE_LIMIT = 64 * 1024;
const LED_PIN = 25;

export class Chip {
  /**
   * @param {{address:number, bytes:Uint8Array}[]} segments the image (image.mjs)
   * @param {(line:string)=>void} log
   */
  constructor(segments, log) {
    this.segments = segments;
    this.log = log;
    this.inputs = new Map(); // pin -> level set by the harness
    this.wires = []; // [from, to]: `to`'s input follows `from`'s level
    this.adcValues = [0, 0, 0, 0, 0];
    this.rxQueue = [];
    this.rxDropped = 0;
    this.rxLost = 0; // arrived while UART0 was disabled (or at a reset): lost, as on the chip
    this.onUartByte = () => {};
    this.onLed = () => {};
    this.onBoot = () => {};
    this.resets = 0;
    this.instructions = 0;
    this.running = false;
    this.boot();
  }

  /** Builds and starts a fresh chip (first boot and every reset). */
  boot() {
    const rp = new RP2040();
    // The model logs every unimplemented access at debug level to the console; keep errors.
    rp.logger = { debug() {}, info() {}, warn: (n, m) => this.warnOnce(`${n}: ${m}`), error: (n, m) => this.log(`rp2040js error: ${n}: ${m}`) };
    applyFixes(rp);
    // No bootrom image exists in the package (the ROM reads as zeros) and our firmware calls
    // no ROM function: the image goes straight into flash (after the constructor's reset,
    // which fills flash with 0xff), boot2 is skipped and the core starts at embassy's
    // vector table, as the bootrom would after boot2 has set up XIP.
    for (const { address, bytes } of this.segments) rp.flash.set(bytes, address - FLASH_BASE);
    rp.core.VTOR = VECTOR_TABLE;
    rp.core.reset();
    this.rp = rp;
    this.clock = rp.clock;
    this.wallStart = performance.now();
    this.emuStart = this.clock.nanos;
    rp.adc.channelValues = this.adcValues;
    rp.uart[0].onByte = (byte) => this.onUartByte(byte);
    this.rxAlarm = this.clock.createAlarm(() => this.rxTick());
    // rp2040js does not clear ClockAlarm.scheduled when an alarm fires: track it here.
    this.rxAlarmPending = false;
    this.ledOn = false;
    for (let pin = 0; pin < rp.gpio.length; pin++) {
      rp.gpio[pin].addListener(() => this.pinChanged(pin));
    }
    for (const [pin, level] of this.inputs) rp.gpio[pin].setInputValue(level);
    for (const [from] of this.wires) this.pinChanged(from);
    this.rtt?.attach(rp);
    this.onBoot(rp);
  }

  /** Resets the chip mid-run (RUN pin): the firmware starts again from its reset vector. */
  reset() {
    this.resets++;
    // Bytes on their way into the UART when it is reset are lost, as on the chip.
    this.rxLost += this.rxQueue.length;
    this.rxQueue = [];
    this.log(`reset #${this.resets}: the firmware restarts`);
    this.boot();
  }

  warnOnce(message) {
    this.warned ??= new Set();
    const key = message.replace(/0x[0-9a-f]+: 0x[0-9a-f]+$/, '');
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(`rp2040js warning (logged once): ${message}`);
  }

  pinChanged(pin) {
    const gpio = this.rp.gpio[pin];
    if (pin === LED_PIN) {
      const on = gpio.value === GPIOPinState.High;
      if (on !== this.ledOn) {
        this.ledOn = on;
        this.onLed(on);
      }
    }
    for (const [from, to] of this.wires) {
      if (from === pin) this.drive(to, this.levelOf(from));
    }
    // A pin nobody drives (no harness level, no wire) reads its pull, as on silicon: a
    // pull-up reads 1, a pull-down 0 (datasheet 2.19, GPIO pads); the model leaves its input at 0.
    if (!this.inputs.has(pin) && !this.wires.some(([, to]) => to === pin)) {
      const state = gpio.value;
      if (state === GPIOPinState.InputPullUp || state === GPIOPinState.InputPullDown) {
        const level = state === GPIOPinState.InputPullUp;
        if (gpio.rawInputValue !== level) gpio.setInputValue(level);
      }
    }
  }

  /** The level a pin presents to a wire: its output when driven, else its pull. */
  levelOf(pin) {
    const state = this.rp.gpio[pin].value;
    return state === GPIOPinState.High || state === GPIOPinState.InputPullUp;
  }

  drive(pin, level) {
    if (this.rp.gpio[pin].rawInputValue !== level) this.rp.gpio[pin].setInputValue(level);
  }

  setInput(pin, level) {
    this.inputs.set(pin, level);
    this.rp.gpio[pin].setInputValue(level);
  }

  /**
   * Holds `pin`'s input at `level` for `micros` of emulated time, then returns it to the
   * level before (a button press, a glitch): exact in the firmware's own time base, whatever
   * the host's scheduling does.
   */
  pulse(pin, level, micros) {
    const before = this.inputs.get(pin) ?? false;
    this.setInput(pin, level);
    const rp = this.rp;
    const alarm = this.clock.createAlarm(() => {
      if (this.rp === rp) this.setInput(pin, before);
    });
    alarm.schedule(micros * 1000);
  }

  wire(from, to) {
    this.wires.push([from, to]);
    this.pinChanged(from);
  }

  setAdc(channel, value) {
    this.adcValues[channel] = value;
  }

  /** Emulated nanoseconds since this chip booted. */
  get emuNanos() {
    return this.clock.nanos - this.emuStart;
  }

  /** Wall nanoseconds since this chip booted. */
  get wallNanos() {
    return (performance.now() - this.wallStart) * 1e6;
  }

  /** Queues bytes for UART0's receive line (from the TCP client). */
  uartReceive(bytes) {
    for (const byte of bytes) {
      if (this.rxQueue.length >= RX_QUEUE_LIMIT) {
        this.rxDropped++;
        continue;
      }
      this.rxQueue.push(byte);
    }
    this.scheduleRx();
  }

  /** One byte per character time of emulated time, while the 32-byte RX FIFO has room. */
  scheduleRx() {
    if (this.rxAlarmPending || this.rxQueue.length === 0) return;
    const uart = this.rp.uart[0];
    // 10 bits per character (8N1) at the firmware's baud rate; 115200 until it sets one.
    const baud = uart.baudDivider ? uart.baudRate : 115200;
    this.rxAlarmPending = true;
    this.rxAlarm.schedule(Math.round(1e10 / baud));
  }

  rxTick() {
    this.rxAlarmPending = false;
    const uart = this.rp.uart[0];
    if (this.rxQueue.length > 0 && !(uart.enabled && uart.rxEnabled)) {
      // No receiver yet (before the firmware's UART init): the byte goes by unseen.
      this.rxQueue.shift();
      this.rxLost++;
    } else if (this.rxQueue.length > 0 && uart.rxFIFO.itemCount < RX_FIFO_DEPTH) {
      uart.feedByte(this.rxQueue.shift());
    }
    this.scheduleRx();
  }

  start() {
    this.running = true;
    this.runSlice();
  }

  stop() {
    this.running = false;
  }

  /**
   * Runs the core for a slice, never past wall time: while the core sleeps (WFI/WFE) the clock
   * jumps to the next alarm only if that is not later than the wall clock, else to the wall
   * clock, and the loop yields to Node until real time catches up. A busy core runs slower
   * than real time (the model is ~0.4x), so it never gets ahead; idle firmware keeps real time.
   */
  runSlice() {
    if (!this.running) return;
    const { rp, clock } = this;
    const cycleNanos = 1e9 / rp.clkSys;
    const limit = this.emuStart + this.wallNanos;
    let ran = 0;
    let caughtUp = false;
    while (ran < SLICE_INSTRUCTIONS) {
      if (clock.nanos >= limit) {
        caughtUp = true;
        break;
      }
      if (rp.core.waiting) {
        const next = clock.nextAlarm ? clock.nextAlarm.nanos : Infinity;
        if (next > limit) {
          clock.tick(limit - clock.nanos);
          caughtUp = true;
          break;
        }
        clock.tick(Math.max(0, next - clock.nanos));
        continue;
      }
      const cycles = rp.core.executeInstruction();
      clock.tick(cycles * cycleNanos);
      ran++;
    }
    this.instructions += ran;
    this.rtt?.poll();
    // Caught up with wall time: give Node a millisecond (sockets, timers); else keep going
    // but let pending I/O in first.
    if (caughtUp) setTimeout(() => this.runSlice(), 1);
    else setImmediate(() => this.runSlice());
  }
}
