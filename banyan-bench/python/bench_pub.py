"""Throughput publisher: publishes {'msg': i} on 'test' for i in range(count), as fast as
python-banyan's publish_payload goes (as in python-banyan's performance_comparison).

Prints `START t=<time.time() before the first publish>` and `DONE t=<after the last>`.
"""

import sys
import time

import bench_common
from bench_common import BanyanBase


class Publisher(BanyanBase):
    def __init__(self, count, **options):
        super(Publisher, self).__init__(**options)
        start = time.time()
        for x in range(count):
            self.publish_payload({'msg': x}, 'test')
        done = time.time()
        print('START t=%r' % start)
        print('DONE t=%r' % done)
        sys.stdout.flush()
        self.clean_up()


def main():
    p = bench_common.parser('Banyan throughput publisher')
    p.add_argument('--count', type=int, default=100000)
    args = p.parse_args()
    Publisher(args.count, **bench_common.options(args, 'bench publisher'))


if __name__ == '__main__':
    main()
