#!/usr/bin/env bash
# Measures `riverwatch tune` (issue 5 target: one threshold, 20 candidates, 60 days × 12
# stations of 5-minute data in under a minute) and `replay` throughput, release build.
# Both commands print their timing on stderr. DAYS and STATIONS size the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/riverwatch"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
days="${DAYS:-60}"
"$bin" simulate --scenario typical --stations "${STATIONS:-12}" --days "$days" \
  --start 2025-05-01T00:00:00Z --write-config "$dir/config" \
  --output "$dir/readings.csv" --truth "$dir/truth.jsonl"
cp config/thresholds.toml "$dir/config/"
to=$(date -u -d "2025-05-01 + $days days" +%Y-%m-%dT%H:%M:%SZ)
window=(--from 2025-05-01T00:00:00Z --to "$to" --source "csv:$dir/readings.csv")
"$bin" replay "${window[@]}" --config "$dir/config" --out "$dir/report"
time "$bin" tune "${window[@]}" --config "$dir/config" --truth "$dir/truth.jsonl" \
  --sweep 'robust_z.threshold=4..13.5:0.5' --plot "$dir/tune.png" --write "$dir/best.toml"
mkdir "$dir/best" && cp "$dir/config/"*.toml "$dir/best/" && cp "$dir/best.toml" "$dir/best/thresholds.toml"
"$bin" config check "$dir/best" --station "$(grep -m1 "^id" "$dir/best/stations.toml" | cut -d\" -f2)" >/dev/null && echo "best candidate: config check passed"
