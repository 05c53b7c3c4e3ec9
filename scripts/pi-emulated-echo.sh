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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pi-emulated-echo.XXXXXX")
PIDS=()

# Stops every process this script started (each is a `timeout` wrapper, which passes SIGTERM on
# to its child), by PID only.
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
on_exit() {
  local status=$?
  stop_all
  if [ "$status" != 0 ]; then
    echo "pi-emulated-echo: FAILED; logs:" >&2
    for log in "$WORK"/*/*.log; do
      [ -e "$log" ] || continue
      echo "----- $log" >&2
      cat "$log" >&2
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# start LOG COMMAND...: runs COMMAND in the background under `timeout`, output to LOG; sets PID.
start() {
  local log=$1
  shift
  timeout "$STEP_TIMEOUT" "$@" >"$log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
}

# wait_for_line LOG REGEX PID: waits until LOG has a line matching REGEX; fails when process PID
# ends first or after STEP_TIMEOUT seconds. Prints the matching line.
wait_for_line() {
  local log=$1 regex=$2 pid=$3 deadline=$(( $(date +%s) + STEP_TIMEOUT ))
  while :; do
    if grep -E -m1 "$regex" "$log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "pi-emulated-echo: process $pid ended before printing /$regex/ ($log)" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "pi-emulated-echo: no /$regex/ in $log within ${STEP_TIMEOUT}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# echo_run NAME BACKPLANE_CMD SERVER_CMD CLIENT_CMD: one echo through a fresh backplane on
# free loopback ports. Each *_CMD is a string: an optional emulator prefix and a binary path.
echo_run() {
  local name=$1 backplane=$2 server=$3 client=$4
  local dir="$WORK/$name" started ports pub sub
  mkdir -p "$dir"
  started=$(date +%s%N)

  # -p 0 -s 0: the backplane binds free ports and prints them in its banner.
  # shellcheck disable=SC2086 # the command strings are split on purpose
  start "$dir/backplane.log" $backplane -n "$name" --bind 127.0.0.1 -p 0 -s 0
  local backplane_pid=$PID
  wait_for_line "$dir/backplane.log" '^Publisher  Port = [0-9]+$' "$backplane_pid" >/dev/null
  pub=$(sed -n 's/^Publisher  Port = \([0-9]*\)$/\1/p' "$dir/backplane.log")
  sub=$(sed -n 's/^Subscriber Port = \([0-9]*\)$/\1/p' "$dir/backplane.log")
  ports=(-b 127.0.0.1 -p "$pub" -s "$sub" --connect-timeout "$CONNECT_TIMEOUT")

  # shellcheck disable=SC2086
  start "$dir/server.log" $server "${ports[@]}"
  local server_pid=$PID
  # The banner comes after the server's subscription is proven in place (a probe round trip).
  wait_for_line "$dir/server.log" '^Publisher  Port = ' "$server_pid" >/dev/null

  local client_status=0
  # shellcheck disable=SC2086
  timeout "$STEP_TIMEOUT" $client "${ports[@]}" -m "$MESSAGES" --reply-timeout "$CONNECT_TIMEOUT" \
    >"$dir/client.log" 2>&1 || client_status=$?
  stop_all

  if [ "$client_status" != 0 ]; then
    echo "FAIL $name: client exited with status $client_status" >&2
    return 1
  fi
  if ! grep -qx "$MESSAGES messages sent and received." "$dir/client.log"; then
    echo "FAIL $name: client did not print '$MESSAGES messages sent and received.'" >&2
    return 1
  fi
  local expected actual
  expected=$(seq "$MESSAGES" -1 0 | sed 's/^/Message number: /')
  actual=$(grep '^Message number' "$dir/server.log" || true)
  if [ "$actual" != "$expected" ]; then
    echo "FAIL $name: server printed $(grep -c '^Message number' "$dir/server.log" || true)" \
      "'Message number' lines, expected $((MESSAGES + 1)) from $MESSAGES down to 0" >&2
    return 1
  fi
  local ms=$(( ($(date +%s%N) - started) / 1000000 ))
  printf 'PASS %-28s %3d.%03d s (backplane ports %s/%s)\n' "$name" $((ms / 1000)) $((ms % 1000)) \
    "$pub" "$sub"
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
