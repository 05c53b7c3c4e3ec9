"""The seed's echo server: answers each 'echo' payload with the same payload on 'reply'.

Prints `READY` once subscribed. Default loop time (0.1 s), as the seed.
"""

import sys

import bench_common
from bench_common import BanyanBase


class EchoServer(BanyanBase):
    def __init__(self, **options):
        super(EchoServer, self).__init__(**options)
        self.set_subscriber_topic('echo')
        print('READY')
        sys.stdout.flush()
        self.receive_loop()

    def incoming_message_processing(self, topic, payload):
        self.publish_payload(payload, 'reply')


def main():
    args = bench_common.parser('Banyan echo server').parse_args()
    EchoServer(**bench_common.options(args, 'bench echo server'))


if __name__ == '__main__':
    main()
