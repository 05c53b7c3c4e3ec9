#!/usr/bin/env bash
# Builds the firmware of every board in release mode, in two configurations, and reports the
# size of every binary:
#   boards/qemu-lm3s6965  (thumbv7m-none-eabi)  every src/bin/*.rs (echo, sensor, onegpio, ...)
#   boards/rp-pico        (thumbv6m-none-eabi)  every src/bin/*.rs (+ .uf2 files)
# Configurations: `defmt` (default features: logging, panic-probe on the Pico) and
# `no-defmt` (`--no-default-features`: no logging; the smallest build).
# The binaries left in target/<triple>/release/ are the default (`defmt`) ones; the
# `no-defmt` ELFs are copied to target/<triple>/release/no-defmt/.
#
# Flash = text + data (code, constants, initial values of statics), static RAM = data + bss
# (bss includes `.uninit`, e.g. defmt-rtt's buffer; the stack comes on top), as
# `arm-none-eabi-size` reports them. BENCHMARKS.md ("Firmware footprint") explains them.
#
# The gate: the smallest Pico echo (rp-pico `echo_uart`, no-defmt) must stay within 16 KiB of
# flash and 4 KiB of static RAM (issue 17's target); over either, the script prints the
# figures and exits 1, so CI fails (`.ci/run`'s boards step).
#
# Usage: scripts/build-boards.sh [--lint]
#   --lint   also run `cargo fmt --check` and `cargo clippy --release -- -D warnings` per board
#            and configuration
# Needs: rustup targets thumbv6m-none-eabi and thumbv7m-none-eabi, arm-none-eabi-size
# (Debian: binutils-arm-none-eabi), elf2uf2-rs
# (`cargo install elf2uf2-rs --no-default-features --locked`: no libudev needed).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LINT=""
case "${1:-}" in
  --lint) LINT=1 ;;
  "") ;;
  -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
  *) echo "unknown argument: $1" >&2; exit 2 ;;
esac

for tool in arm-none-eabi-size elf2uf2-rs; do
  command -v "$tool" >/dev/null || { echo "build-boards: $tool not found" >&2; exit 2; }
done

SIZES=()
# The gate's limits (bytes) and the measured figures of rp-pico echo_uart (no-defmt).
ECHO_UART_FLASH_MAX=16384
ECHO_UART_RAM_MAX=4096
ECHO_UART_FLASH=""
ECHO_UART_RAM=""
# Builds one board in one configuration and records the size of each of its binaries.
#   build_board DIR TARGET CONFIG   (CONFIG: defmt | no-defmt)
build_board() {
  local dir=$1 target=$2 config=$3
  local flags=()
  [ "$config" = no-defmt ] && flags=(--no-default-features)
  echo "== $dir ($target, $config)"
  (
    cd "$REPO/boards/$dir"
    if [ -n "$LINT" ]; then
      [ "$config" = defmt ] && cargo fmt --check
      cargo clippy --release "${flags[@]}" -- -D warnings
    fi
    cargo build --release "${flags[@]}"
  )
  local out="$REPO/boards/$dir/target/$target/release" src bin elf text data bss
  [ "$config" = no-defmt ] && mkdir -p "$out/no-defmt"
  for src in "$REPO/boards/$dir"/src/bin/*.rs; do
    bin=$(basename "$src" .rs)
    elf="$out/$bin"
    if [ "$config" = no-defmt ]; then
      cp "$elf" "$out/no-defmt/$bin"
      elf="$out/no-defmt/$bin"
    fi
    read -r text data bss _ < <(arm-none-eabi-size "$elf" | tail -n 1)
    SIZES+=("$(printf '%-14s %-19s %-9s %8d %8d' "$dir" "$bin" "$config" \
      $((text + data)) $((data + bss)))")
    if [ "$dir/$bin/$config" = rp-pico/echo_uart/no-defmt ]; then
      ECHO_UART_FLASH=$((text + data))
      ECHO_UART_RAM=$((data + bss))
    fi
  done
}

build_board qemu-lm3s6965 thumbv7m-none-eabi no-defmt
build_board qemu-lm3s6965 thumbv7m-none-eabi defmt
build_board rp-pico thumbv6m-none-eabi no-defmt
build_board rp-pico thumbv6m-none-eabi defmt

echo "== UF2 images (Pico: hold BOOTSEL, plug in, copy to the RPI-RP2 drive)"
PICO_OUT="$REPO/boards/rp-pico/target/thumbv6m-none-eabi/release"
for src in "$REPO"/boards/rp-pico/src/bin/*.rs; do
  bin=$(basename "$src" .rs)
  for elf in "$PICO_OUT/$bin" "$PICO_OUT/no-defmt/$bin"; do
    elf2uf2-rs "$elf" "$elf.uf2" >/dev/null
    echo "$elf.uf2 ($(stat -c %s "$elf.uf2") B)"
  done
done

echo "== firmware sizes (bytes; flash = text + data, static RAM = data + bss, stack not included)"
printf '%-14s %-19s %-9s %8s %8s\n' board binary config flash RAM
printf '%s\n' "${SIZES[@]}"

# The gate (see the header): measured above, checked last so every figure is printed first.
if [ -z "$ECHO_UART_FLASH" ]; then
  echo "build-boards: gate: rp-pico echo_uart (no-defmt) was not measured (is src/bin/echo_uart.rs gone?)" >&2
  exit 1
fi
echo "== gate: rp-pico echo_uart (no-defmt): flash $ECHO_UART_FLASH of $ECHO_UART_FLASH_MAX B, static RAM $ECHO_UART_RAM of $ECHO_UART_RAM_MAX B"
if [ "$ECHO_UART_FLASH" -gt "$ECHO_UART_FLASH_MAX" ] || [ "$ECHO_UART_RAM" -gt "$ECHO_UART_RAM_MAX" ]; then
  echo "build-boards: GATE FAILED: rp-pico echo_uart (no-defmt) is $ECHO_UART_FLASH B flash (limit $ECHO_UART_FLASH_MAX), $ECHO_UART_RAM B static RAM (limit $ECHO_UART_RAM_MAX); shrink it or argue the limit in BENCHMARKS.md" >&2
  exit 1
fi
