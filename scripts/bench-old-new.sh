#!/usr/bin/env bash
# Runs the echo and pub/sub sections of two banyan-bench builds side by side, interleaved, in
# one run, and prints one table with each build's ratios against raw libzmq (its own baseline,
# measured in the same invocation through the same forwarder) and NEW / OLD.
#
# Usage: scripts/bench-old-new.sh OLD_BIN_DIR [NEW_BIN_DIR] [--rounds N] [--quick]
#   OLD_BIN_DIR  directory holding the old `banyan-bench` (e.g. built from another commit in a
#                throwaway worktree: `git worktree add /tmp/old COMMIT && cd /tmp/old &&
#                cargo build --release -p banyan-bench --bins`)
#   NEW_BIN_DIR  default target/release of this checkout (build it first:
#                `cargo build --release -p banyan-bench --bins`)
#   --rounds N   rounds (default 2). A round runs `run echo` of both builds, then `run pubsub`
#                of both; the build that goes first alternates from round to round (ABBA), so
#                that a change of machine load hits both alike.
#   --quick      pass --quick to the bench (smoke test of this script, not a measurement)
#
# Per build, the table gives each round's echo p50 ratio and pub/sub ratio (as the bench
# prints them: median Banyan / median raw of that invocation) and their median over the
# rounds; NEW / OLD divides the two medians. The load average is printed before and after.
# Never run it under `nice`: the builds must compete on equal terms with whatever else runs.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OLD=""
NEW="$REPO/target/release"
ROUNDS=2
QUICK=()
positional=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --quick) QUICK=(--quick); shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "bench-old-new: unknown option $1" >&2; exit 2 ;;
    *)
      if [ $positional -eq 0 ]; then OLD=$1; else NEW=$1; fi
      positional=$((positional + 1)); shift ;;
  esac
done
[ -n "$OLD" ] || { echo "usage: $0 OLD_BIN_DIR [NEW_BIN_DIR] [--rounds N] [--quick]" >&2; exit 2; }
case "$ROUNDS" in ''|*[!0-9]*|0) echo "bench-old-new: --rounds needs a number >= 1" >&2; exit 2 ;; esac
for dir in "$OLD" "$NEW"; do
  [ -x "$dir/banyan-bench" ] || { echo "bench-old-new: no banyan-bench in $dir" >&2; exit 2; }
done

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/bench-old-new.XXXXXX")
RESULTS="$LOGS/results.tsv"
: > "$RESULTS"

load() { cut -d' ' -f1-3 /proc/loadavg; }

# The value column of the first table row whose metric is $2 (or starts with it, when $2 ends
# in `*`), in log $1 (thousands commas dropped).
row_value() {
  awk -F'|' -v m="$2" '{ metric = $3; gsub(/^ +| +$/, "", metric)
    prefix = substr(m, length(m)) == "*"; want = prefix ? substr(m, 1, length(m) - 1) : m
    if (prefix ? index(metric, want) == 1 : metric == want) { v = $4; gsub(/[ ,]/, "", v); print v; exit } }' "$1"
}

# run_one BUILD SECTION ROUND: one bench invocation; appends "round build section value...".
run_one() {
  local build=$1 section=$2 round=$3 dir log
  [ "$build" = old ] && dir=$OLD || dir=$NEW
  log="$LOGS/r$round-$build-$section.log"
  echo "-- round $round: $build $section (load $(load))" >&2
  "$dir/banyan-bench" run "$section" "${QUICK[@]}" > "$log" 2> "$log.err" || {
    echo "bench-old-new: $build $section failed; see $log.err" >&2; tail -5 "$log.err" >&2; exit 1; }
  if [ "$section" = echo ]; then
    printf '%s\t%s\techo\t%s\t%s\t%s\t%s\n' "$round" "$build" \
      "$(row_value "$log" 'ratio of p50s Banyan / raw')" \
      "$(row_value "$log" 'Banyan echo::run_client*')" \
      "$(row_value "$log" 'raw zmq client*')" \
      "$(row_value "$log" "ratio of p50s Banyan / raw, median of the blocks' ratios")" >> "$RESULTS"
  else
    printf '%s\t%s\tpubsub\t%s\t%s\t%s\t%s\t%s\n' "$round" "$build" \
      "$(row_value "$log" 'ratio Banyan / raw*')" \
      "$(row_value "$log" 'Banyan Component::publish*')" \
      "$(row_value "$log" 'raw zmq PUB*')" \
      "$(grep -o 'lost [0-9]* in [0-9]* runs' "$log" | head -1 | cut -d' ' -f2)" \
      "$(grep -o 'median pair ratio [0-9.]*' "$log" | head -1 | cut -d' ' -f4)" >> "$RESULTS"
  fi
}

