"""Flags shared by the benchmark scripts (run by banyan-bench's `python` section).

Every script is a python-banyan 3.17 `BanyanBase` component (or rust_banyan's, see
IMPLEMENTATION) with its defaults (loop time
0.1 s, 0.3 s connect sleep, default high-water marks). The backplane address is always given
with -b, so BanyanBase does not scan processes for a backplane.
"""

import argparse
import os

# The implementation under test (banyan-bench's python section sets these): Python Banyan's
# BanyanBase, or rust_banyan's with the one import changed; and the loop time (default 0.1 s).
IMPLEMENTATION = os.environ.get('BANYAN_BENCH_IMPL', 'python_banyan')
if IMPLEMENTATION == 'rust_banyan':
    from rust_banyan import BanyanBase  # noqa: F401 (the scripts import it from here)
elif IMPLEMENTATION == 'python_banyan':
    from python_banyan.banyan_base import BanyanBase  # noqa: F401
else:
    raise SystemExit('BANYAN_BENCH_IMPL must be python_banyan or rust_banyan, not %r'
                     % IMPLEMENTATION)
LOOP_TIME = os.environ.get('BANYAN_BENCH_LOOP_TIME')


def parser(description):
    """An argparse parser with the backplane flags -b ADDR -p PUB_PORT -s SUB_PORT."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('-b', dest='address', required=True, help='backplane IP address')
    p.add_argument('-p', dest='publisher_port', required=True, help='publisher port')
    p.add_argument('-s', dest='subscriber_port', required=True, help='subscriber port')
    return p


def options(args, name):
    """BanyanBase keyword arguments for the parsed flags (ports are strings, as in Banyan)."""
    options = {
        'back_plane_ip_address': args.address,
        'publisher_port': str(args.publisher_port),
        'subscriber_port': str(args.subscriber_port),
        'process_name': name,
    }
    if LOOP_TIME:
        options['loop_time'] = float(LOOP_TIME)
    return options
