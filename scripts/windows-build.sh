#!/usr/bin/env bash
# Cross-builds every banyan-cli command for Windows (x86_64-pc-windows-gnu) on Debian/Ubuntu,
# statically linked: the .exe files import only system DLLs (no mingw runtime DLL to ship).
#
#   scripts/windows-build.sh               # every banyan-cli binary → target/windows/*.exe
#   scripts/windows-build.sh --host-tests  # banyan-host's and banyan-gateways' unit tests (for Wine)
#   scripts/windows-build.sh --lint        # clippy -D warnings of the Windows code (no libzmq)
#
# Needs (once):
#   apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64   (wine64 for --host-tests)
#   rustup target add x86_64-pc-windows-gnu
# Environment:
#   WINDOWS_PROFILE   cargo profile (default: `windows`, the lean profile in Cargo.toml)
#   CARGO_TARGET_DIR  as for cargo (default: ./target)
#
# libzmq: zmq-sys's own build (zeromq-src 0.2) fails for windows-gnu with Debian's mingw, so
# this script builds the same libzmq sources itself — the `zeromq-src` crate of Cargo.lock,
# fetched by cargo from crates.io, nothing else downloaded — and hands the result to cargo
# through the override of zmq-sys's `links = "zmq"` key, which skips zmq-sys's build script.
# Our configuration (the whole "patch"; libzmq's sources are not changed), as -D flags in
# place of CMake's generated platform.hpp:
#   - ZMQ_HAVE_WINDOWS (CMake's check for <windows.h>), Windows Vista's API (_WIN32_WINNT);
#   - no ZMQ_HAVE_IPC: Debian's mingw 10 has <afunix.h>, but libzmq's IPC transport then
#     includes <sys/socket.h> on non-MSVC compilers; Rust Banyan only uses tcp://;
#   - ZMQ_USE_CV_IMPL_WIN32API: the default C++11 condition variable needs
#     std::condition_variable_any, which Debian's default (win32-threads) mingw g++ lacks;
#   - wepoll (libzmq's epoll emulation on Windows, ZMQ_IOTHREAD_POLLER_USE_EPOLL) compiled as C
#     into its own library: libzmq's build would compile it as C++, which fails;
#   - no ZMQ_HAVE_WS (Rust Banyan speaks tcp:// only; the WebSocket gateway is banyan-web's).
# The libraries are cached in target/windows/build/ under a key of the sources' version and
# these flags: a second run only builds the Rust side.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

TRIPLE=x86_64-pc-windows-gnu
PROFILE=${WINDOWS_PROFILE:-windows}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac
OUT="$TARGET_DIR/windows"
BUILD="$OUT/build"
CXX=x86_64-w64-mingw32-g++
CC=x86_64-w64-mingw32-gcc
AR=x86_64-w64-mingw32-ar
MODE=bins

case "${1:-}" in
  "") ;;
  --host-tests) MODE=host-tests ;;
  --lint) MODE=lint ;;
  -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--host-tests|--lint]" >&2; exit 2 ;;
esac

missing=0
for tool in "$CXX" "$CC" "$AR"; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64" >&2; missing=1; }
done
if ! rustup target list --installed 2>/dev/null | grep -qx "$TRIPLE"; then
  echo "missing Rust target: rustup target add $TRIPLE" >&2
  missing=1
fi
[ "$missing" = 0 ] || exit 1

# The profile's output directory name (`dev` builds into `debug`).
case "$PROFILE" in dev) PROFILE_DIR=debug ;; *) PROFILE_DIR=$PROFILE ;; esac

# Cargo's flags for every cross step: zmq-sys's build script replaced by our libzmq, static C
# runtime (+crt-static), and libstdc++/winpthread linked statically (`-bundle`: at the final
# link, not copied into the rlib) so that no mingw DLL is needed at run time.
CARGO_FLAGS=(
  --config "target.$TRIPLE.zmq.rustc-link-search=[\"native=$BUILD/lib\"]"
  --config "target.$TRIPLE.zmq.rustc-link-lib=[\"static=zmq\",\"static=wepoll\",\"iphlpapi\",\"ws2_32\",\"advapi32\",\"static:-bundle=stdc++\",\"static:-bundle=winpthread\"]"
  --config "target.$TRIPLE.rustflags=[\"-C\",\"target-feature=+crt-static\"]"
  --target "$TRIPLE"
)

if [ "$MODE" = lint ]; then
  # Checking links nothing: no libzmq needed. banyan-host and banyan-gateways with their
  # tests (they need no test kit); the other crates' tests use the Linux-only test kit, so
  # their libraries and binaries.
  cargo clippy -q -p banyan-host --features banyan-host/tokio -p banyan-gateways --all-targets \
    "${CARGO_FLAGS[@]}" -- -D warnings
  cargo clippy -q -p banyan-proto --features banyan-proto/std -p banyan-web -p banyan-cli \
    --lib --bins "${CARGO_FLAGS[@]}" -- -D warnings
  exit 0
fi

