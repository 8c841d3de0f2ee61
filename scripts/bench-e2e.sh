#!/usr/bin/env bash
# End-to-end load test (issue 6): Mosquitto → riverwatch run → InfluxDB 1.x, against the broker
# alone, InfluxDB alone and a hand-written Python pipeline, all measured in this one run.
#
# Each rate step publishes simulated station JSON (5 parameters per message, QoS 1) for
# DURATION seconds to a fresh `riverwatch run` (fresh database, session and data dir). A step
# passes when the publisher held the rate, InfluxDB's COUNT equals the readings published, and
# the last reading was stored within GRACE seconds of the last publish (a pipeline that only
# catches up later is lagging, not sustaining). The ladder stops at the first failing step,
# then tries the midpoint once.
#
# Environment: DURATION (s per step, default 60), RATES (messages/s ladder; "" skips it, e.g.
# for a latency run at LAT_RATE), PY_RATES (ladder for the Python pipeline), GRACE (s,
# default 5), INFLIGHT (broker's per-client QoS 1 window, default 2000: two of riverwatch's
# 1,000-message batches, so one arrives while the other is written), NO_BUILD=1 (use the
# existing release binary), VENV (reuse a venv holding paho-mqtt and influxdb instead of
# creating one), PY_RATES="" (skip the Python pipeline),
# FWD_RATES (ladder of the minimal forwarder `riverwatch bench forward`: the broker and InfluxDB
# sharing the machine without riverwatch; default RATES, "" skips it).
#
# Side by side: RW_BIN is the riverwatch binary under test (default: the release build);
# RW_BASELINE (another binary, e.g. a copy of main's) runs the same ladder and latency steps in
# the same run. LAT_RATE sets the latency step's rate (default: 25 % of RW_BIN's sustained rate,
# for both binaries) and LAT_REPEAT how many times each binary runs it, interleaved (0: none).
# The latency is reported over all revisions and over those made after the first LAT_WARM
# seconds (default 10) of each run: the first simulated weeks hold leads whose events run for
# days, whose evidence reaches back past the evidence cache's 3 days and is read from InfluxDB.
# BASELINE_DROP_KEYS: riverwatch.toml keys the baseline predates, left out of its config
# (default none; e.g. "writes_in_flight" for a binary older than store.writes_in_flight, which
# refuses unknown keys). RW_TOML_SED: a sed script applied to riverwatch.toml for both
# binaries, e.g. 's|^linger = .*|linger = "0s"|' or 's|^gzip = .*|gzip = "always"|'.
# RW_WORKERS: riverwatch's async worker threads (TOKIO_WORKER_THREADS, for `riverwatch run`
# only; default one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/influxd.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
DURATION=${DURATION:-60}
RATES=${RATES-"2000 4000 8000 12000 16000 20000 25000"}
PY_RATES=${PY_RATES-"250 500 1000 2000 4000"}
FWD_RATES=${FWD_RATES-$RATES}
GRACE=${GRACE:-5}
INFLIGHT=${INFLIGHT:-2000}
DRAIN=$((DURATION + 60))
[ "${NO_BUILD:-}" = 1 ] || cargo build --release --quiet --bin riverwatch
RW="${RW_BIN:-$CARGO_TARGET_DIR/release/riverwatch}"
RW_BASELINE=${RW_BASELINE:-}
LAT_REPEAT=${LAT_REPEAT:-1}
LAT_WARM=${LAT_WARM:-10}
BASELINE_DROP_KEYS=${BASELINE_DROP_KEYS-}
HZ=$(getconf CLK_TCK)
dir=$(mktemp -d /tmp/rw-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_pct() { awk -v a="$1" -v b="$2" -v s="$3" -v hz="$HZ" 'BEGIN { printf "%.0f", (b - a) / hz / s * 100 }'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
json() { jq -r "$2" <<<"$1"; }

# --- the two servers -------------------------------------------------------------------------
mq_port=$(free_port)
cat >"$dir/mosquitto.conf" <<EOF
listener $mq_port 127.0.0.1
allow_anonymous true
persistence false
# Defaults (1000 queued, 20 in flight) silently drop QoS 1 messages for a slow subscriber.
max_queued_messages 10000000
max_queued_bytes 0
max_inflight_messages $INFLIGHT
log_dest stderr
log_type error
log_type warning
user root
EOF
setsid mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 </dev/null &
mq_pid=$!; pids+=("$mq_pid")
start_influxd "$dir"
pids+=("$ix_pid")
wait_for 15 bash -c "echo > /dev/tcp/127.0.0.1/$mq_port" || { say "mosquitto did not start:"; cat "$dir/mosquitto.log" >&2; exit 1; }

count_db() { # db → COUNT(value) of measurement water
  curl -s -G "$ix/query" --data-urlencode "db=$1" --data-urlencode 'q=SELECT COUNT(value) FROM water' |
    jq -r '.results[0].series[0].values[0][1] // 0'
}
publish() { # rate messages → publisher JSON (rate 0: unpaced)
  "$RW" bench publish --port "$mq_port" --rate "$1" --messages "$2" --config "$root/config" \
    --client-id "bench-pub-$RANDOM"
}

# --- reference 1: the broker alone -----------------------------------------------------------
n_broker=$((30000 * DURATION))
say "== broker alone: $n_broker messages unpaced, QoS 1, one plain subscriber (load $(load))"
mq0=$(cpu_ticks "$mq_pid")
"$RW" bench sink --port "$mq_port" --expect "$n_broker" --ready-file "$dir/sink.ready" >"$dir/sink.json" &
sink_pid=$!; pids+=("$sink_pid")
wait_for 15 test -f "$dir/sink.ready"
t0=$(now)
pub=$(publish 0 "$n_broker")
wait "$sink_pid"
t1=$(now)
sink=$(cat "$dir/sink.json")
broker_rate=$(json "$sink" '.rate | floor')
say "   received $(json "$sink" .messages) of $(json "$pub" .messages) at $broker_rate msg/s" \
  "(publisher $(json "$pub" '.rate | floor') msg/s, publisher CPU $(json "$pub" '.cpu_seconds')s," \
  "sink CPU $(json "$sink" '.cpu_seconds')s, mosquitto CPU $(cpu_pct "$mq0" "$(cpu_ticks "$mq_pid")" "$(elapsed "$t0" "$t1")")%), load $(load)"

# --- reference 2: InfluxDB alone -------------------------------------------------------------
say "== InfluxDB alone: 500,000 readings, riverwatch's schema, 5,000-point requests one at a time (load $(load))"
ix0=$(cpu_ticks "$ix_pid"); t0=$(now)
iw=$("$RW" bench influx-write --url "$ix" --db alone --points 500000 --batch 5000)
influx_points=$(json "$iw" '.rate | floor')
say "   $influx_points readings/s = $((influx_points / 5)) messages/s of 5 (influxd CPU $(cpu_pct "$ix0" "$(cpu_ticks "$ix_pid")" "$(elapsed "$t0" "$(now)")")%), load $(load)"
if "$RW" bench influx-write --help | grep -q -- --gzip; then
  ix0=$(cpu_ticks "$ix_pid"); t0=$(now)
  iw=$("$RW" bench influx-write --url "$ix" --db alone_gz --points 500000 --batch 5000 --gzip)
  say "   gzipped bodies: $(json "$iw" '.rate | floor') readings/s (influxd CPU $(cpu_pct "$ix0" "$(cpu_ticks "$ix_pid")" "$(elapsed "$t0" "$(now)")")%), load $(load)"
fi
limit=$((influx_points / 5 < broker_rate ? influx_points / 5 : broker_rate))

# --- riverwatch ------------------------------------------------------------------------------
RUN=$RW; LABEL=riverwatch
# The pass rule of the header comment.
verdict() { # rate publisher-json readings-sent readings-stored lag → sets step_pass
  local held; held=$(awk -v a="$(json "$2" .rate)" -v r="$1" 'BEGIN { print (a >= 0.95 * r) ? 1 : 0 }')
  step_pass=0
  if [ "$4" -eq "$3" ] && [ "$held" = 1 ] && awk -v l="$5" -v g="$GRACE" 'BEGIN { exit !(l <= g) }'; then step_pass=1; fi
}
latency_metrics() { # http port → the latency histograms and seal counters of /metrics
  curl -s "http://127.0.0.1:$1/metrics" | grep -E '^riverwatch_(end_to_end_seconds|lead_latency_seconds|lead_revisions|evidence_seals)' || true
}
rw_step() { # rate [latency] → sets step_pass, prints one result line ($RUN, named $LABEL)
  local rate=$1 tag=rw_$1_$RANDOM n=$(($1 * DURATION)) http cfg
  http=$(free_port); cfg="$dir/$tag"
  mkdir -p "$cfg"
  cp "$root"/config/{stations,thresholds,gb3838}.toml "$cfg/"
  sed -e "s|^data_dir = .*|data_dir = \"$cfg/data\"|" \
    -e "s|^ledger_path = .*|ledger_path = \"$cfg/data/ledger.sqlite\"|" \
    -e 's|^replay_window = .*|replay_window = "0s"|' \
    -e "s|^port = 1883|port = $mq_port|" \
    -e "s|^client_id = .*|client_id = \"$tag\"|" \
    -e 's|^kind = "sqlite"|kind = "influx"|' \
    -e "s|^sqlite_path = .*|sqlite_path = \"$cfg/data/readings.sqlite\"|" \
    -e "s|^spool_dir = .*|spool_dir = \"$cfg/data/spool\"|" \
    -e "s|^url = .*|url = \"$ix\"|" \
    -e "s|^db = .*|db = \"$tag\"|" \
    -e "s|^listen = .*|listen = \"127.0.0.1:$http\"|" \
    "$root/config/riverwatch.toml" >"$cfg/riverwatch.toml"
  if [ -n "${RW_TOML_SED:-}" ]; then sed -i "$RW_TOML_SED" "$cfg/riverwatch.toml"; fi
  if [ "$LABEL" = baseline ]; then
    for k in $BASELINE_DROP_KEYS; do sed -i "/^$k = /d" "$cfg/riverwatch.toml"; done
  fi
  curl -s -XPOST "$ix/query" --data-urlencode "q=CREATE DATABASE $tag" >/dev/null
  RUST_LOG=info env ${RW_WORKERS:+TOKIO_WORKER_THREADS=$RW_WORKERS} "$RUN" run --config "$cfg" >"$cfg/riverwatch.log" 2>&1 &
  local rw_pid=$!; pids+=("$rw_pid")
  wait_for 30 curl -sf "http://127.0.0.1:$http/readyz" || { say "riverwatch did not become ready:"; cat "$cfg/riverwatch.log" >&2; exit 1; }
  local r0 m0 i0 t0 pub t1 stored t2 count cpu_rw warm_pid=
  r0=$(cpu_ticks "$rw_pid"); m0=$(cpu_ticks "$mq_pid"); i0=$(cpu_ticks "$ix_pid"); t0=$(now)
  if [ "${2:-}" = latency ]; then
    # The histograms LAT_WARM seconds in, counts negated: added to the final scrape, they leave
    # the revisions made after the warm-up.
    (sleep "$LAT_WARM"; latency_metrics "$http" | awk '{ $2 = -$2; print }' >"$dir/latency-warm-$LABEL.txt") &
    warm_pid=$!
  fi
  pub=$(publish "$rate" "$n")
  t1=$(now)
  local want; want=$(json "$pub" .readings)
  metric() { curl -s "http://127.0.0.1:$http/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
  until stored=$(metric riverwatch_readings_stored_total); [ "${stored:-0}" -ge "$want" ]; do
    [ "$(elapsed "$t1" "$(now)" | cut -d. -f1)" -lt "$DRAIN" ] || break
    sleep 0.2
  done
  t2=$(now)
  local wall lag; wall=$(elapsed "$t0" "$t2"); lag=$(elapsed "$t1" "$t2")
  cpu_rw=$(cpu_pct "$r0" "$(cpu_ticks "$rw_pid")" "$wall")
  local cpu_mq cpu_ix; cpu_mq=$(cpu_pct "$m0" "$(cpu_ticks "$mq_pid")" "$wall"); cpu_ix=$(cpu_pct "$i0" "$(cpu_ticks "$ix_pid")" "$wall")
  local rss hwm; rss=$(awk '/VmRSS/ {print $2}' "/proc/$rw_pid/status"); hwm=$(awk '/VmHWM/ {print $2}' "/proc/$rw_pid/status")
  count=$(count_db "$tag")
  local writes; writes=$(metric riverwatch_store_write_seconds_count)
  verdict "$rate" "$pub" "$want" "$count" "$lag"
  printf '   %-10s %6d msg/s: published %d msgs (%s msg/s), readings %d, in InfluxDB %d, last stored %ss after the last publish -> %s | CPU riverwatch %s%% mosquitto %s%% influxd %s%% publisher %ss | %s writes of %s readings | RSS %d MiB (peak %d) | load %s\n' \
    "$LABEL" "$rate" "$(json "$pub" .messages)" "$(json "$pub" '.rate | floor')" "$want" "$count" "$lag" \
    "$([ $step_pass = 1 ] && echo PASS || echo FAIL)" "$cpu_rw" "$cpu_mq" "$cpu_ix" "$(json "$pub" .cpu_seconds)" \
    "${writes:-?}" "$([ "${writes:-0}" -gt 0 ] && echo $((want / writes)) || echo '?')" $((rss / 1024)) $((hwm / 1024)) "$(load)" >&2
  if [ "$step_pass" = 0 ]; then
    say "   riverwatch's log:"; sed 's/\x1b\[[0-9;]*m//g' "$cfg/riverwatch.log" | grep -v 'INFO.*\(task\|stopped\)' | tail -n 8 >&2
  fi
  if [ "${2:-}" = latency ]; then
    wait "$warm_pid" || true
    latency_metrics "$http" >"$dir/latency-$LABEL.txt"
    cat "$dir/latency-$LABEL.txt" >>"$dir/latency-$LABEL-all.txt"
    cat "$dir/latency-$LABEL.txt" "$dir/latency-warm-$LABEL.txt" >>"$dir/latency-$LABEL-steady.txt"
  fi
  kill -TERM "$rw_pid"; wait "$rw_pid" || true
}

ladder() { # step-function rates... → best passing rate in $best
  local step=$1; shift
  best=0; local fail=0
  for r in "$@"; do
    "$step" "$r"
    if [ "$step_pass" = 1 ]; then best=$r; else fail=$r; break; fi
  done
  if [ "$fail" -gt 0 ] && [ "$best" -gt 0 ]; then
    local mid=$(((best + fail) / 2))
    "$step" "$mid"
    if [ "$step_pass" = 1 ]; then best=$mid; fi
  fi
}

say "== riverwatch run (InfluxDB store), $DURATION s per step, pass = zero loss and caught up within ${GRACE}s"
if [ -n "$RW_BASELINE" ]; then
  RUN=$RW_BASELINE LABEL=baseline ladder rw_step $RATES
  base_best=$best
fi
RUN=$RW LABEL=riverwatch ladder rw_step $RATES
rw_best=$best

# --- ingest→lead latency at a quarter of the sustained rate ---------------------------------
quantiles() { # metrics text (several scrapes: counts add up) → p50/p95/p99 per histogram
  awk '
    /_bucket[{]/ {
      key = $1; match(key, /le="[^"]+"/); le = substr(key, RSTART + 4, RLENGTH - 5)
      sub(/le="[^"]+",?/, "", key); sub(/,}/, "}", key); sub(/_bucket/, "", key); sub(/[{]}/, "", key)
      if (!((key, le) in c)) { nb[key]++; les[key, nb[key]] = le }
      c[key, le] += $2
      if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
    }
    /_count/ { key = $1; sub(/_count/, "", key); tot[key] += $2 }
    END {
      for (k = 1; k <= nk; k++) {
        key = order[k]; total = tot[key]; line = sprintf("   %-52s n=%-4d", key, total)
        split("0.5 0.95 0.99", qs, " ")
        for (q = 1; q <= 3; q++) for (i = 1; i <= nb[key]; i++) {
          le = les[key, i]
          if (total > 0 && c[key, le] >= qs[q] * total) { line = line sprintf("  p%s <= %ss", qs[q] * 100, le); break }
        }
        print line
      }
    }' "$1"
}
quarter=${LAT_RATE:-$((rw_best / 4))}
if [ "$quarter" -gt 0 ] && [ "$LAT_REPEAT" -gt 0 ]; then
  say "== latency at $quarter msg/s (25 % of $rw_best msg/s unless LAT_RATE), $LAT_REPEAT run(s) per binary, interleaved"
  for _ in $(seq "$LAT_REPEAT"); do
    if [ -n "$RW_BASELINE" ]; then RUN=$RW_BASELINE LABEL=baseline rw_step "$quarter" latency; fi
    RUN=$RW LABEL=riverwatch rw_step "$quarter" latency
  done
  for label in $([ -n "$RW_BASELINE" ] && echo baseline) riverwatch; do
    for part in all steady; do
      if [ $part = all ]; then
        say "   $label, histogram bucket bounds over all its latency runs:"
      else
        say "   $label, the revisions made after the first ${LAT_WARM}s of each run:"
      fi
      quantiles "$dir/latency-$label-$part.txt" >&2
      # Where the evidence was sealed from (binaries that count it): memory or store.
      awk '/^riverwatch_evidence_seals_total/ { n[$1] += $2 } END { for (k in n) printf "   %s %d\n", k, n[k] }' \
        "$dir/latency-$label-$part.txt" >&2
    done
  done
fi

# --- pipelines without riverwatch: a minimal forwarder, the Python reference ------------------
# A forwarder step runs `$FWD <db>` (a process subscribed to the broker that writes what it gets
# to InfluxDB database <db>; it must `exec` so that its pid is the process) on the same load
# and counts what reached InfluxDB.
fwd_step() {
  local rate=$1 tag=${LABEL}_$1_$RANDOM n=$(($1 * DURATION))
  curl -s -XPOST "$ix/query" --data-urlencode "q=CREATE DATABASE $tag" >/dev/null
  "$FWD" "$tag" >"$dir/$tag.log" 2>&1 &
  local fwd_pid=$!; pids+=("$fwd_pid")
  sleep 2
  local p0 m0 i0 t0 pub t1 count want
  p0=$(cpu_ticks "$fwd_pid"); m0=$(cpu_ticks "$mq_pid"); i0=$(cpu_ticks "$ix_pid"); t0=$(now)
  pub=$(publish "$rate" "$n"); t1=$(now)
  want=$(json "$pub" .readings)
  until count=$(count_db "$tag"); [ "$count" -ge "$want" ]; do
    [ "$(elapsed "$t1" "$(now)" | cut -d. -f1)" -lt "$DRAIN" ] || break
    sleep 0.5
  done
  local t2 lag wall; t2=$(now); lag=$(elapsed "$t1" "$t2"); wall=$(elapsed "$t0" "$t2")
  verdict "$rate" "$pub" "$want" "$count" "$lag"
  printf '   %-10s %6d msg/s: published %d msg/s, readings %d, in InfluxDB %d, last stored %ss after the last publish -> %s | CPU %s %s%% mosquitto %s%% influxd %s%% publisher %ss | load %s\n' \
    "$LABEL" "$rate" "$(json "$pub" '.rate | floor')" "$want" "$count" "$lag" "$([ $step_pass = 1 ] && echo PASS || echo FAIL)" \
    "$LABEL" "$(cpu_pct "$p0" "$(cpu_ticks "$fwd_pid")" "$wall")" "$(cpu_pct "$m0" "$(cpu_ticks "$mq_pid")" "$wall")" \
    "$(cpu_pct "$i0" "$(cpu_ticks "$ix_pid")" "$wall")" "$(json "$pub" .cpu_seconds)" "$(load)" >&2
  kill -TERM "$fwd_pid"; wait "$fwd_pid" || true
}

fwd_best=0
rust_forward() { exec "$RW" bench forward --port "$mq_port" --url "$ix" --db "$1" --config "$root/config"; }
if [ -n "$FWD_RATES" ]; then
  say "== forwarder: broker + InfluxDB together without riverwatch (decode, 5,000-reading batches, acks on receipt), same load"
  FWD=rust_forward LABEL=forward ladder fwd_step $FWD_RATES
  fwd_best=$best
fi

py_best=0
if [ -n "$PY_RATES" ] && [ -z "${VENV:-}" ]; then
  VENV="$dir/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet paho-mqtt influxdb
fi
python_pipeline() { exec "$VENV/bin/python" "$root/bench/reference_pipeline.py" --mqtt-port "$mq_port" --influx-port "$ix_port" --db "$1"; }
if [ -n "$PY_RATES" ]; then
  say "== Python reference (paho-mqtt + influxdb client, 5,000-point batches), same load"
  FWD=python_pipeline LABEL=python ladder fwd_step $PY_RATES
  py_best=$best
fi

# --- summary ---------------------------------------------------------------------------------
say ""
say "summary (DURATION=${DURATION}s per step, load $(load)):"
say "  broker alone, QoS 1:            $broker_rate msg/s"
say "  InfluxDB alone, 5,000/request:  $influx_points readings/s ($((influx_points / 5)) msg/s of 5 readings)"
say "  riverwatch, zero loss:          $rw_best msg/s = $((rw_best * 5)) readings/s"
[ -z "$RW_BASELINE" ] || say "  baseline, zero loss:            $base_best msg/s = $((base_best * 5)) readings/s"
say "  forwarder, zero loss:           $fwd_best msg/s (broker + InfluxDB sharing the machine, no riverwatch)"
say "  python pipeline, zero loss:     $py_best msg/s"
awk -v r="$rw_best" -v l="$limit" -v p="$py_best" -v b="${base_best:-}" -v f="$fwd_best" 'BEGIN {
  printf "  riverwatch / min(broker, InfluxDB) = %.2f (target >= 0.80)\n", (l > 0 ? r / l : 0)
  if (f > 0) printf "  riverwatch / forwarder             = %.2f\n", r / f
  if (b != "") printf "  baseline / min(broker, InfluxDB)   = %.2f\n", (l > 0 ? b / l : 0)
  printf "  riverwatch / python                = %.1f (target >= 4)\n", (p > 0 ? r / p : 0) }' >&2
