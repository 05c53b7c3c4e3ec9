#!/usr/bin/env bash
# Issue 28: the rust_banyan Python package (banyan-py/, pyo3 + maturin, abi3 for CPython ≥ 3.9).
#  1. checks fmt and clippy of banyan-py (its own workspace), builds the wheel with maturin
#     (from .ci/pip.d/python-package.txt), release;
#  2. installs it with python-banyan 3.17 and pytest into a fresh venv (target/py-package);
#  3. runs rust_banyan's own tests (banyan-py/tests, real Rust backplane);
#  4. runs Python Banyan's own wheel suite (tests/banyan_base, tests/banyan_base_multi) with
#     only its import changed, against the Rust backplane (on the suite's fixed ports
#     43124/43125: its components take no others);
#  5. runs the seed's echo scripts with one import changed against python-banyan and Rust
#     components, on a Rust and a Python Banyan backplane (banyan-cli/tests/python_package.rs);
#  6. installs the wheel into .venv too, for the benchmark's python section.
# Prints the duration of each part.
set -euo pipefail
START=$(date +%s)
lap() { echo "python-package: $* at $(( $(date +%s) - START )) s"; }
PY="${BANYAN_PYTHON:?BANYAN_PYTHON must name the .venv python}"

# banyan-py is its own workspace: the root fmt/clippy do not see it.
cargo fmt --manifest-path banyan-py/Cargo.toml --check
PYO3_PYTHON="$PY" cargo clippy -q --manifest-path banyan-py/Cargo.toml --all-targets -- -D warnings
lap "fmt and clippy clean"

rm -rf target/wheels/rust_banyan-*.whl
"$PY" -m maturin build --release --manifest-path banyan-py/Cargo.toml --out target/wheels \
  --interpreter "$PY"
WHEEL=$(ls target/wheels/rust_banyan-*-abi3-*.whl)
lap "wheel $(basename "$WHEEL") built"

FRESH=target/py-package
rm -rf "$FRESH"
python3 -m venv "$FRESH"
"$FRESH/bin/pip" install -q --disable-pip-version-check python-banyan==3.17 pytest "$WHEEL[numpy]"
lap "installed into a fresh venv"

cargo build -q -p banyan-cli --bins
BANYAN_BACKPLANE="$PWD/target/debug/backplane" "$FRESH/bin/python" -m pytest -q \
  -p no:cacheprovider banyan-py/tests
lap "rust_banyan's own tests passed"

"$FRESH/bin/python" banyan-py/tests/run_python_banyan_suite.py --backplane target/debug/backplane
lap "Python Banyan's wheel suite passed"

BANYAN_PYTHON="$PWD/$FRESH/bin/python" cargo test -q -p banyan-cli --test python_package \
  -- --ignored --test-threads=1
lap "echo scripts interoperate"

"$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
lap "done (wheel also in .venv for the benchmark)"
