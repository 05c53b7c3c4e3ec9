# Shared by the scripts that run processes (qemu-e2e.sh, pico-emu.sh, arduino-emu.sh,
# pi-emulated-echo.sh); sourced, not run.
# What they need, written once: the Python to use, the processes a run starts (killed by PID,
# newest first, on any exit, with the tails of their logs on failure), waiting for a process's
# ready line, a backplane on the ports it binds itself (`-p 0 -s 0`, read from its banner),
# and the echo server peer. The one process runner of the scripts (the Rust tests have theirs
# in banyan-testkit): every script that starts processes sources it.
#
# Before sourcing, set:
#   REPO      the repository root
#   LIB_NAME  the script's name, for its error messages
#   HOST_BIN  where the host binaries are (target/debug)
# Then call `lib_start LOG...` (the logs whose tails a failed run prints) and use the rest.

# PYTHON: $BANYAN_PYTHON, else the repository's .venv, else python3.
lib_python() {
  PYTHON=${BANYAN_PYTHON:-}
  if [ -z "$PYTHON" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
  fi
}

# Makes LOGS (a fresh directory) and PIDS (processes to end on exit), and sets the traps.
lib_start() {
  LIB_LOG_NAMES=("$@")
  LOGS=$(mktemp -d "${TMPDIR:-/tmp}/$LIB_NAME.XXXXXX")
  PIDS=()
  trap lib_cleanup EXIT
  trap 'exit 130' INT TERM
}

# lib_stop_all: ends every process in PIDS by PID (newest first), reaps them and empties
# PIDS; for a script that runs several rounds, each on fresh processes.
lib_stop_all() {
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

# The EXIT trap: ends every process in PIDS (lib_stop_all), prints the log tails when the run
# failed, removes LOGS and exits with the run's status.
lib_cleanup() {
  local status=$? log
  lib_stop_all
  if [ "$status" -ne 0 ]; then
    for log in "${LIB_LOG_NAMES[@]}"; do
      if [ -s "$LOGS/$log.log" ]; then
        echo "---- $log ----"
        tail -n 40 "$LOGS/$log.log"
      fi
    done
  fi
  rm -rf "$LOGS"
  exit "$status"
}

# wait_for FILE PATTERN SECONDS WHAT PID: waits until FILE holds a line matching PATTERN
# (grep -E); fails when process PID exited first or after SECONDS.
wait_for() {
  local file=$1 pattern=$2 seconds=$3 what=$4 pid=$5
  local deadline=$(($(date +%s) + seconds))
  until grep -qE "$pattern" "$file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$LIB_NAME: $what exited before it was ready" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$LIB_NAME: $what not ready after ${seconds}s" >&2
      return 1
    fi
    sleep 0.05
  done
}

# free_ports N: N distinct free loopback ports, picked by the kernel, on one line — only for
# a peer that must be told its port before it starts (QEMU's `-serial tcp:`); every Rust
# binary binds port 0 and says which port it got.
free_ports() {
  python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))' "$1"
}

# banner_number FILE LABEL: the number after LABEL (e.g. `Publisher  Port =`) in FILE.
banner_number() {
  sed -n "s/^$2 *\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1
}

# start_backplane [EXTRA]: a backplane on 127.0.0.1 and ports the kernel picks (`-p 0 -s 0`:
# no race between picking a port and binding it), read from its banner into PUB_PORT and
# SUB_PORT; added to PIDS. EXTRA more free ports for the caller land in EXTRA_PORTS (see
# free_ports). BACKPLANE_CMD (default "$HOST_BIN/backplane"; split into words, so it may
# start with an emulator) and BACKPLANE_WAIT (seconds for its banner, default 20) change
# which backplane and how long it may take.
start_backplane() {
  local extra=${1:-0} pid
  # shellcheck disable=SC2086 # an emulator prefix is split on purpose
  ${BACKPLANE_CMD:-"$HOST_BIN/backplane"} --bind 127.0.0.1 -p 0 -s 0 >"$LOGS/backplane.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_for "$LOGS/backplane.log" "^Loop Time" "${BACKPLANE_WAIT:-20}" backplane "$pid" || return 1
  PUB_PORT=$(banner_number "$LOGS/backplane.log" "Publisher  Port =")
  SUB_PORT=$(banner_number "$LOGS/backplane.log" "Subscriber Port =")
  if [ -z "$PUB_PORT" ] || [ -z "$SUB_PORT" ]; then
    echo "$LIB_NAME: no ports in the backplane's banner" >&2
    return 1
  fi
  EXTRA_PORTS=()
  if [ "$extra" -gt 0 ]; then
    read -r -a EXTRA_PORTS < <(free_ports "$extra")
  fi
}

# start_echo_server [PY_SERVER]: the echo peer on the backplane, added to PIDS: Python
# Banyan's server script when PY_SERVER is given, else the Rust simple-echo-server.
start_echo_server() {
  local server=${1:-}
  if [ -n "$server" ]; then
    [ -f "$server" ] || { echo "$LIB_NAME: $server not found" >&2; return 2; }
    echo "== echo server: Python Banyan ($PYTHON $server)"
    "$PYTHON" -u "$server" -b 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" --prove \
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
}

# The tail every firmware run shares (qemu-e2e.sh, pico-emu.sh):

# run_peer SCRIPT ARG...: the Python Banyan peer SCRIPT on the backplane (`-b 127.0.0.1 -p
# PUB_PORT -s SUB_PORT`, then ARG...), in the foreground within PEER_TIMEOUT seconds (default
# 600), added to PIDS, its log printed after. Its exit status lands in PEER_STATUS: the run
# still collects the firmware's outcome and log before it fails.
run_peer() {
  local script=$1 pid
  shift
  echo "== peer: Python Banyan ($PYTHON $script)"
  timeout "${PEER_TIMEOUT:-600}" "$PYTHON" -u "$script" -b 127.0.0.1 -p "$PUB_PORT" \
    -s "$SUB_PORT" "$@" >"$LOGS/peer.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  PEER_STATUS=0
  wait "$pid" || PEER_STATUS=$?
  echo "== peer log"
  cat "$LOGS/peer.log"
}

# firmware_status PID WHAT SERVES_FOREVER: the outcome of the process running the firmware
# (QEMU, the rp2040js harness) in STATUS. With SERVES_FOREVER=1 (a firmware that never ends
# by itself) it must still be running after the peer's last step: it is then ended (SIGTERM)
# and STATUS is 0; if it had ended, STATUS is its status, at least 1. Otherwise STATUS is
# its exit status.
firmware_status() {
  local pid=$1 what=$2 forever=$3
  STATUS=0
  if [ "$forever" = 1 ]; then
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    else
      wait "$pid" || STATUS=$?
      echo "== $what exited (status $STATUS) before the end of the test"
      [ "$STATUS" -ne 0 ] || STATUS=1
    fi
  else
    wait "$pid" || STATUS=$?
  fi
}

# defmt_log ELF: the firmware's defmt output ($LOGS/defmt.bin) decoded with ELF's symbols into
# $LOGS/defmt.log (a failed decode is said, not fatal).
defmt_log() {
  defmt-print -e "$1" <"$LOGS/defmt.bin" >"$LOGS/defmt.log" 2>&1 || echo "(defmt-print failed)"
}
