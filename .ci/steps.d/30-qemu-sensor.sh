#!/usr/bin/env bash
# Issue 9: the `sensor` firmware in QEMU through the real gateway and backplane, read and
# commanded (rate, then stop) by a Python Banyan component; passes only on QEMU exit 0.
# Firmware from scripts/build-boards.sh, host binaries from `cargo test` (target/debug).
set -euo pipefail
SKIP_BUILD=1 scripts/qemu-e2e.sh --app sensor
