#!/usr/bin/env bash
# End-to-end tests of the real Raspberry Pi Pico firmware: the unmodified release ELF of
# boards/rp-pico (the very file its UF2 is made from; the harness checks the UF2 holds exactly
# its bytes) runs in an emulated RP2040 (rp2040js, boards/rp-pico/emu/) whose UART0 or USB
# CDC port is a TCP socket for the real `banyan-gateway`, bridged onto a real `backplane`:
#
#   harness (RP2040 + firmware) ══ UART0 or USB = tcp:127.0.0.1:L ══ banyan-gateway ── backplane ── peer
#             └── control port (JSON lines): pins, ADC, PWM, reset ──────────────────────────── peer
#
# Apps (--app) and links (--link uart|usb, default uart):
#   echo     echo_uart / echo_usb; peer: the Rust echo server, or Python Banyan's
#            (--python-server). Passes when the LED (GP25) turns on (all 11 replies), the
#            firmware's log (defmt over RTT, read from emulated RAM) says `echo complete`,
#            and, over USB, shows no restart (one `USB port open`, no `link lost`/`starting
#            over`) and the harness enumerated the device once.
#   sensor   sensor_uart / sensor_usb; peer: boards/rp-pico/tests/python/sensor_check.py (two
#            ADC values -> two temperatures, rate -> period change in emulated time, stop).
#   onegpio  onegpio_uart / onegpio_usb; peer: boards/rp-pico/tests/python/onegpio_check.py
#            (pins checked at the pin: digital write/read, debounced input, ADC0, PWM and
#            servo duty from the slice registers, error reports); the firmware must still run.
# Faults (--fault, echo over UART, Python echo server so a run lasts long enough to be hit):
#   corrupt          0.5 % of bytes corrupted both ways between harness and gateway
#                    (banyan-testkit's fault proxy, banyan-fault-proxy)
#   gateway-restart  the gateway is killed after the first replies and started again
#   reset            the chip is reset (RUN pin) after the first replies; the firmware's new
#                    Hello resynchronises the gateway and the new run completes
#   A fault that hit after the LED was already on fails the run (it was not mid-run).
#
# --no-defmt (echo over UART, no fault): the smallest image instead, built without defmt
#   (`--no-default-features`; scripts/build-boards.sh leaves it in release/no-defmt/). It
#   logs nothing, so the LED alone (on only after all 11 replies) is the verdict.
#
# Usage: scripts/pico-emu.sh [--app echo|sensor|onegpio] [--link uart|usb] [--no-defmt]
#                            [--python-server [PATH]] [--fault corrupt|gateway-restart|reset]
# Environment:
#   PICO_EMU_TIMEOUT  seconds for the whole harness run (default 120)
#   PICO_EMU_CORRUPT_PPM  --fault corrupt: bytes replaced per million (default 5000 = 0.5 %)
#   SKIP_BUILD=1      use already-built firmware (scripts/build-boards.sh) and host binaries
#   CARGO_TARGET_DIR  where the host binaries are (default: <repo>/target)
#   BANYAN_PYTHON     Python with python-banyan 3.17 (else .venv/bin/python, else python3)
# Needs: node (>= 18) and npm (`npm ci` runs in boards/rp-pico/emu when node_modules is
# missing), defmt-print, elf2uf2-rs (when the UF2 is missing), python3.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BOARD="$REPO/boards/rp-pico"
EMU="$BOARD/emu"
PEERS="$BOARD/tests/python"
HOST_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug"
TIMEOUT=${PICO_EMU_TIMEOUT:-120}

ARGS=("$@")
APP=echo
LINK=uart
PY_SERVER=""
FAULT=""
NO_DEFMT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --app) [ $# -gt 1 ] || { echo "--app needs a name" >&2; exit 2; }; APP=$2; shift ;;
    --link) [ $# -gt 1 ] || { echo "--link needs uart or usb" >&2; exit 2; }; LINK=$2; shift ;;
    --fault) [ $# -gt 1 ] || { echo "--fault needs a name" >&2; exit 2; }; FAULT=$2; shift ;;
    --no-defmt) NO_DEFMT=1 ;;
    --python-server)
      PY_SERVER="$REPO/banyan-cli/tests/python/simple_echo_server.py"
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then PY_SERVER="$2"; shift; fi
      ;;
    -h|--help) sed -n '2,42p' "$0"; exit 0 ;;
    *) echo "pico-emu: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$APP" in echo | sensor | onegpio) ;; *)
  echo "pico-emu: unknown app '$APP' (echo, sensor, onegpio)" >&2; exit 2 ;;
esac
case "$LINK" in uart | usb) ;; *)
  echo "pico-emu: unknown link '$LINK' (uart, usb)" >&2; exit 2 ;;
