#!/usr/bin/env bash
# Does the multivariate model earn its place? Per seed: train PCA and GMM models on 21 quiet days,
# then run `detect` over 30 later days of the `subtle` scenario (correlated small shifts of DO,
# pH, conductivity and turbidity, each inside its univariate thresholds) without and with the
# models, and print eval's recall and false alarms side by side.
# Usage: [QUANTILE=q] [BASELINE=1d|none] [K=k N=n] [MODELS="pca gmm"] scripts/quality-ml.sh [SEEDS...]
# Defaults: train's (quantile, baseline, baseline hold), thresholds.toml's [models] k of n,
# seeds 1 2 3.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
cargo build --release --quiet
rw="$CARGO_TARGET_DIR/release/riverwatch"
seeds=("${@:-1 2 3}"); seeds=(${seeds[@]})
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
config=()
if [ -n "${K:-}" ]; then
  mkdir -p "$work/config"; cp config/*.toml "$work/config/"
  python3 - "$work/config/thresholds.toml" "$K" "${N:-$K}" <<'PY'
import re, sys
p, k, n = sys.argv[1:]
s = open(p).read()
s = re.sub(r"\[models\]\n(#.*\n)*k = \d+\nn = \d+", f"[models]\nk = {k}\nn = {n}", s)
assert f"k = {k}\nn = {n}" in s, "thresholds.toml has no [models] k/n to replace"
open(p, "w").write(s)
PY
  config=(--config "$work/config")
fi
printf '%-4s %-6s %8s %9s %9s %6s %8s\n' seed models events precision recall F1 'FA/stwk'
for seed in "${seeds[@]}"; do
  "$rw" simulate --scenario quiet --seed "$seed" --days 21 --start 2024-06-01T00:00:00Z \
    --output "$work/train.csv" --truth "$work/train.jsonl" 2>/dev/null
  "$rw" simulate --scenario subtle --seed "$seed" --days 30 --start 2024-07-01T00:00:00Z \
    --output "$work/test.csv" --truth "$work/test.jsonl" 2>/dev/null
  for model in none ${MODELS:-pca gmm}; do
    models=()
    if [ "$model" != none ]; then
      rm -rf "$work/models"
      "$rw" train --from 2024-06-01T00:00:00Z --to 2024-06-22T00:00:00Z --source "csv:$work/train.csv" \
        --model "$model" ${QUANTILE:+--quantile "$QUANTILE"} ${BASELINE:+--baseline "$BASELINE"} \
        --out "$work/models" >/dev/null 2>&1
      models=(--models "$work/models")
    fi
    "$rw" detect "${config[@]}" --input "$work/test.csv" --output "$work/e.jsonl" --leads "$work/l.jsonl" "${models[@]}" 2>/dev/null
    "$rw" eval --truth "$work/test.jsonl" --events "$work/e.jsonl" --leads "$work/l.jsonl" --json > "$work/q.json"
    python3 - "$work/q.json" "$seed" "$model" "$work/e.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n = sum(1 for _ in open(sys.argv[4]))
def sh(k):
    s = r[k]
    return "-" if s.get("share") is None else f"{100 * s['share']:.1f}%"
fa = r.get("false_alarms_per_station_week"); f1 = r.get("f1")
print(f"{sys.argv[2]:<4} {sys.argv[3]:<6} {n:>8} {sh('precision'):>9} {sh('recall'):>9} "
      f"{'-' if f1 is None else f'{f1:.2f}':>6} {'-' if fa is None else f'{fa:.2f}':>8}")
PY
  done
done
