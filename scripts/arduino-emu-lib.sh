# The emulated Arduino Uno for shell scripts (scripts/arduino-emu.sh; the ardgw runs to come):
# sourced after scripts/lib.sh, once `lib_start` has made LOGS and PIDS. The harness is
# boards/arduino-uno/emu/harness.mjs (avr8js + the unmodified StandardFirmata; its README).
#
#   emu_prepare          npm ci (when node_modules is missing or older than the lock file) and
#                        fetch + verify the firmware image
#   emu_start [ARGS...]  starts the harness (ARGS go to harness.mjs), waits for its ports and
#                        exports ARDUINO_SERIAL_PORT and ARDUINO_CONTROL_PORT (127.0.0.1);
#                        one harness per script (EMU_PID; its log is $LOGS/uno.log)
#   emu_pty              a serial device for clients that want one: socat bridges a pty
#                        ($LOGS/uno.tty, raw, no echo) to the serial port; exports ARDUINO_TTY
#   emu_ctl 'JSON'       one control request; its reply line on stdout; status 1 when the reply
#                        is {"ok":false,...} or none came
#   emu_stop             ends the harness; its exit summary (one JSON line) on stdout (call
#                        it directly, not as $(emu_stop): a subshell cannot wait for it)
#
# The harness's stdin is a fifo whose write end this shell holds: when the script exits, or
# is killed, the harness reads end-of-file and exits too. lib_cleanup also ends it by PID.

UNO_EMU="$REPO/boards/arduino-uno/emu"

emu_prepare() {
  local tool
  for tool in node npm sha256sum; do
    command -v "$tool" >/dev/null || { echo "$LIB_NAME: $tool not found" >&2; return 2; }
  done
  if [ ! -d "$UNO_EMU/node_modules/avr8js" ] \
    || [ "$UNO_EMU/package-lock.json" -nt "$UNO_EMU/node_modules/.package-lock.json" ]; then
    echo "== npm ci in boards/arduino-uno/emu (avr8js as pinned in package-lock.json)"
    (cd "$UNO_EMU" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
  fi
  sh "$UNO_EMU/fetch-firmware.sh"
}

emu_start() {
  mkfifo "$LOGS/uno.stdin"
  node "$UNO_EMU/harness.mjs" "$@" <"$LOGS/uno.stdin" >"$LOGS/uno.out" 2>"$LOGS/uno.log" &
  EMU_PID=$!
  PIDS+=("$EMU_PID")
  exec {EMU_STDIN}>"$LOGS/uno.stdin"
  wait_for "$LOGS/uno.out" '"control_port"' 30 "the Uno harness" "$EMU_PID" || return 1
  local ports
  ports=$(head -n 1 "$LOGS/uno.out")
  ARDUINO_SERIAL_PORT=$(printf '%s' "$ports" | sed -n 's/.*"serial_port":\([0-9]*\).*/\1/p')
  ARDUINO_CONTROL_PORT=$(printf '%s' "$ports" | sed -n 's/.*"control_port":\([0-9]*\).*/\1/p')
  export ARDUINO_SERIAL_PORT ARDUINO_CONTROL_PORT
}

emu_pty() {
  ARDUINO_TTY="$LOGS/uno.tty"
  socat "PTY,raw,echo=0,link=$ARDUINO_TTY" "TCP:127.0.0.1:$ARDUINO_SERIAL_PORT" 2>"$LOGS/socat.log" &
  PIDS+=($!)
  local deadline=$(($(date +%s) + 10))
  until [ -e "$ARDUINO_TTY" ]; do
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$LIB_NAME: socat made no pty for the serial port ($(tail -n 1 "$LOGS/socat.log"))" >&2
      return 1
    fi
    sleep 0.02
  done
  export ARDUINO_TTY
}

emu_ctl() {
  local fd reply
  exec {fd}<>"/dev/tcp/127.0.0.1/$ARDUINO_CONTROL_PORT" || return 1
  printf '%s\n' "$1" >&"$fd"
  # Measurements and waits take up to their "ms" of emulated time (at most 60 s).
  if ! IFS= read -r -t 130 reply <&"$fd"; then
    exec {fd}>&-
    echo "$LIB_NAME: no reply from the harness to $1" >&2
    return 1
  fi
  exec {fd}>&-
  printf '%s\n' "$reply"
  case "$reply" in *'"ok":false'*) return 1 ;; esac
}

emu_stop() {
  # By PID: background processes started after emu_start inherit the fifo's write end, so
  # closing ours alone may not be the end of its stdin. Not in a subshell: $(emu_stop) could
  # not wait for it.
  kill -TERM "$EMU_PID" 2>/dev/null || true
  wait "$EMU_PID" 2>/dev/null || true
  exec {EMU_STDIN}>&-
  tail -n 1 "$LOGS/uno.out"
}
