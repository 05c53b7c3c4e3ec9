// One emulated Arduino Uno: an avr8js ATmega328P at 16 MHz with timers 0/1/2, USART0, ports
// B/C/D and the ADC, the flash image loaded, a run loop that never lets emulated time pass
// wall time, USART receive paced at the firmware's own baud rate, pin levels driven from
// outside, and a record of every pin's level changes in emulated time.
//
// Arduino pin numbers: D0-D7 = PD0-PD7, D8-D13 = PB0-PB5, A0-A5 (14-19) = PC0-PC5; ADC
// channel C is A<C>.
//
// A reset builds a new CPU and peripherals around the same flash (the DTR auto-reset of a real
// Uno: the ATmega328P restarts, the USB-serial chip beside it does not). Emulated time keeps
// counting across resets; histories and measurements in progress go on.

import {
  CPU,
  avrInstruction,
  AVRTimer,
  timer0Config,
  timer1Config,
  timer2Config,
  AVRUSART,
  usart0Config,
  AVRIOPort,
  portBConfig,
  portCConfig,
  portDConfig,
  AVRADC,
  adcConfig,
  ADCMuxInputType,
} from 'avr8js';

export const CLOCK_HZ = 16_000_000;
const CYCLES_PER_US = CLOCK_HZ / 1e6;
/** ATmega328P SRAM. */
const SRAM_BYTES = 2048;
/** At most this much emulated time runs between two returns to Node's event loop. */
const MAX_SLICE_CYCLES = 10 * 1000 * CYCLES_PER_US;
/** Bytes held for the USART receiver; more are dropped and counted. */
export const RX_QUEUE_LIMIT = 64 * 1024;
/** Level changes kept per pin between two `history` reads; older ones are dropped, counted. */
export const HISTORY_LIMIT = 4096;
/** Edges one measurement may hold (a 10 s capture of a 490 Hz PWM is ~9 800). */
const CAPTURE_EDGE_LIMIT = 100_000;
/** Lagging wall time by more than this is logged (once per episode). */
const LAG_REPORT_US = 100_000;

export const PIN_COUNT = 20;

/** Arduino pin -> [port name, bit]. */
export function pinLocation(pin) {
  if (!Number.isInteger(pin) || pin < 0 || pin >= PIN_COUNT) return null;
  if (pin < 8) return ['D', pin];
  if (pin < 14) return ['B', pin - 8];
  return ['C', pin - 14];
}

/** The last `limit` level changes of one pin (a ring: recording costs the same when full). */
export class EdgeRing {
  constructor(limit) {
    this.us = new Float64Array(limit);
    this.levels = new Uint8Array(limit);
    this.start = 0;
    this.count = 0;
    this.dropped = 0;
  }

  push(us, level) {
    const limit = this.us.length;
    const at = (this.start + this.count) % limit;
    this.us[at] = us;
    this.levels[at] = level;
    if (this.count < limit) {
      this.count++;
    } else {
      this.start = (this.start + 1) % limit;
      this.dropped++;
    }
  }

  /** The changes, oldest first, as [µs (3 decimals), level], and how many were dropped; empties. */
  take() {
    const edges = [];
    for (let i = 0; i < this.count; i++) {
      const at = (this.start + i) % this.us.length;
      edges.push([Math.round(this.us[at] * 1000) / 1000, this.levels[at]]);
    }
    const result = { edges, dropped: this.dropped };
    this.start = 0;
    this.count = 0;
    this.dropped = 0;
    return result;
  }
}

