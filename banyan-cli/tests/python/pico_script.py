"""Runs one of python-banyan 3.17's own MicroPython scripts for the Pico W, unmodified, under
CPython on loopback.

The script comes from the installed wheel
(python_banyan/utils/tcp_gateway/pico_micropython_scripts/SCRIPT). Only the hardware is
stood in for: `network` (Wi-Fi is always connected), `rp2`, `machine.Pin` (the LED) and
`umsgpack` (MicroPython's msgpack: `msgpack.packb`/`unpackb`). The scripts bind the fixed
port 31335; here that bind goes to 127.0.0.1 and an OS-chosen port instead, printed as
`PICO_PORT <port>` so the test can point tgw at it.

usage: pico_script.py SCRIPT   (e.g. select.py, messages_from_pico.py)
"""
import os
import runpy
import socket
import sys
import types

import msgpack
import python_banyan.utils.tcp_gateway as tcp_gateway

script = os.path.join(os.path.dirname(tcp_gateway.__file__), "pico_micropython_scripts",
                      sys.argv[1])


class WLAN:
    def __init__(self, interface):
        pass

    def active(self, on):
        pass

    def config(self, **settings):
        pass

    def connect(self, ssid, password):
        pass

    def isconnected(self):
        return True

    def status(self):
        return 3

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")


class Pin:
    OUT = 1
    IN = 0

    def __init__(self, name, mode=None):
        self.name = name

    def on(self):
        print(f"LED {self.name} on", flush=True)

    def off(self):
        print(f"LED {self.name} off", flush=True)


network = types.ModuleType("network")
network.STA_IF = 0
network.WLAN = WLAN
rp2 = types.ModuleType("rp2")
rp2.country = lambda code: None
machine = types.ModuleType("machine")
machine.Pin = Pin
umsgpack = types.ModuleType("umsgpack")
umsgpack.dumps = lambda value: msgpack.packb(value, use_bin_type=True)
umsgpack.loads = lambda data: msgpack.unpackb(data, raw=False)
sys.modules.update(network=network, rp2=rp2, machine=machine, umsgpack=umsgpack)

PICO_PORT = 31335


class LoopbackSocket(socket.socket):
    """The scripts' server socket: port 31335 becomes 127.0.0.1 and a free port."""

    def bind(self, address):
        host, port = address
        if port == PICO_PORT:
            super().bind(("127.0.0.1", 0))
            print(f"PICO_PORT {self.getsockname()[1]}", flush=True)
        else:
            super().bind(address)


socket.socket = LoopbackSocket
# The script's own prints (every frame it sends or gets) show up unbuffered.
sys.stdout.reconfigure(line_buffering=True)
# Not sys.path[0] = the script's directory: `select.py` would import itself as `select`.
runpy.run_path(script, run_name="__main__")
