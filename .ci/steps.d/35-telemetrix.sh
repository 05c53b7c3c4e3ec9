#!/usr/bin/env bash
# Issue 27 items 1 and 3: re-runs the Python side of the Telemetrix proofs and checks it still
# matches what is committed, so the device model and the expectations stay honest.
# 1. The real Python clients (tmx-pico-aio, telemetrix-esp32, telemetrix; .ci/pip.d/telemetrix.txt)
#    against the device model write the golden bytes banyan-proto's `cargo test` reads.
# 2. s3-extend 1.35's own rpgw and esp32gw, driven by the OneGPIO scripts from a python-banyan
#    peer against the device model (including unplug/replug and a device reset), write and
#    publish what the recordings say; the Rust gateways are compared against the same
#    recordings. Runs in a private network namespace (unshare, needs root as CI has).
# About 2 minutes.
set -euo pipefail
py="${BANYAN_PYTHON:-.venv/bin/python}"
"$py" banyan-proto/tests/telemetrix_golden/capture.py \
  --check banyan-proto/tests/telemetrix_golden/golden.txt
d=banyan-gateways/tests/telemetrix_diff
# <gateway>[_<scenario>].expected.jsonl is the recording of script_<gateway>[_<scenario>].json.
for recording in "$d"/*.expected.jsonl; do
  name=$(basename "$recording" .expected.jsonl)
  "$py" "$d/diff.py" --gateway "${name%%_*}" --script "$d/script_$name.json" --check "$recording"
done
