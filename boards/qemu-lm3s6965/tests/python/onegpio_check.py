#!/usr/bin/env python3
"""OneGPIO end-to-end check: a real Python Banyan component against the OneGPIO firmware.

Uses python-banyan 3.17's BanyanBase unchanged through boards/python/onegpio_peer.py (shared
with the Pico's check), the way Python's own OneGPIO programs (blinker.py,
banyan_tkinter_demo.py) do. Written for the QEMU board's virtual pin bank (pin 2k drives pin 2k+1; analog channels are ramps), run by the
QEMU end-to-end suite once firmware, gateway and backplane are up:

    python onegpio_check.py -b 127.0.0.1 -p PUB_PORT -s SUB_PORT [-d pico] [-t 60]

Steps (commands on to_<device>_gateway, reports from from_<device>_gateway):
  0. probe until the firmware answers (ZeroMQ's slow joiner): a harmless invalid command,
     `disable_digital_reporting` on pin 15, re-sent every second until its error report comes;
  1. set pin 2 digital output, pin 3 digital input; write 1 to pin 2 and expect
     {'report': 'digital_input', 'pin': 3, 'value': 1, 'timestamp': float}; write 0, expect
     value 0. Exactly these two digital_input reports must arrive for pin 3.
  2. enable analog reporting on channel 0 and expect at least 3 analog_input reports for pin 0
     (ints); then disable it.
  3. send three invalid commands (unknown command, digital_write to the input pin 3,
     digital_write to pin 99) and expect three {'report': 'error'} reports naming them.
  4. the firmware keeps serving: write 1 to pin 2 again and expect pin 3's report.

Exit status 0 when every step passed; otherwise 1 and a one-line reason on stderr.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../python'))
from onegpio_peer import (Failed, OneGpioPeer, digital, invalid_commands, kinds, main,  # noqa: E402
                          say, wait_until_answering)


def run(check):
    write = lambda v: {'command': 'digital_write', 'pin': 2, 'value': v}

    # 0. The firmware answers.
    wait_until_answering(check)
    say('step 0 ok: the firmware answers')

    # 1. Digital output -> loopback -> digital input reports.
    check.send({'command': 'set_mode_digital_output', 'pin': 2})
    check.send({'command': 'set_mode_digital_input', 'pin': 3})
    check.send(write(1))
    high = digital(check.expect(kinds('digital_input', 'error'), 'digital_input 1'), 3, 1)
    check.send(write(0))
    low = digital(check.expect(kinds('digital_input'), 'digital_input 0'), 3, 0)
    if low < high:
        raise Failed('timestamps go backwards')
    extra = [r for r in check.drain(1.0) if r.get('report') == 'digital_input']
    if extra:
        raise Failed(f'more than two digital_input reports: {extra!r}')
    say('step 1 ok: two digital_input reports for pin 3 (1, then 0)')

    # 2. Analog reporting on channel 0.
    check.send({'command': 'enable_analog_reporting', 'pin': 0})
    analog = []
    while len(analog) < 3:
        report = check.expect(kinds('analog_input'), 'analog_input')
        if report.get('pin') != 0 or not isinstance(report.get('value'), int):
            raise Failed(f'bad analog_input report {report!r}')
        analog.append(report)
    check.send({'command': 'disable_analog_reporting', 'pin': 0})
    check.drain(1.0)
    late = [r for r in check.drain(1.0) if r.get('report') == 'analog_input']
    if late:
        raise Failed(f'analog reports after disable_analog_reporting: {late!r}')
    say('step 2 ok: analog_input reports for channel 0:', [r['value'] for r in analog])

    # 3. Three invalid commands, three error reports naming them (and no more).
    reasons = invalid_commands(check, input_pin=3, exactly=True)
    say('step 3 ok: three error reports:', reasons)

    # 4. Still serving.
    check.send(write(1))
    digital(check.expect(kinds('digital_input'), 'digital_input 1'), 3, 1)
    say('step 4 ok: the firmware still serves after the invalid commands')


def device_argument(parser):
    parser.add_argument('-d', dest='device', default='pico',
                        help='OneGPIO device name: topics to_<d>_gateway / from_<d>_gateway')


if __name__ == '__main__':
    sys.exit(main(__doc__.splitlines()[0],
                  lambda args: OneGpioPeer(args, args.device, 'onegpio_check'),
                  run, device_argument))
