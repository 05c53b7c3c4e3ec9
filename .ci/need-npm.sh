# Sourced by the CI steps that run a Node harness (32, 33, 34): installs Debian's npm (and
# nodejs) only when `node` or `npm` is missing. Not in .ci/apt.d: Debian's `npm` conflicts with
# NodeSource's `nodejs`, which bundles npm (see .ci/apt.d/pico.txt).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing Node.js/npm from Debian (missing)"
  _sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then _sudo="sudo"; fi
  $_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
