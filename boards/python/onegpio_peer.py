"""What the boards' OneGPIO end-to-end checks share (boards/qemu-lm3s6965/tests/python/ and
boards/rp-pico/tests/python/onegpio_check.py): a real Python Banyan component that sends
OneGPIO commands and waits for the firmware's reports, the steps every board runs (the
firmware answers; invalid commands get error reports) and the command line.

The component is python-banyan 3.17's BanyanBase unchanged (only its public sockets and
publish_payload), the way Python's own OneGPIO programs (blinker.py, banyan_tkinter_demo.py)
use it. Commands go on to_<device>_gateway, reports come from from_<device>_gateway.
"""

import argparse
import sys
import time

import msgpack
import zmq
from python_banyan.banyan_base import BanyanBase


class Failed(Exception):
    """A step did not see what it expected."""


def say(*words):
    print(*words, flush=True)


class OneGpioPeer(BanyanBase):
    """A Banyan component speaking OneGPIO to one device; `args` from `main`'s parser."""

    def __init__(self, args, device, process_name):
        super().__init__(back_plane_ip_address=args.back_plane_ip_address,
                         subscriber_port=args.subscriber_port,
                         publisher_port=args.publisher_port,
                         process_name=process_name)
        self.to_topic = 'to_' + device + '_gateway'
        self.from_topic = 'from_' + device + '_gateway'
        self.step_timeout = args.timeout
        self.set_subscriber_topic(self.from_topic)
        # The subscription travels to the backplane asynchronously (slow joiner).
        time.sleep(0.5)

    def send(self, payload):
        say('->', payload)
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
            say('<-', payload)
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
                return report
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


def kinds(*names):
    """A `want` for `expect`: a report of one of these kinds."""
    return lambda report: report.get('report') in names


def digital(report, pin, value):
    """Checks a digital_input report of `pin` = `value` (keys, order, a float timestamp);
    returns its timestamp."""
    if report.get('report') != 'digital_input':
        raise Failed(f'expected a digital_input report, got {report!r}')
    if list(report.keys()) != ['report', 'pin', 'value', 'timestamp']:
        raise Failed(f'digital_input report keys {list(report.keys())}')
    if report['pin'] != pin or report['value'] != value:
        raise Failed(f'expected pin {pin} = {value}, got {report!r}')
    if not isinstance(report['timestamp'], float):
        raise Failed(f'timestamp is not a float: {report!r}')
    return report['timestamp']


def wait_until_answering(check):
    """Step 0: commands get through. ZeroMQ subscriptions (ours, the gateway's) are set up
    asynchronously and messages sent before are lost; the probe is a harmless invalid command
    (reporting on a pin that is no input), re-sent every second until its error report comes."""
    probe = {'command': 'disable_digital_reporting', 'pin': 15}
    check.send(probe)
    check.expect(lambda r: r.get('report') == 'error'
                 and r.get('command') == 'disable_digital_reporting',
                 'the error report of the probe', resend=probe)
    check.drain(1.5)  # answers to re-sent probes


def invalid_commands(check, input_pin, exactly=False):
    """Three invalid commands (an unknown command, digital_write to the input `input_pin`,
    digital_write to pin 99) get three error reports naming them, each with a reason; with
    `exactly`, no fourth comes within a second. Returns the reasons."""
    invalid = [
        {'command': 'no_such_command', 'pin': 2},
        {'command': 'digital_write', 'pin': input_pin, 'value': 1},  # an input pin
        {'command': 'digital_write', 'pin': 99, 'value': 1},  # no such pin
    ]
    for payload in invalid:
        check.send(payload)
    errors = []
    while len(errors) < 3:
        errors.append(check.expect(kinds('error'), 'error report'))
    names = [e.get('command') for e in errors]
    if names != [p['command'] for p in invalid]:
        raise Failed(f'error reports name {names}')
    for e in errors:
        if not isinstance(e.get('reason'), str) or not e['reason']:
            raise Failed(f'error report without a reason: {e!r}')
    if exactly:
        more = [r for r in check.drain(1.0) if r.get('report') == 'error']
        if more:
            raise Failed(f'more than three error reports: {more!r}')
    return [e['reason'] for e in errors]


def main(description, make_check, run, add_arguments=None):
    """Parses -b/-p/-s/-t (and the board's own arguments), connects `make_check(args)`, runs
    `run(check)`. Exit status 0 when every step passed; otherwise 1 and a one-line reason on
    stderr."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('-b', dest='back_plane_ip_address', default='127.0.0.1',
                        help='backplane IP address (given, so no process scan is needed)')
    parser.add_argument('-p', dest='publisher_port', default='43124',
                        help='backplane port components publish to')
    parser.add_argument('-s', dest='subscriber_port', default='43125',
                        help='backplane port components subscribe to')
    parser.add_argument('-t', dest='timeout', type=float, default=60.0,
                        help='seconds each step may wait')
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args()
    check = make_check(args)
    try:
        run(check)
    except Failed as e:
        print(f'onegpio_check: FAILED: {e}', file=sys.stderr, flush=True)
        return 1
    finally:
        check.clean_up()
    say('onegpio_check: all steps passed')
    return 0
