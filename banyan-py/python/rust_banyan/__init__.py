"""rust_banyan: Python Banyan's component classes backed by Rust Banyan's component.

Change one import and keep the rest of a Python Banyan component::

    from rust_banyan import BanyanBase          # was: from python_banyan.banyan_base import BanyanBase

The receive loop waits in Rust with the GIL released and wakes on a message (no
``loop_time`` sleep); connections and subscriptions are proven by a probe round trip
instead of a 0.3 s sleep; the payload bytes are ``msgpack.packb(payload, use_bin_type=True)``
(msgpack-numpy's with ``numpy=True``), as Python Banyan's. See docs/python.md.
"""

from rust_banyan._native import BanyanError, ClosedError
from rust_banyan.banyan_base import BanyanBase
from rust_banyan.banyan_base_aio import BanyanBaseAIO
from rust_banyan.banyan_base_multi import BanyanBaseMulti

__all__ = ['BanyanBase', 'BanyanBaseAIO', 'BanyanBaseMulti', 'BanyanError', 'ClosedError']
__version__ = '0.1.0'
