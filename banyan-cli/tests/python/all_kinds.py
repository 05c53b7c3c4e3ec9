"""A Banyan payload holding every msgpack kind, shared by pub_all_kinds.py and sub_print.py.

The Rust twin is `all_kinds()` in ../python_interop.rs; both sides must agree value for value
and, encoded, byte for byte. Run this file to print msgpack.packb(ALL_KINDS, use_bin_type=True)
as hex.

Keys are str (BanyanBase decodes with msgpack's strict_map_key: int keys raise ValueError)
and listed in sorted order at every level, so an encoder that sorts keys and one that keeps
insertion order produce the same bytes. Only lists, never tuples: msgpack decodes arrays
as lists.
"""

import msgpack

ALL_KINDS = {
    'array_empty': [],
    'array_long': list(range(20)),  # array 16
    'array_mixed': [1, 'two', None, True, 2.5, b'\x03'],
    'array_nested': [[1, [2, [3, []]]], [{'k': 'v'}]],
    'bin_256': bytes(range(256)),  # bin 16
    'bin_empty': b'',
    'bin_short': b'\x00\xff\x7f\x80',
    'bool_false': False,
    'bool_true': True,
    'float_big': 1e300,
    'float_inf': float('inf'),
    'float_neg_inf': float('-inf'),
    'float_neg_zero': -0.0,
    'float_pi': 3.141592653589793,
    'float_small': -2.5e-300,
    'float_whole': 2.0,
    'int_neg': [-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649,
                -9223372036854775808],
    'int_pos': [0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
                9223372036854775807, 9223372036854775808, 18446744073709551615],
    'map_empty': {},
    'map_long': {'k%02d' % i: i for i in range(16)},  # map 16
    'map_nested': {'inner': {'deeper': {'deepest': [None]}}, 'n': 1},
    'nil': None,
    'str_256': 'x' * 256,  # str 16
    'str_40': 'y' * 40,  # str 8
    'str_empty': '',
    'str_unicode': 'h\u00e9llo w\u00f6rld \u2713 \U0001f980',
}


def packed():
    """ALL_KINDS as Python Banyan puts it on the wire."""
    return msgpack.packb(ALL_KINDS, use_bin_type=True)


if __name__ == '__main__':
    print(packed().hex())
