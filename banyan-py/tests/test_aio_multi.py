"""BanyanBaseAIO and BanyanBaseMulti against a real Rust Banyan backplane (conftest.py)."""

import asyncio
import os

import msgpack
import pytest
import zmq

from rust_banyan import BanyanBase, BanyanBaseAIO, BanyanBaseMulti


def test_aio_echo_round_trips_and_clean_up(backplane):
    """An async echo server and an async client on rust_banyan: 20 round trips."""
    replies = []

    class Server(BanyanBaseAIO):
        async def incoming_message_processing(self, topic, payload):
            await self.publish_payload(payload, 'reply')

    class Client(BanyanBaseAIO):
        async def incoming_message_processing(self, topic, payload):
            replies.append(payload['n'])
            if payload['n'] > 0:
                await self.publish_payload({'n': payload['n'] - 1}, 'echo')

    async def run():
        loop = asyncio.get_running_loop()
        server = Server(**backplane.options(process_name='aio server', event_loop=loop,
                                            subscriber_list=['echo']))
        client = Client(**backplane.options(process_name='aio client', event_loop=loop,
                                            subscriber_list=['reply']))
        await server.begin()
        await client.begin()
        assert server.backplane_exists and client.backplane_exists
        await client.publish_payload({'n': 19}, 'echo')
        for _ in range(600):
            if len(replies) == 20:
                break
            await asyncio.sleep(0.05)
        await client.clean_up()
        await server.clean_up()
        # The receive loops end by themselves once their components are closed.
        await asyncio.wait_for(asyncio.gather(client.the_task, server.the_task), 30)

    asyncio.run(run())
    assert replies == list(range(19, -1, -1))


def test_aio_type_errors(backplane):
    async def run():
        component = BanyanBaseAIO(**backplane.options(
            process_name='aio types', event_loop=asyncio.get_running_loop()))
        await component.begin(start_loop=False)
        with pytest.raises(TypeError):
            await component.set_subscriber_topic(5)
        with pytest.raises(TypeError):
            await component.publish_payload({'a': 1}, 5)
        assert await component.pack({'a': 1}) == msgpack.packb({'a': 1}, use_bin_type=True)
        await component.clean_up()

    asyncio.run(run())


def write_spec(tmp_path, backplane, rows):
    path = tmp_path / 'spec.csv'
    lines = ['backplane_name,ip_address,subscriber_port,subscriber_topic,publisher_port']
    for name, sub, topics, pub in rows:
        lines.append('%s,%s,%s,"%s",%s' % (name, backplane.address, sub, topics, pub))
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_multi_receives_from_two_backplanes_and_broadcasts(tmp_path, backplane):
    """Two backplanes (the fixture's and a second one), a row each with both ports, plus a
    publisher-only row: messages from both arrive, BROADCAST reaches both."""
    from conftest import Backplane
    second = Backplane()
    try:
        spec = write_spec(tmp_path, backplane, [
            ('one', backplane.subscriber_port, '[to_multi]', backplane.publisher_port),
            ('two', second.subscriber_port, '[to_multi,all]', second.publisher_port),
            ('pub_only', '', '', second.publisher_port),
        ])
        got = []

        class Multi(BanyanBaseMulti):
            def incoming_message_processing(self, topic, payload):
                got.append((topic, payload['from']))
                if len(got) == 4:
                    self.clean_up()

        multi = Multi(spec, process_name='multi')
        assert multi.find_socket('pub_only', multi.SUB_SOCK) is None
        assert multi.find_socket('pub_only', multi.PUB_SOCK) is not None
        peer_one = BanyanBase(**backplane.options(process_name='peer one'))
        peer_two = BanyanBase(**second.options(process_name='peer two'))
        peer_one.set_subscriber_topic('from_multi')
        peer_two.set_subscriber_topic('from_multi')
        multi.publish_payload({'from': 'multi'}, 'BROADCAST', 'from_multi')
        assert peer_one.subscriber.recv_multipart() == [
            b'from_multi', msgpack.packb({'from': 'multi'}, use_bin_type=True)]
        # peer two hears it twice: the 'two' row and the publisher-only row (whose plain
        # socket may lose its first messages: slow joiner, as Python Banyan).
        assert peer_two.subscriber.recv_multipart()[0] == b'from_multi'
        peer_one.publish_payload({'from': 'one'}, 'to_multi')
        peer_two.publish_payload({'from': 'two'}, 'to_multi')
        peer_two.publish_payload({'from': 'two'}, 'all')
        peer_one.publish_payload({'from': 'one'}, 'to_multi')
        multi.receive_loop()  # returns when it closed itself
        assert sorted(got) == [('all', 'two'), ('to_multi', 'one'), ('to_multi', 'one'),
                               ('to_multi', 'two')]
        peer_one.clean_up()
        peer_two.clean_up()
    finally:
        second.stop()


def test_multi_checks_the_file_as_python_banyan(tmp_path, backplane):
    with pytest.raises(ValueError):
        BanyanBaseMulti()
    with pytest.raises(ValueError):
        BanyanBaseMulti(str(tmp_path / 'missing.csv'))
    for topics, error in (('motors]', RuntimeError), ('[motors', RuntimeError),
                          ('[a, b]', RuntimeError)):
        spec = write_spec(tmp_path, backplane, [
            ('m', backplane.subscriber_port, topics, backplane.publisher_port)])
        with pytest.raises(error):
            BanyanBaseMulti(spec)
    spec = write_spec(tmp_path, backplane, [
        ('m', backplane.subscriber_port, '[a]', backplane.publisher_port),
        ('m', backplane.subscriber_port, '[b]', backplane.publisher_port)])
    with pytest.raises(RuntimeError):
        BanyanBaseMulti(spec)
    spec = write_spec(tmp_path, backplane, [
        ('m', backplane.subscriber_port, '[a]', backplane.publisher_port)])
    multi = BanyanBaseMulti(spec)
    with pytest.raises(StopIteration):
        multi.find_socket('nope', multi.PUB_SOCK)
    with pytest.raises(TypeError):
        multi.publish_payload({}, 'BROADCAST', 5)
    with pytest.raises(ValueError):
        multi.publish_payload({}, None, 't')
    multi.clean_up()
