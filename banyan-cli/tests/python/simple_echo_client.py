"""The seed's echo client on Python Banyan (python-banyan 3.17), for interoperability tests.

Subscribes to 'reply', publishes {'message_number': N} on 'echo' (N = 10 by default) and on
each reply publishes the next lower number; on the reply 0 prints
`N messages sent and received.` and exits 0. Written from the seed's description.

Differences from the seed, none of which touch the wire:
- flags -b -p -s -n -t and -m N (without -b, BanyanBase's psutil scan, as the seed);
- the seed then waits for input('Press enter to exit.'); this script does so only when stdin
  is a terminal and --no-wait is not given, so it exits by itself under a test;
- --prove: proves the 'reply' subscription is applied at the backplane before sending the
  first message, instead of trusting the seed's sleeps.
"""

import sys
import time

from python_banyan.banyan_base import BanyanBase

import banyan_interop


class EchoClient(BanyanBase):
    """Counts down from `count`, one echo round trip per number."""

    def __init__(self, count=10, prove=False, wait=True, **options):
        super(EchoClient, self).__init__(**options)
        self.wait = wait
        time.sleep(.3)
        self.set_subscriber_topic('reply')
        self.message_number = self.number_of_messages = count
        held = banyan_interop.prove_subscription(self, 'reply') if prove else []
        self.publish_payload({'message_number': self.message_number}, 'echo')
        for topic, payload in held:
            self.incoming_message_processing(topic, payload)
        try:
            self.receive_loop()
        except KeyboardInterrupt:
            self.clean_up()
            sys.exit(0)

    def incoming_message_processing(self, topic, payload):
        if banyan_interop.is_probe(topic):
            return  # a late probe of --prove
        if payload['message_number'] == 0:
            banyan_interop.say(str(self.number_of_messages) + ' messages sent and received.')
            if self.wait and sys.stdin.isatty():
                input('Press enter to exit.')
            self.clean_up()
            sys.exit(0)
        else:
            self.message_number -= 1
            if self.message_number >= 0:
                self.publish_payload({'message_number': self.message_number}, 'echo')


def main():
    parser = banyan_interop.argument_parser('Python Banyan echo client', 'EchoClient')
    parser.add_argument('-m', dest='count', type=int, default=10,
                        help='number of messages to count down from')
    parser.add_argument('--prove', action='store_true',
                        help='prove the reply subscription before sending')
    parser.add_argument('--no-wait', action='store_true',
                        help="don't wait for Enter at the end even on a terminal")
    args = parser.parse_args()
    EchoClient(count=args.count, prove=args.prove, wait=not args.no_wait,
               **banyan_interop.banyan_options(args))


if __name__ == '__main__':
    main()
