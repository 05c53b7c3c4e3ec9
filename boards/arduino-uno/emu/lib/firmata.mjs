// Just enough Firmata 2.x for the tests to speak to StandardFirmata with raw bytes: message
// builders and an incremental parser of what the board sends. The parser never throws: a
// stray data byte (a byte < 0x80 outside a message) is counted and skipped; a sysex longer than
// SYSEX_LIMIT is dropped, counted.
// Reference: the Firmata protocol (github.com/firmata/protocol, protocol.md), version 2.4.

export const REPORT_VERSION = 0xf9;
export const SET_PIN_MODE = 0xf4;
export const DIGITAL_MESSAGE = 0x90;
export const ANALOG_MESSAGE = 0xe0;
export const REPORT_ANALOG = 0xc0;
export const REPORT_DIGITAL = 0xd0;
export const START_SYSEX = 0xf0;
export const END_SYSEX = 0xf7;
export const SERVO_CONFIG = 0x70;
export const REPORT_FIRMWARE = 0x79;
export const SYSTEM_RESET = 0xff;
export const MODE = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 };
/** Longest sysex kept (StandardFirmata's own buffer is 64 bytes). */
const SYSEX_LIMIT = 1024;

const lsb = (value) => value & 0x7f;
const msb = (value) => (value >> 7) & 0x7f;

export const build = {
  reportVersion: () => [REPORT_VERSION],
  setPinMode: (pin, mode) => [SET_PIN_MODE, pin, mode],
  /** The whole port's output levels: port = pin >> 3, bits = levels of its 8 pins. */
  digitalPort: (port, bits) => [DIGITAL_MESSAGE | port, lsb(bits), (bits >> 7) & 0x01],
  /** Analog write (PWM duty 0-255, servo angle) for pins 0-15. */
  analogWrite: (pin, value) => [ANALOG_MESSAGE | pin, lsb(value), msb(value)],
  reportDigital: (port, on) => [REPORT_DIGITAL | port, on ? 1 : 0],
  reportAnalog: (channel, on) => [REPORT_ANALOG | channel, on ? 1 : 0],
  servoConfig: (pin, minPulse, maxPulse) => [
    START_SYSEX,
    SERVO_CONFIG,
    pin,
    lsb(minPulse),
    msb(minPulse),
    lsb(maxPulse),
    msb(maxPulse),
    END_SYSEX,
  ],
};

/** Splits the board's byte stream into messages. */
export class FirmataParser {
  constructor() {
    this.pending = null; // {command, need, data}
    this.sysex = null;
    this.strayBytes = 0;
    this.droppedSysex = 0;
  }

  /**
   * Feeds bytes; returns the messages they completed:
   * {type: 'version', major, minor} | {type: 'digital', port, bits} |
   * {type: 'analog', channel, value} | {type: 'sysex', command, data: number[]} |
   * {type: 'firmware', major, minor, name}
   */
  push(bytes) {
    const messages = [];
    for (const byte of bytes) {
      if (this.sysex) {
        if (byte === END_SYSEX) {
          const [command, ...data] = this.sysex;
          this.sysex = null;
          messages.push(sysexMessage(command, data));
        } else if (byte >= 0x80) {
          // A command byte inside a sysex: the sysex was cut; start over with this byte.
          this.sysex = null;
          this.droppedSysex++;
          this.command(byte);
        } else if (this.sysex.length >= SYSEX_LIMIT) {
          this.sysex = null;
          this.droppedSysex++;
        } else {
          this.sysex.push(byte);
        }
        continue;
      }
      if (byte >= 0x80) {
        this.command(byte);
        continue;
      }
      if (!this.pending) {
        this.strayBytes++;
        continue;
      }
      this.pending.data.push(byte);
      if (this.pending.data.length === 2) {
        messages.push(commandMessage(this.pending.command, this.pending.data));
        this.pending = null;
      }
    }
    return messages;
  }

  command(byte) {
    this.pending = null;
    if (byte === START_SYSEX) {
      this.sysex = [];
    } else if (byte === REPORT_VERSION || (byte & 0xf0) === DIGITAL_MESSAGE || (byte & 0xf0) === ANALOG_MESSAGE) {
      this.pending = { command: byte, data: [] };
    }
  }
}

function commandMessage(command, [low, high]) {
  if (command === REPORT_VERSION) return { type: 'version', major: low, minor: high };
  const value = low | (high << 7);
  if ((command & 0xf0) === DIGITAL_MESSAGE) return { type: 'digital', port: command & 0x0f, bits: value };
  return { type: 'analog', channel: command & 0x0f, value };
}

function sysexMessage(command, data) {
  if (command === REPORT_FIRMWARE && data.length >= 2) {
    let name = '';
    for (let i = 2; i + 1 < data.length; i += 2) name += String.fromCharCode(data[i] | (data[i + 1] << 7));
    return { type: 'firmware', major: data[0], minor: data[1], name };
  }
  return { type: 'sysex', command, data };
}
