#!/usr/bin/env bash
# Runs the Raspberry Pi builds under QEMU user-mode emulation against native x86-64 components,
# on loopback only, and passes only when every echo message arrives:
#
#   1. emulated backplane  + native simple-echo-server + native simple-echo-client
#   2. native backplane    + native simple-echo-server + emulated simple-echo-client
#
# for each Pi target (aarch64-unknown-linux-gnu under qemu-aarch64, armv7-unknown-linux-gnueabihf
# under qemu-arm). A run passes when the client exits 0 printing "N messages sent and received."
# and the server printed "Message number: N" ... "Message number: 0" (N + 1 lines, in order).
#
#   scripts/pi-emulated-echo.sh [aarch64|armv7|all]     (default: all)
#
# Builds what it needs first (no-ops when up to date): the Pi binaries with scripts/pi-build.sh
# and the native ones with `cargo build -p banyan-cli --bins`.
# Environment:
#   PI_SKIP_BUILD=1     use the binaries already in <target dir>/pi/<triple> and target/debug
#   ECHO_MESSAGES=N     count the client starts from (default 10)
#   CONNECT_TIMEOUT=S   the components' --connect-timeout (default 20: emulated start-up is slow)
#   STEP_TIMEOUT=S      upper bound for each wait (default 120)
# Needs: apt-get install qemu-user (plus the cross toolchains, see scripts/pi-build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

MESSAGES=${ECHO_MESSAGES:-10}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-20}
STEP_TIMEOUT=${STEP_TIMEOUT:-120}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac

case "${1:-all}" in
  aarch64) ARCHES=(aarch64) ;;
  armv7) ARCHES=(armv7) ;;
  all) ARCHES=(aarch64 armv7) ;;
  *) echo "usage: $0 [aarch64|armv7|all]" >&2; exit 2 ;;
esac

triple_of() {
  case "$1" in
    aarch64) echo aarch64-unknown-linux-gnu ;;
    armv7) echo armv7-unknown-linux-gnueabihf ;;
  esac
}
# QEMU user-mode emulator and the cross toolchain's sysroot (ld.so, libc, libstdc++).
qemu_of() {
  case "$1" in
    aarch64) echo "qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
    armv7) echo "qemu-arm -L /usr/arm-linux-gnueabihf" ;;
  esac
}

for arch in "${ARCHES[@]}"; do
  emulator=$(qemu_of "$arch")
  command -v "${emulator%% *}" >/dev/null || {
    echo "pi-emulated-echo: ${emulator%% *} not found; install: apt-get install qemu-user" >&2
    exit 1
  }
done

if [ -z "${PI_SKIP_BUILD:-}" ]; then
  echo "=== building: native binaries, then Pi binaries"
  cargo build -p banyan-cli --bins
  for arch in "${ARCHES[@]}"; do
    bash scripts/pi-build.sh "$arch"
  done
fi
NATIVE="$TARGET_DIR/debug"
for bin in backplane simple-echo-server simple-echo-client; do
  [ -x "$NATIVE/$bin" ] || { echo "pi-emulated-echo: missing $NATIVE/$bin" >&2; exit 1; }
done

# The scripts' one process runner (PIDS ended by PID on any exit, log tails on failure,
# waits with deadlines, the backplane on ports it binds itself).
LIB_NAME=pi-emulated-echo
HOST_BIN=$NATIVE
# shellcheck source=scripts/lib.sh
source "$REPO/scripts/lib.sh"
lib_start backplane server client
BACKPLANE_WAIT=$STEP_TIMEOUT

# echo_run NAME BACKPLANE_CMD SERVER CLIENT_CMD: one echo through a fresh backplane on ports
# it binds itself. BACKPLANE_CMD and CLIENT_CMD are strings: an optional emulator prefix and
# a binary path; SERVER is the native simple-echo-server.
echo_run() {
  local name=$1 server=$3 client=$4 started ports
  started=$(date +%s%N)
  BACKPLANE_CMD="$2 -n $name" start_backplane
  ports=(-b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" --connect-timeout "$CONNECT_TIMEOUT")

  "$server" "${ports[@]}" >"$LOGS/server.log" 2>&1 &
  PIDS+=($!)
  # The banner comes after the server's subscription is proven in place (a probe round trip).
  wait_for "$LOGS/server.log" '^Publisher  Port = ' "$STEP_TIMEOUT" "echo server" "${PIDS[-1]}"

  local client_status=0
  # shellcheck disable=SC2086 # the command string is split on purpose
  timeout "$STEP_TIMEOUT" $client "${ports[@]}" -m "$MESSAGES" --reply-timeout "$CONNECT_TIMEOUT" \
    >"$LOGS/client.log" 2>&1 || client_status=$?
  lib_stop_all

  if [ "$client_status" != 0 ]; then
    echo "FAIL $name: client exited with status $client_status" >&2
    return 1
  fi
  if ! grep -qx "$MESSAGES messages sent and received." "$LOGS/client.log"; then
    echo "FAIL $name: client did not print '$MESSAGES messages sent and received.'" >&2
    return 1
  fi
  local expected actual
  expected=$(seq "$MESSAGES" -1 0 | sed 's/^/Message number: /')
  actual=$(grep '^Message number' "$LOGS/server.log" || true)
  if [ "$actual" != "$expected" ]; then
    echo "FAIL $name: server printed $(grep -c '^Message number' "$LOGS/server.log" || true)" \
      "'Message number' lines, expected $((MESSAGES + 1)) from $MESSAGES down to 0" >&2
    return 1
  fi
  local ms=$(( ($(date +%s%N) - started) / 1000000 ))
  printf 'PASS %-28s %3d.%03d s (backplane ports %s/%s)\n' "$name" $((ms / 1000)) $((ms % 1000)) \
    "$PUB_PORT" "$SUB_PORT"
}

for arch in "${ARCHES[@]}"; do
  triple=$(triple_of "$arch")
  emulator=$(qemu_of "$arch")
  PI="$TARGET_DIR/pi/$triple"
  for bin in backplane simple-echo-client; do
    [ -x "$PI/$bin" ] || { echo "pi-emulated-echo: missing $PI/$bin (run scripts/pi-build.sh)" >&2; exit 1; }
  done
  echo "=== $triple under ${emulator%% *}"
  echo_run "$arch-emulated-backplane" "$emulator $PI/backplane" \
    "$NATIVE/simple-echo-server" "$NATIVE/simple-echo-client"
  echo_run "$arch-emulated-client" "$NATIVE/backplane" \
    "$NATIVE/simple-echo-server" "$emulator $PI/simple-echo-client"
done
echo "pi-emulated-echo: all runs passed"
