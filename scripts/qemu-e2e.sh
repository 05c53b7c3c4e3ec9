#!/usr/bin/env bash
# End-to-end tests of the MCU side: banyan-mcu firmware in QEMU's lm3s6965evb (Cortex-M3) talks
# over its emulated PL011 UART (a TCP socket) to the real `banyan-gateway`, which bridges it
# onto a real `backplane` with a peer component:
#
#   QEMU (firmware) ══ UART = tcp:127.0.0.1:Q ══ banyan-gateway ── backplane P/S ── peer
#
# Apps (--app):
#   echo     (default) the seed's echo client; peer: the Rust echo server, or Python Banyan's
#            (--python-server). Passes when QEMU exits 0 (all 11 replies counted).
#   sensor   `sensor` firmware; peer: a Python Banyan component
#            (boards/qemu-lm3s6965/tests/python/sensor_check.py) that reads >= 5 readings on
#            sensor/lm3s6965, sends `rate` then `stop` on command/lm3s6965. Passes when the
#            peer exits 0, the firmware logged the new rate, and QEMU exits 0 (the `stop`).
#   onegpio  `onegpio` firmware (virtual pin bank); peer: a Python Banyan OneGPIO component
#            (boards/qemu-lm3s6965/tests/python/onegpio_check.py): digital loopback 2 -> 3, analog
#            reports on channel 0, three invalid commands -> three error reports, still
#            serving after them. Passes when the peer exits 0 and QEMU is still running then.
#
# Prints the decoded defmt log of the firmware, and the logs of the host processes on failure.
# Every process it starts is killed by PID on exit, also on failure or Ctrl-C.
#
# Usage: scripts/qemu-e2e.sh [--app echo|sensor|onegpio] [--python-server [PATH]] [--baud N]
#   --python-server [PATH]  (echo) use the Python Banyan echo server (python-banyan 3.17)
#                           instead of the Rust one; PATH defaults to
#                           banyan-cli/tests/python/simple_echo_server.py.
#   --baud N                put banyan-testkit's `banyan-linerate-proxy` between the gateway
#                           and QEMU: both directions paced at N baud 8N1, as a real UART
#                           (QEMU's is not baud-limited). Needs target/debug/banyan-linerate-proxy.
# Python comes from $BANYAN_PYTHON, else .venv/bin/python, else python3.
# Environment:
#   E2E_TIMEOUT   seconds for the whole QEMU run (default 120)
#   SKIP_BUILD=1  use already-built binaries
#   CARGO_TARGET_DIR  where the host binaries are (default: <repo>/target)
# Needs: qemu-system-arm, defmt-print (cargo install defmt-print --locked), python3 (to pick
# free ports), the thumbv7m-none-eabi target.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BOARD="$REPO/boards/qemu-lm3s6965"
HOST_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug"
E2E_TIMEOUT=${E2E_TIMEOUT:-120}

APP=echo
PY_SERVER=""
BAUD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --app)
      [ $# -gt 1 ] || { echo "--app needs a name" >&2; exit 2; }
      APP=$2
      shift
      ;;
    --python-server)
      PY_SERVER="$REPO/banyan-cli/tests/python/simple_echo_server.py"
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then PY_SERVER="$2"; shift; fi
      ;;
    --baud)
      [ $# -gt 1 ] || { echo "--baud needs a number" >&2; exit 2; }
      BAUD=$2
      shift
      ;;
    -h|--help) sed -n '2,39p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
case "$APP" in
  echo | sensor | onegpio) ;;
  *) echo "qemu-e2e: unknown app '$APP' (echo, sensor, onegpio)" >&2; exit 2 ;;
esac
if [ -n "$PY_SERVER" ] && [ "$APP" != echo ]; then
  echo "qemu-e2e: --python-server is for --app echo" >&2
  exit 2
fi
ELF="$BOARD/target/thumbv7m-none-eabi/release/$APP"

LIB_NAME=qemu-e2e
# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"
lib_python

for tool in qemu-system-arm defmt-print python3; do
  command -v "$tool" >/dev/null || { echo "qemu-e2e: $tool not found" >&2; exit 2; }
done

# Newest first on exit: peer, gateway, QEMU, echo server, backplane.
lib_start backplane server gateway peer qemu-stderr

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== build firmware (boards/qemu-lm3s6965, release, --bin $APP)"
  (cd "$BOARD" && cargo build --release --bin "$APP")
  echo "== build host binaries (banyan-cli)"
  (cd "$REPO" && cargo build -p banyan-cli --bins)
