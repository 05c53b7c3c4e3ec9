// The harness's control port: one JSON object per line in, one per line out (in order).
// Every reply has "ok"; a failed request gets {"ok": false, "error": "..."}.
//
//   {"cmd":"status"}                       -> emulated/wall seconds, LED, resets, counters
//   {"cmd":"set_input","pin":P,"value":0|1} drive GPIO P's input level (a button, a sensor)
//   {"cmd":"pulse","pin":P,"value":0|1,"us":N} hold P's input at value for N µs of emulated
//                                             time, then back to the level before
//   {"cmd":"pin","pin":P}                  -> the pin as the chip drives it: function, output
//                                             enable, output level, pulls, input level
//   {"cmd":"set_adc","channel":C,"value":V} ADC input C (0-3 = GP26-29, 4 = temperature
//                                             sensor) converts to V (0-4095)
//   {"cmd":"pwm","pin":P}                  -> GPIO P's PWM slice/channel from the slice's
//                                             registers: enabled, top, compare, divider, duty,
//                                             frequency
//   {"cmd":"wire","from":A,"to":B}         B's input follows A's level from now on
//   {"cmd":"reset"}                        reset the chip (RUN pin): the firmware restarts

import { createServer } from 'node:net';
import { GPIOPinState } from 'rp2040js';

const FUNCTIONS = { 1: 'spi', 2: 'uart', 3: 'i2c', 4: 'pwm', 5: 'sio', 6: 'pio0', 7: 'pio1', 31: 'null' };

function pinArg(request) {
  const pin = request.pin;
  if (!Number.isInteger(pin) || pin < 0 || pin > 29) throw new Error('"pin" must be a GPIO 0-29');
  return pin;
}

/** GPIO `pin`'s PWM output, computed from its slice's CSR, DIV, CC and TOP (datasheet 4.5). */
export function pwmOf(rp, pin) {
  const slice = (pin >> 1) & 7;
  const channel = pin & 1 ? 'B' : 'A';
  const regs = rp.pwm.channels[slice];
  const enabled = !!(regs.csr & 1);
  const phaseCorrect = !!(regs.csr & 2);
  const top = regs.top & 0xffff;
  const compare = channel === 'A' ? regs.cc & 0xffff : (regs.cc >>> 16) & 0xffff;
  const divInt = (regs.div >> 4) & 0xff || 256; // DIV.INT = 0 divides by 256
  const divider = divInt + (regs.div & 0xf) / 16;
  // A counter wraps after TOP+1 counts: the output is high for min(CC, TOP+1) of them.
  const duty = Math.min(compare, top + 1) / (top + 1);
  const frequency = rp.clkSys / divider / (top + 1) / (phaseCorrect ? 2 : 1);
  return {
    slice,
    channel,
    function: FUNCTIONS[rp.gpio[pin].functionSelect] ?? rp.gpio[pin].functionSelect,
    enabled,
    top,
    compare,
    divider,
    duty,
    frequency_hz: frequency,
  };
}

export class ControlServer {
  constructor(chip, { uart, usb, usbHost, log }) {
    this.chip = chip;
    this.server = createServer((socket) => {
      let buffered = '';
      socket.setNoDelay(true);
      socket.on('data', (data) => {
        buffered += data.toString('utf8');
        if (buffered.length > 65536) {
          socket.end(JSON.stringify({ ok: false, error: 'request line too long' }) + '\n');
          return;
        }
        let newline;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) socket.write(JSON.stringify(this.handle(line)) + '\n');
        }
      });
      socket.on('error', () => {});
    });
    this.uart = uart;
    this.usb = usb;
    this.usbHost = usbHost;
    this.log = log;
  }

  handle(line) {
    let request;
    try {
      request = JSON.parse(line);
    } catch {
      return { ok: false, error: 'not JSON' };
    }
    try {
      return { ok: true, ...this.dispatch(request) };
    } catch (error) {
      return { ok: false, error: error.message };
    }
  }

  dispatch(request) {
    const chip = this.chip;
    const rp = chip.rp;
    switch (request?.cmd) {
      case 'status':
        return {
          emulated_s: chip.emuNanos / 1e9,
          wall_s: chip.wallNanos / 1e9,
          led: chip.ledOn,
          resets: chip.resets,
          instructions: chip.instructions,
          uart: { sent: this.uart.sent, received: this.uart.received, connections: this.uart.connections },
          uart_rx_dropped: chip.rxDropped,
          uart_rx_lost: chip.rxLost,
          usb: {
            configured: this.usbHost.configured,
            enumerations: this.usbHost.enumerations,
            sent: this.usb.sent,
            received: this.usb.received,
            out_dropped: this.usbHost.outDropped,
          },
        };
      case 'set_input': {
        const pin = pinArg(request);
        if (request.value !== 0 && request.value !== 1) throw new Error('"value" must be 0 or 1');
        chip.setInput(pin, request.value === 1);
        return { pin, value: request.value };
      }
      case 'pulse': {
        const pin = pinArg(request);
        if (request.value !== 0 && request.value !== 1) throw new Error('"value" must be 0 or 1');
        if (!Number.isInteger(request.us) || request.us < 1 || request.us > 60e6) {
          throw new Error('"us" must be 1-60000000 microseconds');
        }
        chip.pulse(pin, request.value === 1, request.us);
        return { pin, value: request.value, us: request.us };
      }
      case 'pin': {
        const pin = pinArg(request);
        const gpio = rp.gpio[pin];
        return {
          pin,
          function: FUNCTIONS[gpio.functionSelect] ?? gpio.functionSelect,
          output_enable: gpio.outputEnable,
          output: gpio.outputValue ? 1 : 0,
          // The level on the pin: driven by the chip, else the harness's input level.
          level: gpio.outputEnable ? (gpio.outputValue ? 1 : 0) : gpio.rawInputValue ? 1 : 0,
          state: GPIOPinState[gpio.value],
          pull_up: gpio.pullupEnabled,
          pull_down: gpio.pulldownEnabled,
          input: gpio.inputValue ? 1 : 0,
        };
      }
      case 'set_adc': {
        const { channel, value } = request;
        if (!Number.isInteger(channel) || channel < 0 || channel > 4) {
          throw new Error('"channel" must be 0-4 (4: temperature sensor)');
        }
        if (!Number.isInteger(value) || value < 0 || value > 4095) {
          throw new Error('"value" must be 0-4095 (12 bits)');
        }
        chip.setAdc(channel, value);
        return { channel, value };
      }
      case 'pwm': {
        const pin = pinArg(request);
        return { pin, ...pwmOf(rp, pin) };
      }
      case 'wire': {
        const from = pinArg({ pin: request.from });
        const to = pinArg({ pin: request.to });
        chip.wire(from, to);
        return { from, to };
      }
      case 'reset':
        chip.reset();
        return { resets: chip.resets };
      default:
        throw new Error(`unknown cmd ${JSON.stringify(request?.cmd)} (status, set_input, pulse, pin, set_adc, pwm, wire, reset)`);
    }
  }
}