export class Board {
  /**
   * @param {Uint8Array} flash the program memory image (32 KiB)
   * @param {{log: (line: string) => void}} options
   */
  constructor(flash, { log }) {
    this.flash = flash;
    this.log = log;
    /** Arduino pin -> level driven from outside (a missing pin is released). */
    this.driven = new Map();
    /** ADC channel -> raw 10-bit value. */
    this.adcRaw = new Array(8).fill(0);
    this.rx = { bytes: new Uint8Array(RX_QUEUE_LIMIT), head: 0, count: 0 };
    this.stats = { bytesIn: 0, bytesOut: 0, txDropped: 0, txBackpressure: 0, rxLost: 0, rxOverflow: 0, resets: 0 };
    this.onTransmit = () => {};
    this.histories = Array.from({ length: PIN_COUNT }, () => new EdgeRing(HISTORY_LIMIT));
    this.captures = new Set();
    this.waiters = new Set();
    this.emuBaseUs = 0;
    this.cyclesBeforeReset = 0;
    this.lagging = false;
    this.maxLagUs = 0;
    this.lagEpisodes = 0;
    this.running = false;
    this.wallStartMs = performance.now();
    this.boot({ B: 0, C: 0, D: 0 });
  }

  /**
   * Builds the CPU and peripherals around the flash (first boot and every reset); `levels` are
   * the pins' levels before, so the changes the (re)boot makes are recorded.
   */
  boot(levels) {
    const cpu = new CPU(new Uint16Array(this.flash.buffer, this.flash.byteOffset, this.flash.length / 2), SRAM_BYTES);
    this.cpu = cpu;
    this.timers = [timer0Config, timer1Config, timer2Config].map((config) => new AVRTimer(cpu, config));
    this.usart = new AVRUSART(cpu, usart0Config, CLOCK_HZ);
    this.usart.onByteTransmit = (byte) => this.transmit(byte);
    this.usart.onRxComplete = () => this.feedReceiver();
    this.ports = { B: new AVRIOPort(cpu, portBConfig), C: new AVRIOPort(cpu, portCConfig), D: new AVRIOPort(cpu, portDConfig) };
    this.adc = new AVRADC(cpu, adcConfig);
    const modelRead = this.adc.onADCRead;
    // Single-ended channels convert to the raw value set from outside, exactly (the model's
    // default goes through a voltage and a float division).
    this.adc.onADCRead = (input) => {
      if (input.type !== ADCMuxInputType.SingleEnded) return modelRead(input);
      const value = this.adcRaw[input.channel] ?? 0;
      cpu.addClockEvent(() => this.adc.completeADCRead(value), this.adc.sampleCycles);
    };
    this.levels = { ...levels };
    this.inputs = { B: 0, C: 0, D: 0 };
    for (const [pin, level] of this.driven) {
      const [name, bit] = pinLocation(pin);
      this.setInputBit(name, bit, level);
    }
    for (const [name, port] of Object.entries(this.ports)) {
      port.addListener(() => this.portChanged(name));
      this.portChanged(name);
    }
    this.wallAtBootMs = performance.now();
  }

  /** Emulated microseconds since the harness started (across resets). */
  get emulatedUs() {
    return this.emuBaseUs + this.cpu.cycles / CYCLES_PER_US;
  }

  get wallUs() {
    return (performance.now() - this.wallStartMs) * 1000;
  }

  get cycles() {
    return this.cyclesBeforeReset + this.cpu.cycles;
  }

  /** The USART's character time in emulated µs, from UBRR, U2X and the frame format. */
  get characterUs() {
    const data = this.cpu.data;
    const ubrr = (data[usart0Config.UBRRH] << 8) | data[usart0Config.UBRRL];
    const multiplier = data[usart0Config.UCSRA] & 0x02 ? 8 : 16;
    const bits = 1 + this.usart.bitsPerChar + this.usart.stopBits + (this.usart.parityEnabled ? 1 : 0);
    return ((ubrr + 1) * multiplier * bits) / CYCLES_PER_US;
  }

