"""The Python Banyan side of the QEMU OneGPIO end-to-end test (scripts/qemu-e2e.sh --app onegpio).

A plain python-banyan 3.17 component (BanyanBase, unchanged; its `receive_loop_idle_addition`
hook gives it a clock) driving the `onegpio` firmware's virtual pin bank, where pins 2k and
2k+1 are wired together and analog channel 0 is a ramp. It publishes OneGPIO commands on
'to_<device>_gateway' exactly as Python's OneGPIO components do, reads the reports on
'from_<device>_gateway', and checks, step by step:

1. digital: pin 2 output, pin 3 input; writes 1 then 0 to pin 2 and receives a
   'digital_input' report for pin 3 with value 1, then one with value 0;
2. analog: enables analog input (and reporting) on channel 0 and receives 3 'analog_input'
   reports for it;
3. errors: sends three invalid commands (unknown command, pin out of range, missing value)
   and receives three 'error' reports, each naming the command it refuses;
4. still serving: writes 1 to pin 2 again and receives the report for pin 3.

The setup commands of steps 1 and 2 are idempotent and re-sent every second until the
firmware answers: the first ones may be published before the gateway's subscription is in
force. Exits 0 when every step passed, 1 on a wrong report or after --timeout seconds.
"""

import argparse
import sys
import time

from python_banyan.banyan_base import BanyanBase

OUT_PIN, IN_PIN, ANALOG_CHANNEL = 2, 3, 0
ANALOG_REPORTS = 3
INVALID = [
    ({'command': 'no_such_command', 'pin': OUT_PIN}, 'no_such_command'),
    ({'command': 'digital_write', 'pin': 99, 'value': 1}, 'digital_write'),
    ({'command': 'digital_write', 'pin': OUT_PIN}, 'digital_write'),
]


def say(*words):
    print(*words, flush=True)


class OneGpioPeer(BanyanBase):
    def __init__(self, device, timeout, **options):
        super(OneGpioPeer, self).__init__(receive_loop_idle_addition=self.tick, **options)
        self.to_topic = 'to_%s_gateway' % device
        self.from_topic = 'from_%s_gateway' % device
        self.deadline = time.monotonic() + timeout
        self.step = None
        self.sent_at = 0.0
        self.analog_seen = 0
        self.errors = []
        self.set_subscriber_topic(self.from_topic)
        say('OneGpioPeer ready: commands on', self.to_topic, 'reports on', self.from_topic)
        self.enter('digital_high')
        self.receive_loop()

    def finish(self, code, why):
        say('OneGpioPeer', 'PASS:' if code == 0 else 'FAIL:', why)
        self.clean_up()
        sys.exit(code)

    def send(self, payload):
        say('command:', payload)
        self.publish_payload(payload, self.to_topic)

    def enter(self, step):
        self.step = step
        say('step:', step)
        self.act()

    def act(self):
        """Sends the commands of the current step (again, for the re-sendable ones)."""
        self.sent_at = time.monotonic()
        if self.step == 'digital_high':
            self.send({'command': 'set_mode_digital_output', 'pin': OUT_PIN})
            self.send({'command': 'set_mode_digital_input', 'pin': IN_PIN})
            self.send({'command': 'digital_write', 'pin': OUT_PIN, 'value': 1})
        elif self.step == 'digital_low':
            self.send({'command': 'digital_write', 'pin': OUT_PIN, 'value': 0})
        elif self.step == 'analog':
            self.send({'command': 'set_mode_analog_input', 'pin': ANALOG_CHANNEL})
            self.send({'command': 'enable_analog_reporting', 'pin': ANALOG_CHANNEL})
        elif self.step == 'errors':
            if not self.errors:  # sent once: each must produce exactly one error report
                for payload, _ in INVALID:
                    self.send(payload)
        elif self.step == 'still_serving':
            self.send({'command': 'digital_write', 'pin': OUT_PIN, 'value': 1})

    def digital(self, payload, value):
        return (payload.get('report') == 'digital_input' and payload.get('pin') == IN_PIN
                and payload.get('value') == value)

    def incoming_message_processing(self, topic, payload):
        if topic != self.from_topic:
            return
        say('report:', payload)
        if not isinstance(payload, dict) or 'report' not in payload:
            self.finish(1, 'not a OneGPIO report: %r' % (payload,))
        report = payload['report']
        if report == 'error' and self.step != 'errors':
            self.finish(1, 'unexpected error report in step %s: %r' % (self.step, payload))
        if report == 'digital_input':
            if payload.get('pin') == IN_PIN and payload.get('value') not in (0, 1):
                self.finish(1, 'digital value is not 0 or 1: %r' % (payload,))
            if 'timestamp' not in payload:
                self.finish(1, 'digital_input report without timestamp: %r' % (payload,))
        if report == 'analog_input':
            value = payload.get('value')
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                self.finish(1, 'analog value is not a non-negative int: %r' % (payload,))

        if self.step == 'digital_high' and self.digital(payload, 1):
            self.enter('digital_low')
        elif self.step == 'digital_low' and self.digital(payload, 0):
            self.enter('analog')
        elif self.step == 'analog' and report == 'analog_input' \
                and payload.get('pin') == ANALOG_CHANNEL:
            self.analog_seen += 1
            if self.analog_seen >= ANALOG_REPORTS:
                self.send({'command': 'disable_analog_reporting', 'pin': ANALOG_CHANNEL})
                self.enter('errors')
        elif self.step == 'errors' and report == 'error':
            self.errors.append(payload)
            index = len(self.errors) - 1
            wanted = INVALID[index][1]
            if wanted not in [v for v in payload.values() if isinstance(v, str)]:
                self.finish(1, 'error report %d does not name %r: %r' % (index, wanted, payload))
            if len(self.errors) == len(INVALID):
                self.enter('still_serving')
        elif self.step == 'still_serving' and self.digital(payload, 1):
            self.finish(0, 'digital loopback, analog reports, %d error reports, still serving'
                        % len(self.errors))
        self.tick()

    def tick(self):
        now = time.monotonic()
        if now > self.deadline:
            self.finish(1, 'timed out in step %s' % self.step)
        if self.step in ('digital_high', 'digital_low', 'analog') and now - self.sent_at > 1.0:
            self.act()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-b', dest='back_plane_ip_address', default='127.0.0.1')
    parser.add_argument('-p', dest='publisher_port', default='43124')
    parser.add_argument('-s', dest='subscriber_port', default='43125')
    parser.add_argument('-n', dest='process_name', default='OneGpioPeer')
    parser.add_argument('--device', default='pico')
    parser.add_argument('--timeout', type=float, default=90.0)
    args = parser.parse_args()
    OneGpioPeer(args.device, args.timeout,
                back_plane_ip_address=args.back_plane_ip_address,
                publisher_port=args.publisher_port, subscriber_port=args.subscriber_port,
                process_name=args.process_name, loop_time=0.02)


if __name__ == '__main__':
    main()
