// Records what the unmodified StandardFirmata of an Arduino Uno answers, as golden decoder
// input for banyan-proto's Firmata decoder (tests/firmata_golden.rs).
//
// The firmware is avrgirl-arduino 5.0.1's junk/hex/uno/StandardFirmata.cpp.hex (Firmata
// protocol 2.4), fetched and sha256-checked by boards/arduino-uno/emu/fetch-firmware.sh, run on
// the avr8js that harness pins (0.21.1, package-lock.json): an ATmega328P at 16 MHz. After
// 2.5 s of emulated time (its start-up report and version blink are over) each query is
// written to the USART, 0.5 s apart, and every byte the firmware sends is filed under the
// query that preceded it. Rerun (about 5 s; rewrites standard_firmata_uno.txt, or writes it in
// OUT_DIR):
//
//   (cd boards/arduino-uno/emu && npm ci && sh fetch-firmware.sh)
//   node banyan-proto/tests/firmata_golden/standard_firmata.js [OUT_DIR]
//
// `cargo test` never runs this: the data file is committed.
const fs = require('fs');
const path = require('path');
const EMU = path.join(__dirname, '..', '..', '..', 'boards', 'arduino-uno', 'emu');
const avr = require(path.join(EMU, 'node_modules', 'avr8js'));

const HEX = path.join(EMU, '.firmware', 'StandardFirmata.cpp.hex');
const QUERIES = ['f9', 'f0 79 f7', 'f0 6b f7', 'f0 69 f7', 'f0 6d 0d f7', 'f0 6d 0e f7'];
const MHZ = 16e6;

const flash = new Uint8Array(0x8000);
for (const line of fs.readFileSync(HEX, 'utf8').split('\n')) {
  if (!line.startsWith(':')) continue;
  const n = parseInt(line.substr(1, 2), 16);
  const addr = parseInt(line.substr(3, 4), 16);
  if (parseInt(line.substr(7, 2), 16) !== 0) continue; // data records only
  for (let i = 0; i < n; i++) flash[addr + i] = parseInt(line.substr(9 + 2 * i, 2), 16);
}
const cpu = new avr.CPU(new Uint16Array(flash.buffer));
for (const t of [avr.timer0Config, avr.timer1Config, avr.timer2Config]) new avr.AVRTimer(cpu, t);
for (const p of [avr.portBConfig, avr.portCConfig, avr.portDConfig]) new avr.AVRIOPort(cpu, p);
new avr.AVRADC(cpu, avr.adcConfig);
const usart = new avr.AVRUSART(cpu, avr.usart0Config, MHZ);
const sent = [];
usart.onByteTransmit = (b) => sent.push(b);

const marks = [];
const pending = [];
let next = 0;
while (cpu.cycles < (3.0 + QUERIES.length * 0.5) * MHZ) {
  avr.avrInstruction(cpu);
  cpu.tick();
  if (next < QUERIES.length && cpu.cycles > (2.5 + next * 0.5) * MHZ) {
    marks.push(sent.length);
    pending.push(...QUERIES[next].split(' ').map((h) => parseInt(h, 16)));
    next++;
  }
  if (pending.length && !usart.rxBusy) usart.writeByte(pending.shift());
}
marks.push(sent.length);

const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
const lines = [
  '# What the unmodified StandardFirmata (Uno, avrgirl-arduino 5.0.1 hex, protocol 2.4) sent',
  '# under avr8js 0.21.1, recorded by standard_firmata.js. query<TAB>hex bytes sent after it;',
  '# "startup" is what it sent unasked after reset. Regenerate with the script; do not edit.',
  `startup\t${hex(sent.slice(0, marks[0]))}`,
  ...QUERIES.map((q, i) => `${q}\t${hex(sent.slice(marks[i], marks[i + 1]))}`),
];
const outDir = process.argv[2] || __dirname;
fs.writeFileSync(path.join(outDir, 'standard_firmata_uno.txt'), lines.join('\n') + '\n');
console.log(lines.join('\n'));
