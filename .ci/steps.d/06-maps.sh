#!/usr/bin/env bash
# Issue 29: the maps a newcomer reads stay true (well under a second).
# - the root README stays within 200 lines (depth goes to docs/);
# - fuzz/run.sh runs every target in fuzz/fuzz_targets/ (CI's fuzz label is made from its
#   list), and fuzz/README.md has a row for each.
set -euo pipefail

lines=$(wc -l <README.md)
echo "--- README.md: $lines lines (at most 200)"
if [ "$lines" -gt 200 ]; then
  echo "maps: README.md has $lines lines, over 200: move depth into docs/" >&2
  exit 1
fi

listed=$(bash fuzz/run.sh --list | sort)
present=$(ls fuzz/fuzz_targets/*.rs | xargs -n1 basename | sed 's/\.rs$//' | sort)
echo "--- fuzz targets: $(echo "$listed" | paste -sd' ' -)"
if [ "$listed" != "$present" ]; then
  echo "maps: fuzz/run.sh lists [$(echo "$listed" | paste -sd' ' -)] but fuzz/fuzz_targets/ has [$(echo "$present" | paste -sd' ' -)]" >&2
  exit 1
fi
for target in $listed; do
  grep -q "^| \`$target\` |" fuzz/README.md \
    || { echo "maps: fuzz/README.md has no row for the target $target" >&2; exit 1; }
done
