"""A browser page of Python Banyan's OneGPIO kind, played with the `websockets` package.

Talks to a WebSocket gateway the way Python Banyan's pages talk to `ws_gateway.py`: sends
{"id": "to_pydevice"}, then commands as JSON objects, and expects the replies of
`ws_device.py` on `from_pydevice` in the shapes Python's gateway produces (JSON object, key
order kept, a numeric `timestamp` turned into local time '%Y-%m-%d %H:%M:%S'). Also checks
that unusable input gets an error frame and the connection stays. Prints `PAGE OK` and exits
0, or prints what differed and exits 1.

    ws_page.py ws://127.0.0.1:PORT/
"""

import datetime
import json
import sys
import time

from websockets.sync.client import connect

TIMESTAMP = 1700000000.75


def fail(message):
    print('PAGE FAILED:', message, flush=True)
    sys.exit(1)


def expect_error(ws, text, code):
    ws.send(text)
    reply = json.loads(ws.recv(timeout=30))
    while 'report' in reply:  # a late echo of a repeated command
        reply = json.loads(ws.recv(timeout=30))
    if reply.get('error') != code:
        fail('%r: expected error %s, got %r' % (text, code, reply))


def main():
    url = sys.argv[1]
    with connect(url, open_timeout=30) as ws:
        expect_error(ws, 'not json', 'not_json')
        expect_error(ws, json.dumps({'name': 'no id'}), 'no_id')
        ws.send(json.dumps({'id': 'to_pydevice'}))
        command = {'command': 'digital_write', 'pin': 2, 'value': 1, 'ratio': 0.5}
        reply_text = None
        deadline = time.time() + 40
        # The device's subscription reaches the backplane at an unknown moment: repeat.
        while time.time() < deadline and reply_text is None:
            ws.send(json.dumps(command))
            try:
                reply_text = ws.recv(timeout=0.5)
            except TimeoutError:
                pass
        if reply_text is None:
            fail('no reply from the device')
        reply = json.loads(reply_text)
        expected = {
            'report': 'echo',
            'got': command,
            'timestamp': datetime.datetime.fromtimestamp(TIMESTAMP).strftime('%Y-%m-%d %H:%M:%S'),
        }
        if reply != expected:
            fail('reply %r, expected %r' % (reply, expected))
        if list(reply.keys()) != ['report', 'got', 'timestamp']:
            fail('key order %r' % list(reply.keys()))
        if list(reply['got'].keys()) != list(command.keys()):
            fail('nested key order %r' % list(reply['got'].keys()))
        expect_error(ws, '[1, 2]', 'not_an_object')
        print('PAGE OK', flush=True)


if __name__ == '__main__':
    main()
