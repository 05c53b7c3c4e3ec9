"""A Python Banyan component subscribed to several topics with set_subscriber_topic.

usage: banyan_topics_sub.py SUBSCRIBER_PORT PUBLISHER_PORT TOPICS EXPECTED

Prints "ready" once subscribed, then "received N" when EXPECTED messages came or nothing came
for 3 s.
"""
import os
import sys
import threading
import time

from python_banyan.banyan_base import BanyanBase

sub_port, pub_port, topics, expected = (int(arg) for arg in sys.argv[1:5])


class Counter(BanyanBase):
    def __init__(self):
        super().__init__(back_plane_ip_address="127.0.0.1", subscriber_port=str(sub_port),
                         publisher_port=str(pub_port), process_name="banyan_topics_sub",
                         loop_time=0.001)
        for i in range(topics):
            self.set_subscriber_topic("topic%05d" % i)
        self.received = 0
        self.last = time.monotonic()
        time.sleep(0.3)
        print("ready", flush=True)
        threading.Thread(target=self.watchdog, daemon=True).start()
        self.receive_loop()

    def incoming_message_processing(self, topic, payload):
        self.received += 1
        self.last = time.monotonic()
        if self.received >= expected:
            self.done()

    def watchdog(self):
        while time.monotonic() - self.last < 3:
            time.sleep(0.1)
        self.done()

    def done(self):
        print("received %d" % self.received, flush=True)
        os._exit(0)


Counter()
