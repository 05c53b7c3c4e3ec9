// Starting the harness and talking to it from Node (the tests and side-by-side.mjs): the
// harness as a child process (its stdin held open: ending it, or this process dying, ends the
// harness), a Firmata client on the serial port, and a control-port client.
// Every wait has a wall-clock limit that is a hang guard, never a timing assertion.

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { FirmataParser } from './firmata.mjs';

export const EMU_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FIRMWARE = join(EMU_DIR, '.firmware', 'StandardFirmata.cpp.hex');

/**
 * Starts harness.mjs; resolves once it announced its ports.
 * @returns {Promise<{serialPort: number, controlPort: number, log: () => string,
 *   stop: () => Promise<object|null>}>} stop() ends it and resolves with its exit summary
 */
export async function startHarness(args = []) {
  const child = spawn(process.execPath, [join(EMU_DIR, 'harness.mjs'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (data) => {
    stderr = (stderr + data.toString()).slice(-20000);
  });
  const lines = createInterface({ input: child.stdout });
  const stdoutLines = [];
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ports = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the harness announced no ports in 30 s: ${stderr}`)), 30_000);
    lines.on('line', (line) => {
      stdoutLines.push(line);
      if (stdoutLines.length === 1) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    exited.then(({ code }) => reject(new Error(`the harness exited (${code}) before announcing its ports: ${stderr}`)));
  });
  return {
    serialPort: ports.serial_port,
    controlPort: ports.control_port,
    log: () => stderr,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      const last = stdoutLines[stdoutLines.length - 1];
      try {
        return stdoutLines.length > 1 ? JSON.parse(last) : null;
      } catch {
        return null;
      }
    },
  };
}

function connected(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.setNoDelay(true);
      // A reset by the harness (a replaced or dropped client) is a close, not a crash.
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The control port: ask(request) -> the reply object. */
export class Control {
  static async open(port) {
    const control = new Control();
    control.socket = await connected(port);
    control.replies = [];
    control.waiting = [];
    createInterface({ input: control.socket }).on('line', (line) => {
      const reply = JSON.parse(line);
      const waiter = control.waiting.shift();
      if (waiter) waiter(reply);
      else control.replies.push(reply);
    });
    return control;
  }

  ask(request) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(request)} in 120 s`)), 120_000);
      this.waiting.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.socket.write(JSON.stringify(request) + '\n');
    });
  }

  /** Sends a raw line (for bad-request tests). */
  askRaw(line) {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.socket.write(line + '\n');
    });
  }

  close() {
    this.socket.destroy();
  }
}

/** A Firmata client on the serial port: send bytes, wait for a message. */
export class FirmataClient {
  static async open(port) {
    const client = new FirmataClient();
    client.socket = await connected(port);
    client.parser = new FirmataParser();
    client.messages = [];
    client.listeners = new Set();
    client.received = 0;
    client.socket.on('data', (data) => {
      client.received += data.length;
      for (const message of client.parser.push(data)) {
        client.messages.push(message);
        for (const listener of client.listeners) listener();
      }
    });
    return client;
  }

  send(bytes) {
    this.socket.write(Buffer.from(bytes.flat()));
  }

  /**
   * Resolves with the first message (received from now on, or already received and not yet
   * taken) for which `match` is true; earlier messages are taken too.
   */
  next(match, what, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        while (this.messages.length) {
          const message = this.messages.shift();
          if (match(message)) {
            this.listeners.delete(check);
            clearTimeout(timer);
            resolve(message);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`no ${what} from the board in ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Forgets the messages received so far. */
  clear() {
    this.messages.length = 0;
  }

  close() {
    this.socket.destroy();
  }
}
