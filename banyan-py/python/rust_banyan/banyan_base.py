"""BanyanBase: python-banyan 3.17's ``python_banyan.banyan_base.BanyanBase``, same
constructor, banner, methods and exceptions, on Rust Banyan's component.

What differs on purpose (docs/python.md): no psutil scan for a ``backplane`` process (the
connection is proven instead; no backplane at the found address is the same RuntimeError),
no ``connect_time`` sleep, no ``loop_time`` sleep in ``receive_loop``; ``subscriber``,
``publisher`` and ``my_context`` are shims of the pyzmq calls Banyan code makes.
"""

from rust_banyan import _common


class BanyanBase(object):
    """The base class of a Banyan component: subclass it and override
    ``incoming_message_processing`` (and call ``receive_loop``), as with Python Banyan."""

    def __init__(self, back_plane_ip_address=None, subscriber_port='43125',
                 publisher_port='43124', process_name='None', loop_time=.1, numpy=False,
                 external_message_processor=None, receive_loop_idle_addition=None,
                 connect_time=0.3):
        super(BanyanBase, self).__init__()
        self.backplane_exists = False
        self.back_plane_ip_address = None
        self.numpy = numpy
        self.external_message_processor = external_message_processor
        self.receive_loop_idle_addition = receive_loop_idle_addition
        self.connect_time = connect_time
        self._codec = _common.Codec(numpy)

        given = bool(back_plane_ip_address)
        if given:
            self.back_plane_ip_address = back_plane_ip_address
        else:
            self.back_plane_ip_address = _common.outward_address()
        self.subscriber_port = subscriber_port
        self.publisher_port = publisher_port
        self.loop_time = loop_time

        # Connects and proves the path before the banner (Python Banyan raises its
        # RuntimeError before the banner too).
        self._core = _common.connect(process_name, self.back_plane_ip_address,
                                     publisher_port, subscriber_port, connect_time, given)
        self.backplane_exists = not self._core.started_in_background

        print('\n************************************************************')
        print(str(process_name) + ' using Back Plane IP address: ' + self.back_plane_ip_address)
        print('Subscriber Port = ' + str(self.subscriber_port))
        print('Publisher  Port = ' + str(self.publisher_port))
        print('Loop Time = ' + str(loop_time) + ' seconds')
        print('************************************************************')

        self.my_context = _common.ContextShim(self._core)
        self.subscriber = _common.SubscriberShim(self._core)
        self.publisher = _common.PublisherShim(self._core)

    def get_subscriber(self):
        """The subscriber shim (``recv_multipart``, ``setsockopt``; see _common)."""
        return self.subscriber

    def get_publisher(self):
        """The publisher shim (``send_multipart``; see _common)."""
        return self.publisher

    def set_subscriber_topic(self, topic):
        """Subscribes to every topic starting with ``topic``; returns once the backplane
        applies it (a probe round trip), so the next message on it is received."""
        _common.check_subscriber_topic(topic)
        self._core.subscribe(topic)

    def publish_payload(self, payload, topic=''):
        """Publishes ``payload`` (msgpack, as Python Banyan) on ``topic``."""
        _common.check_publish_topic(topic)
        self._core.publish(topic, self._codec.pack(payload))

    def receive_loop(self):
        """Hands each message to ``incoming_message_processing`` as it arrives (the wait is in
        Rust, GIL released); calls ``receive_loop_idle_addition`` every ``loop_time`` while
        idle. Ctrl-C: ``clean_up`` and ``KeyboardInterrupt``, as Python Banyan. Returns when
        the component is closed."""
        try:
            self._core.receive_loop(self, self._codec.unpack, float(self.loop_time))
        except KeyboardInterrupt:
            self.clean_up()
            raise KeyboardInterrupt

    def incoming_message_processing(self, topic, payload):
        """Override with the component's message handler."""
        if self.external_message_processor:
            self.external_message_processor(topic, payload)
        else:
            print('this method should be overwritten in the child class', topic, payload)

    def clean_up(self):
        """Closes the component (queued messages are sent, for at most 2 s)."""
        self._core.close()

    def path_state(self):
        """Rust Banyan's view of the connection: 'proven', 'lost', 'proving' or 'closed'."""
        return self._core.path_state()

    def stats(self):
        """Rust Banyan's counters (drops, disconnects, re-proofs) as a dict."""
        return self._core.stats()
