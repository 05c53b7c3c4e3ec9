#!/usr/bin/env python3
"""OneGPIO end-to-end check: a real Python Banyan component against the OneGPIO firmware.

Uses python-banyan 3.17's BanyanBase unchanged (only its public sockets and publish_payload),
the way Python's own OneGPIO programs (blinker.py, banyan_tkinter_demo.py) do. Written for the
QEMU board's virtual pin bank (pin 2k drives pin 2k+1; analog channels are ramps), run by the
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

import argparse
import sys
import time

import msgpack
import zmq
from python_banyan.banyan_base import BanyanBase


class Failed(Exception):
    """A step did not see what it expected."""


class OneGpioCheck(BanyanBase):
    def __init__(self, args):
        super().__init__(back_plane_ip_address=args.back_plane_ip_address,
                         subscriber_port=args.subscriber_port,
                         publisher_port=args.publisher_port,
                         process_name='onegpio_check')
        self.to_topic = 'to_' + args.device + '_gateway'
        self.from_topic = 'from_' + args.device + '_gateway'
        self.step_timeout = args.timeout
        self.set_subscriber_topic(self.from_topic)
        # The subscription travels to the backplane asynchronously (slow joiner).
        time.sleep(0.5)

    def send(self, payload):
        print('->', payload, flush=True)
        self.publish_payload(payload, self.to_topic)

    def next_report(self, deadline):
        """The next report on the report topic, or None at the deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self.subscriber.poll(int(left * 1000) + 1) == 0:
                continue
            topic, data = self.subscriber.recv_multipart(zmq.NOBLOCK)
            if topic.decode() != self.from_topic:
                continue
            payload = msgpack.unpackb(data, raw=False)
            print('<-', payload, flush=True)
            return payload

    def expect(self, want, what, resend=None, resend_every=1.0):
        """Waits for a report for which want(report) is true; re-sends `resend` meanwhile."""
        deadline = time.monotonic() + self.step_timeout
        seen = []
        next_send = time.monotonic() + resend_every
        while time.monotonic() < deadline:
            report = self.next_report(min(deadline, next_send) if resend else deadline)
            if report is None:
                if resend and time.monotonic() >= next_send:
                    self.send(resend)
                    next_send = time.monotonic() + resend_every
                continue
            seen.append(report)
            if want(report):
                return report, seen
        raise Failed(f'timed out waiting for {what}; saw {seen[-5:]}')

    def drain(self, seconds):
        """Reports arriving within `seconds`."""
        deadline = time.monotonic() + seconds
        out = []
        while True:
            report = self.next_report(deadline)
            if report is None:
                return out
            out.append(report)


def is_digital(report, pin, value):
    return (report.get('report') == 'digital_input' and report.get('pin') == pin
            and report.get('value') == value)


def check_digital(report):
    keys = list(report.keys())
    if keys != ['report', 'pin', 'value', 'timestamp']:
        raise Failed(f'digital_input report keys {keys}')
    if not isinstance(report['timestamp'], float):
        raise Failed(f'timestamp is not a float: {report!r}')


