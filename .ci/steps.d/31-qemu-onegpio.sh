#!/usr/bin/env bash
# Issue 10: the `onegpio` firmware in QEMU (virtual pin bank) through the real gateway and
# backplane, driven by a Python Banyan OneGPIO component: digital loopback, analog reports,
# three invalid commands answered by three error reports, still serving afterwards.
# Firmware from scripts/build-boards.sh, host binaries from `cargo test` (target/debug).
set -euo pipefail
SKIP_BUILD=1 scripts/qemu-e2e.sh --app onegpio
