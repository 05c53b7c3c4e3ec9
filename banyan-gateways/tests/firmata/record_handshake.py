#!/usr/bin/env python3
"""Records the answers of the unmodified StandardFirmata (avrgirl-arduino 5.0.1's Uno image)
on the emulated Uno to ardgw's handshake, as hex lines for the ardgw core's unit tests
(`standard_firmata.txt` beside this script, read by banyan-gateways/src/firmata/tests.rs).

Run on demand with the harness up (boards/arduino-uno/emu):

    node boards/arduino-uno/emu/harness.mjs > /tmp/uno.out &
    python3 banyan-gateways/tests/firmata/record_handshake.py /tmp/uno.out > banyan-gateways/tests/firmata/standard_firmata.txt

The harness's first stdout line holds its ports. Sends what the core sends: REPORT_VERSION,
the firmware query and ARE_YOU_THERE (StandardFirmata ignores it), then the capability and
analog-mapping queries.
"""
import socket, json, sys, time
ports = json.loads(open(sys.argv[1]).readline())
s = socket.create_connection(('127.0.0.1', ports['serial_port']))
s.settimeout(0.2)
def drain(t):
    buf = b''; end = time.time() + t
    while time.time() < end:
        try:
            d = s.recv(4096)
            if not d: break
            buf += d
        except socket.timeout: pass
    return buf
boot = drain(3.0)
s.sendall(bytes([0xF9, 0xF0, 0x79, 0xF7, 0xF0, 0x51, 0xF7]))
print('identity', drain(1.5).hex())
s.sendall(bytes([0xF0, 0x6B, 0xF7, 0xF0, 0x69, 0xF7]))
print('pins', drain(1.5).hex())
