#!/usr/bin/env bash
# Bounded fuzz run of every target (decoders, sans-IO cores, the OneGPIO engine), as in CI,
# each starting from the committed corpus in seeds/TARGET (see README.md).
#
#   fuzz/run.sh [SECONDS_PER_TARGET]   (default 30)
#   fuzz/run.sh --list                 (the targets, one a line: CI's step label is made from it)
#
# Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly      (already present on the project machines)
#   cargo install cargo-fuzz --locked
# Builds every target with `cargo +nightly fuzz build`, then runs each for the given time.
# The corpus grows in fuzz/corpus/<target> (git-ignored); fuzz/seeds/<target> holds committed
# starting inputs. Exits non-zero as soon as a target crashes (its input lands in
# fuzz/artifacts/<target>/; reproduce with `cargo +nightly fuzz run <target> <file>`).
set -euo pipefail

seconds="${1:-30}"
if [ "$seconds" != --list ] && { ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; }; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi

cd "$(dirname "$0")"
targets=(frame_decoder payload_reader onegpio_engine gateway_session length_prefix_decoder alias_link firmata_decoder telemetrix_decoder)
if [ "$seconds" = --list ]; then
    printf '%s\n' "${targets[@]}"
    exit 0
fi

# No --release: cargo fuzz's default is an optimised build *with* debug assertions and
# overflow checks, which is what we want.
cargo +nightly fuzz build

for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    echo "=== fuzzing $t for ${seconds}s"
    # -rss_limit_mb guards against runaway allocation; -max_len keeps inputs near frame size.
    cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash"
