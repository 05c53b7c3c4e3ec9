#!/usr/bin/env bash
# Issue 17: the real Pico firmware in an emulated RP2040 (rp2040js, boards/rp-pico/emu) —
# the release ELFs that become the UF2 files (built by scripts/build-boards.sh earlier in
# .ci/run; the harness checks each UF2 holds exactly its ELF's bytes) — through the real
# gateway and backplane: echo over UART and USB with the Rust and the Python echo server,
# sensor and OneGPIO over both links (pin-level checks), the link faults on echo_uart, and
# the smallest echo_uart (no defmt: the image measured against the 16 KiB target).
# Host binaries from `cargo test` (target/debug). Every run is reported; fails if any failed.
set -euo pipefail
STEP_START=$(date +%s)

source .ci/need-npm.sh
echo "== node $(node --version), npm $(npm --version); npm ci in boards/rp-pico/emu"
(cd boards/rp-pico/emu && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
echo "== harness unit tests (image/UF2 check, USB descriptors)"
(cd boards/rp-pico/emu && timeout 60 node --test test/image.test.mjs)
# The fault proxy (test kit), incremental after `cargo test`.
cargo build -q -p banyan-testkit --bin banyan-fault-proxy

RUNS=(
  "--app echo --link uart"
  "--app echo --link uart --python-server"
  "--app echo --link usb"
  "--app echo --link usb --python-server"
  "--app sensor --link uart"
  "--app sensor --link usb"
  "--app onegpio --link uart"
  "--app onegpio --link usb"
  "--app echo --link uart --fault corrupt"
  "--app echo --link uart --fault gateway-restart"
  "--app echo --link uart --fault reset"
  "--app echo --link uart --no-defmt"
)
RESULTS=()
FAILED=0
for run in "${RUNS[@]}"; do
  echo
  echo "######## scripts/pico-emu.sh $run"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086 # the run's flags are words
  if SKIP_BUILD=1 PICO_EMU_TIMEOUT=90 timeout 150 scripts/pico-emu.sh $run; then
    verdict=PASS
  else
    verdict=FAIL
    FAILED=$((FAILED + 1))
  fi
  RESULTS+=("$(printf '%-4s %6.1fs  %s' "$verdict" "$(python3 -c "import time; print(time.time() - $start)")" "$run")")
done
echo
echo "== Pico under emulation: ${#RUNS[@]} runs, $FAILED failed, $(( $(date +%s) - STEP_START ))s"
printf '%s\n' "${RESULTS[@]}"
[ "$FAILED" -eq 0 ]