esac
case "$FAULT" in "" | corrupt | gateway-restart | reset) ;; *)
  echo "pico-emu: unknown fault '$FAULT' (corrupt, gateway-restart, reset)" >&2; exit 2 ;;
esac
if [ -n "$NO_DEFMT" ] && { [ "$APP" != echo ] || [ "$LINK" != uart ] || [ -n "$FAULT" ]; }; then
  echo "pico-emu: --no-defmt is for --app echo --link uart without --fault (the other checks read the firmware's log)" >&2
  exit 2
fi
if [ -n "$PY_SERVER" ] && [ "$APP" != echo ]; then
  echo "pico-emu: --python-server is for --app echo" >&2; exit 2
fi
if [ -n "$FAULT" ]; then
  if [ "$APP" != echo ] || [ "$LINK" != uart ]; then
    echo "pico-emu: --fault is for --app echo --link uart" >&2; exit 2
  fi
  # ~100 ms per round with Python's receive loop: a run long enough to be hit mid-way.
  [ -n "$PY_SERVER" ] || PY_SERVER="$REPO/banyan-cli/tests/python/simple_echo_server.py"
fi
# The corruption is random (0.5 % of ~900 bytes: ~4.5 bytes; none in ~1 % of runs). A run in
# which no byte was corrupted tested nothing: it exits 75 and runs again with a new seed, up
# to three times.
if [ "$FAULT" = corrupt ] && [ -z "${PICO_EMU_INNER:-}" ]; then
  for attempt in 1 2 3; do
    set +e
    PICO_EMU_INNER=1 "$0" "${ARGS[@]}"
    status=$?
    set -e
    [ "$status" -eq 75 ] || exit "$status"
    echo "== no byte was corrupted in attempt $attempt: running again with another seed"
  done
  echo "== FAIL: three runs without a corrupted byte"
  exit 1
fi
FIRMWARE="${APP}_${LINK}"
ELF="$BOARD/target/thumbv6m-none-eabi/release/${NO_DEFMT:+no-defmt/}$FIRMWARE"

LIB_NAME=pico-emu
# shellcheck source=scripts/lib.sh
. "$REPO/scripts/lib.sh"
lib_python
for tool in node npm defmt-print python3; do
  command -v "$tool" >/dev/null || { echo "pico-emu: $tool not found" >&2; exit 2; }
done

lib_start backplane server gateway gateway2 proxy harness peer

# One request on the harness's control port; the JSON reply on stdout.
json_field() {
  python3 -c "import json,sys; v=json.loads(sys.argv[1]); [v:=v[k] for k in sys.argv[2].split('.')]; print(str(v).lower() if isinstance(v,bool) else v)" "$1" "$2"
}

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== build firmware (boards/rp-pico, release, --bin $FIRMWARE${NO_DEFMT:+, no defmt})"
  if [ -n "$NO_DEFMT" ]; then
    (cd "$BOARD" && cargo build --release --no-default-features --bin "$FIRMWARE" &&
      mkdir -p "$(dirname "$ELF")" && cp "target/thumbv6m-none-eabi/release/$FIRMWARE" "$ELF")
  else
    (cd "$BOARD" && cargo build --release --bin "$FIRMWARE")
  fi
  rm -f "$ELF.uf2"
  echo "== build host binaries"
  (cd "$REPO" && cargo build -p banyan-cli --bins)
  if [ "$FAULT" = corrupt ]; then
    (cd "$REPO" && cargo build -p banyan-testkit --bin banyan-fault-proxy)
  fi
fi
[ -f "$ELF" ] || { echo "pico-emu: $ELF missing (scripts/build-boards.sh builds it)" >&2; exit 2; }
UF2="$ELF.uf2"
if [ ! -f "$UF2" ] || [ "$UF2" -ot "$ELF" ]; then
  command -v elf2uf2-rs >/dev/null || { echo "pico-emu: $UF2 missing and elf2uf2-rs not found" >&2; exit 2; }
  UF2="$LOGS/$FIRMWARE.uf2"
  elf2uf2-rs "$ELF" "$UF2" >/dev/null
fi
HOST_NEEDED=(backplane banyan-gateway)
[ "$APP" = echo ] && [ -z "$PY_SERVER" ] && HOST_NEEDED+=(simple-echo-server)
[ "$FAULT" = corrupt ] && HOST_NEEDED+=(banyan-fault-proxy)
for bin in "${HOST_NEEDED[@]}"; do
  [ -x "$HOST_BIN/$bin" ] || { echo "pico-emu: $HOST_BIN/$bin missing" >&2; exit 2; }
