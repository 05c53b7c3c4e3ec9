"""Sensor end-to-end check: a real Python Banyan component against the sensor firmware
(run by scripts/qemu-e2e.sh --app sensor).

A plain python-banyan 3.17 component (BanyanBase, unchanged; its `receive_loop_idle_addition`
hook gives it a clock) that:

1. subscribes to 'sensor/<board>' and reads at least --readings messages, checking each is
   exactly {'count': int, 'temperature': float} with counts strictly increasing;
2. publishes {'command': 'rate', 'ms': --rate-ms} on 'command/<board>' and reads --readings
   more (re-sending the same rate with each: it is idempotent, and a copy sent before the
   gateway's subscription is in force would be lost);
3. publishes {'command': 'stop'} (every 0.5 s) until the readings have stopped for 3 s: the
   firmware has exited.

Exits 0 when all three steps passed, 1 on a bad message or after --timeout seconds. Whether
the firmware applied the rate and exited with status 0 is checked by the script from the
firmware's own log and QEMU's exit status. Intervals between readings are printed, never
asserted (timing under emulation on a loaded machine proves nothing).
"""

import argparse
import sys
import time

from python_banyan.banyan_base import BanyanBase


def say(*words):
    print(*words, flush=True)


class SensorPeer(BanyanBase):
    def __init__(self, board, readings, rate_ms, timeout, **options):
        super(SensorPeer, self).__init__(receive_loop_idle_addition=self.tick, **options)
        self.sensor_topic = 'sensor/' + board
        self.command_topic = 'command/' + board
        self.wanted = readings
        self.rate_ms = rate_ms
        self.deadline = time.monotonic() + timeout
        self.phase = 'reading'
        self.seen = 0
        self.last_count = None
        self.last_arrival = None
        self.intervals = {'reading': [], 'rated': []}
        self.stop_sent_at = None
        self.set_subscriber_topic(self.sensor_topic)
        say('SensorPeer ready: reading', self.sensor_topic)
        self.receive_loop()

    def finish(self, code, why):
        say('SensorPeer', 'PASS:' if code == 0 else 'FAIL:', why)
        self.clean_up()
        sys.exit(code)

    def command(self, payload):
        self.publish_payload(payload, self.command_topic)

    def incoming_message_processing(self, topic, payload):
        now = time.monotonic()
        if topic != self.sensor_topic:
            return
        if not isinstance(payload, dict) or set(payload) != {'count', 'temperature'}:
            self.finish(1, 'not a {count, temperature} map: %r' % (payload,))
        count, temperature = payload['count'], payload['temperature']
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.finish(1, 'count is not a non-negative int: %r' % (payload,))
        if not isinstance(temperature, float):
            self.finish(1, 'temperature is not a float: %r' % (payload,))
        if self.last_count is not None and count <= self.last_count:
            self.finish(1, 'count went from %d to %d' % (self.last_count, count))
        if self.last_count is not None and count != self.last_count + 1:
            say('note: counts %d..%d missing (lost before this subscriber)'
                % (self.last_count + 1, count - 1))
        if self.last_arrival is not None and self.phase in self.intervals:
            self.intervals[self.phase].append(now - self.last_arrival)
        self.last_count, self.last_arrival = count, now
        self.seen += 1
        say('reading:', payload)

        if self.phase == 'reading' and self.seen >= self.wanted:
            say('sending rate', self.rate_ms, 'ms on', self.command_topic)
            self.command({'command': 'rate', 'ms': self.rate_ms})
            self.phase, self.seen = 'rated', 0
        elif self.phase == 'rated':
            if self.seen >= self.wanted:
                for phase, gaps in self.intervals.items():
                    if gaps:
                        say('mean interval while %s: %.0f ms (printed, not asserted)'
                            % (phase, 1000 * sum(gaps) / len(gaps)))
                say('sending stop on', self.command_topic)
                self.command({'command': 'stop'})
                self.phase, self.stop_sent_at = 'stopping', now
            else:
                self.command({'command': 'rate', 'ms': self.rate_ms})
        self.tick()

    def tick(self):
        now = time.monotonic()
        if now > self.deadline:
            self.finish(1, 'timed out in phase %s (%d readings in it)' % (self.phase, self.seen))
        if self.phase == 'stopping':
            if now - self.last_arrival > 3.0:
                self.finish(0, 'readings stopped after the stop command')
            if now - self.stop_sent_at > 0.5:
                self.command({'command': 'stop'})
                self.stop_sent_at = now


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-b', dest='back_plane_ip_address', default='127.0.0.1')
    parser.add_argument('-p', dest='publisher_port', default='43124')
    parser.add_argument('-s', dest='subscriber_port', default='43125')
    parser.add_argument('-n', dest='process_name', default='SensorPeer')
    parser.add_argument('--board', default='lm3s6965')
    parser.add_argument('--readings', type=int, default=5)
    parser.add_argument('--rate-ms', type=int, default=250)
    parser.add_argument('--timeout', type=float, default=90.0)
    args = parser.parse_args()
    SensorPeer(args.board, args.readings, args.rate_ms, args.timeout,
               back_plane_ip_address=args.back_plane_ip_address,
               publisher_port=args.publisher_port, subscriber_port=args.subscriber_port,
               process_name=args.process_name, loop_time=0.02)


if __name__ == '__main__':
    main()
