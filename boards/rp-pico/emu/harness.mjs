#!/usr/bin/env node
// The Pico harness: runs a release ELF of boards/rp-pico in rp2040js and exposes
//
//   UART0 (GP0/GP1)   as a TCP byte stream (one client at a time): `banyan-gateway --tcp`
//   USB CDC-ACM       as another TCP byte stream; connecting = opening the tty (DTR on)
//   control           a line-based JSON TCP port: set input pins and ADC values, read pin
//                     levels and PWM duty, wire pins, reset the chip (see README.md "Emulator")
//
// every port bound on 127.0.0.1 port 0 (the kernel picks), announced as one JSON line on
// stdout: {"event":"ready","uart":U,"usb":B,"control":C} (and written to --ports-file).
//
//   node harness.mjs --elf FILE [--uf2 FILE] [--ports-file FILE] [--wire A:B]...
//                    [--adc CH=VALUE]... [--input PIN=0|1]... [--exit-on-led]
//                    [--timeout SECONDS] [--rtt-file FILE] [--quiet]
//
// --uf2 checks that the UF2 holds exactly the ELF's loadable bytes before running (the UF2 is
// what goes onto a real Pico). --exit-on-led exits 0 once GP25 (the LED) goes high.
// --rtt-file writes the firmware's defmt log (RTT up channel 0, read out of emulated RAM as a
// probe would) to FILE: decode it with `defmt-print -e ELF < FILE`.
// --timeout exits 3 after that many wall seconds. Exit 2: bad arguments or image.

import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Chip } from './lib/chip.mjs';
import { CdcHost } from './lib/usb-host.mjs';
import { loadElfSegments, loadUf2, checkUf2MatchesElf } from './lib/image.mjs';
import { ControlServer } from './lib/control.mjs';
import { RttReader } from './lib/rtt.mjs';
import { openSync, writeSync } from 'node:fs';

function fail(message, code = 2) {
  process.stderr.write(`pico-harness: ${message}\n`);
  process.exit(code);
}

