// The harness's control port: one JSON object per line in, one JSON line out per request, in
// order (a request that waits in emulated time holds back the replies after it on the same
// connection). Every reply has "ok"; a bad request gets {"ok":false,"error":"..."}.
//
//   {"op":"pin","pin":N}                      -> level (PIN register bit), ddr, driven
//   {"op":"drive","pin":N,"level":0|1}        drive the input level from outside
//   {"op":"release","pin":N}                  stop driving: pull-up if enabled, else 0
//   {"op":"adc","channel":C,"value":0..1023}  what ADC channel C (A<C>) converts to
//   {"op":"pwm","pin":N,"ms":M}               -> duty, hz, periods over M ms of emulated time
//   {"op":"pulse","pin":N,"ms":M}             -> high_us, period_us, count (+ min/max) over M ms
//   {"op":"history","pin":N}                  -> level changes [[emulated µs, level]...] since
//                                                the last call, and how many were dropped
//   {"op":"wait_level","pin":N,"level":L,"ms":M} -> reached (bool), waited_us (emulated)
//   {"op":"wait","ms":M}                      -> waited_us: returns after M ms of emulated time
//   {"op":"reset"}                            board reset (DTR auto-reset); serial client kept
//   {"op":"drop"}                             close the serial client (unplugged cable)
//   {"op":"stats"}                            -> time, byte counters, cycles, lag
//
// Pins are Arduino numbers: D0-D13 = 0-13, A0-A5 = 14-19.

import { createServer } from 'node:net';
import { PIN_COUNT } from './board.mjs';
import { pwmOf, pulsesOf } from './measure.mjs';

/** Longest request line; a longer one ends the connection with an error. */
const LINE_LIMIT = 64 * 1024;
/** Requests queued on one connection; one more closes it (with an error line). */
const PENDING_LIMIT = 1024;
/** Longest measurement or wait, in emulated ms. */
const MAX_MS = 60_000;

class RequestError extends Error {}

function pinArg(request) {
  const { pin } = request;
  if (!Number.isInteger(pin) || pin < 0 || pin >= PIN_COUNT) {
    throw new RequestError('"pin" must be an Arduino pin 0-19 (D0-D13, A0-A5 = 14-19)');
  }
  return pin;
}

function levelArg(request) {
  if (request.level !== 0 && request.level !== 1) throw new RequestError('"level" must be 0 or 1');
  return request.level;
}

function msArg(request) {
  const { ms } = request;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_MS) {
    throw new RequestError(`"ms" must be a number of emulated milliseconds in (0, ${MAX_MS}]`);
  }
  return ms;
}

const round = (value, digits) => Math.round(value * 10 ** digits) / 10 ** digits;

export class ControlServer {
  /**
   * @param {import('./board.mjs').Board} board
   * @param {{serial: {drop: () => boolean, connections: number, connected: () => boolean}}} options
   */
  constructor(board, { serial }) {
    this.board = board;
    this.serial = serial;
    this.server = createServer((socket) => this.connection(socket));
  }

