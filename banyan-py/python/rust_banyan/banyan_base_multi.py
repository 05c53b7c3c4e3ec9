"""BanyanBaseMulti: python-banyan 3.17's ``python_banyan.banyan_base_multi.BanyanBaseMulti``
(the CSV descriptor file, constructor, banner, methods and exceptions) on Rust Banyan.

A row with both ports is a Rust Banyan component (path and subscriptions proven; a backplane
that does not answer yet is waited for in the background, as Python Banyan does not fail
either). A row with one port only is one plain socket as in Python Banyan (``Half``: a proof
needs both directions). ``receive_loop`` waits on every subscriber at once (one reader
thread per row, GIL released while it waits) instead of polling each row and sleeping
``loop_time`` when it is empty.
"""

import csv
import os
import queue
import sys
import threading

from rust_banyan import _common
from rust_banyan._native import ClosedError, Half

# Messages read ahead from the rows and not yet handled; a full queue holds the readers
# (libzmq's queue bound then applies: the backplane drops for this component, not memory).
READ_AHEAD = 10000

# Longest wait of a row's reader between looks at the stop flag.
READER_TICK = 0.5


class _HalfSubscriber(_common.SubscriberShim):
    """A subscriber-only row: the shim over a plain SUB socket."""


class _HalfPublisher(_common.PublisherShim):
    """A publisher-only row: the shim over a plain PUB socket."""


class _Context(object):
    """``self.my_context``: ``term()`` closes every row."""

    def __init__(self, multi):
        self._multi = multi

    def term(self):
        self._multi._close_all()

    def destroy(self, linger=None):
        self._multi._close_all()


