"""Client of the Pico harness's control port (boards/rp-pico/emu/lib/control.mjs): one JSON
request per line, one JSON reply per line. Used by the Python peers of scripts/pico-emu.sh.

    ctl = PicoControl(port)
    ctl.request('set_adc', channel=4, value=876)
    ctl.request('pin', pin=15)['level']
"""

import json
import socket


class ControlError(Exception):
    """The harness refused a request, or the control connection broke."""


class PicoControl:
    def __init__(self, port, host='127.0.0.1', timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = self.sock.makefile('r', encoding='utf-8')

    def request(self, cmd, **fields):
        fields['cmd'] = cmd
        self.sock.sendall((json.dumps(fields) + '\n').encode())
        line = self.reader.readline()
        if not line:
            raise ControlError('the harness closed the control connection')
        reply = json.loads(line)
        if not reply.get('ok'):
            raise ControlError('%s refused: %s' % (cmd, reply.get('error')))
        return reply

    def close(self):
        self.reader.close()
        self.sock.close()


def main():
    """`python pico_control.py PORT '{"cmd": "status"}'`: one request, the reply on stdout."""
    import sys
    if len(sys.argv) != 3:
        print('usage: pico_control.py PORT JSON', file=sys.stderr)
        return 2
    request = json.loads(sys.argv[2])
    ctl = PicoControl(int(sys.argv[1]))
    try:
        print(json.dumps(ctl.request(request.pop('cmd'), **request)))
    except ControlError as e:
        print('pico_control: %s' % e, file=sys.stderr)
        return 1
    finally:
        ctl.close()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