  connection(socket) {
    let buffered = '';
    let queue = Promise.resolve();
    let pending = 0;
    const refuse = (error) => {
      buffered = '';
      socket.end(JSON.stringify({ ok: false, error }) + '\n');
    };
    socket.setNoDelay(true);
    socket.on('data', (data) => {
      if (socket.writableEnded) return;
      buffered += data.toString('utf8');
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        if (pending >= PENDING_LIMIT) {
          refuse(`more than ${PENDING_LIMIT} requests waiting for their replies: connection closed`);
          return;
        }
        pending++;
        queue = queue.then(async () => {
          // Requests of a connection that is gone are not run (a flood's waits included).
          const reply = socket.destroyed || socket.writableEnded ? null : await this.handle(line);
          pending--;
          if (reply && !socket.destroyed && !socket.writableEnded) socket.write(JSON.stringify(reply) + '\n');
        });
      }
      if (buffered.length > LINE_LIMIT) refuse(`request line longer than ${LINE_LIMIT} bytes: connection closed`);
    });
    socket.on('error', () => {});
  }

  /** One request line -> its reply object (never throws). */
  async handle(line) {
    let request;
    try {
      request = JSON.parse(line);
    } catch {
      return { ok: false, error: 'not JSON' };
    }
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      return { ok: false, error: 'a request is a JSON object with "op"' };
    }
    try {
      return { ok: true, ...(await this.dispatch(request)) };
    } catch (error) {
      if (error instanceof RequestError) return { ok: false, error: error.message };
      return { ok: false, error: `internal error: ${error.message}` };
    }
  }

  async dispatch(request) {
    const board = this.board;
    switch (request.op) {
      case 'pin': {
        const pin = pinArg(request);
        return { pin, ...board.pin(pin) };
      }
      case 'drive': {
        const pin = pinArg(request);
        const level = levelArg(request);
        board.drive(pin, level);
        return { pin, level };
      }
      case 'release': {
        const pin = pinArg(request);
        board.release(pin);
        return { pin, level: board.pin(pin).level };
      }
      case 'adc': {
        const { channel, value } = request;
        if (!Number.isInteger(channel) || channel < 0 || channel > 5) {
          throw new RequestError('"channel" must be 0-5 (A0-A5)');
        }
        if (!Number.isInteger(value) || value < 0 || value > 1023) {
          throw new RequestError('"value" must be 0-1023 (10 bits)');
        }
        board.setAdc(channel, value);
        return { channel, value };
      }
      case 'pwm': {
        const pin = pinArg(request);
        const capture = await board.capture(pin, msArg(request));
        const { duty, hz, periods } = pwmOf(capture);
        return { pin, duty: round(duty, 4), hz: round(hz, 2), periods, truncated: capture.truncated };
      }
      case 'pulse': {
        const pin = pinArg(request);
        const capture = await board.capture(pin, msArg(request));
        const pulses = pulsesOf(capture);
        return {
          pin,
          high_us: round(pulses.high_us, 2),
          period_us: round(pulses.period_us, 2),
          count: pulses.count,
          min_high_us: round(pulses.min_high_us, 2),
          max_high_us: round(pulses.max_high_us, 2),
          truncated: capture.truncated,
        };
      }
      case 'history': {
        const pin = pinArg(request);
        return { pin, ...board.takeHistory(pin) };
      }
      case 'wait_level': {
        const pin = pinArg(request);
        const level = levelArg(request);
        const { reached, waitedUs } = await board.waitLevel(pin, level, msArg(request));
        return { pin, level: board.pin(pin).level, reached, waited_us: round(waitedUs, 3) };
      }
      case 'wait': {
        const { waitedUs } = await board.waitLevel(-1, -1, msArg(request));
        return { waited_us: round(waitedUs, 3) };
      }
      case 'reset':
        board.reset();
        return { resets: board.stats.resets, serial_client: this.serial.connected() };
      case 'drop':
        return { dropped: this.serial.drop() };
      case 'stats':
        return this.stats();
      default:
        throw new RequestError(
          `unknown op ${JSON.stringify(request.op)} (pin, drive, release, adc, pwm, pulse, history, wait_level, wait, reset, drop, stats)`,
        );
    }
  }

  stats() {
    const board = this.board;
    const { stats } = board;
    return {
      emulated_us: round(board.emulatedUs, 3),
      wall_us: round(board.wallUs, 3),
      cycles: board.cycles,
      bytes_in: stats.bytesIn,
      bytes_out: stats.bytesOut,
      bytes_dropped: stats.txDropped + stats.txBackpressure + stats.rxLost + stats.rxOverflow,
      tx_dropped_no_client: stats.txDropped,
      tx_dropped_slow_client: stats.txBackpressure,
      rx_lost: stats.rxLost,
      rx_overflow: stats.rxOverflow,
      resets: stats.resets,
      baud: board.usart.rxEnable || board.usart.txEnable ? board.usart.baudRate : null,
      character_us: round(board.characterUs, 3),
      serial_connections: this.serial.connections,
      serial_connected: this.serial.connected(),
      max_lag_us: round(board.maxLagUs, 1),
      lag_episodes: board.lagEpisodes,
    };
  }
}