let options;
try {
  options = parseArgs({
    options: {
      elf: { type: 'string' },
      uf2: { type: 'string' },
      'ports-file': { type: 'string' },
      'rtt-file': { type: 'string' },
      wire: { type: 'string', multiple: true, default: [] },
      adc: { type: 'string', multiple: true, default: [] },
      input: { type: 'string', multiple: true, default: [] },
      'exit-on-led': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  fail(`${error.message} (see the header of harness.mjs)`);
}
if (!options.elf) fail('--elf FILE is required');

const started = performance.now();
const log = (line) => {
  if (!options.quiet || /error|reset|USB|UF2|LED/.test(line)) {
    process.stderr.write(`[harness ${((performance.now() - started) / 1000).toFixed(3)}s] ${line}\n`);
  }
};

function pinNumber(text, what) {
  const pin = Number(text);
  if (!Number.isInteger(pin) || pin < 0 || pin > 29) fail(`${what}: ${text} is not a GPIO 0-29`);
  return pin;
}

let segments;
try {
  segments = loadElfSegments(options.elf);
  if (options.uf2) {
    const check = checkUf2MatchesElf(segments, loadUf2(options.uf2));
    log(
      `UF2 check: ${options.uf2} writes the ELF's ${check.elfBytes} loadable bytes exactly ` +
        `(+${check.padding} zero padding bytes)`,
    );
  }
} catch (error) {
  fail(error.message);
}

const chip = new Chip(segments, log);
if (options['rtt-file']) {
  const fd = openSync(options['rtt-file'], 'w');
  chip.rtt = new RttReader((bytes) => writeSync(fd, bytes));
  chip.rtt.attach(chip.rp);
}
for (const spec of options.wire) {
  const [from, to] = spec.split(':');
  chip.wire(pinNumber(from, '--wire'), pinNumber(to, '--wire'));
}
for (const spec of options.adc) {
  const [channel, value] = spec.split('=').map(Number);
  if (!(channel >= 0 && channel <= 4) || !(value >= 0 && value <= 4095)) {
    fail(`--adc ${spec}: want CHANNEL(0-4)=VALUE(0-4095)`);
  }
  chip.setAdc(channel, value);
}
for (const spec of options.input) {
  const [pin, level] = spec.split('=');
  if (level !== '0' && level !== '1') fail(`--input ${spec}: want PIN=0 or PIN=1`);
  chip.setInput(pinNumber(pin, '--input'), level === '1');
}

/** A TCP port for one byte stream; a new client replaces the old one. */
function streamServer(name, onData, onOpen) {
  const state = { socket: null, sent: 0, received: 0, connections: 0 };
  const server = createServer((socket) => {
    if (state.socket) {
      log(`${name}: a new client replaces the connected one`);
      state.socket.destroy();
    }
    state.socket = socket;
    state.connections++;
    socket.setNoDelay(true);
    log(`${name}: client connected (${state.connections})`);
    onOpen(true);
    socket.on('data', (data) => {
      state.received += data.length;
      onData(data);
    });
    const gone = () => {
      if (state.socket !== socket) return;
      state.socket = null;
      log(`${name}: client disconnected`);
      onOpen(false);
    };
    socket.on('close', gone);
    socket.on('error', gone);
  });
  state.write = (bytes) => {
    if (state.socket) {
      state.sent += bytes.length;
      state.socket.write(bytes);
    }
  };
  state.server = server;
  return state;
}

// UART0 transmit: bytes to the client; with no client connected they fall on the floor, as
// on a wire nobody listens to.
const uart = streamServer('UART0', (data) => chip.uartReceive(data), () => {});
const uartOut = [];
chip.onUartByte = (byte) => {
  uartOut.push(byte);
  if (uartOut.length === 1) {
    setImmediate(() => {
      uart.write(Buffer.from(uartOut));
      uartOut.length = 0;
    });
  }
};

const usbHost = new CdcHost(log, (bytes) => usb.write(Buffer.from(bytes)));
const usb = streamServer('USB', (data) => usbHost.send(data), (open) => usbHost.setPortOpen(open));
chip.onBoot = (rp) => usbHost.attach(rp.usbCtrl);
usbHost.attach(chip.rp.usbCtrl);

chip.onLed = (on) => {
  log(`LED (GP25) ${on ? 'on' : 'off'} at ${(chip.emuNanos / 1e9).toFixed(3)} s emulated`);
  if (on && options['exit-on-led']) finish(0, 'the LED is on');
};

const control = new ControlServer(chip, { uart, usb, usbHost, log });

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

function finish(code, why) {
  const summary = {
    event: 'exit',
    code,
    why,
    emulated_s: +(chip.emuNanos / 1e9).toFixed(3),
    wall_s: +((performance.now() - started) / 1000).toFixed(3),
    instructions: chip.instructions,
    resets: chip.resets,
    uart_rx_dropped: chip.rxDropped,
    uart_rx_lost: chip.rxLost,
    usb_out_dropped: usbHost.outDropped,
    usb_enumerations: usbHost.enumerations,
  };
  chip.rtt?.poll();
  process.stdout.write(JSON.stringify(summary) + '\n');
  chip.stop();
  process.exit(code);
}
process.on('SIGTERM', () => finish(143, 'SIGTERM'));
process.on('SIGINT', () => finish(130, 'SIGINT'));

const ports = {
  event: 'ready',
  uart: await listen(uart.server),
  usb: await listen(usb.server),
  control: await listen(control.server),
};
if (options['ports-file']) writeFileSync(options['ports-file'], JSON.stringify(ports) + '\n');
process.stdout.write(JSON.stringify(ports) + '\n');
if (options.timeout) {
  const seconds = Number(options.timeout);
  if (!(seconds > 0)) fail(`--timeout ${options.timeout}: want a positive number of seconds`);
  setTimeout(() => finish(3, `--timeout ${seconds}s reached`), seconds * 1000).unref();
}
chip.start();
