#!/usr/bin/env bash
# Issue 26, item 4: an emulated Arduino Uno running the unmodified StandardFirmata image
# (avrgirl-arduino 5.0.1's, sha256-pinned) in avr8js (boards/arduino-uno/emu), and the same
# OneGPIO script driven through raw Firmata bytes and through the real Python client
# pyfirmata2 (on a socat pty), the pins read through the harness's control port after every
# step (side-by-side.mjs), then an F9 through the pty of `emu_pty` (the path a gateway that
# opens a serial device takes):
#
#   harness (ATmega328P + StandardFirmata) ══ serial = tcp:127.0.0.1:S ══ socat pty ══ pyfirmata2
#             └── control port (JSON lines): pins, ADC, PWM/servo, reset ══ side-by-side.mjs
#
# then the same board through Rust Banyan's Firmata gateway and a Python Banyan peer
# (boards/arduino-uno/emu/ardgw_check.py, python-banyan's BanyanBase):
#
#   harness ══ tcp:127.0.0.1:S ══ ardgw --tcp ── backplane ── ardgw_check.py (OneGPIO)
#      └── control port ═══════════════════════════════════════════┘ (pins, ADC, drop, reset)
#
# ardgw_check: D13 levels, D2 reports on both edges, A0 reports of two ADC values, PWM duty on
# D9, a servo pulse on D10, bad values answered by error reports, a 200-command burst whole
# and in order (its drain time printed), a dropped TCP stream and a board reset with every
# pin setting restored by ardgw alone.
#
# Usage: scripts/arduino-emu.sh [--serve]
#   --serve   start the harness, print its ports and keep it running until Ctrl-C (by hand:
#             point a Firmata client at the serial port, `emu_ctl` requests at the control port)
# Environment: BANYAN_PYTHON (Python with pyfirmata2; else .venv/bin/python, else python3).
# Needs node (>= 20), npm, socat, python3 (with python-banyan for the ardgw run), and the host
# binaries backplane and ardgw in target/debug (cargo build -p banyan-cli --bins).
# Functions to reuse: scripts/arduino-emu-lib.sh.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
HOST_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug"
SERVE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --serve) SERVE=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "arduino-emu: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

LIB_NAME=arduino-emu
# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"
# shellcheck source=scripts/arduino-emu-lib.sh
. "$REPO/scripts/arduino-emu-lib.sh"
lib_python
for tool in socat python3; do
  command -v "$tool" >/dev/null || { echo "arduino-emu: $tool not found" >&2; exit 2; }
done
lib_start uno backplane ardgw ardgw_check
START=$(date +%s.%N)

emu_prepare
emu_start
echo "== harness: serial 127.0.0.1:$ARDUINO_SERIAL_PORT, control 127.0.0.1:$ARDUINO_CONTROL_PORT"
if [ -n "$SERVE" ]; then
  echo "== serving until Ctrl-C (log: $LOGS/uno.log)"
  wait "$EMU_PID"
  exit 0
fi

echo "== side by side: raw Firmata and pyfirmata2 ($PYTHON) on the same emulated StandardFirmata"
node "$UNO_EMU/side-by-side.mjs" --serial-port "$ARDUINO_SERIAL_PORT" \
  --control-port "$ARDUINO_CONTROL_PORT" --python "$PYTHON"

echo "== a serial device: emu_pty, REPORT_VERSION (F9) through the pty"
emu_pty
python3 - "$ARDUINO_TTY" <<'PY'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
os.write(fd, bytes([0xF9]))
got, deadline = b"", time.monotonic() + 30
while b"\xf9\x02\x04" not in got:
    if time.monotonic() > deadline or not select.select([fd], [], [], deadline - time.monotonic())[0]:
        sys.exit(f"arduino-emu: no F9 02 04 through {sys.argv[1]} (got {got.hex()})")
    got += os.read(fd, 64)
print(f"   {sys.argv[1]}: F9 answered with f90204 (Firmata 2.4)")
PY
echo "== ardgw --tcp on the same board, a Rust backplane, a Python Banyan peer ($PYTHON)"
for bin in backplane ardgw; do
  [ -x "$HOST_BIN/$bin" ] || { echo "arduino-emu: $HOST_BIN/$bin missing (cargo build -p banyan-cli --bins)" >&2; exit 2; }
done
# A fresh board, as opening a real Uno's port gives (the side by side left a servo on D10,
# whose Timer1 also drives D9's PWM).
emu_ctl '{"op":"reset"}' >/dev/null
start_backplane
"$HOST_BIN/ardgw" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" --tcp "127.0.0.1:$ARDUINO_SERIAL_PORT" \
  >"$LOGS/ardgw.out" 2>"$LOGS/ardgw.log" &
ARDGW_PID=$!
PIDS+=("$ARDGW_PID")
timeout 600 "$PYTHON" "$UNO_EMU/ardgw_check.py" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" \
  -t 60 --control-port "$ARDUINO_CONTROL_PORT" >"$LOGS/ardgw_check.log" 2>&1 \
  || { echo "== FAIL: ardgw_check (logs below)"; exit 1; }
grep '^==' "$LOGS/ardgw_check.log"
kill -TERM "$ARDGW_PID"
wait "$ARDGW_PID" 2>/dev/null || true
echo "== ardgw log:"
sed 's/\x1b\[[0-9;]*m//g' "$LOGS/ardgw.log"
tail -n 1 "$LOGS/ardgw.out"

STATS=$(emu_ctl '{"op":"stats"}')
echo "== harness stats: $STATS"
# The harness's promise: emulated time never ran ahead of wall time.
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["emulated_us"] <= s["wall_us"] else 1)' \
  "$STATS" || { echo "== FAIL: emulated time ran ahead of wall time"; exit 1; }
echo "== harness exit:"
emu_stop
echo "== PASS after $(python3 -c "import time; print(f'{time.time() - $START:.1f}')")s"
