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

PYTHON=${BANYAN_PYTHON:-}
if [ -z "$PYTHON" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi

for tool in qemu-system-arm defmt-print python3; do
  command -v "$tool" >/dev/null || { echo "qemu-e2e: $tool not found" >&2; exit 2; }
done

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/qemu-e2e.XXXXXX")
PIDS=()
cleanup() {
  local status=$?
  # Newest first: peer, gateway, QEMU, echo server, backplane.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in backplane server gateway peer qemu-stderr; do
      if [ -s "$LOGS/$log.log" ]; then
        echo "---- $log ----"
        tail -n 40 "$LOGS/$log.log"
      fi
    done
  fi
  rm -rf "$LOGS"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until FILE contains PATTERN (grep -E), or fails after SECONDS.
wait_for() {
  local file=$1 pattern=$2 seconds=$3 what=$4 pid=$5
  local deadline=$(($(date +%s) + seconds))
  until grep -qE "$pattern" "$file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "qemu-e2e: $what exited before it was ready" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "qemu-e2e: $what not ready after ${seconds}s" >&2
      return 1
    fi
    sleep 0.1
  done
}

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

# Three distinct free loopback ports, picked by the kernel. On a busy machine another
# process's outgoing connection can take a port between the pick and the bind (the kernel
# hands freed ports out as source ports), so the backplane's start is retried with new ports.
pick_ports() {
  read -r PUB_PORT SUB_PORT QEMU_PORT < <(python3 - <<'PYEOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PYEOF
)
}
for attempt in 1 2 3 4 5; do
  pick_ports
  echo "== app $APP; ports: backplane publish $PUB_PORT, subscribe $SUB_PORT; QEMU UART $QEMU_PORT"
  "$HOST_BIN/backplane" --bind 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" >"$LOGS/backplane.log" 2>&1 &
  BACKPLANE_PID=$!
  if wait_for "$LOGS/backplane.log" "Publisher +Port" 20 backplane "$BACKPLANE_PID"; then
    PIDS+=($BACKPLANE_PID)
    break
  fi
  wait "$BACKPLANE_PID" 2>/dev/null || true
  if [ "$attempt" -eq 5 ] || ! grep -q "already in use" "$LOGS/backplane.log"; then
    PIDS+=($BACKPLANE_PID)
    exit 1
  fi
  echo "qemu-e2e: a port was taken meanwhile; picking new ones"
done

if [ "$APP" = echo ] && [ -n "$PY_SERVER" ]; then
  [ -f "$PY_SERVER" ] || { echo "qemu-e2e: $PY_SERVER not found" >&2; exit 2; }
  echo "== echo server: Python ($PYTHON $PY_SERVER)"
  "$PYTHON" -u "$PY_SERVER" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" --prove \
    >"$LOGS/server.log" 2>&1 &
  PIDS+=($!)
  wait_for "$LOGS/server.log" "ready" 30 "Python echo server" "${PIDS[-1]}"
elif [ "$APP" = echo ]; then
  echo "== echo server: Rust (simple-echo-server)"
  "$HOST_BIN/simple-echo-server" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" \
    >"$LOGS/server.log" 2>&1 &
  PIDS+=($!)
  wait_for "$LOGS/server.log" "Publisher +Port" 20 "echo server" "${PIDS[-1]}"
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
  PEER="$BOARD/tests/python/${APP}_check.py"
  # sensor_check.py: --timeout for the whole run; onegpio_check.py: -t per step.
  if [ "$APP" = sensor ]; then PEER_ARGS=(--timeout "$E2E_TIMEOUT"); else PEER_ARGS=(-t 60); fi
  echo "== peer: Python Banyan ($PYTHON $PEER)"
  set +e
  "$PYTHON" -u "$PEER" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" "${PEER_ARGS[@]}" \
    >"$LOGS/peer.log" 2>&1 &
  PEER_PID=$!
  PIDS+=($PEER_PID)
  wait "$PEER_PID"
  PEER_STATUS=$?
  set -e
  echo "== peer log"
  cat "$LOGS/peer.log"
fi

STATUS=0
if [ "$APP" = onegpio ]; then
  # The firmware serves forever: it must still be running after the peer's last step.
  if kill -0 "$QEMU_PID" 2>/dev/null; then
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
  else
    set +e
    wait "$QEMU_PID"
    STATUS=$?
    set -e
    echo "== QEMU exited (status $STATUS) before the end of the test"
    [ "$STATUS" -ne 0 ] || STATUS=1
  fi
else
  set +e
  wait "$QEMU_PID"
  STATUS=$?
  set -e
fi
END=$(date +%s.%N)

echo "== firmware log (defmt)"
defmt-print -e "$ELF" <"$LOGS/defmt.bin" >"$LOGS/defmt.log" 2>&1 || echo "(defmt-print failed)"
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
