"""Receives one Banyan message through Python Banyan's receive loop and prints it.

Subscribes to --topic, prints `ready`, then for the first message prints
`received TOPIC PAYLOAD_REPR`. With --expect all_kinds it compares the decoded payload with
all_kinds.ALL_KINDS strictly (types too; floats bit for bit) and prints `MATCH` and exits 0,
or prints `MISMATCH <first difference>` and exits 1. Without --expect it exits 0.

    sub_print.py -b ADDR -p PORT -s PORT --topic all_kinds [--expect all_kinds]
"""

import sys
import time

from python_banyan.banyan_base import BanyanBase

import all_kinds
import banyan_interop

EXPECTED = {'all_kinds': all_kinds.ALL_KINDS}


class SubPrint(BanyanBase):
    def __init__(self, topic, expect, **options):
        super(SubPrint, self).__init__(**options)
        self.expect = expect
        self.set_subscriber_topic(topic)
        banyan_interop.say('ready')
        try:
            self.receive_loop()
        except KeyboardInterrupt:
            self.clean_up()
            sys.exit(0)

    def incoming_message_processing(self, topic, payload):
        banyan_interop.say('received', topic, repr(payload))
        status = 0
        if self.expect:
            difference = banyan_interop.first_difference(payload, EXPECTED[self.expect])
            if difference:
                banyan_interop.say('MISMATCH', difference)
                status = 1
            else:
                banyan_interop.say('MATCH')
        self.clean_up()
        sys.exit(status)


def main():
    parser = banyan_interop.argument_parser('print one Banyan message', 'SubPrint')
    parser.add_argument('--topic', default='')
    parser.add_argument('--expect', choices=sorted(EXPECTED), default=None)
    args = parser.parse_args()
    SubPrint(args.topic, args.expect, **banyan_interop.banyan_options(args))


if __name__ == '__main__':
    main()
