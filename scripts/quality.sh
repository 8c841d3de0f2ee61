#!/usr/bin/env bash
# Detection quality on simulated data with ground truth: for every scenario preset and seed,
# simulate → detect → eval with the default thresholds, and print one summary row each.
# Usage: scripts/quality.sh [DAYS] [SEEDS...]   (defaults: 60 days, seeds 1 2 3)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
cargo build --release --quiet
rw="$CARGO_TARGET_DIR/release/riverwatch"
days="${1:-60}"; shift || true
seeds=("${@:-1 2 3}"); seeds=(${seeds[@]})
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
printf '%-8s %4s %9s %9s %9s %6s %8s %8s %8s %8s %8s\n' scenario seed precision recall recall2x F1 'FA/stwk' 'delay50' segment tamper 'fault→D'
for scenario in quiet typical stormy tamper; do
  for seed in "${seeds[@]}"; do
    "$rw" simulate --scenario "$scenario" --seed "$seed" --days "$days" --output "$work/r.csv" --truth "$work/t.jsonl" 2>/dev/null
    "$rw" detect --input "$work/r.csv" --output "$work/e.jsonl" --leads "$work/l.jsonl" 2>/dev/null
    "$rw" eval --truth "$work/t.jsonl" --events "$work/e.jsonl" --leads "$work/l.jsonl" --json > "$work/q.json"
    python3 - "$work/q.json" "$scenario" "$seed" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def sh(k):
    s = r[k]
    return "-" if s.get("share") is None else f"{100 * s['share']:.1f}%"
fa = r.get("false_alarms_per_station_week")
d = r.get("delay_median_intervals")
f1 = r.get("f1")
print(f"{sys.argv[2]:<8} {sys.argv[3]:>4} {sh('precision'):>9} {sh('recall'):>9} {sh('recall_strong'):>9} "
      f"{'-' if f1 is None else f'{f1:.2f}':>6} {'-' if fa is None else f'{fa:.2f}':>8} "
      f"{'-' if d is None else f'{d:.1f}':>8} {sh('segment_right'):>8} {sh('tamper_raised'):>8} {sh('sensor_faults_as_discharge'):>8}")
PY
  done
done
