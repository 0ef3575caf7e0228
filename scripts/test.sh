#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, unit, property and
# multi-process integration tests. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

if command -v shellcheck >/dev/null 2>&1; then
  echo "== shellcheck"
  shellcheck scripts/*.sh .ci/run
fi

echo "== module graph (no module imports one that imports it, or its own parent)"
python3 scripts/module-cycles.py

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

echo "== cluster script"
scripts/cluster-test.sh

echo "== cluster script, TLS on every link"
scripts/cluster-test.sh --tls

echo "== multi-host (network namespaces; skipped without root, ip and iptables)"
scripts/multihost-test.sh

echo "== fault-injection harness and benchmarks"
scripts/harness-test.sh