# --- libzmq from the zeromq-src crate Cargo.lock pins -------------------------------------
# `cargo metadata` names its version and its unpacked source (cargo fetches it if needed).
read -r version ZMQ_CRATE < <(cargo metadata --format-version 1 --locked --filter-platform "$TRIPLE" | python3 -c '
import json, os, sys
for package in json.load(sys.stdin)["packages"]:
    if package["name"] == "zeromq-src":
        print(package["version"], os.path.dirname(package["manifest_path"]))
        break
') || true
[ -n "${version:-}" ] && [ -d "${ZMQ_CRATE:-}/vendor" ] \
  || { echo "windows-build: cargo metadata names no zeromq-src source (is Cargo.lock intact?)" >&2; exit 1; }
FLAGS=(-O2 -w -std=gnu++14 -DNDEBUG -DZMQ_HAVE_WINDOWS -DZMQ_STATIC -D_WIN32_WINNT=0x0600
  -DZMQ_IOTHREAD_POLLER_USE_EPOLL -DZMQ_POLL_BASED_ON_POLL -DZMQ_USE_CV_IMPL_WIN32API
  -DHAVE_STRNLEN)
key="$version $("$CXX" -dumpversion) ${FLAGS[*]}"
if [ "$(cat "$BUILD/lib/key" 2>/dev/null)" != "$key" ]; then
  echo "libzmq: building from zeromq-src $version for $TRIPLE (once, ~2 min)"
  # Objects of an interrupted build with the same key are kept (each compiled if missing).
  if [ "$(cat "$BUILD/flags" 2>/dev/null)" != "$key" ]; then
    rm -rf "$BUILD"
    mkdir -p "$BUILD"
    echo "$key" >"$BUILD/flags"
  fi
  mkdir -p "$BUILD/obj" "$BUILD/lib" "$BUILD/include"
  # Read in place from cargo's unpacked crate (nothing is written there).
  SRC="$ZMQ_CRATE/vendor"
  # libzmq's sources include "platform.hpp" (a configure/CMake output); every setting is a -D
  # above, so it is empty (as zeromq-src itself does). wepoll includes <WinSock2.h> and
  # the like, which mingw's headers spell in lower case (Linux file names are
  # case-sensitive): one forwarding header each.
  : >"$BUILD/include/platform.hpp"
  for header in $(sed -n 's/^#include <\([A-Z][A-Za-z0-9]*\.h\)>.*/\1/p' \
    "$SRC/external/wepoll/wepoll.c"); do
    echo "#include <$(echo "$header" | tr A-Z a-z)>" >"$BUILD/include/$header"
  done
  ZMQ_FLAGS="${FLAGS[*]}"
  export CXX ZMQ_FLAGS SRC BUILD
  # Every source of libzmq; those of absent features (IPC, TIPC, VMCI, NORM, PGM, GSSAPI,
  # CURVE) compile to nothing under their #if; ws_*/wss_* (WebSocket) are left out, as they
  # do not compile without their feature.
  ls "$SRC"/src/*.cpp | grep -Ev '/wss?_' | xargs -P "$(nproc)" -I{} sh -c \
    'o="$BUILD/obj/$(basename "$1" .cpp).o"; [ -e "$o" ] || { "$CXX" $ZMQ_FLAGS -I"$BUILD/include" -I"$SRC/include" -I"$SRC/src" -c "$1" -o "$o.tmp" && mv "$o.tmp" "$o"; }' _ {}
  rm -f "$BUILD/lib/libzmq.a" "$BUILD/lib/libwepoll.a"
  "$AR" crs "$BUILD/lib/libzmq.a" "$BUILD"/obj/*.o
  "$CC" -O2 -w -I"$BUILD/include" -c "$SRC/external/wepoll/wepoll.c" -o "$BUILD/wepoll.o"
  "$AR" crs "$BUILD/lib/libwepoll.a" "$BUILD/wepoll.o"
  rm -rf "$BUILD/obj" "$BUILD/wepoll.o"
  echo "$key" >"$BUILD/lib/key"
fi

# --- Rust ---------------------------------------------------------------------------------
if [ "$MODE" = host-tests ]; then
  # The unit tests of banyan-host (the async component's among them: feature tokio) and of
  # banyan-gateways (the COM port bridge's among them) as Windows programs, run under Wine
  # (see docs/windows-and-macos.md).
  mkdir -p "$OUT"
  for package in banyan-host:tokio banyan-gateways:; do
    name=${package%%:*}
    tests=$(cargo test -p "$name" --lib --features "${package#*:}" --no-run --profile "$PROFILE" \
      "${CARGO_FLAGS[@]}" --message-format=json | python3 -c '
import json, sys
lib = sys.argv[1].replace("-", "_")
built = [json.loads(line) for line in sys.stdin]
exes = [m["executable"] for m in built if m.get("reason") == "compiler-artifact"
        and m.get("executable") and m["target"]["name"] == lib]
print(exes[-1] if exes else "")
' "$name")
    [ -n "$tests" ] || { echo "no $name test executable built" >&2; exit 1; }
    cp "$tests" "$OUT/$name-tests.exe"
    echo "$name unit tests: $OUT/$name-tests.exe"
  done
  exit 0
fi

cargo build -p banyan-cli --bins --profile "$PROFILE" "${CARGO_FLAGS[@]}"
mkdir -p "$OUT"
built="$TARGET_DIR/$TRIPLE/$PROFILE_DIR"
for source in banyan-cli/src/bin/*.rs; do
  name=$(basename "$source" .rs)
  cp "$built/$name.exe" "$OUT/"
  printf '%-24s %8s KiB\n' "$name.exe" "$(( $(stat -c %s "$OUT/$name.exe") / 1024 ))"
done
