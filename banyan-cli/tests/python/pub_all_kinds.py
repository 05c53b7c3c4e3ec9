"""Publishes all_kinds.ALL_KINDS through Python Banyan's publish_payload, repeatedly.

A ZeroMQ publisher loses what it sends before the subscriber's subscription reaches it
("slow joiner"), so this script repeats the message every --interval seconds. With
--ack-topic it also subscribes to that topic and exits 0 once any message arrives on it;
without, it runs until killed.

    pub_all_kinds.py -b ADDR -p PORT -s PORT [--topic all_kinds] [--ack-topic T]
"""

import sys
import time

import zmq
from python_banyan.banyan_base import BanyanBase

import all_kinds
import banyan_interop


class AllKindsPublisher(BanyanBase):
    def __init__(self, topic, ack_topic, interval, **options):
        super(AllKindsPublisher, self).__init__(**options)
        if ack_topic:
            self.set_subscriber_topic(ack_topic)
        banyan_interop.say('publishing', topic)
        sent = 0
        while True:
            self.publish_payload(all_kinds.ALL_KINDS, topic)
            sent += 1
            if ack_topic and self.subscriber.poll(int(interval * 1000), zmq.POLLIN):
                frames = self.subscriber.recv_multipart()
                banyan_interop.say('acknowledged on', frames[0].decode(), 'after', sent)
                self.clean_up()
                sys.exit(0)
            if not ack_topic:
                time.sleep(interval)


def main():
    parser = banyan_interop.argument_parser('publish every msgpack kind', 'AllKindsPublisher')
    parser.add_argument('--topic', default='all_kinds')
    parser.add_argument('--ack-topic', default='')
    parser.add_argument('--interval', type=float, default=0.05)
    args = parser.parse_args()
    AllKindsPublisher(args.topic, args.ack_topic, args.interval,
                      **banyan_interop.banyan_options(args))


if __name__ == '__main__':
    main()
