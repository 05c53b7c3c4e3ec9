// The firmware image: the release ELF's loadable segments, and the check that a UF2 file holds
// exactly those bytes (the UF2 is what a user copies to a real Pico; the ELF is what we run).
//
// ELF32 little-endian only (thumbv6m-none-eabi). Segments are placed by physical address
// (p_paddr, the load address): `.data`'s initial values live in flash at its LMA and are
// copied to RAM by cortex-m-rt's start-up code, as on the chip.

import { readFileSync } from 'node:fs';

const PT_LOAD = 1;
/** The RP2040's XIP flash window (datasheet 2.2: 0x10000000, 16 MiB). */
export const FLASH_BASE = 0x10000000;
const FLASH_SIZE = 16 * 1024 * 1024;

/** Loadable bytes of an ELF: `[{ address, bytes }]`, in file order. Throws on a bad file. */
export function loadElfSegments(path) {
  const file = readFileSync(path);
  if (file.length < 52 || file.readUInt32BE(0) !== 0x7f454c46) {
    throw new Error(`${path}: not an ELF file`);
  }
  if (file[4] !== 1 || file[5] !== 1) {
    throw new Error(`${path}: not a 32-bit little-endian ELF (an RP2040 image is)`);
  }
  const phoff = file.readUInt32LE(28);
  const phentsize = file.readUInt16LE(42);
  const phnum = file.readUInt16LE(44);
  if (phentsize < 32 || phoff + phnum * phentsize > file.length) {
    throw new Error(`${path}: program header table out of bounds`);
  }
  const segments = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = file.readUInt32LE(at);
    const offset = file.readUInt32LE(at + 4);
    const paddr = file.readUInt32LE(at + 12);
    const filesz = file.readUInt32LE(at + 16);
    if (type !== PT_LOAD || filesz === 0) continue;
    if (offset + filesz > file.length) {
      throw new Error(`${path}: segment ${i} out of bounds`);
    }
    segments.push({ address: paddr, bytes: file.subarray(offset, offset + filesz) });
  }
  for (const { address, bytes } of segments) {
    if (address < FLASH_BASE || address + bytes.length > FLASH_BASE + FLASH_SIZE) {
      throw new Error(
        `${path}: a loadable segment at 0x${address.toString(16)} is outside flash ` +
          '(an RP2040 image loads into flash only)',
      );
    }
  }
  if (segments.length === 0) throw new Error(`${path}: no loadable segment`);
  return segments;
}

const UF2_MAGIC_START0 = 0x0a324655;
const UF2_MAGIC_START1 = 0x9e5d5157;
const UF2_MAGIC_END = 0x0ab16f30;
const UF2_FLAG_FAMILY_ID = 0x2000;
const RP2040_FAMILY_ID = 0xe48bff56;

/** The bytes a UF2 file writes: a Map from address to byte. Throws on a malformed block. */
export function loadUf2(path) {
  const file = readFileSync(path);
  if (file.length === 0 || file.length % 512 !== 0) {
    throw new Error(`${path}: ${file.length} bytes is not a whole number of 512-byte UF2 blocks`);
  }
  const bytes = new Map();
  for (let at = 0; at < file.length; at += 512) {
    const block = at / 512;
    if (
      file.readUInt32LE(at) !== UF2_MAGIC_START0 ||
      file.readUInt32LE(at + 4) !== UF2_MAGIC_START1 ||
      file.readUInt32LE(at + 508) !== UF2_MAGIC_END
    ) {
      throw new Error(`${path}: block ${block} has bad magic numbers`);
    }
    const flags = file.readUInt32LE(at + 8);
    const target = file.readUInt32LE(at + 12);
    const size = file.readUInt32LE(at + 16);
    if (flags & UF2_FLAG_FAMILY_ID && file.readUInt32LE(at + 28) !== RP2040_FAMILY_ID) {
      throw new Error(`${path}: block ${block} is not for the RP2040 family`);
    }
    if (size > 476) throw new Error(`${path}: block ${block} payload ${size} > 476`);
    for (let i = 0; i < size; i++) bytes.set(target + i, file[at + 32 + i]);
  }
  return bytes;
}

/**
 * Checks that the UF2 writes exactly the ELF's loadable bytes: every ELF byte at its address,
 * and nothing else but zero padding up to the UF2's 256-byte pages. Returns a summary; throws
 * naming the first differing address.
 */
export function checkUf2MatchesElf(segments, uf2) {
  const elf = new Map();
  for (const { address, bytes } of segments) {
    for (let i = 0; i < bytes.length; i++) elf.set(address + i, bytes[i]);
  }
  for (const [address, value] of elf) {
    const got = uf2.get(address);
    if (got !== value) {
      throw new Error(
        `UF2 differs from the ELF at 0x${address.toString(16)}: ELF 0x${value.toString(16)}, ` +
          `UF2 ${got === undefined ? 'nothing' : '0x' + got.toString(16)}`,
      );
    }
  }
  let padding = 0;
  for (const [address, value] of uf2) {
    if (elf.has(address)) continue;
    if (value !== 0) {
      throw new Error(
        `UF2 writes 0x${value.toString(16)} at 0x${address.toString(16)}, where the ELF has nothing`,
      );
    }
    padding++;
  }
  return { elfBytes: elf.size, uf2Bytes: uf2.size, padding };
}
