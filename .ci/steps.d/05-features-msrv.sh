#!/usr/bin/env bash
# Issue 11 item 6: the feature matrix and the declared rust-version.
# - banyan-proto's tests without `std` (the no_std API: slices in, slices out);
# - banyan-mcu's tests for each feature set a firmware can pick (none, std, async, both);
#   the thumb builds of each are in the no_std step of .ci/run;
# - the whole workspace checked with the toolchain of `rust-version` in Cargo.toml, in its
#   own target directory, removed afterwards (disk).
set -euo pipefail

echo "--- banyan-proto without std"
cargo test -q -p banyan-proto --no-default-features

for features in "" std async std,async; do
  echo "--- banyan-mcu, features: ${features:-none}"
  cargo test -q -p banyan-mcu --no-default-features ${features:+--features "$features"}
done

msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$msrv" ] || { echo "no rust-version in Cargo.toml" >&2; exit 1; }
# Every crate must inherit it (a crate with its own, older claim would go unchecked).
# banyan-py is a workspace of its own (excluded from the root): it states the same value, and
# is checked with the same toolchain below.
if grep -L 'rust-version.workspace = true' */Cargo.toml | grep -v '^boards\|^fuzz\|^banyan-py/' | grep .; then
  echo "the crates above do not inherit rust-version from the workspace" >&2
  exit 1
fi
py_msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' banyan-py/Cargo.toml)
if [ "$py_msrv" != "$msrv" ]; then
  echo "banyan-py/Cargo.toml claims rust-version ${py_msrv:-(none)}, the workspace $msrv: make them equal" >&2
  exit 1
fi
echo "--- rust-version $msrv: cargo +$msrv check --workspace --all-targets (and banyan-py's workspace)"
rustup toolchain install "$msrv" --profile minimal --no-self-update >/dev/null
CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check -q --workspace --all-targets
CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check -q --manifest-path banyan-py/Cargo.toml --all-targets
rm -rf target/msrv
echo "rust-version $msrv: ok"
