"""rust_banyan's own tests against a real Rust Banyan backplane (conftest.py): the wire
bytes against the real msgpack and msgpack-numpy packages and raw pyzmq, the exceptions,
the receive loop's GIL release, idle callback and Ctrl-C, the pyzmq shims, the background
connection. No timing is asserted; the measured Ctrl-C delay is printed."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import msgpack
import pytest
import zmq

import rust_banyan
from rust_banyan import BanyanBase, BanyanError

# Payloads of many msgpack kinds: ints at every width boundary, floats, strings of every
# length class, bytes, nested lists and maps, None and bools.
KINDS = [
    {},
    {'message_number': 10},
    {'int': [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1,
             2 ** 64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2 ** 31, -2 ** 31 - 1,
             -2 ** 63]},
    {'float': [0.0, -0.0, 1.5, 1e300, -2.5e-300, float('inf'), float('-inf')]},
    {'str': ['', 'a', 'x' * 31, 'x' * 32, 'y' * 255, 'y' * 256, 'z' * 65536, 'äöü€😀']},
    {'bytes': [b'', b'\x00\xff', b'b' * 256, b'c' * 65536]},
    {'nested': {'list': [1, [2, [3, {'deep': None}]]], 'flags': [True, False, None]}},
    {'map16': {str(i): i for i in range(16)}, 'list16': list(range(16))},
    {'unicode key ü': 'value', '': 0},
]


def raw_subscriber(backplane, topic):
    """A plain pyzmq SUB socket on the backplane: what any Python Banyan peer sees."""
    context = zmq.Context.instance()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
    socket.connect('tcp://%s:%s' % (backplane.address, backplane.subscriber_port))
    return socket


def first_frames(component, socket, topic, payload, timeout=30.0):
    """Publishes ``payload`` on ``topic`` until ``socket`` receives a message (slow joiner
    of the raw socket), returns its frames."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        component.publish_payload(payload, topic)
        if socket.poll(100):
            return socket.recv_multipart()
    raise AssertionError('nothing arrived on %r' % topic)


def test_payload_bytes_are_msgpack_packb_bytes(backplane):
    component = BanyanBase(**backplane.options(process_name='bytes'))
    socket = raw_subscriber(backplane, 'kinds')
    try:
        for index, payload in enumerate(KINDS):
            topic = 'kinds%d' % index
            frames = first_frames(component, socket, topic, payload)
            assert frames[0] == topic.encode()
            assert frames[1] == msgpack.packb(payload, use_bin_type=True), payload
    finally:
        socket.close()
        component.clean_up()


def test_numpy_payload_bytes_are_msgpack_numpy_bytes(backplane):
    numpy = pytest.importorskip('numpy')
    msgpack_numpy = pytest.importorskip('msgpack_numpy')
    component = BanyanBase(**backplane.options(process_name='numpy', numpy=True))
    socket = raw_subscriber(backplane, 'matrix')
    payload = {'matrix': numpy.arange(12, dtype=numpy.float64).reshape(3, 4),
               'ints': numpy.array([1, 2, 3], dtype=numpy.int16), 'n': 7}
    try:
        frames = first_frames(component, socket, 'matrix', payload)
        assert frames[1] == msgpack.packb(payload, default=msgpack_numpy.encode)
        back = component._codec.unpack(frames[1])
        assert (back['matrix'] == payload['matrix']).all()
        assert back['ints'].dtype == numpy.int16 and back['n'] == 7
    finally:
        socket.close()
        component.clean_up()


def test_received_payloads_are_msgpack_unpackb_values(backplane):
    """A Python Banyan-style raw publisher (pyzmq + msgpack) to a rust_banyan receive loop."""
    received = []

    class Receiver(BanyanBase):
        def incoming_message_processing(self, topic, payload):
            received.append((topic, payload))
            if len(received) == len(KINDS):
                self.clean_up()

    receiver = Receiver(**backplane.options(process_name='receiver'))
    receiver.set_subscriber_topic('kinds')
    publisher = BanyanBase(**backplane.options(process_name='publisher'))
    for index, payload in enumerate(KINDS):
        publisher.publisher.send_multipart(
            [b'kinds', msgpack.packb(payload, use_bin_type=True)])
    receiver.receive_loop()  # returns when the receiver closes itself
    publisher.clean_up()
    assert received == [('kinds', msgpack.unpackb(msgpack.packb(p, use_bin_type=True),
                                                  raw=False)) for p in KINDS]


def test_exceptions_are_python_banyans(backplane):
    component = BanyanBase(**backplane.options(process_name='exceptions'))
    with pytest.raises(TypeError) as error:
        component.set_subscriber_topic(8)
    assert error.value.args == ('Subscriber topic must be python_banyan string',)
    with pytest.raises(TypeError) as error:
        component.publish_payload({'payload': 1}, ['b'])
    assert error.value.args == ('Publish topic must be python_banyan string', 'topic')
    component.clean_up()
    component.clean_up()  # twice is harmless, as Python Banyan's
    with pytest.raises(RuntimeError):
        component.publish_payload({'payload': 1}, 'b')
    assert issubclass(BanyanError, RuntimeError)


