"""The raw forwarder Python Banyan's backplane is: zmq.proxy(SUB(''), PUB), pyzmq defaults.

usage: raw_forwarder.py  (binds both on 127.0.0.1, OS-chosen ports; prints "PUB_PORT SUB_PORT")
"""
import zmq

ctx = zmq.Context()
frontend = ctx.socket(zmq.SUB)
frontend.setsockopt(zmq.SUBSCRIBE, b"")
publisher_port = frontend.bind_to_random_port("tcp://127.0.0.1")
backend = ctx.socket(zmq.PUB)
subscriber_port = backend.bind_to_random_port("tcp://127.0.0.1")
print(publisher_port, subscriber_port, flush=True)
zmq.proxy(frontend, backend)
