"""What BanyanBase, BanyanBaseAIO and BanyanBaseMulti share: the payload codec, the
backplane address, the connection, and the pyzmq-like socket shims.

Written from python-banyan 3.17's behaviour (banyan_base.py): same codec calls, same
address detection, same messages; where it differs is listed in docs/python.md.
"""

import socket

import msgpack

from rust_banyan._native import Core

# pyzmq's values of the constants user code passes to the shims (zmq.NOBLOCK, zmq.SUBSCRIBE,
# zmq.UNSUBSCRIBE), so the shims work without importing pyzmq.
NOBLOCK = 1
SUBSCRIBE = 6
UNSUBSCRIBE = 7

# How long a connection proof waits at most: Python Banyan sleeps connect_time (0.3 s) and
# hopes; a proof returns as soon as the path works, and waits longer for a slow backplane.
MIN_CONNECT_TIMEOUT = 2.0

try:  # the exception pyzmq raises for an empty NOBLOCK receive, when pyzmq is installed
    from zmq.error import Again
except ImportError:  # pragma: no cover - pyzmq is not a dependency
    class Again(Exception):
        """Raised by a NOBLOCK recv_multipart when no message is queued (as zmq.error.Again)."""


class Codec(object):
    """Python Banyan's payload calls: msgpack.packb(payload, use_bin_type=True) and
    msgpack.unpackb(data, raw=False), or msgpack-numpy's with numpy=True."""

    def __init__(self, numpy=False):
        self.numpy = numpy
        if numpy:
            try:
                import msgpack_numpy
            except ImportError:
                raise RuntimeError('numpy=True needs msgpack-numpy: '
                                   'pip install "rust_banyan[numpy]"')
            # As Python Banyan: the monkey patch, process-wide.
            msgpack_numpy.patch()
            self._m = msgpack_numpy

    def pack(self, payload):
        if self.numpy:
            return msgpack.packb(payload, default=self._m.encode)
        return msgpack.packb(payload, use_bin_type=True)

    def unpack(self, data):
        if not self.numpy:
            return msgpack.unpackb(data, raw=False)
        payload = msgpack.unpackb(data, object_hook=self._m.decode)
        # Python Banyan's compensation for msgpack-numpy 0.4.2's byte keys, kept as it is
        # (with byte keys present, only the converted keys remain).
        payload2 = {}
        for key, value in payload.items():
            if not type(key) == str:
                key = key.decode('utf-8')
                payload2[key] = value
        if payload2:
            payload = payload2
        return payload


def outward_address():
    """This machine's outward IPv4 address, as Python Banyan finds it (a UDP connect to
    8.8.8.8 sends nothing), else 127.0.0.1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(('8.8.8.8', 1))
        return s.getsockname()[0]
    except Exception:
        return '127.0.0.1'
    finally:
        s.close()


def port_number(port, what):
    """A port given as Python Banyan takes it (a string, or an int) as a number."""
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise ValueError('%s must be a port number, not %r' % (what, port))
    if not 0 < number < 65536:
        raise ValueError('%s must be a port number, not %r' % (what, port))
    return number


def connect(process_name, address, publisher_port, subscriber_port, connect_time, given):
    """The Rust component, its path proven. Without a given address a missing backplane is
    Python Banyan's RuntimeError; with one, the component waits for it in the background
    (Python Banyan given an address does not fail either)."""
    return Core(str(process_name), address,
                port_number(publisher_port, 'publisher_port'),
                port_number(subscriber_port, 'subscriber_port'),
                max(MIN_CONNECT_TIMEOUT, float(connect_time)), bool(given))


def check_subscriber_topic(topic):
    """Python Banyan's check and message."""
    if not type(topic) is str:
        raise TypeError('Subscriber topic must be python_banyan string')


def check_publish_topic(topic):
    """Python Banyan's check and exception arguments."""
    if not type(topic) is str:
        raise TypeError('Publish topic must be python_banyan string', 'topic')


class SubscriberShim(object):
    """What code written for Python Banyan does with ``self.subscriber`` (a pyzmq SUB socket):
    ``recv_multipart([zmq.NOBLOCK])``, ``setsockopt(zmq.SUBSCRIBE / zmq.UNSUBSCRIBE, topic)``,
    ``subscribe``, ``unsubscribe``, ``close``. Other socket calls raise AttributeError."""

    def __init__(self, core):
        self._core = core

    def recv_multipart(self, flags=0, copy=True, track=False):
        """``[topic bytes, payload bytes]``; with NOBLOCK and nothing queued raises
        ``zmq.error.Again``. A blocking call waits with the GIL released."""
        if flags & NOBLOCK:
            message = self._core.recv(0.0)
            if message is None:
                raise Again('Resource temporarily unavailable')
        else:
            message = None
            while message is None:
                message = self._core.recv(3600.0)
        return [message[0].encode(), message[1]]

    def setsockopt(self, option, value):
        topic = value.decode() if isinstance(value, bytes) else value
        if option == SUBSCRIBE:
            self._core.subscribe(topic)
        elif option == UNSUBSCRIBE:
            self._core.unsubscribe(topic)
        else:
            raise NotImplementedError('rust_banyan sockets support only SUBSCRIBE and '
                                      'UNSUBSCRIBE, not option %r' % (option,))

    def subscribe(self, topic):
        self.setsockopt(SUBSCRIBE, topic)

    def unsubscribe(self, topic):
        self.setsockopt(UNSUBSCRIBE, topic)

    def close(self, linger=None):
        self._core.close()


class PublisherShim(object):
    """What code written for Python Banyan does with ``self.publisher`` (a pyzmq PUB socket):
    ``send_multipart([topic, payload])`` with already-packed bytes, and ``close``."""

    def __init__(self, core):
        self._core = core

    def send_multipart(self, frames, flags=0, copy=True, track=False):
        if len(frames) != 2:
            raise ValueError('a Banyan message is [topic, payload], not %d frames'
                             % len(frames))
        topic, payload = frames
        if isinstance(topic, str):
            topic = topic.encode()
        self._core.publish(topic.decode(), bytes(payload))

    def close(self, linger=None):
        self._core.close()


class ContextShim(object):
    """``self.my_context``: ``term()`` and ``destroy()`` close the component."""

    def __init__(self, core):
        self._core = core

    def term(self):
        self._core.close()

    def destroy(self, linger=None):
        self._core.close()
