"""A board gateway as the Scratch 3 OneGPIO extension sees it, for the `wsgw` tests.

Subscribes to `to_<board>_gateway` and prints every payload it receives as
`got <json.dumps(payload)>` (types kept: 1 and 1.0 print differently). Answers the reporter
blocks' set-mode commands with the reports s3-extend 1.35's gateways publish on
`from_<board>_gateway` (`arduino_gateway.py`: digital_input/analog_input with a timestamp,
sonar_data without). Prints `ready` once subscribed.

    scratch_board.py -d arduino -b ADDR -p PORT -s PORT
"""

import argparse
import json
import sys

from python_banyan.banyan_base import BanyanBase

TIMESTAMP = 1700000000.75


class Board(BanyanBase):
    def __init__(self, board, **options):
        super(Board, self).__init__(process_name='ScratchBoard', **options)
        self.reports = 'from_%s_gateway' % board
        self.set_subscriber_topic('to_%s_gateway' % board)
        print('ready', flush=True)
        try:
            self.receive_loop()
        except KeyboardInterrupt:
            self.clean_up()
            sys.exit(0)

    def incoming_message_processing(self, topic, payload):
        print('got', json.dumps(payload), flush=True)
        command = payload.get('command')
        if command == 'set_mode_digital_input':
            report = {'report': 'digital_input', 'pin': payload['pin'], 'value': 1,
                      'timestamp': TIMESTAMP}
        elif command == 'set_mode_analog_input':
            report = {'report': 'analog_input', 'pin': payload['pin'], 'value': 512,
                      'timestamp': TIMESTAMP}
        elif command == 'set_mode_sonar':
            report = {'report': 'sonar_data', 'value': 42}
        else:
            return
        self.publish_payload(report, self.reports)


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('-d', dest='board', default='arduino')
    parser.add_argument('-b', dest='back_plane_ip_address')
    parser.add_argument('-p', dest='publisher_port')
    parser.add_argument('-s', dest='subscriber_port')
    args = parser.parse_args()
    Board(args.board, back_plane_ip_address=args.back_plane_ip_address,
          publisher_port=args.publisher_port, subscriber_port=args.subscriber_port)
