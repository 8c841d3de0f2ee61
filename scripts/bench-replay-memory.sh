#!/usr/bin/env bash
# Peak memory of `riverwatch replay` as the window grows (issue 5: reading the store is chunked
# so that memory stays bounded for a year-long window). Simulates DAYS (default 365) of
# STATIONS (default 4) stations once, loads them into a SQLite reading store with
# `riverwatch bench sqlite-load`, then replays windows of 30, 90, … days from the store (sliced)
# and, for contrast, from the CSV (held in memory), printing peak RSS (VmHWM, from GNU time's
# %M) and wall time of each run. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/riverwatch"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
days="${DAYS:-365}"
"$bin" simulate --scenario typical --stations "${STATIONS:-4}" --days "$days" \
  --start 2025-01-01T00:00:00Z --write-config "$dir/config" \
  --output "$dir/readings.csv" --truth "$dir/truth.jsonl"
cp config/thresholds.toml "$dir/config/"
echo "loading into SQLite: $("$bin" bench sqlite-load --input "$dir/readings.csv" --db "$dir/readings.sqlite")"
printf '%-8s %-7s %12s %14s %9s\n' source days readings "peak RSS MiB" "wall s"
for window in ${WINDOWS:-30 90 $days}; do
  to=$(date -u -d "2025-01-01 + $window days" +%Y-%m-%dT%H:%M:%SZ)
  for source in "sqlite:$dir/readings.sqlite" "csv:$dir/readings.csv"; do
    /usr/bin/time -f '%M %e' -o "$dir/time" "$bin" replay --from 2025-01-01T00:00:00Z --to "$to" \
      --source "$source" --config "$dir/config" --out "$dir/report" 2>"$dir/err" >/dev/null
    read -r kib secs <"$dir/time"
    n=$(grep -o 'replayed [0-9]*' "$dir/err" | cut -d' ' -f2)
    printf '%-8s %-7s %12s %14s %9s\n' "${source%%:*}" "$window" "$n" "$((kib / 1024))" "$secs"
  done
done