def run(check):
    write = lambda v: {'command': 'digital_write', 'pin': 2, 'value': v}

    # 0. Wait until commands get through: ZeroMQ subscriptions (ours, the gateway's) are set
    #    up asynchronously and messages sent before are lost. The probe is a harmless invalid
    #    command (reporting on a pin that is no input) whose error report proves the path.
    probe = {'command': 'disable_digital_reporting', 'pin': 15}
    check.send(probe)
    check.expect(lambda r: r.get('report') == 'error'
                 and r.get('command') == 'disable_digital_reporting',
                 'the error report of the probe', resend=probe)
    check.drain(1.5)  # answers to re-sent probes
    print('step 0 ok: the firmware answers', flush=True)

    # 1. Digital output -> loopback -> digital input reports.
    check.send({'command': 'set_mode_digital_output', 'pin': 2})
    check.send({'command': 'set_mode_digital_input', 'pin': 3})
    check.send(write(1))
    high, _ = check.expect(lambda r: r.get('report') in ('digital_input', 'error'),
                           'digital_input 1')
    if not is_digital(high, 3, 1):
        raise Failed(f'expected pin 3 = 1, got {high!r}')
    check_digital(high)
    check.send(write(0))
    low, seen = check.expect(lambda r: r.get('report') == 'digital_input', 'digital_input 0')
    if not is_digital(low, 3, 0):
        raise Failed(f'expected pin 3 = 0, got {low!r}')
    check_digital(low)
    if low['timestamp'] < high['timestamp']:
        raise Failed('timestamps go backwards')
    extra = [r for r in check.drain(1.0) if r.get('report') == 'digital_input']
    if extra:
        raise Failed(f'more than two digital_input reports: {extra!r}')
    print('step 1 ok: two digital_input reports for pin 3 (1, then 0)', flush=True)

    # 2. Analog reporting on channel 0.
    check.send({'command': 'enable_analog_reporting', 'pin': 0})
    analog = []
    while len(analog) < 3:
        report, _ = check.expect(lambda r: r.get('report') == 'analog_input', 'analog_input')
        if report.get('pin') != 0 or not isinstance(report.get('value'), int):
            raise Failed(f'bad analog_input report {report!r}')
        analog.append(report)
    check.send({'command': 'disable_analog_reporting', 'pin': 0})
    check.drain(1.0)
    late = [r for r in check.drain(1.0) if r.get('report') == 'analog_input']
    if late:
        raise Failed(f'analog reports after disable_analog_reporting: {late!r}')
    print('step 2 ok: analog_input reports for channel 0:',
          [r['value'] for r in analog], flush=True)

    # 3. Three invalid commands, three error reports naming them.
    invalid = [
        {'command': 'no_such_command', 'pin': 2},
        {'command': 'digital_write', 'pin': 3, 'value': 1},   # pin 3 is an input
        {'command': 'digital_write', 'pin': 99, 'value': 1},  # no such pin
    ]
    for payload in invalid:
        check.send(payload)
    errors = []
    while len(errors) < 3:
        report, _ = check.expect(lambda r: r.get('report') == 'error', 'error report')
        errors.append(report)
    names = [e.get('command') for e in errors]
    if names != [p['command'] for p in invalid]:
        raise Failed(f'error reports name {names}')
    for e in errors:
        if not isinstance(e.get('reason'), str) or not e['reason']:
            raise Failed(f'error report without a reason: {e!r}')
    more = [r for r in check.drain(1.0) if r.get('report') == 'error']
    if more:
        raise Failed(f'more than three error reports: {more!r}')
    print('step 3 ok: three error reports:', [e['reason'] for e in errors], flush=True)

    # 4. Still serving.
    check.send(write(1))
    report, _ = check.expect(lambda r: r.get('report') == 'digital_input', 'digital_input 1')
    if not is_digital(report, 3, 1):
        raise Failed(f'expected pin 3 = 1, got {report!r}')
    print('step 4 ok: the firmware still serves after the invalid commands', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-b', dest='back_plane_ip_address', default='127.0.0.1',
                        help='backplane IP address (given, so no process scan is needed)')
    parser.add_argument('-p', dest='publisher_port', default='43124',
                        help='backplane port components publish to')
    parser.add_argument('-s', dest='subscriber_port', default='43125',
                        help='backplane port components subscribe to')
    parser.add_argument('-d', dest='device', default='pico',
                        help='OneGPIO device name: topics to_<d>_gateway / from_<d>_gateway')
    parser.add_argument('-t', dest='timeout', type=float, default=60.0,
                        help='seconds each step may wait')
    args = parser.parse_args()
    check = OneGpioCheck(args)
    try:
        run(check)
    except Failed as e:
        print(f'onegpio_check: FAILED: {e}', file=sys.stderr, flush=True)
        return 1
    finally:
        check.clean_up()
    print('onegpio_check: all steps passed', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
