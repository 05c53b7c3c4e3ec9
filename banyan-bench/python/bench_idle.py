"""An idle component: connects (BanyanBase, 0.3 s connect sleep), subscribes to 'idle',
prints `READY`, then sits in receive_loop (or exits at once with --exit: startup timing).
"""

import sys

import bench_common
from bench_common import BanyanBase


class Idle(BanyanBase):
    def __init__(self, exit_when_ready, **options):
        super(Idle, self).__init__(**options)
        self.set_subscriber_topic('idle')
        print('READY')
        sys.stdout.flush()
        if exit_when_ready:
            self.clean_up()
            return
        self.receive_loop()

    def incoming_message_processing(self, topic, payload):
        pass


def main():
    p = bench_common.parser('Idle Banyan component')
    p.add_argument('--exit', action='store_true', help='exit once connected')
    args = p.parse_args()
    Idle(args.exit, **bench_common.options(args, 'bench idle'))


if __name__ == '__main__':
    main()