fi
HOST_NEEDED=(backplane banyan-gateway)
[ -n "$BAUD" ] && HOST_NEEDED+=(banyan-linerate-proxy)
[ "$APP" = echo ] && [ -z "$PY_SERVER" ] && HOST_NEEDED+=(simple-echo-server)
for bin in "${HOST_NEEDED[@]}"; do
  [ -x "$HOST_BIN/$bin" ] || { echo "qemu-e2e: $HOST_BIN/$bin missing" >&2; exit 2; }
done
[ -f "$ELF" ] || { echo "qemu-e2e: $ELF missing" >&2; exit 2; }

# The backplane's ports and QEMU's UART port, picked by the kernel.
start_backplane 1
QEMU_PORT=${EXTRA_PORTS[0]}
echo "== app $APP; ports: backplane publish $PUB_PORT, subscribe $SUB_PORT; QEMU UART $QEMU_PORT"

if [ "$APP" = echo ]; then
  start_echo_server "$PY_SERVER"
fi

echo "== QEMU lm3s6965evb (timeout ${E2E_TIMEOUT}s)"
START=$(date +%s.%N)
# wait=on: the guest does not run until the gateway has connected to the UART socket.
timeout "$E2E_TIMEOUT" qemu-system-arm -cpu cortex-m3 -M lm3s6965evb \
  -display none -monitor none \
  -semihosting-config enable=on,target=native \
  -serial "tcp:127.0.0.1:$QEMU_PORT,server=on,wait=on,nodelay=on" \
  -kernel "$ELF" >"$LOGS/defmt.bin" 2>"$LOGS/qemu-stderr.log" &
QEMU_PID=$!
PIDS+=($QEMU_PID)

GATEWAY_TARGET="127.0.0.1:$QEMU_PORT"
if [ -n "$BAUD" ]; then
  # The proxy connects to QEMU for each connection the gateway makes.
  "$HOST_BIN/banyan-linerate-proxy" --upstream "127.0.0.1:$QEMU_PORT" --baud "$BAUD" \
    >"$LOGS/linerate.log" 2>&1 &
  PIDS+=($!)
  wait_for "$LOGS/linerate.log" "listening" 20 "line-rate proxy" "${PIDS[-1]}"
  GATEWAY_TARGET=$(sed -n 's/^listening //p' "$LOGS/linerate.log" | head -1)
  echo "== UART paced at $BAUD baud 8N1 (banyan-linerate-proxy on $GATEWAY_TARGET)"
fi
# The gateway keeps retrying the connection until QEMU listens.
"$HOST_BIN/banyan-gateway" --tcp "$GATEWAY_TARGET" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" \
  >"$LOGS/gateway.log" 2>&1 &
PIDS+=($!)

# The Python Banyan peer of the sensor and onegpio apps, in the foreground with its own
# deadline; the firmware is already waiting for (or talking to) the gateway.
PEER_STATUS=0
if [ "$APP" != echo ]; then
  # sensor_check.py: --timeout for the whole run; onegpio_check.py: -t per step.
  if [ "$APP" = sensor ]; then PEER_ARGS=(--timeout "$E2E_TIMEOUT"); else PEER_ARGS=(-t 60); fi
  PEER_TIMEOUT=$((E2E_TIMEOUT + 10)) run_peer "$BOARD/tests/python/${APP}_check.py" "${PEER_ARGS[@]}"
fi

# The onegpio firmware serves forever; echo and sensor end by themselves.
firmware_status "$QEMU_PID" QEMU "$([ "$APP" = onegpio ] && echo 1 || echo 0)"
END=$(date +%s.%N)

echo "== firmware log (defmt)"
defmt_log "$ELF"
cat "$LOGS/defmt.log"
echo
ELAPSED=$(python3 -c "print(f'{$END - $START:.2f}')")

if [ "$PEER_STATUS" -ne 0 ]; then
  echo "== FAIL: the Python peer failed (status $PEER_STATUS) after ${ELAPSED}s"
  exit 1
fi
if [ "$APP" = sensor ] && ! grep -qE "rate: 250 ms" "$LOGS/defmt.log"; then
  echo "== FAIL: the firmware's log does not show the rate command (rate: 250 ms)"
  exit 1
fi
case "$STATUS" in
  0) echo "== PASS: $APP complete after ${ELAPSED}s" ;;
  124) echo "== FAIL: QEMU still running after ${E2E_TIMEOUT}s (killed)" ;;
  *) echo "== FAIL: QEMU exited with status $STATUS after ${ELAPSED}s" ;;
esac
exit "$STATUS"
