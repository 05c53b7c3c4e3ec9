// Unit tests of the harness's image handling (lib/image.mjs) and USB descriptor parsing
// (lib/usb-host.mjs), on hand-built files: `node --test test/` (run by
// .ci/steps.d/32-pico-emu.sh). The end-to-end runs are scripts/pico-emu.sh.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadElfSegments, loadUf2, checkUf2MatchesElf } from '../lib/image.mjs';
import { parseCdcConfiguration } from '../lib/usb-host.mjs';

const dir = mkdtempSync(join(tmpdir(), 'pico-emu-test-'));

/** A minimal ELF32 LE with one PT_LOAD segment of `bytes` at physical address `paddr`. */
function elf(paddr, bytes) {
  const header = Buffer.alloc(52 + 32);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 1; // 32-bit
  header[5] = 1; // little-endian
  header.writeUInt32LE(52, 28); // e_phoff
  header.writeUInt16LE(32, 42); // e_phentsize
  header.writeUInt16LE(1, 44); // e_phnum
  const ph = 52;
  header.writeUInt32LE(1, ph); // PT_LOAD
  header.writeUInt32LE(header.length, ph + 4); // p_offset
  header.writeUInt32LE(0x20000000, ph + 8); // p_vaddr (e.g. .data in RAM)
  header.writeUInt32LE(paddr, ph + 12); // p_paddr: where it is loaded
  header.writeUInt32LE(bytes.length, ph + 16); // p_filesz
  header.writeUInt32LE(bytes.length, ph + 20); // p_memsz
  return Buffer.concat([header, Buffer.from(bytes)]);
}

/** UF2 blocks of 256 bytes each, as elf2uf2-rs writes them (RP2040 family id). */
function uf2(address, bytes) {
  const blocks = [];
  const count = Math.ceil(bytes.length / 256);
  for (let n = 0; n < count; n++) {
    const block = Buffer.alloc(512);
    block.writeUInt32LE(0x0a324655, 0);
    block.writeUInt32LE(0x9e5d5157, 4);
    block.writeUInt32LE(0x2000, 8);
    block.writeUInt32LE(address + 256 * n, 12);
    block.writeUInt32LE(256, 16);
    block.writeUInt32LE(n, 20);
    block.writeUInt32LE(count, 24);
    block.writeUInt32LE(0xe48bff56, 28);
    Buffer.from(bytes.slice(256 * n, 256 * (n + 1))).copy(block, 32);
    block.writeUInt32LE(0x0ab16f30, 508);
    blocks.push(block);
  }
  return Buffer.concat(blocks);
}

function files(name, elfBytes, uf2Bytes) {
  const elfPath = join(dir, `${name}.elf`);
  const uf2Path = join(dir, `${name}.uf2`);
  writeFileSync(elfPath, elfBytes);
  writeFileSync(uf2Path, uf2Bytes);
  return [loadElfSegments(elfPath), loadUf2(uf2Path)];
}

const image = Array.from({ length: 300 }, (_, i) => (i * 7 + 1) & 0xff);
const FLASH = 0x10000100;

test('a UF2 of the same bytes matches, zero padding counted', () => {
  const [segments, blocks] = files('same', elf(FLASH, image), uf2(FLASH, image));
  assert.equal(segments.length, 1);
  assert.equal(segments[0].address, FLASH); // placed by p_paddr, not p_vaddr
  assert.deepEqual(checkUf2MatchesElf(segments, blocks), {
    elfBytes: 300,
    uf2Bytes: 512,
    padding: 212,
  });
});

test('one differing byte is found by address', () => {
  const other = image.slice();
  other[123] ^= 0xff;
  const [segments, blocks] = files('differs', elf(FLASH, image), uf2(FLASH, other));
  assert.throws(() => checkUf2MatchesElf(segments, blocks), /at 0x1000017b/);
});

test('a UF2 writing more than the ELF (non-zero) is refused', () => {
  const more = image.concat([0x55]);
  const [segments, blocks] = files('more', elf(FLASH, image), uf2(FLASH, more));
  assert.throws(() => checkUf2MatchesElf(segments, blocks), /where the ELF has nothing/);
});

test('a UF2 missing part of the ELF is refused', () => {
  const [segments, blocks] = files('less', elf(FLASH, image), uf2(FLASH, image.slice(0, 256)));
  assert.throws(() => checkUf2MatchesElf(segments, blocks), /UF2 nothing/);
});

test('segments outside flash and broken files are refused', () => {
  const path = join(dir, 'ram.elf');
  writeFileSync(path, elf(0x20000000, image));
  assert.throws(() => loadElfSegments(path), /outside flash/);
  writeFileSync(path, Buffer.from('not an elf at all, not at all'));
  assert.throws(() => loadElfSegments(path), /not an ELF/);
  const bad = uf2(FLASH, image);
  bad.writeUInt32LE(0, 508);
  writeFileSync(path, bad);
  assert.throws(() => loadUf2(path), /bad magic/);
});

test('the CDC-ACM configuration yields the interface and bulk endpoints', () => {
  // embassy-usb's CDC-ACM: IAD, comm interface 0 (class 2) with an interrupt IN endpoint,
  // data interface 1 (class 10) with bulk OUT 0x01 and bulk IN 0x82.
  const descriptors = [
    9, 2, 75, 0, 2, 1, 0, 0x80, 50,
    8, 11, 0, 2, 2, 2, 0, 0,
    9, 4, 0, 0, 1, 2, 2, 0, 0,
    5, 0x24, 0, 0x10, 1,
    7, 5, 0x83, 3, 8, 0, 255,
    9, 4, 1, 0, 2, 10, 0, 0, 0,
    7, 5, 0x01, 2, 64, 0, 0,
    7, 5, 0x82, 2, 64, 0, 0,
  ];
  assert.deepEqual(parseCdcConfiguration(descriptors), { commInterface: 0, in: 2, out: 1 });
  assert.deepEqual(parseCdcConfiguration(descriptors.slice(0, 30)), {
    commInterface: 0,
    in: -1,
    out: -1,
  });
});
