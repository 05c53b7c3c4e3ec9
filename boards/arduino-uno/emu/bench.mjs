#!/usr/bin/env node
// Measures the harness's costs on this machine (numbers for README.md, not asserted anywhere):
//   unpaced   emulated/wall ratio running StandardFirmata as fast as the host can
//   paced     CPU used per wall second when paced to wall time (the harness's normal mode)
//   F9        emulated and wall time from power-on to StandardFirmata's version report, and
//             to its answer to a REPORT_VERSION (F9) sent as soon as the USART receives (bytes
//             before Serial.begin are lost, as on the chip)
//
//   node bench.mjs [--hex FILE] [--seconds S]    (S: emulated seconds per part, default 10)

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseIntelHex } from './lib/hex.mjs';
import { Board, CLOCK_HZ } from './lib/board.mjs';
import { FIRMWARE } from './lib/session.mjs';
import { FirmataParser } from './lib/firmata.mjs';

const { values } = parseArgs({ options: { hex: { type: 'string', default: FIRMWARE }, seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) {
  process.stderr.write('bench: --seconds must be positive\n');
  process.exit(2);
}
const { flash } = parseIntelHex(readFileSync(values.hex, 'latin1'));
const quiet = { log: () => {} };

// Unpaced.
{
  const board = new Board(flash, quiet);
  const wall = performance.now();
  const cpu = process.cpuUsage();
  board.runUnpaced(seconds * CLOCK_HZ);
  const wallS = (performance.now() - wall) / 1000;
  const cpuS = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1e6;
  console.log(`unpaced: ${seconds} s emulated in ${wallS.toFixed(2)} s wall (${cpuS.toFixed(2)} s CPU): ${(seconds / wallS).toFixed(2)}x real time`);
}

// Paced, with an F9 sent at power-on.
{
  const board = new Board(flash, quiet);
  const parser = new FirmataParser();
  const versions = [];
  board.onTransmit = (byte) => {
    for (const message of parser.push([byte])) {
      if (message.type === 'version') versions.push({ emulatedS: board.emulatedUs / 1e6, wallS: board.wallUs / 1e6 });
    }
  };
  let sentAt = null;
  const send = setInterval(() => {
    if (board.usart.rxEnable) {
      board.receive(Buffer.from([0xf9]));
      sentAt = board.emulatedUs / 1e6;
      clearInterval(send);
    }
  }, 1);
  const cpu = process.cpuUsage();
  board.start();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  board.stop();
  const used = process.cpuUsage(cpu);
  const cpuS = (used.user + used.system) / 1e6;
  const wallS = board.wallUs / 1e6;
  console.log(
    `paced: ${(board.emulatedUs / 1e6).toFixed(2)} s emulated in ${wallS.toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU = ` +
      `${((100 * cpuS) / wallS).toFixed(0)} % of a core; largest lag behind wall time ${(board.maxLagUs / 1000).toFixed(0)} ms`,
  );
  const [hello, answer] = versions;
  if (hello) console.log(`F9: version report at power-on after ${hello.emulatedS.toFixed(3)} s emulated (${hello.wallS.toFixed(3)} s wall)`);
  if (sentAt !== null) console.log(`F9: sent when the receiver came on, ${sentAt.toFixed(3)} s emulated after power-on`);
  if (answer) console.log(`F9: answered after ${answer.emulatedS.toFixed(3)} s emulated (${answer.wallS.toFixed(3)} s wall) from power-on`);
  if (!answer) console.log('F9: no answer');
}
