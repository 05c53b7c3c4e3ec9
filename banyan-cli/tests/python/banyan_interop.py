"""Shared helpers for the interoperability scripts run by ../python_interop.rs.

Everything here uses only what a Python Banyan component uses: python-banyan's BanyanBase,
pyzmq and msgpack.

Flags (all scripts): -b ADDR -p PUBLISHER_PORT -s SUBSCRIBER_PORT -n NAME -t LOOP_TIME.
Without -b, BanyanBase scans the running processes for one whose command line contains
'backplane' (psutil) and connects to this machine's outward IPv4 address, as the seed does.
"""

import argparse
import math
import os
import struct
import sys
import time

import msgpack
import zmq


def argument_parser(description, default_name):
    """An argparse parser with Python Banyan's component flags."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('-b', dest='back_plane_ip_address', default='None',
                        help='None or IP address used by the backplane')
    parser.add_argument('-p', dest='publisher_port', default='43124',
                        help='Publisher IP port')
    parser.add_argument('-s', dest='subscriber_port', default='43125',
                        help='Subscriber IP port')
    parser.add_argument('-n', dest='process_name', default=default_name,
                        help='Set process name in banner')
    parser.add_argument('-t', dest='loop_time', default='.1',
                        help='Event loop timer in seconds')
    return parser


def banyan_options(args):
    """BanyanBase keyword arguments from the parsed flags (ports stay strings, as in Banyan)."""
    options = {
        'publisher_port': str(args.publisher_port),
        'subscriber_port': str(args.subscriber_port),
        'process_name': args.process_name,
        'loop_time': float(args.loop_time),
    }
    if args.back_plane_ip_address != 'None':
        options['back_plane_ip_address'] = args.back_plane_ip_address
    return options


PROBE_MARK = '_ready_probe/'


def is_probe(topic):
    """True for a probe of `prove_subscription`. Probes are sent every 100 ms until one comes
    back, so on a slow path (a backplane under Wine, a loaded machine) later ones still
    arrive after the proof: the receive loop drops them with this."""
    return PROBE_MARK in topic


def prove_subscription(component, prefix, timeout=30.0):
    """Proves that the backplane applies this component's subscription to `prefix`.

    Publishes a probe on a topic that starts with `prefix` (so the subscription already
    covers it) until the probe comes back through the backplane. Messages of other topics
    received meanwhile are returned, in order, for the caller to process. Probes of other
    processes that share the prefix are dropped. Raises RuntimeError after `timeout` seconds.
    """
    probe_prefix = prefix + PROBE_MARK
    topic = '%s%d' % (probe_prefix, os.getpid())
    payload = msgpack.packb({'ready_probe': os.getpid()}, use_bin_type=True)
    held = []
    deadline = time.monotonic() + timeout
    poller = zmq.Poller()
    poller.register(component.subscriber, zmq.POLLIN)
    while time.monotonic() < deadline:
        component.publisher.send_multipart([topic.encode(), payload])
        if poller.poll(100):
            while True:
                try:
                    frames = component.subscriber.recv_multipart(zmq.NOBLOCK)
                except zmq.error.Again:
                    break
                received = frames[0].decode()
                if received == topic:
                    return held
                if received.startswith(probe_prefix):
                    continue
                held.append((received, msgpack.unpackb(frames[1], raw=False)))
    raise RuntimeError('subscription to %r not applied within %ss' % (prefix, timeout))


def first_difference(actual, expected, path='payload'):
    """None when `actual` equals `expected` strictly (same types, floats bit for bit), else
    a description of the first difference. Python's == would call True == 1 == 1.0 equal."""
    if type(actual) is not type(expected):
        return '%s: type %s != %s (%r vs %r)' % (
            path, type(actual).__name__, type(expected).__name__, actual, expected)
    if isinstance(expected, dict):
        if list(actual.keys()) != list(expected.keys()):
            return '%s: keys %r != %r' % (path, list(actual.keys()), list(expected.keys()))
        for key in expected:
            difference = first_difference(actual[key], expected[key], '%s[%r]' % (path, key))
            if difference:
                return difference
        return None
    if isinstance(expected, list):
        if len(actual) != len(expected):
            return '%s: length %d != %d' % (path, len(actual), len(expected))
        for index, (a, e) in enumerate(zip(actual, expected)):
            difference = first_difference(a, e, '%s[%d]' % (path, index))
            if difference:
                return difference
        return None
    if isinstance(expected, float):
        same = struct.pack('>d', actual) == struct.pack('>d', expected) or (
            math.isnan(actual) and math.isnan(expected))
        return None if same else '%s: %r != %r' % (path, actual, expected)
    return None if actual == expected else '%s: %r != %r' % (path, actual, expected)


def say(*words):
    """print() that flushes, for readers of a pipe."""
    print(*words)
    sys.stdout.flush()
