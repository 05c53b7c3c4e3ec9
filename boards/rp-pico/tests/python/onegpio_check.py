#!/usr/bin/env python3
"""Pico OneGPIO end-to-end check: a real Python Banyan component drives the real RP2040 pins
of the unmodified `onegpio_uart` / `onegpio_usb` firmware running in the RP2040 harness, and
the harness's control port checks them at the pin (scripts/pico-emu.sh --app onegpio).

Commands go on to_pico_gateway, reports come from from_pico_gateway. Steps:
  0. probe until the firmware answers (ZeroMQ's slow joiner): a harmless invalid command
     re-sent every second until its error report comes;
  1. digital_write: GP15 as output; write 1, the harness reads GP15 high at the pin (SIO
     function, output enabled); write 0, low;
  2. digital input: GP14 as input; the harness drives it high: a digital_input report
     {'report', 'pin': 14, 'value': 1, 'timestamp': float}; low: value 0, later timestamp;
     then a 5 ms glitch (emulated time) gives no report (debounce 20 ms), and a 100 ms pulse
     gives 1 then 0 with timestamps 80-120 ms apart; then a harness wire GP16 -> GP17:
     digital_write 1/0 on GP16 comes back as GP17's digital_input reports;
  3. analog_input on ADC0 (GP26): the harness sets 1234, then 3000; reports carry them;
  4. PWM on GP6: pwm_write 64 -> the slice's registers give duty 64/255 at 1 kHz; servo on
     GP8: servo_position 90 -> 1472 µs high every 20 ms (duty 0.0736) at 50 Hz;
  5. three invalid commands -> three error reports naming them, with reasons;
  6. still serving: digital_write 1 on GP15 reads high again.

Exit status 0 when every step passed; otherwise 1 and a one-line reason on stderr.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../python'))
from onegpio_peer import (Failed, OneGpioPeer, digital, invalid_commands, kinds, main,  # noqa: E402
                          say, wait_until_answering)
from pico_control import PicoControl  # noqa: E402


class PicoCheck(OneGpioPeer):
    """The shared OneGPIO peer plus the harness's control port, which reads the pins."""

    def __init__(self, args):
        super().__init__(args, 'pico', 'pico_onegpio_check')
        self.ctl = PicoControl(args.control)

    def pin_level(self, pin, level, what):
        """Waits until the harness reads `level` on `pin`, driven by the chip as an output."""
        deadline = time.monotonic() + self.step_timeout
        while True:
            state = self.ctl.request('pin', pin=pin)
            if state['function'] == 'sio' and state['output_enable'] and state['level'] == level:
                return state
            if time.monotonic() > deadline:
                raise Failed(f'{what}: GP{pin} is {state}, want a driven {level}')
            time.sleep(0.02)


