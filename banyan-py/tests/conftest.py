"""Fixtures of rust_banyan's own tests: a real Rust Banyan backplane on ephemeral loopback
ports (the `backplane` binary: $BANYAN_BACKPLANE, else the workspace's target/debug), ended
by the test that started it, also on failure."""

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def backplane_binary():
    path = os.environ.get('BANYAN_BACKPLANE') or os.path.join(REPO, 'target', 'debug',
                                                              'backplane')
    if not os.path.isfile(path):
        pytest.fail('no backplane binary at %s (cargo build -p banyan-cli --bin backplane, '
                    'or set BANYAN_BACKPLANE)' % path)
    return path


class Backplane(object):
    """A running backplane: ``address``, ``publisher_port``, ``subscriber_port`` (strings,
    as Python Banyan takes them)."""

    def __init__(self):
        self.process = subprocess.Popen(
            [backplane_binary(), '--bind', '127.0.0.1', '-p', '0', '-s', '0'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.address = '127.0.0.1'
        ports = {}
        banner = []
        while len(ports) < 2:
            line = self.process.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError('backplane ended before its banner: %r' % banner)
            banner.append(line)
            match = re.match(r'(Subscriber|Publisher) +Port = (\d+)', line.strip())
            if match:
                ports[match.group(1)] = match.group(2)
        self.publisher_port = ports['Publisher']
        self.subscriber_port = ports['Subscriber']

    def options(self, **more):
        options = dict(back_plane_ip_address=self.address,
                       publisher_port=self.publisher_port,
                       subscriber_port=self.subscriber_port)
        options.update(more)
        return options

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def backplane():
    running = Backplane()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def python():
    return sys.executable
