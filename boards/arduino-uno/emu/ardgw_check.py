"""ardgw end to end on the emulated Uno: a real Python Banyan component (python-banyan 3.17's
BanyanBase, through boards/python/onegpio_peer.py) publishes OneGPIO commands on
to_arduino_gateway and reads the reports on from_arduino_gateway; `ardgw --tcp` turns them
into Firmata for the unmodified StandardFirmata on the harness; the pins are read through the
harness's control port (harness.mjs, JSON lines).

    python ardgw_check.py -b 127.0.0.1 -p PUB -s SUB --control-port CTL [--steps all]

Steps (each fails with a one-line reason): the board answers; D13 output levels; D2 input
reports on both edges; A0 analog reports for two ADC values; PWM duty on D9; a servo pulse on
D10; bad values get error reports and the gateway keeps serving; a burst of 200 commands
arrives whole and in order (time to drain printed); the TCP stream dropped, then the board
reset, each mid-run, with the modes restored by ardgw alone.
"""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))

from onegpio_peer import Failed, OneGpioPeer, digital, kinds, main, say  # noqa: E402


class Control:
    """The harness's control port: one JSON request per line, one reply line each."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.file = self.sock.makefile('rw', encoding='utf-8', newline='\n')

    def ask(self, **request):
        self.file.write(json.dumps(request) + '\n')
        self.file.flush()
        line = self.file.readline()
        if not line:
            raise Failed(f'the harness closed the control port at {request}')
        reply = json.loads(line)
        if not reply.get('ok'):
            raise Failed(f'the harness refused {request}: {reply}')
        return reply

    def level(self, pin, want, ms=3000):
        reply = self.ask(op='wait_level', pin=pin, level=want, ms=ms)
        return reply['reached']


class Check(OneGpioPeer):
    def __init__(self, args):
        super().__init__(args, 'arduino', 'ardgw_check')
        self.control = Control(args.control_port)

    def need(self, ok, what):
        if not ok:
            raise Failed(what)

    def answering(self):
        """Commands reach a ready board: a probe whose error needs the board's pins
        (reporting on an unset pin) is re-sent until its 'not a digital input' comes."""
        probe = {'command': 'disable_digital_reporting', 'pin': 15}
        self.send(probe)
        self.expect(lambda r: r.get('report') == 'error'
                    and r.get('reason') == 'pin is not a digital input',
                    'the board ready (the probe\'s error report)', resend=probe)
        self.drain(0.5)

    def expect_digital(self, pin, value):
        report = self.expect(lambda r: r.get('report') == 'digital_input'
                             and r.get('pin') == pin and r.get('value') == value,
                             f'digital_input D{pin} = {value}')
        stamp = digital(report, pin, value)
        if abs(stamp - time.time()) > 60:
            raise Failed(f'timestamp {stamp} is not wall-clock time.time()')

    def expect_analog(self, channel, value):
        report = self.expect(lambda r: r.get('report') == 'analog_input'
                             and r.get('pin') == channel and r.get('value') == value,
                             f'analog_input A{channel} = {value}')
        if list(report.keys()) != ['report', 'pin', 'value', 'timestamp']:
            raise Failed(f'analog_input keys {list(report.keys())}')
        if not isinstance(report['timestamp'], float):
            raise Failed(f'analog timestamp not a float: {report}')

    def pwm_duty(self, pin, want, tolerance=0.02, tries=20):
        for _ in range(tries):
            r = self.control.ask(op='pwm', pin=pin, ms=100)
            if r['periods'] >= 10 and abs(r['duty'] - want) <= tolerance:
                return r
        raise Failed(f'D{pin} duty {r["duty"]} ({r["periods"]} periods), want {want:.3f}')

    def servo_pulse(self, pin, want_us, tolerance=30, tries=20):
        for _ in range(tries):
            r = self.control.ask(op='pulse', pin=pin, ms=100)
            if r['count'] >= 3 and abs(r['high_us'] - want_us) <= tolerance:
                return r
        raise Failed(f'D{pin} pulse {r.get("high_us")} us, want {want_us}')


def d13(check):
    check.send({'command': 'set_mode_digital_output', 'pin': 13})
    check.send({'command': 'digital_write', 'pin': 13, 'value': 1})
    check.need(check.control.level(13, 1), 'D13 did not go high')
    check.send({'command': 'digital_write', 'pin': 13, 'value': 0})
    check.need(check.control.level(13, 0), 'D13 did not go low')
    say('== D13 output: high, low')


def d2(check):
    check.control.ask(op='drive', pin=2, level=0)
    check.send({'command': 'set_mode_digital_input', 'pin': 2})
    check.expect_digital(2, 0)  # the first report after reporting is switched on
    check.control.ask(op='drive', pin=2, level=1)
    check.expect_digital(2, 1)
    check.control.ask(op='drive', pin=2, level=0)
    check.expect_digital(2, 0)
    say('== D2 input: reports on both edges')


def a0(check):
    check.control.ask(op='adc', channel=0, value=300)
    check.send({'command': 'set_mode_analog_input', 'pin': 0})
    check.expect_analog(0, 300)
    check.control.ask(op='adc', channel=0, value=700)
    check.expect_analog(0, 700)
    say('== A0: analog reports of 300 and 700')


def pwm_servo(check):
    check.send({'command': 'set_mode_pwm', 'pin': 9})
    check.send({'command': 'pwm_write', 'pin': 9, 'value': 128})
    r = check.pwm_duty(9, 128 / 255)
    say(f'== D9 PWM 128: duty {r["duty"]:.3f} at {r["hz"]:.1f} Hz')
    check.send({'command': 'set_mode_servo', 'pin': 10})
    check.send({'command': 'servo_position', 'pin': 10, 'position': 90})
    r = check.servo_pulse(10, 544 + (2400 - 544) * 90 / 180)
    say(f'== D10 servo 90: {r["high_us"]:.1f} us pulses every {r["period_us"]:.0f} us')


def bad_values(check):
    bad = [
        ({'command': 'pwm_write', 'pin': 9, 'value': 300}, "'value' out of range"),
        ({'command': 'servo_position', 'pin': 10, 'position': 200}, "'position' out of range"),
        ({'command': 'play_tone', 'pin': 3, 'freq': 440, 'duration': 100},
         'command not supported by StandardFirmata'),
        ({'command': 'set_mode_pwm', 'pin': 2}, 'pin cannot be used as pwm'),
        ({'command': 'digital_write', 'pin': 99, 'value': 1}, "'pin' out of range"),
        ({'command': 'digital_write', 'pin': 13}, "missing 'value'"),
        ({'command': 'set_mode_sonar', 'trigger_pin': 7, 'echo_pin': 8},
         'command not supported by StandardFirmata'),
    ]
    for payload, reason in bad:
        check.send(payload)
        report = check.expect(kinds('error'), f'the error report for {payload}')
        if report.get('command') != payload['command'] or report.get('reason') != reason:
            raise Failed(f'for {payload}: {report}, want reason {reason!r}')
    check.send({'command': 'digital_write', 'pin': 13, 'value': 1})
    check.need(check.control.level(13, 1), 'D13 did not go high after the bad values')
    say(f'== {len(bad)} bad values: {len(bad)} error reports, the gateway still serves')


BURST_PINS = [3, 4, 5, 6, 7, 8]


def burst(check):
    """200 commands at once: modes for six pins, 193 writes to them, and D13 low (high since
    the bad values) as the end marker; each pin's edge history must show exactly the level
    changes written, in order."""
    for pin in BURST_PINS:
        check.control.ask(op='history', pin=pin)  # clears the history
    commands = [{'command': 'set_mode_digital_output', 'pin': p} for p in BURST_PINS]
    written = {p: [] for p in BURST_PINS}
    i = 0
    while len(commands) < 199:
        pin = BURST_PINS[i % len(BURST_PINS)]
        level = (i // len(BURST_PINS)) % 2 ^ 1
        commands.append({'command': 'digital_write', 'pin': pin, 'value': level})
        written[pin].append(level)
        i += 1
    commands.append({'command': 'digital_write', 'pin': 13, 'value': 0})
    before = check.control.ask(op='stats')
    start = time.monotonic()
    for payload in commands:
        check.publish_payload(payload, check.to_topic)
    check.need(check.control.level(13, 0, ms=30000),
               'the last write of the burst (D13 low) never arrived')
    drained = time.monotonic() - start
    for pin in BURST_PINS:
        changes, level = [], 0
        for value in written[pin]:
            if value != level:
                changes.append(value)
                level = value
        edges = [lvl for _, lvl in check.control.ask(op='history', pin=pin)['edges']]
        if edges != changes:
            raise Failed(f'D{pin}: edges {edges}, written changes {changes}')
    stats = check.control.ask(op='stats')
    lost = sum(stats[k] - before[k] for k in ('rx_lost', 'rx_overflow'))
    if lost:
        raise Failed(f'bytes to the firmware lost during the burst: {lost} ({stats})')
    sent = stats['bytes_in'] - before['bytes_in']
    errors = [r for r in check.drain(0.5) if r.get('report') == 'error']
    if errors:
        raise Failed(f'error reports during the burst: {errors[:3]}')
    say(f'== burst: 200 commands whole and in order, drained in {drained:.2f} s, '
        f'{sent} bytes to the firmware, 0 lost')
    print(f'BURST_SECONDS={drained:.2f}', flush=True)


def restored(check, what, adc):
    """What ardgw must put back by itself: D12 output high, the D10 servo at 90 degrees, D2
    reporting, A0 reporting. (D9's PWM is not checked here: the servo on D10 took Timer1,
    which also drives D9's PWM — the Servo library's limit on a real Uno too.)"""
    check.need(check.control.level(12, 1, ms=15000), f'after {what}: D12 not restored high')
    check.servo_pulse(10, 544 + (2400 - 544) * 90 / 180)
    check.control.ask(op='drive', pin=2, level=1)
    check.expect_digital(2, 1)
    check.control.ask(op='drive', pin=2, level=0)
    check.expect_digital(2, 0)
    check.control.ask(op='adc', channel=0, value=adc)
    check.expect_analog(0, adc)
    say(f'== after {what}: D12 high, D10 servo, D2 and A0 reports restored with no restart')


def faults(check):
    check.send({'command': 'set_mode_digital_output', 'pin': 12})
    check.send({'command': 'digital_write', 'pin': 12, 'value': 1})
    check.need(check.control.level(12, 1), 'D12 did not go high')
    check.drain(0.5)
    reply = check.control.ask(op='drop')
    check.need(reply.get('dropped'), 'no serial client to drop')
    # The board keeps its pins when only the stream drops; prove ardgw is back by a change.
    check.answering()
    restored(check, 'the dropped TCP stream', 123)
    check.control.ask(op='reset')
    restored(check, 'the board reset', 456)


def run(check):
    check.answering()
    steps = [d13, d2, a0, pwm_servo, bad_values, burst, faults]
    for step in steps:
        step(check)


def add_arguments(parser):
    parser.add_argument('--control-port', type=int, required=True,
                        help="the harness's control port")


if __name__ == '__main__':
    sys.exit(main('ardgw end to end on the emulated Uno', Check, run, add_arguments))