done
if [ ! -d "$EMU/node_modules/rp2040js" ]; then
  echo "== npm ci (boards/rp-pico/emu: rp2040js, pinned by package-lock.json)"
  (cd "$EMU" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

start_backplane
echo "== $FIRMWARE${FAULT:+ (fault: $FAULT)}; backplane publish $PUB_PORT, subscribe $SUB_PORT"

if [ "$APP" = echo ]; then
  start_echo_server "$PY_SERVER"
fi

HARNESS_ARGS=(--elf "$ELF" --uf2 "$UF2" --ports-file "$LOGS/ports.json" --timeout "$TIMEOUT")
[ -n "$NO_DEFMT" ] || HARNESS_ARGS+=(--rtt-file "$LOGS/defmt.bin")
[ "$APP" = echo ] && HARNESS_ARGS+=(--exit-on-led)
[ "$APP" = sensor ] && HARNESS_ARGS+=(--quiet)
echo "== harness: rp2040js ($FIRMWARE, timeout ${TIMEOUT}s)"
START=$(date +%s.%N)
timeout $((TIMEOUT + 10)) node "$EMU/harness.mjs" "${HARNESS_ARGS[@]}" \
  >"$LOGS/harness.out" 2>"$LOGS/harness.log" &
HARNESS_PID=$!
PIDS+=("$HARNESS_PID")
wait_for "$LOGS/ports.json" "control" 30 harness "$HARNESS_PID"
PORTS=$(cat "$LOGS/ports.json")
LINK_PORT=$(json_field "$PORTS" "$LINK")
CONTROL_PORT=$(json_field "$PORTS" control)
echo "   ports: UART0 $(json_field "$PORTS" uart), USB $(json_field "$PORTS" usb), control $CONTROL_PORT"

GATEWAY_TARGET=$LINK_PORT
if [ "$FAULT" = corrupt ]; then
  # 5000 ppm = 0.5 % of bytes replaced, independently in each direction.
  "$HOST_BIN/banyan-fault-proxy" --upstream "127.0.0.1:$LINK_PORT" \
    --corrupt-byte-ppm "${PICO_EMU_CORRUPT_PPM:-5000}" \
    --seed "$RANDOM" >"$LOGS/proxy.log" 2>&1 &
  PIDS+=($!)
  wait_for "$LOGS/proxy.log" "listening" 10 "fault proxy" "${PIDS[-1]}"
  GATEWAY_TARGET=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$LOGS/proxy.log" | head -1)
fi
start_gateway() {
  "$HOST_BIN/banyan-gateway" --tcp "127.0.0.1:$GATEWAY_TARGET" -b 127.0.0.1 -p "$PUB_PORT" \
    -s "$SUB_PORT" >"$LOGS/$1.log" 2>&1 &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
}
start_gateway gateway

# Faults that strike mid-run: once the firmware has received a few hundred bytes (Hello
# answered and some replies in), while the LED is still off.
FAULT_DETAIL=""
if [ "$FAULT" = gateway-restart ] || [ "$FAULT" = reset ]; then
  # Polled over one kept-open control connection with bash's /dev/tcp and read with sed: a
  # poll takes about a millisecond. (Through pico_control.py and json_field each poll started
  # three Pythons, ~0.2 s under load, and a whole echo takes ~1.4 s of wall time: a CI
  # rehearsal saw the run finish between two polls, before the fault could strike.)
  exec {CTL}<>"/dev/tcp/127.0.0.1/$CONTROL_PORT"
  deadline=$(($(date +%s) + 60))
  while :; do
    printf '%s\n' '{"cmd":"status"}' >&"$CTL"
    IFS= read -r -t 10 status <&"$CTL" || { echo "== FAIL: no status from the harness"; exit 1; }
    received=$(printf '%s' "$status" | sed -n 's/.*"uart":{"sent":[0-9]*,"received":\([0-9]*\).*/\1/p')
    [ "${received:-0}" -ge 150 ] && break
    if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$HARNESS_PID" 2>/dev/null; then
      echo "== FAIL: the firmware never got its first replies (fault $FAULT not injected)"
      exit 1
    fi
    sleep 0.005
  done
  if printf '%s' "$status" | grep -q '"led":true'; then
    echo "== FAIL: the run finished before the fault could strike mid-run"
    exit 1
  fi
  if [ "$FAULT" = reset ]; then
    # On the same connection, at once: the reset strikes mid-run.
    printf '%s\n' '{"cmd":"reset"}' >&"$CTL"
    IFS= read -r -t 10 _ <&"$CTL" || { echo "== FAIL: the harness did not answer the reset"; exit 1; }
  fi
  exec {CTL}>&-
  if [ "$FAULT" = gateway-restart ]; then
    kill "$GATEWAY_PID"
    wait "$GATEWAY_PID" 2>/dev/null || true
    sleep 0.5
    start_gateway gateway2
  fi
  FAULT_DETAIL=" ($FAULT after $received bytes to the firmware, LED still off)"
  echo "== fault injected:$FAULT_DETAIL"
fi

PEER_STATUS=0
if [ "$APP" != echo ]; then
  if [ "$APP" = sensor ]; then PEER_ARGS=(--timeout "$TIMEOUT"); else PEER_ARGS=(-t 60); fi
  PEER_TIMEOUT=$((TIMEOUT + 10)) run_peer "$PEERS/${APP}_check.py" --control "$CONTROL_PORT" \
    "${PEER_ARGS[@]}"
fi

# The echo firmware ends the run (the harness exits on the LED); the others serve forever.
firmware_status "$HARNESS_PID" harness "$([ "$APP" = echo ] && echo 0 || echo 1)"
END=$(date +%s.%N)
ELAPSED=$(python3 -c "print(f'{$END - $START:.2f}')")

echo "== harness log"
grep -v '^\[harness.*rp2040js warning' "$LOGS/harness.log" | tail -n 30 || true
grep 'rp2040js warning' "$LOGS/harness.log" | head -n 5 || true
tail -n 1 "$LOGS/harness.out"
if [ -z "$NO_DEFMT" ]; then
  echo "== firmware log (defmt over RTT)"
  defmt_log "$ELF"
  tail -n 40 "$LOGS/defmt.log"
  echo
fi

fail() { echo "== FAIL: $* (after ${ELAPSED}s)"; exit 1; }
[ "$PEER_STATUS" -eq 0 ] || fail "the Python peer failed (status $PEER_STATUS)"
case "$STATUS" in
  0) ;;
  3) fail "the harness timed out after ${TIMEOUT}s (LED never on)" ;;
  *) fail "the harness exited with status $STATUS" ;;
