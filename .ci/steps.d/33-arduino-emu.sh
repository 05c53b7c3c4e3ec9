#!/usr/bin/env bash
# Issue 26, item 4: the unmodified StandardFirmata for the Uno (avrgirl-arduino 5.0.1's image,
# sha256-pinned) on avr8js (boards/arduino-uno/emu): npm ci, fetch and verify the image, the
# harness's node tests (image hash, HEX reader, measurements, end-to-end Firmata over the
# emulated USART, raw Firmata vs pyfirmata2 side by side), then scripts/arduino-emu.sh (the
# side by side through the shell functions the ardgw runs will use). Prints its duration.
set -euo pipefail
STEP_START=$(date +%s)

source .ci/need-npm.sh
EMU=boards/arduino-uno/emu
echo "== node $(node --version), npm $(npm --version); npm ci in $EMU"
(cd "$EMU" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
echo "== firmware: npm pack avrgirl-arduino@5.0.1, sha256 check"
sh "$EMU/fetch-firmware.sh"
echo "== node --test (CI=true: the Python side by side may not skip)"
(cd "$EMU" && CI=true timeout 600 node --test --test-concurrency=1 test/)
echo "== scripts/arduino-emu.sh"
timeout 300 scripts/arduino-emu.sh
echo "== Uno under emulation: $(( $(date +%s) - STEP_START ))s"
