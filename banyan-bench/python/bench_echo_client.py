"""The seed's echo client, timed: sends {'message_number': N} on 'echo' and, on each reply,
the next lower number, down to 0 (warmup + count messages). Default loop time (0.1 s).

Prints `RTT_US t1 t2 ...`: the round trips after the first `warmup`, in microseconds
(time.perf_counter from publish to the matching reply). Exits 1 if a reply takes 10 s.
"""

import sys
import time

import bench_common
from bench_common import BanyanBase

REPLY_TIMEOUT = 10.0


class EchoClient(BanyanBase):
    def __init__(self, warmup, count, **options):
        super(EchoClient, self).__init__(receive_loop_idle_addition=self.idle, **options)
        self.set_subscriber_topic('reply')
        self.warmup = warmup
        self.total = warmup + count
        self.times = []
        self.number = self.total - 1
        self.send()
        self.receive_loop()

    def send(self):
        self.sent_at = time.perf_counter()
        self.publish_payload({'message_number': self.number}, 'echo')

    def incoming_message_processing(self, topic, payload):
        if payload.get('message_number') != self.number:
            return
        elapsed = time.perf_counter() - self.sent_at
        if self.total - self.number > self.warmup:
            self.times.append(elapsed * 1e6)
        if self.number == 0:
            print('RTT_US ' + ' '.join('%.1f' % t for t in self.times))
            sys.stdout.flush()
            self.clean_up()
            sys.exit(0)
        self.number -= 1
        self.send()

    def idle(self):
        if time.perf_counter() - self.sent_at > REPLY_TIMEOUT:
            sys.stderr.write('no reply to message_number %d\n' % self.number)
            self.clean_up()
            sys.exit(1)


def main():
    p = bench_common.parser('Banyan echo client')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--count', type=int, default=100)
    args = p.parse_args()
    EchoClient(args.warmup, args.count, **bench_common.options(args, 'bench echo client'))


if __name__ == '__main__':
    main()
