"""The seed's echo server on Python Banyan (python-banyan 3.17), for interoperability tests.

Subscribes to 'echo'; republishes each payload on 'reply' and prints `Message number: N`.
Written from the seed's description (the seed is not part of the PyPI package).

Differences from the seed, none of which touch the wire:
- flags -b -p -s -n -t as in Python Banyan's utilities (without -b, BanyanBase's psutil scan
  and outward address, as the seed);
- prints `EchoServer ready` once subscribed, so a test can start the client after it;
- --prove: before printing `ready`, proves the 'echo' subscription is applied at the backplane
  (banyan_interop.prove_subscription) instead of trusting the seed's sleeps.
"""

import sys
import time

from python_banyan.banyan_base import BanyanBase

import banyan_interop


class EchoServer(BanyanBase):
    """Answers every 'echo' message with the same payload on 'reply'."""

    def __init__(self, prove=False, **options):
        super(EchoServer, self).__init__(**options)
        # As the seed: let the base class's connections settle, then subscribe.
        time.sleep(.3)
        self.set_subscriber_topic('echo')
        held = banyan_interop.prove_subscription(self, 'echo') if prove else []
        banyan_interop.say(options.get('process_name', 'EchoServer'), 'ready')
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
        self.publish_payload(payload, 'reply')
        banyan_interop.say('Message number:', payload['message_number'])


def main():
    parser = banyan_interop.argument_parser('Python Banyan echo server', 'EchoServer')
    parser.add_argument('--prove', action='store_true',
                        help='prove the echo subscription before printing ready')
    args = parser.parse_args()
    EchoServer(prove=args.prove, **banyan_interop.banyan_options(args))


if __name__ == '__main__':
    main()
