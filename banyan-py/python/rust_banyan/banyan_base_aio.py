"""BanyanBaseAIO: python-banyan 3.17's ``python_banyan.banyan_base_aio.BanyanBaseAIO`` (same
constructor, banner, coroutines and exceptions) on Rust Banyan's component.

Connecting, subscribing and waiting for a message run in one worker thread of this
component's, in Rust with the GIL released; the event loop awaits them. A receive that is
cancelled keeps its wait: the next ``receive_loop`` gets its message (nothing is lost).
"""

import asyncio
import concurrent.futures
import sys

import msgpack

from rust_banyan import _common
from rust_banyan._native import ClosedError

# Longest wait of one receive in the worker thread; a closed component ends it at once.
RECEIVE_TICK = 1.0


class BanyanBaseAIO(object):
    """The asyncio base class of a Banyan component: subclass it, override the coroutine
    ``incoming_message_processing`` and ``await begin()``, as with Python Banyan."""

    def __init__(self, back_plane_ip_address=None, subscriber_port='43125',
                 publisher_port='43124', process_name='None', numpy=False,
                 external_message_processor=None, receive_loop_idle_addition=None,
                 connect_time=0.3, subscriber_list=None, event_loop=None):
        super(BanyanBaseAIO, self).__init__()
        self.backplane_exists = False
        self.back_plane_ip_address = None
        self.numpy = numpy
        self.external_message_processor = external_message_processor
        self.receive_loop_idle_addition = receive_loop_idle_addition
        self.connect_time = connect_time
        self.subscriber_list = subscriber_list
        self.my_context = None
        self.subscriber = None
        self.publisher = None
        self.the_task = None
        self.process_name = process_name
        self._codec = _common.Codec(numpy)
        self._core = None
        self._waiting = None
        self._worker = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix='rust_banyan')

        if event_loop:
            self.event_loop = event_loop
        else:
            if sys.platform == 'win32':
                asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())
            self.event_loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.event_loop)

        self._given = bool(back_plane_ip_address)
        if self._given:
            self.back_plane_ip_address = back_plane_ip_address
        else:
            self.back_plane_ip_address = _common.outward_address()
        self.subscriber_port = subscriber_port
        self.publisher_port = publisher_port

        print('\n************************************************************')
        print(str(process_name) + ' using Back Plane IP address: ' + self.back_plane_ip_address)
        print('Subscriber Port = ' + str(self.subscriber_port))
        print('Publisher  Port = ' + str(self.publisher_port))
        print('************************************************************')

    async def _in_worker(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    async def get_subscriber(self):
        return self.subscriber

    async def get_publisher(self):
        return self.publisher

    async def begin(self, start_loop=True):
        """Connects (the path proven), subscribes ``subscriber_list`` (each proven) and, with
        ``start_loop``, starts ``receive_loop`` as a task."""
        if self._core is None:
            self._core = await self._in_worker(
                _common.connect, self.process_name, self.back_plane_ip_address,
                self.publisher_port, self.subscriber_port, self.connect_time, self._given)
            self.backplane_exists = not self._core.started_in_background
            self.my_context = _common.ContextShim(self._core)
            self.subscriber = _common.SubscriberShim(self._core)
            self.publisher = _common.PublisherShim(self._core)
        if self.subscriber_list:
            for topic in self.subscriber_list:
                await self.set_subscriber_topic(topic)
        if start_loop:
            self.the_task = self.event_loop.create_task(self.receive_loop())

    async def begin_receive_loop(self):
        self.the_task = self.event_loop.create_task(self.receive_loop())

    async def start_the_receive_loop(self):
        self.the_task = self.event_loop.create_task(self.receive_loop())

    async def pack(self, data):
        return msgpack.packb(data, use_bin_type=True)

    async def unpack(self, data):
        return msgpack.unpackb(data, raw=False)

    async def numpy_pack(self, data):
        return self._codec.pack(data)

    async def numpy_unpack(self, data):
        return self._codec.unpack(data)

    async def publish_payload(self, payload, topic=''):
        """Publishes ``payload`` on ``topic`` (sending never blocks the event loop)."""
        _common.check_publish_topic(topic)
        if self.numpy:
            message = await self.numpy_pack(payload)
        else:
            message = await self.pack(payload)
        self._core.publish(topic, message)

    async def _next_message(self):
        """The next ``(topic, payload bytes)``, or None when the component was closed. The
        wait runs in the worker thread and survives a cancellation (shielded)."""
        while True:
            if self._waiting is None:
                self._waiting = asyncio.ensure_future(
                    self._in_worker(self._core.recv, RECEIVE_TICK))
            try:
                message = await asyncio.shield(self._waiting)
            except ClosedError:
                self._waiting = None
                return None
            self._waiting = None
            if message is not None:
                return message

    async def receive_loop(self):
        """Awaits each message and hands it to ``incoming_message_processing``; returns when
        the component is closed."""
        while True:
            message = await self._next_message()
            if message is None:
                return
            if self.numpy:
                payload = await self.numpy_unpack(message[1])
            else:
                payload = await self.unpack(message[1])
            await self.incoming_message_processing(message[0], payload)

    async def incoming_message_processing(self, topic, payload):
        """Override with the component's message handler (a coroutine)."""
        if self.external_message_processor:
            self.external_message_processor(topic, payload)
        else:
            print('this method should be overwritten in the child class', topic, payload)

    async def set_subscriber_topic(self, topic):
        """Subscribes to topics starting with ``topic``; returns once it is in force."""
        _common.check_subscriber_topic(topic)
        await self._in_worker(self._core.subscribe, topic)

    async def clean_up(self):
        """Closes the component; a running ``receive_loop`` returns."""
        if self._core is not None:
            self._core.close()
        self._worker.shutdown(wait=False)

