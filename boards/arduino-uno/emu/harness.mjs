#!/usr/bin/env node
// The Uno harness: runs an Arduino Uno's flash image (Intel HEX; in CI the unmodified
// StandardFirmata of avrgirl-arduino 5.0.1) on avr8js's ATmega328P at 16 MHz, paced to wall
// time, and exposes
//
//   USART0     as a TCP byte stream, like the Uno's USB-serial chip: bytes from the client
//              reach the receiver one character time apart at the firmware's own baud rate;
//              one client at a time, a new one replaces the old; with no client, transmitted
//              bytes are dropped (counted)
//   control    a TCP port of JSON lines: pin levels, inputs, ADC, PWM/servo measurements,
//              history, waits in emulated time, reset, drop, stats (lib/control.mjs)
//
// both on 127.0.0.1 (port 0 = the kernel picks, unless given), announced as one JSON line on
// stdout: {"serial_port":P,"control_port":Q}. Logs go to stderr. Exits cleanly on SIGTERM,
// SIGINT and when stdin closes (a killed parent never leaves it running), printing one JSON
// summary line on stdout.
//
//   node harness.mjs [--hex FILE] [--serial-port N] [--control-port N] [--reset-on-connect]
//                    [--ignore-stdin] [--quiet]
//
// --hex defaults to .firmware/StandardFirmata.cpp.hex (made by fetch-firmware.sh).
// --reset-on-connect resets the board when a serial client connects, as opening a real Uno's
// port does (DTR). --ignore-stdin: keep running when stdin closes (for `node harness.mjs &`).
// Exit 2: bad arguments or image; 1: a port could not be bound.

import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseIntelHex } from './lib/hex.mjs';
import { Board } from './lib/board.mjs';
import { ControlServer } from './lib/control.mjs';

const here = dirname(fileURLToPath(import.meta.url));
/** Bytes written to the serial client but not yet taken by it; beyond, output is dropped. */
const TX_BACKLOG_LIMIT = 1024 * 1024;

function fail(message, code = 2) {
  process.stderr.write(`uno-harness: ${message}\n`);
  process.exit(code);
}

let options;
try {
  options = parseArgs({
    options: {
      hex: { type: 'string', default: join(here, '.firmware', 'StandardFirmata.cpp.hex') },
      'serial-port': { type: 'string', default: '0' },
      'control-port': { type: 'string', default: '0' },
      'reset-on-connect': { type: 'boolean', default: false },
      'ignore-stdin': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  fail(`${error.message} (see the header of harness.mjs)`);
}

function portArg(name) {
  const port = Number(options[name]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--${name} ${options[name]}: want a TCP port 0-65535`);
  return port;
}
const serialPort = portArg('serial-port');
const controlPort = portArg('control-port');

const started = performance.now();
const log = (line) => {
  if (!options.quiet) process.stderr.write(`[uno ${((performance.now() - started) / 1000).toFixed(3)}s] ${line}\n`);
};

let image;
try {
  image = parseIntelHex(readFileSync(options.hex, 'latin1'));
} catch (error) {
  const hint = error.code === 'ENOENT' ? ' (run fetch-firmware.sh first)' : '';
  fail(`${options.hex}: ${error.message}${hint}`);
}
log(`${options.hex}: ${image.bytes} bytes of program`);

const board = new Board(image.flash, { log });

// ---- the serial port: one client, like a USB-serial adapter ------------------------------
const serial = { socket: null, connections: 0, out: [] };
serial.connected = () => serial.socket !== null;
serial.drop = () => {
  if (!serial.socket) return false;
  log('serial: client dropped (control request)');
  serial.socket.destroy();
  serial.socket = null;
  return true;
};
const serialServer = createServer((socket) => {
  if (serial.socket) {
    log('serial: a new client replaces the connected one');
    serial.socket.destroy();
  }
  serial.socket = socket;
  serial.connections++;
  socket.setNoDelay(true);
  log(`serial: client connected (${serial.connections})`);
  if (options['reset-on-connect']) board.reset();
  socket.on('data', (data) => {
    if (serial.socket === socket) board.receive(data);
  });
  const gone = () => {
    if (serial.socket !== socket) return;
    serial.socket = null;
    log('serial: client disconnected');
  };
  socket.on('close', gone);
  socket.on('error', gone);
});
// Transmitted bytes leave in one write per run slice (at 58 823 baud a byte takes 170 µs).
board.onTransmit = (byte) => {
  if (!serial.socket) {
    board.stats.txDropped++;
    return;
  }
  serial.out.push(byte);
  if (serial.out.length === 1) {
    setImmediate(() => {
      const bytes = serial.out;
      serial.out = [];
      if (!serial.socket) board.stats.txDropped += bytes.length;
      // A client that does not read: beyond 1 MiB unsent, bytes are dropped (counted) rather
      // than buffered without bound (the firmware sends at most ~5.9 KB/s).
      else if (serial.socket.writableLength > TX_BACKLOG_LIMIT) board.stats.txBackpressure += bytes.length;
      else serial.socket.write(Buffer.from(bytes));
    });
  }
};

const control = new ControlServer(board, { serial });

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

let finished = false;
function finish(code, why) {
  if (finished) return;
  finished = true;
  board.stop();
  const summary = { event: 'exit', why, ...control.stats() };
  process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(code));
}
process.on('SIGTERM', () => finish(0, 'SIGTERM'));
process.on('SIGINT', () => finish(0, 'SIGINT'));
if (!options['ignore-stdin']) {
  process.stdin.on('end', () => {
    log('stdin closed: exiting (run with --ignore-stdin to keep running without a stdin)');
    finish(0, 'stdin closed');
  });
  process.stdin.on('error', () => finish(0, 'stdin closed'));
  process.stdin.resume();
}

let ports;
try {
  ports = { serial_port: await listen(serialServer, serialPort), control_port: await listen(control.server, controlPort) };
} catch (error) {
  fail(`cannot listen on 127.0.0.1: ${error.message}`, 1);
}
process.stdout.write(JSON.stringify(ports) + '\n');
log(`serial on 127.0.0.1:${ports.serial_port}, control on 127.0.0.1:${ports.control_port}`);
board.start();
