//! Unit tests of the Telemetrix gateway core.
