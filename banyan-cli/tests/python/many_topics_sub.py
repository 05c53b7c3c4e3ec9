"""A raw pyzmq subscriber with many topics, pyzmq defaults (what a new user writes).

usage: many_topics_sub.py SUBSCRIBER_PORT TOPICS EXPECTED

Subscribes to TOPICS topics (topic00000, topic00001, ...), waits 0.3 s as Python Banyan does
after connecting, prints "ready", then counts the messages it receives until EXPECTED came or
nothing came for 3 s, and prints "received N".
"""
import sys
import time

import zmq

port, topics, expected = (int(arg) for arg in sys.argv[1:4])
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.connect("tcp://127.0.0.1:%d" % port)
for i in range(topics):
    sub.setsockopt(zmq.SUBSCRIBE, b"topic%05d" % i)
time.sleep(0.3)
print("ready", flush=True)
received = 0
while received < expected and sub.poll(3000):
    sub.recv_multipart()
    received += 1
print("received %d" % received, flush=True)
