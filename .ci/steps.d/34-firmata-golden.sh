#!/usr/bin/env bash
# Issue 26 (Firmata codec in banyan-proto): the golden data `cargo test` checks the codec
# against is recorded again from the real peers and must be unchanged:
# - the bytes pymata4 and pyfirmata2 (.ci/pip.d/firmata.txt) write for each call, through a
#   pty with a fake Uno (banyan-proto/tests/firmata_golden/capture.py, ~45 s);
# - the replies of the unmodified StandardFirmata for the Uno (avrgirl-arduino 5.0.1's hex)
#   under avr8js 0.21.1, both from the Uno harness boards/arduino-uno/emu (standard_firmata.js,
#   ~5 s).
# Comment lines (they name the Python version) are not compared.
set -euo pipefail
STEP_START=$(date +%s)
GOLDEN=banyan-proto/tests/firmata_golden
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

compare() { # committed file, fresh file
  if ! diff <(grep -v '^#' "$1") <(grep -v '^#' "$2"); then
    echo "firmata golden: $1 differs from a fresh recording (above); rerun the script named in its header" >&2
    exit 1
  fi
  echo "firmata golden: $1 reproduced"
}

echo "== pymata4 / pyfirmata2 through a pty"
timeout 300 "$BANYAN_PYTHON" "$GOLDEN/capture.py" --out "$work" 2>"$work/capture.log" \
  || { cat "$work/capture.log" >&2; exit 1; }
compare "$GOLDEN/pymata4.txt" "$work/pymata4.txt"
compare "$GOLDEN/pyfirmata2.txt" "$work/pyfirmata2.txt"

echo "== StandardFirmata (Uno) under avr8js"
source .ci/need-npm.sh
# The Uno harness's pinned avr8js and its sha256-checked image (33-arduino-emu.sh has usually
# fetched both already; both commands are then quick).
EMU=boards/arduino-uno/emu
[ -d "$EMU/node_modules/avr8js" ] \
  || (cd "$EMU" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
sh "$EMU/fetch-firmware.sh"
timeout 120 node "$GOLDEN/standard_firmata.js" "$work" >/dev/null
compare "$GOLDEN/standard_firmata_uno.txt" "$work/standard_firmata_uno.txt"
echo "firmata golden: done in $(( $(date +%s) - STEP_START ))s"
