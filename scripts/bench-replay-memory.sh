#!/usr/bin/env bash
# Peak memory and wall time of `riverwatch replay` as the window grows (issue 5: reading a store
# is sliced so that memory stays bounded for a year-long window). Simulates DAYS (default 365)
# of STATIONS (default 4) stations once, loads them into a SQLite reading store (`riverwatch
# bench sqlite-load`) and into an InfluxDB 1.x database (`riverwatch bench influx-load`;
# influxd started here on free loopback ports in a temp dir, scripts/influxd.sh),
# then replays windows of 30, 90, … days from each store (sliced) and, for contrast, from the
# CSV (held in memory), printing peak RSS (VmHWM, from GNU time's %M) and wall time of each run.
# Release build.
#
# BASELINE=/path/to/riverwatch also runs every replay with that binary (e.g. one built from the
# commit before a change), alternating with the current one, so both are measured side by side
# on the same machine under the same load; SOURCES (default "sqlite influx csv") picks sources.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/influxd.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
[ "${NO_BUILD:-}" = 1 ] || cargo build --release --quiet --bin riverwatch
bin="$CARGO_TARGET_DIR/release/riverwatch"
dir=$(mktemp -d /tmp/rw-replay-mem.XXXXXX)
ix_pid=
cleanup() {
  [ -z "$ix_pid" ] || kill -KILL "$ix_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
days="${DAYS:-365}"
sources="${SOURCES:-sqlite influx csv}"

"$bin" simulate --scenario typical --stations "${STATIONS:-4}" --days "$days" \
  --start 2025-01-01T00:00:00Z --write-config "$dir/config" \
  --output "$dir/readings.csv" --truth "$dir/truth.jsonl"
cp config/thresholds.toml "$dir/config/"

case " $sources " in *" sqlite "*)
  echo "loading into SQLite: $("$bin" bench sqlite-load --input "$dir/readings.csv" --db "$dir/readings.sqlite")"
esac

case " $sources " in *" influx "*)
  start_influxd "$dir"
  curl -sf -XPOST "$ix/query" --data-urlencode 'q=CREATE DATABASE "replay"' >/dev/null
  echo "loading into InfluxDB: $("$bin" bench influx-load --input "$dir/readings.csv" --url "$ix" --db replay)"
  # The service config `--source influx` reads: the shipped one pointed at this influxd.
  sed -e "s|^url = \"http://127.0.0.1:8086\"|url = \"$ix\"|" -e 's|^db = "riverwatch"|db = "replay"|' \
    -e 's|^kind = "sqlite"|kind = "influx"|' -e 's|^timeout = "10s"|timeout = "60s"|' \
    config/riverwatch.toml >"$dir/riverwatch.toml"
esac

echo "load average before the replays: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-7s %-7s %12s %14s %9s %6s\n' binary source days readings "peak RSS MiB" "wall s" load
binaries="current:$bin"
[ -z "${BASELINE:-}" ] || binaries="baseline:$BASELINE $binaries"
for window in ${WINDOWS:-30 90 $days}; do
  to=$(date -u -d "2025-01-01 + $window days" +%Y-%m-%dT%H:%M:%SZ)
  for source in $sources; do
    case $source in
      sqlite) arg="sqlite:$dir/readings.sqlite" extra=() ;;
      influx) arg="influx" extra=(--service "$dir/riverwatch.toml") ;;
      csv) arg="csv:$dir/readings.csv" extra=() ;;
    esac
    for b in $binaries; do
      /usr/bin/time -f '%M %e' -o "$dir/time" "${b#*:}" replay --from 2025-01-01T00:00:00Z --to "$to" \
        --source "$arg" "${extra[@]}" --config "$dir/config" --out "$dir/report" 2>"$dir/err" >/dev/null ||
        { cat "$dir/err" >&2; exit 1; }
      read -r kib secs <"$dir/time"
      n=$(grep -o 'replayed [0-9]*' "$dir/err" | cut -d' ' -f2)
      printf '%-9s %-7s %-7s %12s %14s %9s %6s\n' "${b%%:*}" "$source" "$window" "$n" "$((kib / 1024))" \
        "$secs" "$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
