#!/usr/bin/env bash
# Builds the firmware of every board in release mode and reports its size:
#   boards/qemu-lm3s6965  (thumbv7m-none-eabi)  echo
#   boards/rp-pico        (thumbv6m-none-eabi)  echo_uart, echo_usb  (+ .uf2 files)
#
# Flash = text + data (code, constants, initial values of statics), static RAM = data + bss
# (the stack comes on top), as `arm-none-eabi-size` reports them.
#
# Usage: scripts/build-boards.sh [--lint]
#   --lint   also run `cargo fmt --check` and `cargo clippy --release -- -D warnings` per board
# Needs: rustup targets thumbv6m-none-eabi and thumbv7m-none-eabi, arm-none-eabi-size
# (Debian: binutils-arm-none-eabi), elf2uf2-rs
# (`cargo install elf2uf2-rs --no-default-features --locked`: no libudev needed).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LINT=""
case "${1:-}" in
  --lint) LINT=1 ;;
  "") ;;
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "unknown argument: $1" >&2; exit 2 ;;
esac

for tool in arm-none-eabi-size elf2uf2-rs; do
  command -v "$tool" >/dev/null || { echo "build-boards: $tool not found" >&2; exit 2; }
done

SIZES=()
# board directory, target triple, binaries
build_board() {
  local dir=$1 target=$2
  shift 2
  echo "== $dir ($target)"
  (
    cd "$REPO/boards/$dir"
    if [ -n "$LINT" ]; then
      cargo fmt --check
      cargo clippy --release -- -D warnings
    fi
    cargo build --release
  )
  local bin elf
  for bin in "$@"; do
    elf="$REPO/boards/$dir/target/$target/release/$bin"
    read -r text data bss _ < <(arm-none-eabi-size "$elf" | tail -n 1)
    SIZES+=("$(printf '%-16s %-10s %8d B flash %8d B static RAM' "$dir" "$bin" \
      $((text + data)) $((data + bss)))")
  done
}

build_board qemu-lm3s6965 thumbv7m-none-eabi echo
build_board rp-pico thumbv6m-none-eabi echo_uart echo_usb

echo "== UF2 images (Pico: hold BOOTSEL, plug in, copy to the RPI-RP2 drive)"
for bin in echo_uart echo_usb; do
  elf="$REPO/boards/rp-pico/target/thumbv6m-none-eabi/release/$bin"
  elf2uf2-rs "$elf" "$elf.uf2" >/dev/null
  echo "$elf.uf2 ($(stat -c %s "$elf.uf2") B)"
done

echo "== sizes"
printf '%s\n' "${SIZES[@]}"
