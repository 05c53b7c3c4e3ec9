# Shared by the emulator scripts (scripts/qemu-e2e.sh, scripts/pico-emu.sh); sourced, not run.
# What both need, written once: the Python to use, the processes a run starts (killed by PID,
# newest first, on any exit, with the tails of their logs on failure), waiting for a process's
# ready line, a backplane on kernel-picked loopback ports, and the echo server peer.
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

# The EXIT trap: ends every process in PIDS by PID (newest first), prints the log tails when
# the run failed, removes LOGS and exits with the run's status.
lib_cleanup() {
  local status=$? i pid log
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
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

# free_ports N: N distinct free loopback ports, picked by the kernel, on one line.
free_ports() {
  python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))' "$1"
}

# start_backplane [EXTRA]: a backplane on loopback ports PUB_PORT and SUB_PORT, picked with
# EXTRA more free ports (EXTRA_PORTS, for the caller), added to PIDS. On a busy machine
# another process's outgoing connection can take a port between the pick and the bind (the
# kernel hands freed ports out as source ports), so the start is retried with new ports.
start_backplane() {
  local extra=${1:-0} attempt ports pid
  for attempt in 1 2 3 4 5; do
    read -r -a ports < <(free_ports $((2 + extra)))
    PUB_PORT=${ports[0]}
    SUB_PORT=${ports[1]}
    EXTRA_PORTS=("${ports[@]:2}")
    "$HOST_BIN/backplane" --bind 127.0.0.1 -p "$PUB_PORT" -s "$SUB_PORT" >"$LOGS/backplane.log" 2>&1 &
    pid=$!
    if wait_for "$LOGS/backplane.log" "Publisher +Port" 20 backplane "$pid"; then
      PIDS+=("$pid")
      return 0
    fi
    wait "$pid" 2>/dev/null || true
    if [ "$attempt" -eq 5 ] || ! grep -q "already in use" "$LOGS/backplane.log"; then
      return 1
    fi
    echo "$LIB_NAME: a port was taken meanwhile; picking new ones"
  done
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
