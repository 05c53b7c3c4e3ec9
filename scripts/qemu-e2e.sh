#!/usr/bin/env bash
# End-to-end test of the MCU side: the banyan-mcu echo client, as firmware in QEMU's
# lm3s6965evb (Cortex-M3), talks over its emulated PL011 UART (a TCP socket) to the real
# `banyan-gateway`, which bridges it onto a real `backplane` with an echo server.
#
#   QEMU (firmware) ══ UART = tcp:127.0.0.1:Q ══ banyan-gateway ── backplane P/S ── echo server
#
# Passes only when QEMU exits with status 0 (the firmware counted all 11 replies and exited
# through semihosting) within $E2E_TIMEOUT seconds. Prints the decoded defmt log of the
# firmware, and the logs of the host processes on failure. Every process it starts is killed by
# PID on exit, also on failure or Ctrl-C.
#
# Usage: scripts/qemu-e2e.sh [--python-server [PATH]]
#   --python-server [PATH]  use the Python Banyan echo server (python-banyan 3.17) instead of
#                           the Rust one; PATH defaults to
#                           banyan-cli/tests/python/simple_echo_server.py. The Python comes
#                           from $BANYAN_PYTHON, else .venv/bin/python, else python3.
# Environment:
#   E2E_TIMEOUT   seconds for the whole QEMU run (default 120)
#   SKIP_BUILD=1  use already-built binaries
#   CARGO_TARGET_DIR  where the host binaries are (default: <repo>/target)
# Needs: qemu-system-arm, defmt-print (cargo install defmt-print --locked), python3 (to pick
# free ports), the thumbv7m-none-eabi target.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BOARD="$REPO/boards/qemu-lm3s6965"
ELF="$BOARD/target/thumbv7m-none-eabi/release/echo"
HOST_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug"
E2E_TIMEOUT=${E2E_TIMEOUT:-120}

PY_SERVER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python-server)
      PY_SERVER="$REPO/banyan-cli/tests/python/simple_echo_server.py"
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then PY_SERVER="$2"; shift; fi
      ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

for tool in qemu-system-arm defmt-print python3; do
  command -v "$tool" >/dev/null || { echo "qemu-e2e: $tool not found" >&2; exit 2; }
done

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/qemu-e2e.XXXXXX")
PIDS=()
cleanup() {
  local status=$?
  # Newest first: gateway, QEMU, echo server, backplane.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in backplane server gateway qemu-stderr; do
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
  echo "== build firmware (boards/qemu-lm3s6965, release)"
  (cd "$BOARD" && cargo build --release --bin echo)
  echo "== build host binaries (banyan-cli)"
  (cd "$REPO" && cargo build -p banyan-cli --bins)
fi
for bin in backplane simple-echo-server banyan-gateway; do
  [ -x "$HOST_BIN/$bin" ] || { echo "qemu-e2e: $HOST_BIN/$bin missing" >&2; exit 2; }
done
[ -f "$ELF" ] || { echo "qemu-e2e: $ELF missing" >&2; exit 2; }

# Three distinct free loopback ports (the kernel picks them; a race with another process
# grabbing one in between is possible but unlikely, and fails loudly).
read -r PUB_PORT SUB_PORT QEMU_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
echo "== ports: backplane publish $PUB_PORT, subscribe $SUB_PORT; QEMU UART $QEMU_PORT"

"$HOST_BIN/backplane" --bind 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" >"$LOGS/backplane.log" 2>&1 &
PIDS+=($!)
wait_for "$LOGS/backplane.log" "Publisher +Port" 20 backplane "${PIDS[-1]}"

if [ -n "$PY_SERVER" ]; then
  PYTHON=${BANYAN_PYTHON:-}
  if [ -z "$PYTHON" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
  fi
  [ -f "$PY_SERVER" ] || { echo "qemu-e2e: $PY_SERVER not found" >&2; exit 2; }
  echo "== echo server: Python ($PYTHON $PY_SERVER)"
  "$PYTHON" -u "$PY_SERVER" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" --prove \
    >"$LOGS/server.log" 2>&1 &
  PIDS+=($!)
  wait_for "$LOGS/server.log" "ready" 30 "Python echo server" "${PIDS[-1]}"
else
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

# The gateway keeps retrying the connection until QEMU listens.
"$HOST_BIN/banyan-gateway" --tcp "127.0.0.1:$QEMU_PORT" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" \
  >"$LOGS/gateway.log" 2>&1 &
PIDS+=($!)

set +e
wait "$QEMU_PID"
STATUS=$?
set -e
END=$(date +%s.%N)

echo "== firmware log (defmt)"
defmt-print -e "$ELF" <"$LOGS/defmt.bin" || echo "(defmt-print failed)"
echo
ELAPSED=$(python3 -c "print(f'{$END - $START:.2f}')")
case "$STATUS" in
  0) echo "== PASS: echo complete, QEMU exited 0 after ${ELAPSED}s" ;;
  124) echo "== FAIL: QEMU still running after ${E2E_TIMEOUT}s (killed)" ;;
  *) echo "== FAIL: QEMU exited with status $STATUS after ${ELAPSED}s" ;;
esac
exit "$STATUS"
