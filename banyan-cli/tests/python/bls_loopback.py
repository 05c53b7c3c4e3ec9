"""Runs python-banyan 3.17's own `bls` with its backplane address fixed to 127.0.0.1.

Python's bls has no -b flag: its BanyanBase looks for the machine's outward address. Tests
stay on loopback, so this wrapper gives BanyanBase a default address and then runs the
unmodified `bls()` entry point with the command line it was given (-f -p -s).
"""
import sys

from python_banyan.banyan_base import BanyanBase

_original_init = BanyanBase.__init__


def _loopback_init(self, back_plane_ip_address=None, *args, **kwargs):
    _original_init(self, back_plane_ip_address or "127.0.0.1", *args, **kwargs)


BanyanBase.__init__ = _loopback_init

from python_banyan.utils.banyan_launcher.bls import bls  # noqa: E402

sys.argv[0] = "bls"
bls()
