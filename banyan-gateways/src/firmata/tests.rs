//! Unit tests of the ardgw core.