def run(check):
    ctl = check.ctl

    # 0. The path works.
    wait_until_answering(check)
    say('step 0 ok: the firmware answers')

    # 1. digital_write, read back at the pin.
    check.send({'command': 'set_mode_digital_output', 'pin': 15})
    check.send({'command': 'digital_write', 'pin': 15, 'value': 1})
    check.pin_level(15, 1, 'digital_write 1')
    check.send({'command': 'digital_write', 'pin': 15, 'value': 0})
    check.pin_level(15, 0, 'digital_write 0')
    say('step 1 ok: GP15 driven high, then low, at the pin')

    # 2. Digital input, driven by the harness.
    ctl.request('set_input', pin=14, value=0)
    check.send({'command': 'set_mode_digital_input', 'pin': 14})
    check.drain(0.5)  # an initial report of the current level, if the engine sends one
    ctl.request('set_input', pin=14, value=1)
    t1 = digital(check.expect(kinds('digital_input', 'error'), 'digital_input 1'), 14, 1)
    ctl.request('set_input', pin=14, value=0)
    t0 = digital(check.expect(kinds('digital_input', 'error'), 'digital_input 0'), 14, 0)
    if t0 <= t1:
        raise Failed(f'timestamps do not increase: {t1} then {t0}')
    ctl.request('pulse', pin=14, value=1, us=5000)
    glitch = [r for r in check.drain(1.0) if r.get('report') == 'digital_input']
    if glitch:
        raise Failed(f'a 5 ms glitch was reported (debounce is 20 ms): {glitch!r}')
    ctl.request('pulse', pin=14, value=1, us=100000)
    up = digital(check.expect(kinds('digital_input', 'error'), 'pulse start'), 14, 1)
    down = digital(check.expect(kinds('digital_input', 'error'), 'pulse end'), 14, 0)
    width = (down - up) * 1000
    if not 80 <= width <= 120:
        raise Failed(f'a 100 ms pulse reported {width:.1f} ms wide')
    say(f'step 2 ok: GP14 reports 1, 0; a 5 ms glitch filtered; a 100 ms pulse is {width:.1f} ms')

    # 2b. A wire from GP16 (output) to GP17 (input): the firmware reads its own output.
    ctl.request('wire', **{'from': 16, 'to': 17})
    check.send({'command': 'set_mode_digital_output', 'pin': 16})
    check.send({'command': 'set_mode_digital_input', 'pin': 17})
    check.drain(0.5)
    for value in (1, 0):
        check.send({'command': 'digital_write', 'pin': 16, 'value': value})
        digital(check.expect(kinds('digital_input', 'error'), f'GP17 = {value}'), 17, value)
    say('step 2b ok: digital_write on GP16 reported by GP17 through a wire')

    # 3. analog_input on ADC0 with harness-set values.
    for value in (1234, 3000):
        ctl.request('set_adc', channel=0, value=value)
        if value == 1234:
            check.send({'command': 'enable_analog_reporting', 'pin': 0})
        check.expect(lambda r: r.get('report') == 'analog_input' and r.get('pin') == 0
                     and r.get('value') == value, f'analog_input {value}')
    check.send({'command': 'disable_analog_reporting', 'pin': 0})
    check.drain(0.5)
    late = [r for r in check.drain(1.0) if r.get('report') == 'analog_input']
    if late:
        raise Failed(f'analog reports after disable_analog_reporting: {late!r}')
    say('step 3 ok: ADC0 reported 1234, then 3000')

    # 4. PWM and servo duty, measured from the slice registers.
    check.send({'command': 'set_mode_pwm', 'pin': 6})
    check.send({'command': 'pwm_write', 'pin': 6, 'value': 64})
    check.send({'command': 'set_mode_servo', 'pin': 8})
    check.send({'command': 'servo_position', 'pin': 8, 'position': 90})
    for pin, duty, hz in ((6, 64 / 255, 1000.0), (8, 1472 / 20000, 50.0)):
        deadline = time.monotonic() + check.step_timeout
        while True:
            pwm = ctl.request('pwm', pin=pin)
            if (pwm['function'] == 'pwm' and pwm['enabled'] and abs(pwm['duty'] - duty) < 0.002
                    and abs(pwm['frequency_hz'] - hz) < 0.01 * hz):
                break
            if time.monotonic() > deadline:
                raise Failed(f'GP{pin}: PWM {pwm}, want duty {duty:.4f} at {hz} Hz')
            time.sleep(0.05)
        say(f'GP{pin}: slice {pwm["slice"]}{pwm["channel"]} duty {pwm["duty"]:.4f} '
            f'(top {pwm["top"]}, compare {pwm["compare"]}) at {pwm["frequency_hz"]:.1f} Hz')
    errors = [r for r in check.drain(0.5) if r.get('report') == 'error']
    if errors:
        raise Failed(f'PWM/servo commands were refused: {errors!r}')
    say('step 4 ok: PWM duty 64/255 at 1 kHz on GP6, servo 90° = 1472 µs at 50 Hz on GP8')

    # 5. Invalid commands, answered by error reports.
    say('step 5 ok: three error reports:', invalid_commands(check, input_pin=14))

    # 6. Still serving.
    check.send({'command': 'digital_write', 'pin': 15, 'value': 1})
    check.pin_level(15, 1, 'digital_write 1 after the errors')
    say('step 6 ok: the firmware still serves after the invalid commands')


def control_argument(parser):
    parser.add_argument('--control', type=int, required=True, help="the harness's control port")


if __name__ == '__main__':
    sys.exit(main(__doc__.splitlines()[0], PicoCheck, run, control_argument))
