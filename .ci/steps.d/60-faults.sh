#!/usr/bin/env bash
# Issue 11 item 5: the fault suite (the `banyan-faults` crate), real processes on
# loopback, QEMU for the MCU reboot (its echo firmware is built earlier by build-boards.sh).
# Every fault runs (see banyan-faults/README.md), issue 18's subscription-flood and
# many-topics-burst included.
# Prints one line per fault and `FAULTS survived=N/M lost=K`; fails unless all survive.
set -euo pipefail
# Host binaries (incremental after `cargo test`): the commands, banyan-serial-echo, the runner.
cargo build -q --workspace --bins
target/debug/banyan-faults