esac
if [ "$APP" = echo ] && [ -z "$NO_DEFMT" ]; then
  grep -q "echo complete" "$LOGS/defmt.log" || fail "the firmware's log has no 'echo complete'"
  # A clean link delivers every frame once, intact. (Timeouts are not counted against it:
  # the firmware's Hello times out while the gateway is still starting.)
  if [ -z "$FAULT" ] && ! grep -qE "echo complete:.*duplicates: 0, timeouts: [0-9]+, bad_frames: 0," "$LOGS/defmt.log"; then
    fail "the echo saw duplicate replies or bad frames on a clean link"
  fi
fi
if [ "$APP" = sensor ]; then
  grep -q "rate: 250 ms" "$LOGS/defmt.log" || fail "the firmware's log does not show 'rate: 250 ms'"
  grep -q "stop: paused" "$LOGS/defmt.log" || fail "the firmware's log does not show the stop"
fi
SUMMARY=$(tail -n 1 "$LOGS/harness.out")
# The harness's promise: emulated time never ran ahead of wall time.
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["emulated_s"] <= s["wall_s"] else 1)' \
  "$SUMMARY" || fail "emulated time ran ahead of wall time: $SUMMARY"
if [ "$LINK" = usb ]; then
  opens=$(grep -c "USB port open" "$LOGS/defmt.log" || true)
  if [ "$opens" -ne 1 ] || grep -qE "link lost|starting over" "$LOGS/defmt.log"; then
    fail "the USB run restarted: $opens 'USB port open' lines, $(grep -cE 'link lost|starting over' "$LOGS/defmt.log" || true) 'link lost'/'starting over'"
  fi
  [ "$(json_field "$SUMMARY" usb_enumerations)" = 1 ] || fail "the device enumerated $(json_field "$SUMMARY" usb_enumerations) times"
fi
if [ "$FAULT" = reset ]; then
  [ "$(json_field "$SUMMARY" resets)" = 1 ] || fail "the chip was not reset"
  [ "$(grep -c 'boot nonce' "$LOGS/defmt.log" || true)" -ge 2 ] || fail "the firmware's log shows no second boot"
fi
if [ "$FAULT" = corrupt ]; then
  echo "== fault proxy: $(tail -n 1 "$LOGS/proxy.log")"
  if ! grep -qE 'corrupted [1-9]' "$LOGS/proxy.log"; then
    echo "== the proxy corrupted no byte: this run tested nothing"
    exit 75
  fi
fi
echo "== PASS: $FIRMWARE${NO_DEFMT:+ (no defmt: LED on)}${PY_SERVER:+ (Python echo server)}${FAULT_DETAIL} after ${ELAPSED}s; $SUMMARY"
