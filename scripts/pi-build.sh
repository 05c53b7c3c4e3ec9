#!/usr/bin/env bash
# Cross-builds every banyan-cli binary (backplane, monitor, banyan-gateway, simple-echo-server,
# simple-echo-client) for the Raspberry Pi, from an x86-64 Debian/Ubuntu machine.
#
#   scripts/pi-build.sh [aarch64|armv7|all]      (default: all)
#
#   aarch64 = aarch64-unknown-linux-gnu      Pi 3/4/5, Zero 2 W with a 64-bit OS  (uname -m: aarch64)
#   armv7   = armv7-unknown-linux-gnueabihf  Pi 2/3/4/5, Zero 2 W, 32-bit Pi OS   (uname -m: armv7l)
#
# Output: <target dir>/pi/<triple>/<binary>, then one line per binary with its size.
# Environment:
#   PI_PROFILE        cargo profile to build with (default: release)
#   CARGO_TARGET_DIR  as for cargo (default: ./target)
#
# Needs (once):
#   apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu \
#                   gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf
#   rustup target add aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
# The linkers are set in .cargo/config.toml; the C/C++ compilers for libzmq (built from source
# by the zeromq-src build script through the `cc` crate) are set here.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

BINARIES=(backplane monitor banyan-gateway simple-echo-server simple-echo-client)
PROFILE=${PI_PROFILE:-release}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac

usage() {
  echo "usage: $0 [aarch64|armv7|all]" >&2
  exit 2
}

case "${1:-all}" in
  aarch64) TRIPLES=(aarch64-unknown-linux-gnu) ;;
  armv7) TRIPLES=(armv7-unknown-linux-gnueabihf) ;;
  all) TRIPLES=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf) ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
  *) usage ;;
esac
[ $# -le 1 ] || usage

# GNU toolchain prefix of a Rust target triple (Debian's cross compiler package names).
gnu_prefix() {
  case "$1" in
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
    armv7-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

# The cargo profile's output directory name (`dev` builds into `debug`).
profile_dir() {
  case "$1" in dev) echo debug ;; *) echo "$1" ;; esac
}

missing=0
installed_targets=$(rustup target list --installed 2>/dev/null || true)
for triple in "${TRIPLES[@]}"; do
  prefix=$(gnu_prefix "$triple")
  for tool in "$prefix-gcc" "$prefix-g++" "$prefix-ar"; do
    if ! command -v "$tool" >/dev/null; then
      echo "pi-build: $tool not found; install: apt-get install gcc-$prefix g++-$prefix" >&2
      missing=1
    fi
  done
  if command -v rustup >/dev/null && ! grep -qx "$triple" <<<"$installed_targets"; then
    echo "pi-build: Rust target $triple missing; install: rustup target add $triple" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1

# Highest symbol version of a library (glibc, libstdc++) a binary needs, e.g. GLIBC_2.34.
needs_version() {
  local objdump=$1 binary=$2 library=$3
  "$objdump" -T "$binary" | grep -o "${library}_[0-9][0-9.]*" | sort -uV | tail -1
}

bin_args=()
for bin in "${BINARIES[@]}"; do bin_args+=(--bin "$bin"); done

for triple in "${TRIPLES[@]}"; do
  prefix=$(gnu_prefix "$triple")
  var=${triple//-/_}
  # The `cc` crate reads CC_<triple with underscores> etc.; explicit beats its own guess.
  export "CC_$var=$prefix-gcc" "CXX_$var=$prefix-g++" "AR_$var=$prefix-ar"

  echo "=== $triple (profile $PROFILE)"
  started=$(date +%s)
  cargo build -p banyan-cli --profile "$PROFILE" --target "$triple" "${bin_args[@]}"
  elapsed=$(( $(date +%s) - started ))

  built="$TARGET_DIR/$triple/$(profile_dir "$PROFILE")"
  out="$TARGET_DIR/pi/$triple"
  mkdir -p "$out"
  for bin in "${BINARIES[@]}"; do
    cp -f "$built/$bin" "$out/$bin"
  done
  echo "--- $triple: built in ${elapsed}s, binaries in $out"
  for bin in "${BINARIES[@]}"; do
    size=$(stat -c %s "$out/$bin")
    printf '%-20s %9d bytes (%s KiB)\n' "$bin" "$size" "$(( (size + 1023) / 1024 ))"
  done
  if command -v "$prefix-objdump" >/dev/null; then
    echo "needs on the Pi: $(needs_version "$prefix-objdump" "$out/backplane" GLIBC)," \
      "$(needs_version "$prefix-objdump" "$out/backplane" GLIBCXX)" \
      "(Raspberry Pi OS Bookworm has GLIBC_2.36, GLIBCXX_3.4.30)"
  fi
done