  start() {
    this.running = true;
    this.runSlice();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  /**
   * Runs the CPU up to the wall clock (at most MAX_SLICE_CYCLES at a time), then yields to
   * Node: emulated time never passes wall time (by at most one instruction, ≤ 4 cycles).
   */
  runSlice() {
    if (!this.running) return;
    const cpu = this.cpu;
    const target = (performance.now() - this.wallAtBootMs) * 1000 * CYCLES_PER_US;
    const end = Math.min(target, cpu.cycles + MAX_SLICE_CYCLES);
    while (cpu.cycles < end) {
      avrInstruction(cpu);
      cpu.tick();
    }
    this.checkWaiters();
    const lagUs = (target - cpu.cycles) / CYCLES_PER_US;
    if (lagUs > this.maxLagUs) this.maxLagUs = lagUs;
    if (lagUs > LAG_REPORT_US && !this.lagging) {
      this.lagging = true;
      this.lagEpisodes++;
      this.log(`behind wall time by ${(lagUs / 1000).toFixed(0)} ms (the host is too busy); catching up`);
    } else if (lagUs < LAG_REPORT_US / 10 && this.lagging) {
      this.lagging = false;
      this.log('caught up with wall time');
    }
    // Behind: go on at once (after Node's I/O). Caught up: sleep for a millisecond.
    if (cpu.cycles < target) this.timer = setImmediate(() => this.runSlice());
    else this.timer = setTimeout(() => this.runSlice(), 1);
  }

  /** Runs `cycles` as fast as the host can, without pacing (for bench.mjs only). */
  runUnpaced(cycles) {
    const cpu = this.cpu;
    const end = cpu.cycles + cycles;
    while (cpu.cycles < end) {
      avrInstruction(cpu);
      cpu.tick();
    }
  }

  /** Board reset (the DTR auto-reset): the same image restarts on a fresh CPU. */
  reset() {
    this.stats.resets++;
    this.emuBaseUs = this.emulatedUs;
    this.cyclesBeforeReset += this.cpu.cycles;
    // Bytes on their way into the receiver are lost with it, as on the chip.
    this.stats.rxLost += this.rx.count;
    this.rx.count = 0;
    // Every pin is an input again: boot records the changes that makes.
    this.boot(this.levels);
    this.log(`reset #${this.stats.resets}: the firmware restarts`);
  }

  // ---- USART --------------------------------------------------------------------------

  transmit(byte) {
    this.stats.bytesOut++;
    this.onTransmit(byte);
  }

  /** Bytes from the serial client, for the receiver. */
  receive(bytes) {
    this.stats.bytesIn += bytes.length;
    const rx = this.rx;
    const taken = Math.min(bytes.length, RX_QUEUE_LIMIT - rx.count);
    this.stats.rxOverflow += bytes.length - taken;
    for (let i = 0; i < taken; i++) rx.bytes[(rx.head + rx.count++) % RX_QUEUE_LIMIT] = bytes[i];
    if (!this.usart.rxBusy) this.feedReceiver();
  }

  /**
   * Starts the next queued byte into the receiver: it completes one character time (of
   * emulated time, at the firmware's own UBRR/U2X) later, and its completion starts the next.
   * With the receiver disabled, bytes are lost, as on a wire into a disabled USART.
   */
  feedReceiver() {
    const rx = this.rx;
    if (rx.count === 0 || this.usart.rxBusy) return;
    if (!this.usart.rxEnable) {
      this.stats.rxLost += rx.count;
      rx.count = 0;
      return;
    }
    const byte = rx.bytes[rx.head];
    rx.head = (rx.head + 1) % RX_QUEUE_LIMIT;
    rx.count--;
    this.usart.writeByte(byte);
  }

  // ---- pins ---------------------------------------------------------------------------

  /** The pin's level and direction: the PIN register's bit and the DDR bit. */
  pin(pin) {
    const [name, bit] = pinLocation(pin);
    const ddr = (this.cpu.data[this.ports[name].portConfig.DDR] >> bit) & 1;
    return { level: (this.levels[name] >> bit) & 1, ddr, driven: this.driven.has(pin) ? this.driven.get(pin) : null };
  }

  /** Drives the pin's input level from outside (a button, a sensor). */
  drive(pin, level) {
    this.driven.set(pin, level);
    this.applyInput(pin, level);
  }

  /** Stops driving: the input reads its pull-up when the firmware enabled it, else 0. */
  release(pin) {
    this.driven.delete(pin);
    const [name] = pinLocation(pin);
    this.portChanged(name);
  }

  applyInput(pin, level) {
    const [name, bit] = pinLocation(pin);
    this.setInputBit(name, bit, level);
    this.portChanged(name);
  }

  setInputBit(name, bit, level) {
    const mask = 1 << bit;
    const now = level ? this.inputs[name] | mask : this.inputs[name] & ~mask;
    if (now !== this.inputs[name]) {
      this.inputs[name] = now;
      this.ports[name].setPin(bit, !!level);
    }
  }

  /**
   * After any change on a port: released inputs follow their pull-up, and every pin whose
   * level (PIN register: output where DDR is set, else the input) changed is recorded.
   */
  portChanged(name) {
    const data = this.cpu.data;
    const config = this.ports[name].portConfig;
    const ddr = data[config.DDR];
    const portBits = data[config.PORT];
    const base = { D: 0, B: 8, C: 14 }[name];
    const width = name === 'B' ? 6 : name === 'C' ? 6 : 8;
    for (let bit = 0; bit < width; bit++) {
      if (!this.driven.has(base + bit) && !((ddr >> bit) & 1)) {
        this.setInputBit(name, bit, (portBits >> bit) & 1);
      }
    }
    const outputs = this.ports[name].lastValue;
    const level = (this.inputs[name] & ~ddr) | (outputs & ddr);
    const changed = (level ^ this.levels[name]) & ((1 << width) - 1);
    this.levels[name] = level;
    if (!changed) return;
    const us = this.emulatedUs;
    for (let bit = 0; bit < width; bit++) {
      if ((changed >> bit) & 1) this.recordEdge(base + bit, us, (level >> bit) & 1);
    }
  }

  recordEdge(pin, us, level) {
    this.histories[pin].push(us, level);
    for (const capture of this.captures) {
      if (capture.pin !== pin) continue;
      if (capture.edges.length < CAPTURE_EDGE_LIMIT) capture.edges.push({ us, level });
      else capture.truncated = true;
    }
    for (const waiter of this.waiters) {
      if (waiter.pin === pin && waiter.level === level) waiter.done(true);
    }
  }

  /** The pin's level changes since the last call, oldest first, and how many were dropped. */
  takeHistory(pin) {
    return this.histories[pin].take();
  }

  setAdc(channel, value) {
    this.adcRaw[channel] = value;
  }

  // ---- waiting in emulated time ---------------------------------------------------------

  /** Records the pin's edges for `ms` of emulated time; resolves with the capture. */
  capture(pin, ms) {
    return new Promise((resolve) => {
      const startUs = this.emulatedUs;
      const capture = { pin, startUs, endUs: startUs + ms * 1000, startLevel: this.pin(pin).level, edges: [], truncated: false };
      this.captures.add(capture);
      this.waiters.add({
        pin: -1,
        untilUs: capture.endUs,
        done: () => {
          this.captures.delete(capture);
          // The slice that ends the capture may run past its end: cut the edges there.
          capture.edges = capture.edges.filter((edge) => edge.us <= capture.endUs);
          resolve(capture);
        },
      });
    });
  }

  /**
   * Resolves when the pin reads `level` (true) or after `ms` of emulated time (false); pin -1
   * waits the whole time.
   */
  waitLevel(pin, level, ms) {
    return new Promise((resolve) => {
      if (pin >= 0 && this.pin(pin).level === level) {
        resolve({ reached: true, waitedUs: 0 });
        return;
      }
      const since = this.emulatedUs;
      const waiter = {
        pin,
        level,
        untilUs: since + ms * 1000,
        done: (reached) => {
          this.waiters.delete(waiter);
          resolve({ reached, waitedUs: this.emulatedUs - since });
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Ends the waits whose time is up (called after every slice). */
  checkWaiters() {
    const now = this.emulatedUs;
    for (const waiter of this.waiters) {
      if (now >= waiter.untilUs) {
        this.waiters.delete(waiter);
        waiter.done(false);
      }
    }
  }
}
