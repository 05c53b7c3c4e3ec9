#!/usr/bin/env bash
# Bounded fuzz run of every target (decoders, sans-IO cores, the OneGPIO engine), as in CI,
# each starting from the committed corpus in seeds/TARGET (see README.md).
#
#   fuzz/run.sh [SECONDS_PER_TARGET [--jobs J]] (default 30, one at a time; CI: 30 s, --jobs 2)
#   fuzz/run.sh --runs N [--jobs J] [TARGET…] (the long run: N executions per target, J targets
#                                              at a time, default 1; all targets unless named)
#   fuzz/run.sh --list                        (the targets, one a line: CI's step label is made from it)
#
# Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly      (already present on the project machines)
#   cargo install cargo-fuzz --locked
# Builds every target with `cargo +nightly fuzz build`, then runs each. The corpus grows in
# fuzz/corpus/<target> (git-ignored); fuzz/seeds/<target> holds committed starting inputs.
# Exits non-zero when a target crashes (its input lands in fuzz/artifacts/<target>/;
# reproduce with `cargo +nightly fuzz run <target> <file>`).
#
# Sanitizer: CI's timed run keeps cargo-fuzz's default (AddressSanitizer). The long run builds
# with `-s none`: every fuzzed crate forbids unsafe code (the workspace lint), so ASan has
# nothing to find that Rust's own bounds checks miss, and without it a target runs 2–4× as
# many inputs in the same time. Coverage guidance, debug assertions and overflow checks stay.
# The long run writes each target's log to fuzz/logs/<target>.log and ends with a table of
# executions, speed and time per target (the figures fuzz/README.md records).
set -euo pipefail

cd "$(dirname "$0")"
targets=(frame_decoder payload_reader onegpio_engine gateway_session length_prefix_decoder alias_link firmata_decoder telemetrix_decoder)
usage() {
    echo "usage: $0 [SECONDS_PER_TARGET [--jobs J]] | --runs N [--jobs J] [TARGET…] | --list" >&2
    exit 2
}

# libFuzzer options of both modes: -rss_limit_mb guards against runaway allocation; -max_len
# keeps inputs near frame size.

if [ "${1:-}" = --list ]; then
    printf '%s\n' "${targets[@]}"
    exit 0
fi

if [ "${1:-}" = --runs ]; then
    runs=${2:-}
    [[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] || usage
    shift 2
    jobs=1
    if [ "${1:-}" = --jobs ]; then
        jobs=${2:-}
        [[ "$jobs" =~ ^[0-9]+$ ]] && [ "$jobs" -ge 1 ] || usage
        shift 2
    fi
    chosen=("$@")
    [ ${#chosen[@]} -gt 0 ] || chosen=("${targets[@]}")
    for t in "${chosen[@]}"; do
        printf '%s\n' "${targets[@]}" | grep -qx "$t" || { echo "fuzz: no target $t (see --list)" >&2; exit 2; }
    done
    cargo +nightly fuzz build -s none
    mkdir -p logs
    export runs
    # One target per job: its corpus, its log; the exit status says whether it crashed.
    one() {
        local t=$1 seeds=()
        mkdir -p "corpus/$t"
        [ -d "seeds/$t" ] && seeds=("seeds/$t")
        local t0
        t0=$(date +%s)
        echo "=== $t: $runs executions (log: fuzz/logs/$t.log)"
        if cargo +nightly fuzz run -s none "$t" "corpus/$t" "${seeds[@]}" -- \
            -runs="$runs" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 >"logs/$t.log" 2>&1; then
            echo "=== $t: done in $(($(date +%s) - t0)) s, no crash"
        else
            echo "=== $t: FAILED after $(($(date +%s) - t0)) s (see fuzz/logs/$t.log, fuzz/artifacts/$t/)"
            return 1
        fi
    }
    export -f one
    status=0
    printf '%s\n' "${chosen[@]}" | xargs -P "$jobs" -I{} bash -c 'one "$1"' _ {} || status=1
    echo
    echo "| target | executions | exec/s | seconds | corpus | crashes |"
    echo "|---|---:|---:|---:|---:|---:|"
    for t in "${chosen[@]}"; do
        log="logs/$t.log"
        units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
        secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
        crashes=$(find "artifacts/$t" -maxdepth 1 -type f 2>/dev/null | wc -l)
        echo "| \`$t\` | ${units:-?} | ${speed:-?} | ${secs:-?} | $(ls "corpus/$t" | wc -l) | $crashes |"
    done
    exit "$status"
fi

seconds="${1:-30}"
{ [[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ]; } || usage
jobs=1
if [ "${2:-}" = --jobs ]; then
    jobs=${3:-}
    [[ "$jobs" =~ ^[0-9]+$ ]] && [ "$jobs" -ge 1 ] || usage
fi

# No --release: cargo fuzz's default is an optimised build *with* debug assertions and
# overflow checks, which is what we want.
cargo +nightly fuzz build

# One target per job, each for SECONDS on a core of its own; with --jobs above 1 each
# target's output goes to logs/TARGET.timed.log and its final statistics (or, on a crash, the
# whole log) are printed when it ends.
timed() {
    local t=$1 seeds=()
    mkdir -p "corpus/$t"
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    echo "=== fuzzing $t for ${seconds}s"
    cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1
}
if [ "$jobs" -eq 1 ]; then
    for t in "${targets[@]}"; do
        timed "$t"
    done
else
    mkdir -p logs
    export seconds
    export -f timed
    status=0
    # shellcheck disable=SC2016 # expanded by the inner bash
    printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c '
        if timed "$1" >"logs/$1.timed.log" 2>&1; then
            echo "=== $1: $(grep -aE "^stat::(number_of_executed_units|average_exec_per_sec)" "logs/$1.timed.log" | tr -s " " | paste -sd " " -)"
        else
            echo "=== $1: CRASHED"; cat "logs/$1.timed.log"; exit 1
        fi' _ {} || status=1
    [ "$status" -eq 0 ] || { echo "fuzz: a target crashed (see above; its input is in fuzz/artifacts/)" >&2; exit 1; }
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash"