class BanyanBaseMulti(object):
    """A component on several backplanes described by a CSV file with the header
    ``backplane_name,ip_address,subscriber_port,subscriber_topic,publisher_port``."""

    def __init__(self, back_plane_csv_file=None, process_name='None',
                 loop_time=.1, numpy=False, connect_time=0.3):
        self.SUB_SOCK = 0
        self.PUB_SOCK = 1
        if back_plane_csv_file is None:
            raise ValueError('You must specify a valid .csv backplane descriptor file')
        if not os.path.isfile(back_plane_csv_file):
            raise ValueError("Can't find backplane configuration file")
        if process_name == 'None':
            print('Warning: No Process Name Was Specified')
        self.numpy = numpy
        self.connect_time = connect_time
        self._codec = _common.Codec(numpy)
        self.loop_time = loop_time
        self.my_context = _Context(self)
        self.backplane_table = []
        self._closables = []
        print("\nUsing Backplane Descriptor File: ", back_plane_csv_file)
        try:
            self._read_table(back_plane_csv_file, process_name)
        except BaseException:
            self._close_all()
            raise
        print()
        print('Loop Time = ' + str(loop_time) + ' seconds\n')
        print('************************************************************')

    def _read_table(self, back_plane_csv_file, process_name):
        with open(back_plane_csv_file) as csvfile:
            reader = csv.DictReader(csvfile)
            print('\n************************************************************\n')
            for row in reader:
                if any(d['backplane_name'] == row['backplane_name']
                       for d in self.backplane_table):
                    raise RuntimeError('Duplicate Back Plane Name - check your .csv file')
                print(process_name + ' using ' + row['backplane_name'] +
                      ' Black plane at IP Address: ' + row['ip_address'])
                sub_port, pub_port = row['subscriber_port'], row['publisher_port']
                topics = []
                if sub_port:
                    # Python Banyan's checks of the topic field, before connecting.
                    topic_list = row['subscriber_topic'] or ''
                    if '[' not in topic_list:
                        raise RuntimeError('Topic field must begin with "[" and end with "]" ')
                    if ']' not in topic_list:
                        raise RuntimeError('Topic field must begin with "[" and end with "]" ')
                    if ' ' in topic_list:
                        raise RuntimeError('Topics may not contain a space character')
                    topics = topic_list[1:-1].split(',')
                subscriber, publisher = self._connect_row(row, process_name)
                if sub_port:
                    print('    Subscriber Port = ' + sub_port)
                    for t in topics:
                        print('        Subscribed to topic: ' + t)
                        self.set_subscriber_topic(t, subscriber)
                else:
                    print('    Subscriber Port = None Specified')
                if pub_port:
                    print('    Publisher  Port = ' + pub_port)
                else:
                    print('    Publisher  Port = None Specified')
                self.backplane_table.append(
                    {'backplane_name': row['backplane_name'], 'subscriber': subscriber,
                     'publisher': publisher})

    def _connect_row(self, row, process_name):
        address, sub_port, pub_port = row['ip_address'], row['subscriber_port'], \
            row['publisher_port']
        name = '%s/%s' % (process_name, row['backplane_name'])
        if sub_port and pub_port:
            core = _common.connect(name, address, pub_port, sub_port, self.connect_time, True)
            self._closables.append(core)
            return _common.SubscriberShim(core), _common.PublisherShim(core)
        if sub_port:
            half = Half('sub', address, _common.port_number(sub_port, 'subscriber_port'))
            self._closables.append(half)
            return _HalfSubscriber(half), None
        if pub_port:
            half = Half('pub', address, _common.port_number(pub_port, 'publisher_port'))
            self._closables.append(half)
            return None, _HalfPublisher(half)
        return None, None

    def find_socket(self, backplane, socket_type):
        """The subscriber or publisher (shim) of row ``backplane``, or None."""
        valid_socket_types = [self.PUB_SOCK, self.SUB_SOCK]
        if socket_type in valid_socket_types:
            try:
                entry = next(item for item in self.backplane_table
                             if item.get("backplane_name") == backplane)
                if socket_type == self.PUB_SOCK:
                    rval = entry['publisher']
                else:
                    rval = entry['subscriber']
                return rval
            except StopIteration:
                raise StopIteration(backplane + ' not found in table.')
        else:
            raise ValueError(str(socket_type) + ' is an illegal socket_type')

    def set_subscriber_topic(self, topic, subscriber_socket):
        """Subscribes ``subscriber_socket`` (from ``find_socket``, or any object with
        pyzmq's ``setsockopt``) to ``topic``; a row's component proves it."""
        if not type(topic) is str:
            raise TypeError('Subscriber topic must be python_banyan string')
        if subscriber_socket:
            subscriber_socket.setsockopt(_common.SUBSCRIBE, topic.encode())
        else:
            raise ValueError('set_subscriber_topic: socket is None')

    def unsubscribe_topic(self, topic, subscriber_socket):
        """Removes one subscription to ``topic``."""
        if not type(topic) is str:
            raise TypeError('Subscriber topic must be python_banyan string')
        if subscriber_socket:
            subscriber_socket.unsubscribe(topic.encode())
        else:
            raise ValueError('set_subscriber_topic: socket is None')

    def publish_payload(self, payload, publisher_socket, topic=''):
        """Publishes ``payload`` on ``topic`` to ``publisher_socket`` (from ``find_socket``),
        or to every row's publisher with ``"BROADCAST"``."""
        if not type(topic) is str:
            raise TypeError('Publish topic must be python_banyan string', 'topic')
        message = self._codec.pack(payload)
        pub_envelope = topic.encode()
        if publisher_socket == "BROADCAST":
            for element in self.backplane_table:
                if element['publisher']:
                    element['publisher'].send_multipart([pub_envelope, message])
        else:
            if publisher_socket:
                publisher_socket.send_multipart([pub_envelope, message])
            else:
                raise ValueError('Invalid publisher socket')

    def receive_loop(self):
        """Hands each message of every row to ``incoming_message_processing`` as it arrives.
        Ctrl-C: ``clean_up`` and ``sys.exit(0)``, as Python Banyan. Returns when every row
        is closed."""
        inbox = queue.Queue(READ_AHEAD)
        stop = threading.Event()
        readers = [threading.Thread(target=self._read_row, args=(element['subscriber'],
                                                                inbox, stop), daemon=True)
                   for element in self.backplane_table if element['subscriber']]
        for reader in readers:
            reader.start()
        try:
            ended = 0
            while ended < len(readers):
                try:
                    item = inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is None:
                    ended += 1
                    continue
                if isinstance(item, BaseException):
                    raise item
                topic, data = item
                self.incoming_message_processing(topic, self._codec.unpack(data))
        except KeyboardInterrupt:
            self.clean_up()
            sys.exit(0)
        finally:
            stop.set()

    @staticmethod
    def _read_row(subscriber, inbox, stop):
        """One row's reader thread: puts ``(topic, bytes)``, an exception, or None at its
        end (the row closed) into ``inbox``."""
        core = subscriber._core

        def put(item):
            while not stop.is_set():
                try:
                    return inbox.put(item, timeout=READER_TICK)
                except queue.Full:
                    continue

        try:
            while not stop.is_set():
                message = core.recv(READER_TICK)
                if message is not None:
                    put(message)
        except ClosedError:
            pass
        except BaseException as error:  # handed to the loop's thread
            put(error)
        put(None)

    def incoming_message_processing(self, topic, payload):
        """Override with the component's message handler."""
        print('this method should be overwritten in the child class', topic, payload)

    def clean_up(self):
        """Closes every row."""
        self._close_all()

    def _close_all(self):
        for closable in self._closables:
            closable.close()
