"""Throughput subscriber: counts {'msg': i} messages on 'test' in BanyanBase's receive_loop.

Prints `READY` once subscribed, then `RESULT received=N first=T last=T` (time.time() of the
first and last message) when `count` messages arrived or nothing came for `quiet` seconds.
"""

import sys
import time

import bench_common
from bench_common import BanyanBase

# Give up when not a single message arrives for this long after READY.
NOTHING_TIMEOUT = 30.0


class Subscriber(BanyanBase):
    def __init__(self, count, quiet, **options):
        super(Subscriber, self).__init__(receive_loop_idle_addition=self.idle, **options)
        self.count = count
        self.quiet = quiet
        self.received = 0
        self.first = None
        self.last = None
        self.set_subscriber_topic('test')
        # As python-banyan's benchmark subscriber: let the subscription settle.
        time.sleep(.3)
        self.ready_at = time.time()
        print('READY')
        sys.stdout.flush()
        self.receive_loop()

    def incoming_message_processing(self, topic, payload):
        now = time.time()
        payload['msg']  # read the field, as python-banyan's benchmark subscriber does
        self.received += 1
        if self.first is None:
            self.first = now
        self.last = now
        if self.received == self.count:
            self.finish()

    def idle(self):
        now = time.time()
        if self.received and now - self.last > self.quiet:
            self.finish()
        if not self.received and now - self.ready_at > NOTHING_TIMEOUT:
            self.finish()

    def finish(self):
        print('RESULT received=%d first=%r last=%r'
              % (self.received, self.first or 0.0, self.last or 0.0))
        sys.stdout.flush()
        self.clean_up()
        sys.exit(0)


def main():
    p = bench_common.parser('Banyan throughput subscriber')
    p.add_argument('--count', type=int, default=100000)
    p.add_argument('--quiet', type=float, default=2.0)
    args = p.parse_args()
    Subscriber(args.count, args.quiet, **bench_common.options(args, 'bench subscriber'))


if __name__ == '__main__':
    main()
