#!/usr/bin/env node
// The same OneGPIO script (lib/onegpio-steps.mjs) driven through two Firmata clients against
// the same emulated StandardFirmata, with the pins read through the control port after every
// step: raw Firmata bytes from Node, and the real Python client pyfirmata2
// (python_firmata_client.py) on a pty that socat bridges to the harness's serial port. Passes
// when every step is right for both clients and both left the same pin levels and read the
// same values. The board is reset before each client (as opening a real Uno's port does).
//
//   node side-by-side.mjs [--serial-port P --control-port Q] [--python PY] [--only raw|python]
//
// Without ports it starts its own harness. PY: --python, else $BANYAN_PYTHON, else python3.
// Prints one table; exit 0 pass, 1 fail, 2 bad arguments or a missing tool.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { STEPS } from './lib/onegpio-steps.mjs';
import { Control, FirmataClient, EMU_DIR, startHarness } from './lib/session.mjs';

/** The board after a reset: StandardFirmata announces itself (~1.9 s, after its D13 blink). */
async function resetAndWaitForFirmata(control, client) {
  client.clear();
  await control.ask({ op: 'reset' });
  await client.next((m) => m.type === 'version', 'version report after the reset');
}

/** Runs the steps with raw Firmata bytes; returns [{step, observation, value, wrong}]. */
export async function runRaw(ports, log = () => {}) {
  const control = await Control.open(ports.controlPort);
  const client = await FirmataClient.open(ports.serialPort);
  try {
    await resetAndWaitForFirmata(control, client);
    const results = [];
    for (const step of STEPS) {
      if (step.before) await step.before(control);
      const value = await step.raw(client);
      const observation = await step.observe(control);
      const wrong = step.check(observation, value);
      log(`raw     ${step.name}: ${JSON.stringify({ ...observation, value })}${wrong.length ? ' WRONG' : ''}`);
      results.push({ step: step.name, observation, value, wrong });
    }
    return results;
  } finally {
    client.close();
    control.close();
  }
}

