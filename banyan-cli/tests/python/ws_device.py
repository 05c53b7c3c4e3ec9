"""A Python Banyan component behind ws-gateway, as a OneGPIO gateway would be.

Subscribes to `to_pydevice`; for every message publishes on `from_pydevice`
{"report": "echo", "got": PAYLOAD, "timestamp": 1700000000.75}. Prints `ready` once subscribed.

    ws_device.py -b ADDR -p PORT -s PORT
"""

import argparse
import sys

from python_banyan.banyan_base import BanyanBase

TIMESTAMP = 1700000000.75


class Device(BanyanBase):
    def __init__(self, **options):
        super(Device, self).__init__(process_name='WsDevice', **options)
        self.set_subscriber_topic('to_pydevice')
        print('ready', flush=True)
        try:
            self.receive_loop()
        except KeyboardInterrupt:
            self.clean_up()
            sys.exit(0)

    def incoming_message_processing(self, topic, payload):
        print('got', topic, repr(payload), flush=True)
        self.publish_payload({'report': 'echo', 'got': payload, 'timestamp': TIMESTAMP},
                             'from_pydevice')


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('-b', dest='back_plane_ip_address')
    parser.add_argument('-p', dest='publisher_port')
    parser.add_argument('-s', dest='subscriber_port')
    args = parser.parse_args()
    Device(back_plane_ip_address=args.back_plane_ip_address,
           publisher_port=args.publisher_port, subscriber_port=args.subscriber_port)
