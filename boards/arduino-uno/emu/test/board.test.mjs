// lib/board.mjs in process, on a hand-assembled program (no firmware image needed):
// receive pacing at the firmware's own baud rate, input levels, and the pacing invariant.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Board, CLOCK_HZ } from '../lib/board.mjs';
import { FLASH_BYTES } from '../lib/hex.mjs';

/** A flash image from 16-bit instruction words. */
function program(words) {
  const flash = new Uint8Array(FLASH_BYTES).fill(0xff);
  words.forEach((word, i) => {
    flash[2 * i] = word & 0xff;
    flash[2 * i + 1] = word >> 8;
  });
  return flash;
}

// UBRR0L = 33, UCSR0A = U2X, UCSR0B = RXEN: 58 823 baud, 8N1, as StandardFirmata's
// Serial.begin(57600); then loop forever.
const USART_ON = [
  0xe201, 0x9300, 0x00c4, // ldi r16, 33; sts UBRR0L, r16
  0xe002, 0x9300, 0x00c0, // ldi r16, 0x02; sts UCSR0A, r16
  0xe100, 0x9300, 0x00c1, // ldi r16, 0x10; sts UCSR0B, r16
  0xcfff, // rjmp .-2
];

test('received bytes enter the USART one character time apart (UBRR 33 + U2X: 170 µs)', () => {
  const board = new Board(program(USART_ON), { log: () => {} });
  board.runUnpaced(1000); // the program sets the USART up
  assert.equal(board.characterUs, 170);
  const done = [];
  const next = board.usart.onRxComplete;
  board.usart.onRxComplete = () => {
    done.push(board.emulatedUs);
    next();
  };
  const sent = board.emulatedUs;
  board.receive(Buffer.from([1, 2, 3, 4, 5]));
  board.runUnpaced(0.002 * CLOCK_HZ);
  assert.equal(done.length, 5);
  // The first completes one character time after it was handed over, each next one 170 µs
  // later (to within the instruction that was running: ≤ 4 cycles = 0.25 µs).
  done.forEach((us, i) => assert.ok(Math.abs(us - sent - 170 * (i + 1)) <= 0.25, `byte ${i}: ${us - sent} µs`));
  assert.equal(board.stats.bytesIn, 5);
  assert.equal(board.stats.rxLost, 0);
});

test('a pin driven from outside shows in the PIN register; released, it follows its pull-up', () => {
  const board = new Board(program([0xcfff]), { log: () => {} });
  const PIND = 0x29;
  board.drive(2, 1);
  assert.equal((board.cpu.data[PIND] >> 2) & 1, 1);
  assert.deepEqual(board.pin(2), { level: 1, ddr: 0, driven: 1 });
  board.release(2);
  assert.deepEqual(board.pin(2), { level: 0, ddr: 0, driven: null });
  board.cpu.writeData(0x2b, 0x04); // PORTD bit 2: the pull-up on
  assert.equal(board.pin(2).level, 1);
  assert.deepEqual(board.takeHistory(2).edges.map(([, level]) => level), [1, 0, 1]);
});

test('paced, emulated time never passes wall time', async () => {
  const board = new Board(program([0xcfff]), { log: () => {} });
  board.start();
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(board.emulatedUs <= board.wallUs + 0.25, `${board.emulatedUs} > ${board.wallUs}`);
  }
  board.stop();
  assert.ok(board.emulatedUs > 0);
});
