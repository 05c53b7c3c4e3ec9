#!/usr/bin/env bash
# Issue 27: the Telemetrix proofs against the real Python programs.
# 1. The real Python clients (tmx-pico-aio, telemetrix-esp32, telemetrix; .ci/pip.d/telemetrix.txt)
#    against the device model write the golden bytes banyan-proto's `cargo test` reads.
# 2. s3-extend 1.35's own rpgw and esp32gw, driven by the OneGPIO scripts from a python-banyan
#    peer against the device model (including unplug/replug and a device reset), write and
#    publish what the committed recordings say (so the model and the expectations stay honest).
# 3. Our rpgw and esp32gw, on the same scripts against the same model, match the same
#    recordings step for step, except the steps rust_<name>.differences.json states (each with
#    its reason; docs/telemetrix.md tables them).
# Runs in a private network namespace (unshare, needs root as CI has). About 3 minutes (163 s
# here, binaries built), plus the build of rpgw and esp32gw.
set -euo pipefail
STEP_START=$(date +%s)
py="${BANYAN_PYTHON:-.venv/bin/python}"
"$py" banyan-proto/tests/telemetrix_golden/capture.py \
  --check banyan-proto/tests/telemetrix_golden/golden.txt
d=banyan-gateways/tests/telemetrix_diff
# <gateway>[_<scenario>].expected.jsonl is the recording of script_<gateway>[_<scenario>].json.
for recording in "$d"/*.expected.jsonl; do
  name=$(basename "$recording" .expected.jsonl)
  "$py" "$d/diff.py" --gateway "${name%%_*}" --script "$d/script_$name.json" --check "$recording"
done
echo "== building rpgw and esp32gw"
cargo build -q -p banyan-cli --bin rpgw --bin esp32gw
bin="$(cargo metadata --format-version 1 --no-deps | "$py" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug"
for recording in "$d"/*.expected.jsonl; do
  name=$(basename "$recording" .expected.jsonl)
  gateway="${name%%_*}"
  "$py" "$d/diff.py" --gateway "$gateway" --script "$d/script_$name.json" --check "$recording" \
    --differences "$d/rust_$name.differences.json" --command "$bin/$gateway"
done
echo "== Telemetrix proofs: $(( $(date +%s) - STEP_START ))s"