echo "bench-old-new: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, load $(load)"
echo "  old: $OLD/banyan-bench"
echo "  new: $NEW/banyan-bench ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "  rounds: $ROUNDS${QUICK:+ (--quick)}; logs: $LOGS"
START_LOAD=$(load)
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order=(old new); else order=(new old); fi
  for section in echo pubsub; do
    for build in "${order[@]}"; do run_one "$build" "$section" "$round"; done
  done
done
END_LOAD=$(load)

# The table: per round and build, then the medians and NEW / OLD.
awk -F'\t' -v rounds="$ROUNDS" -v l0="$START_LOAD" -v l1="$END_LOAD" '
  function median(list,   n, i, j, t, a) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  $3 == "echo"   { e[$1, $2] = $4; p50[$1, $2] = $5; raw50[$1, $2] = $6; eb[$1, $2] = $7
                   el[$2] = el[$2] " " $4; ebl[$2] = ebl[$2] " " $7 }
  $3 == "pubsub" { p[$1, $2] = $4; bps[$1, $2] = $5; rps[$1, $2] = $6; lost[$1, $2] = $7; pp[$1, $2] = $8
                   pl[$2] = pl[$2] " " $4; ppl[$2] = ppl[$2] " " $8 }
  END {
    printf "\n| round | build | echo p50 Banyan / raw (µs) | echo ratio | echo ratio, median of blocks | pub/sub Banyan / raw (msg/s) | pub/sub ratio | pub/sub median pair ratio | lost |\n"
    printf "|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    for (r = 1; r <= rounds; r++) for (b = 0; b < 2; b++) {
      n = b ? "new" : "old"
      printf "| %d | %s | %s / %s | %s | %s | %s / %s | %s | %s | %s |\n", r, n, p50[r, n], raw50[r, n], e[r, n], eb[r, n], bps[r, n], rps[r, n], p[r, n], pp[r, n], lost[r, n]
    }
    for (b = 0; b < 2; b++) {
      n = b ? "new" : "old"
      m[n, 1] = median(el[n]); m[n, 2] = median(ebl[n]); m[n, 3] = median(pl[n]); m[n, 4] = median(ppl[n])
      printf "| median | %s | | **%.3f** | **%.3f** | | **%.3f** | **%.3f** | |\n", n, m[n, 1], m[n, 2], m[n, 3], m[n, 4]
    }
    printf "| new / old | | | %.3f | %.3f | | %.3f | %.3f | |\n", m["new", 1] / m["old", 1], m["new", 2] / m["old", 2], m["new", 3] / m["old", 3], m["new", 4] / m["old", 4]
    printf "\nload average (1/5/15 min): %s at start, %s at end\n", l0, l1
    printf "targets for new (medians over the rounds): echo p50 ratio <= 1.05: %s (median of blocks: %s); pub/sub ratio >= 0.97: %s (median pair ratio: %s)\n",
      (m["new", 1] <= 1.05 ? "met" : "missed"), (m["new", 2] <= 1.05 ? "met" : "missed"),
      (m["new", 3] >= 0.97 ? "met" : "missed"), (m["new", 4] >= 0.97 ? "met" : "missed")
  }' "$RESULTS"
