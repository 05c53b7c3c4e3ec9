"""The seed's echo client and server on Python Banyan's asyncio base class, BanyanBaseAIO
(python-banyan 3.17), for the async interoperability tests (../python_aio.rs).

    aio_echo.py server [flags]   subscribes to 'echo', answers on 'reply', prints
                                 `Message number: N`; prints `NAME ready` once its
                                 subscription is proven
    aio_echo.py client [flags]   counts down from -m N (10): {'message_number': N} on 'echo',
                                 the next lower number on each reply; prints
                                 `N messages sent and received.` on the reply 0 and exits 0

Everything goes through BanyanBaseAIO's own coroutines (begin, set_subscriber_topic,
publish_payload, receive_loop, incoming_message_processing) on its event loop. As in the
BanyanBase scripts, a subscription is proven (a probe on the subscribed prefix published until
it comes back) instead of trusting the base class's 0.3 s connect sleep.
"""

import asyncio
import os
import sys

from python_banyan.banyan_base_aio.banyan_base_aio import BanyanBaseAIO

import banyan_interop


async def prove_subscription(component, prefix, timeout=30.0):
    """The asyncio counterpart of banyan_interop.prove_subscription: returns the messages of
    other topics received meanwhile, in order."""
    probe_prefix = prefix + '_ready_probe/'
    topic = '%s%d' % (probe_prefix, os.getpid())
    payload = await component.pack({'ready_probe': os.getpid()})
    held = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        await component.publisher.send_multipart([topic.encode(), payload])
        try:
            while True:
                frames = await asyncio.wait_for(component.subscriber.recv_multipart(), 0.1)
                received = frames[0].decode()
                if received == topic:
                    return held
                if received.startswith(probe_prefix):
                    continue
                held.append((received, await component.unpack(frames[1])))
        except asyncio.TimeoutError:
            pass
    raise RuntimeError('subscription to %r not applied within %ss' % (prefix, timeout))


class AioEchoServer(BanyanBaseAIO):
    """Answers every 'echo' message with the same payload on 'reply'."""

    async def run(self, name):
        await self.begin(start_loop=False)
        await self.set_subscriber_topic('echo')
        held = await prove_subscription(self, 'echo')
        banyan_interop.say(name, 'ready')
        for topic, payload in held:
            await self.incoming_message_processing(topic, payload)
        await self.receive_loop()

    async def incoming_message_processing(self, topic, payload):
        await self.publish_payload(payload, 'reply')
        banyan_interop.say('Message number:', payload['message_number'])


class AioEchoClient(BanyanBaseAIO):
    """Counts down from `count`, one echo round trip per number."""

    async def run(self, count, timeout=60.0):
        self.count = self.number = count
        self.done = asyncio.get_running_loop().create_future()
        await self.begin(start_loop=False)
        await self.set_subscriber_topic('reply')
        held = await prove_subscription(self, 'reply')
        await self.publish_payload({'message_number': self.number}, 'echo')
        for topic, payload in held:
            await self.incoming_message_processing(topic, payload)
        await self.begin_receive_loop()
        await asyncio.wait_for(self.done, timeout)
        banyan_interop.say(str(self.count) + ' messages sent and received.')

    async def incoming_message_processing(self, topic, payload):
        number = payload.get('message_number')
        if number != self.number or self.done.done():
            return  # a duplicate or stale reply
        if number == 0:
            self.done.set_result(True)
            return
        self.number -= 1
        await self.publish_payload({'message_number': self.number}, 'echo')


def main():
    role = sys.argv.pop(1) if len(sys.argv) > 1 else ''
    if role not in ('client', 'server'):
        sys.exit('usage: aio_echo.py client|server [flags]')
    name = 'AioEcho' + role.capitalize()
    parser = banyan_interop.argument_parser('Python Banyan asyncio echo ' + role, name)
    parser.add_argument('-m', dest='count', type=int, default=10,
                        help='number of messages to count down from (client)')
    args = parser.parse_args()
    options = banyan_interop.banyan_options(args)
    options.pop('loop_time')  # BanyanBaseAIO has no loop timer
    if role == 'server':
        component = AioEchoServer(**options)
        job = component.run(options['process_name'])
    else:
        component = AioEchoClient(**options)
        job = component.run(args.count)
    try:
        component.event_loop.run_until_complete(job)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == '__main__':
    main()
