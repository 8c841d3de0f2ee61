#!/usr/bin/env bash
# Measures `riverwatch simulate` throughput: readings written to CSV per second, release build.
# The binary prints the figure on stderr. STATIONS and DAYS size the run (defaults 200 and 30:
# about 8.7 million readings).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$CARGO_TARGET_DIR/release/riverwatch" simulate --scenario load --stations "${STATIONS:-200}" \
  --days "${DAYS:-30}" --output "$dir/readings.csv" --truth "$dir/truth.jsonl"
"$CARGO_TARGET_DIR/release/riverwatch" simulate --scenario typical --days "${DAYS:-30}" \
  --output "$dir/readings.csv" --truth "$dir/truth.jsonl"