/** The Python to use: the argument, $BANYAN_PYTHON, the repository's .venv, python3. */
export function pythonCommand(given) {
  if (given) return given;
  if (process.env.BANYAN_PYTHON) return process.env.BANYAN_PYTHON;
  const venv = join(EMU_DIR, '..', '..', '..', '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** Null when the Python client can run here, else why not. */
export function pythonMissing(python) {
  if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status !== 0) return 'socat is not installed';
  const probe = spawnSync(python, ['-c', 'import pyfirmata2'], { stdio: 'ignore' });
  if (probe.status !== 0) return `${python} cannot import pyfirmata2 (pip install pyfirmata2==2.5.1)`;
  return null;
}

function lineReader(stream) {
  const lines = [];
  const waiting = [];
  let closed = false;
  createInterface({ input: stream })
    .on('line', (line) => (waiting.length ? waiting.shift()(line) : lines.push(line)))
    .on('close', () => {
      closed = true;
      while (waiting.length) waiting.shift()(null);
    });
  return (timeoutMs, what) =>
    new Promise((resolve, reject) => {
      if (lines.length) return resolve(lines.shift());
      if (closed) return resolve(null);
      const timer = setTimeout(() => reject(new Error(`no ${what} from the Python client in ${timeoutMs / 1000} s`)), timeoutMs);
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
}

/** Runs the steps through pyfirmata2 in lockstep; same result shape as runRaw. */
export async function runPython(ports, python, log = () => {}) {
  const control = await Control.open(ports.controlPort);
  const dir = mkdtempSync(join(tmpdir(), 'uno-pty-'));
  const tty = join(dir, 'tty');
  const children = [];
  let stderr = '';
  const end = (child) =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  try {
    await control.ask({ op: 'reset' });
    // socat: a pty (raw, no echo) whose other side is the harness's serial port.
    const socat = spawn('socat', [`PTY,raw,echo=0,link=${tty}`, `TCP:127.0.0.1:${ports.serialPort}`], { stdio: 'ignore' });
    children.push(socat);
    for (let i = 0; !existsSync(tty); i++) {
      if (socat.exitCode !== null || i > 300) throw new Error(`socat made no pty at ${tty}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const client = spawn(python, ['-u', join(EMU_DIR, 'python_firmata_client.py'), '--port', tty, '--lockstep'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(client);
    client.stderr.on('data', (data) => {
      stderr = (stderr + data.toString()).slice(-4000);
    });
    const next = lineReader(client.stdout);
    const read = async (what) => {
      const line = await next(60_000, what);
      if (line === null) throw new Error(`the Python client ended before ${what}: ${stderr.trim()}`);
      return JSON.parse(line);
    };
    const hello = await read('its connection line');
    log(`python  connected: ${JSON.stringify(hello)}`);
    const results = [];
    for (const step of STEPS) {
      if (step.before) await step.before(control);
      client.stdin.write('\n');
      const done = await read(step.name);
      if (done.step !== step.name) throw new Error(`the Python client did ${done.step}, expected ${step.name}`);
      const observation = await step.observe(control);
      const wrong = step.check(observation, done.value);
      log(`python  ${step.name}: ${JSON.stringify({ ...observation, value: done.value })}${wrong.length ? ' WRONG' : ''}`);
      results.push({ step: step.name, observation, value: done.value, wrong });
    }
    client.stdin.end();
    const code = await new Promise((resolve, reject) => {
      if (client.exitCode !== null) return resolve(client.exitCode);
      const timer = setTimeout(() => reject(new Error('the Python client did not exit after its last step')), 30_000);
      client.once('exit', (status) => {
        clearTimeout(timer);
        resolve(status);
      });
    });
    if (code !== 0) throw new Error(`the Python client exited with ${code}: ${stderr.trim()}`);
    return { hello, results };
  } finally {
    for (const child of children.reverse()) await end(child);
    control.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Discrete facts that must be equal between clients (levels, directions, values read). */
function discrete(result) {
  const { level, ddr } = result.observation;
  return JSON.stringify({ level, ddr, value: result.value });
}

/** The table and the verdict for the two runs. */
export function compare(raw, python) {
  const rows = [];
  let failures = 0;
  for (let i = 0; i < STEPS.length; i++) {
    const a = raw?.[i];
    const b = python?.[i];
    const wrong = [...(a?.wrong ?? []).map((w) => `raw: ${w}`), ...(b?.wrong ?? []).map((w) => `python: ${w}`)];
    if (a && b && discrete(a) !== discrete(b)) wrong.push(`raw and python differ: ${discrete(a)} vs ${discrete(b)}`);
    failures += wrong.length;
    const show = (r) => (r ? JSON.stringify({ ...r.observation, ...(r.value !== undefined ? { value: r.value } : {}) }) : '-');
    rows.push(`${wrong.length ? 'FAIL' : 'ok  '} ${STEPS[i].name.padEnd(13)} raw ${show(a)}  python ${show(b)}${wrong.length ? '  <- ' + wrong.join('; ') : ''}`);
  }
  return { rows, failures };
}

async function main() {
  let options;
  try {
    options = parseArgs({
      options: {
        'serial-port': { type: 'string' },
        'control-port': { type: 'string' },
        python: { type: 'string' },
        only: { type: 'string' },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`side-by-side: ${error.message}\n`);
    return 2;
  }
  if (options.only && !['raw', 'python'].includes(options.only)) {
    process.stderr.write('side-by-side: --only raw|python\n');
    return 2;
  }
  const python = pythonCommand(options.python);
  if (options.only !== 'raw') {
    const missing = pythonMissing(python);
    if (missing) {
      process.stderr.write(`side-by-side: ${missing}\n`);
      return 2;
    }
  }
  let harness = null;
  let ports;
  if (options['serial-port'] && options['control-port']) {
    ports = { serialPort: Number(options['serial-port']), controlPort: Number(options['control-port']) };
  } else {
    harness = await startHarness();
    ports = harness;
  }
  const log = (line) => process.stdout.write(`  ${line}\n`);
  let raw = null;
  let py = null;
  try {
    if (options.only !== 'python') raw = await runRaw(ports, log);
    if (options.only !== 'raw') py = (await runPython(ports, python, log)).results;
  } catch (error) {
    process.stdout.write(`side-by-side: FAIL: ${error.message}\n`);
    if (harness) process.stdout.write(harness.log().split('\n').slice(-20).join('\n') + '\n');
    return 1;
  } finally {
    if (harness) {
      const summary = await harness.stop();
      process.stdout.write(`  harness: ${JSON.stringify(summary)}\n`);
    }
  }
  const { rows, failures } = compare(raw, py);
  process.stdout.write(`OneGPIO script, raw Firmata vs ${py ? 'pyfirmata2' : '(python skipped)'}:\n${rows.join('\n')}\n`);
  process.stdout.write(`side-by-side: ${failures ? `FAIL (${failures})` : 'PASS'}\n`);
  return failures ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(await main());