def test_no_backplane_is_pythons_runtime_error_without_an_address():
    """Without an address Python Banyan raises RuntimeError when no backplane runs; here the
    outward address is tried on ports where nothing listens."""
    with pytest.raises(RuntimeError) as error:
        BanyanBase(subscriber_port='1', publisher_port='2', process_name='nobody')
    assert 'Backplane is not running - please start it.' in str(error.value)


def test_a_given_address_without_backplane_connects_in_background(backplane):
    """Python Banyan given an address never fails to start; the path is proven once a
    backplane answers. Here: ports where nothing listens yet."""
    component = BanyanBase(back_plane_ip_address='127.0.0.1', publisher_port='2',
                           subscriber_port='1', process_name='early')
    assert component.back_plane_ip_address == '127.0.0.1'
    assert component.backplane_exists is False
    assert component.path_state() in ('lost', 'proving')
    component.set_subscriber_topic('anything')  # not proven yet: kept for the path proof
    component.clean_up()
    assert component.path_state() == 'closed'


def test_receive_loop_releases_the_gil_and_calls_idle(backplane):
    """While receive_loop waits, another Python thread runs (the GIL is free) and its
    publish reaches the loop; receive_loop_idle_addition is called while idle."""
    idle_calls = []
    got = []

    class Loop(BanyanBase):
        def incoming_message_processing(self, topic, payload):
            got.append(payload)
            self.clean_up()

    loop = Loop(**backplane.options(process_name='loop', loop_time=0.05,
                                    receive_loop_idle_addition=lambda: idle_calls.append(1)))
    loop.set_subscriber_topic('wake')
    sender = BanyanBase(**backplane.options(process_name='sender'))
    counted = []

    def other_thread():
        # Pure-Python work: only possible while the loop's thread has released the GIL.
        while len(idle_calls) < 3:
            counted.append(1)
            time.sleep(0.01)
        sender.publish_payload({'from': 'thread'}, 'wake')

    thread = threading.Thread(target=other_thread)
    thread.start()
    loop.receive_loop()
    thread.join(30)
    sender.clean_up()
    assert got == [{'from': 'thread'}]
    assert len(idle_calls) >= 3 and counted


def test_publish_from_another_thread_while_the_loop_waits(backplane):
    """A publish on the waiting component itself (its handle queue) from a second thread."""
    seen = []

    class Both(BanyanBase):
        def incoming_message_processing(self, topic, payload):
            seen.append(payload['n'])
            if len(seen) == 20:
                self.clean_up()

    both = Both(**backplane.options(process_name='both'))
    both.set_subscriber_topic('self')

    def publish():
        time.sleep(0.2)
        for n in range(20):
            both.publish_payload({'n': n}, 'self')

    thread = threading.Thread(target=publish)
    thread.start()
    both.receive_loop()
    thread.join(30)
    assert seen == list(range(20))


def test_subscriber_shim_nonblocking_receive_raises_zmq_again(backplane):
    """The Tk examples' polling: self.subscriber.recv_multipart(zmq.NOBLOCK)."""
    component = BanyanBase(**backplane.options(process_name='tk'))
    component.set_subscriber_topic('tk')
    with pytest.raises(zmq.error.Again):
        component.subscriber.recv_multipart(zmq.NOBLOCK)
    component.publish_payload({'x': 1}, 'tk')
    frames = component.get_subscriber().recv_multipart()
    assert frames == [b'tk', msgpack.packb({'x': 1}, use_bin_type=True)]
    component.subscriber.setsockopt(zmq.UNSUBSCRIBE, b'tk')
    component.my_context.term()
    assert component.path_state() == 'closed'


CTRL_C_SCRIPT = textwrap.dedent('''
    import sys
    from rust_banyan import BanyanBase
    b = BanyanBase(back_plane_ip_address=sys.argv[1], publisher_port=sys.argv[2],
                   subscriber_port=sys.argv[3], process_name='ctrl-c', loop_time=3600)
    b.set_subscriber_topic('never')
    print('waiting', flush=True)
    try:
        b.receive_loop()
    except KeyboardInterrupt:
        print('KeyboardInterrupt', b.path_state(), flush=True)
        sys.exit(3)
''')


def test_ctrl_c_raises_keyboard_interrupt_and_cleans_up(backplane):
    process = subprocess.Popen(
        [sys.executable, '-c', CTRL_C_SCRIPT, backplane.address, backplane.publisher_port,
         backplane.subscriber_port], stdout=subprocess.PIPE, text=True,
        # A shell's background job ignores SIGINT; start with the default handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while 'waiting' not in process.stdout.readline():
            assert process.poll() is None, 'ended before waiting'
        time.sleep(0.3)  # inside the Rust wait, GIL released
        start = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 3
        print('Ctrl-C to exit: %.0f ms' % ((time.monotonic() - start) * 1000))
        assert 'KeyboardInterrupt closed' in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_package_exports():
    assert rust_banyan.BanyanBase is BanyanBase
    assert hasattr(rust_banyan, 'BanyanBaseAIO')
