#!/bin/sh
# Publishes a simulated Dongliao network into the broker, for the `demo` compose profile.
#
# `riverwatch simulate` writes the last DEMO_DAYS days of the configured network (ending now, so
# no reading lies in the future) as a CSV; awk turns each row into a one-parameter station JSON
# message (the contract in docs/operations.md) and feeds it, in time order, to one
# `mosquitto_pub -l` per station on riverwatch/readings/{station}. This is a one-shot replay of
# recent history, not a live feed: a continuous simulator needs `riverwatch simulate --publish`,
# which does not exist yet.
#
# Environment: MQTT_HOST (mosquitto), MQTT_PORT (1883), MQTT_USER (sensor), MQTT_PASSWORD,
# TOPIC_PREFIX (riverwatch/readings), DEMO_DAYS (2), DEMO_SCENARIO (typical), DEMO_SEED (1),
# RIVERWATCH (riverwatch), RIVERWATCH_CONFIG (/etc/riverwatch), WORK_DIR (a new temp dir).
set -eu

host=${MQTT_HOST:-mosquitto}
port=${MQTT_PORT:-1883}
user=${MQTT_USER:-sensor}
prefix=${TOPIC_PREFIX:-riverwatch/readings}
days=${DEMO_DAYS:-2}
scenario=${DEMO_SCENARIO:-typical}
seed=${DEMO_SEED:-1}
bin=${RIVERWATCH:-riverwatch}
config=${RIVERWATCH_CONFIG:-/etc/riverwatch}
work=${WORK_DIR:-$(mktemp -d)}
: "${MQTT_PASSWORD:?MQTT_PASSWORD must hold the password of MQTT_USER}"

case $days in '' | *[!0-9]*) echo "DEMO_DAYS must be a whole number of days" >&2; exit 2 ;; esac
start=$(date -u -d "@$(( $(date -u +%s) / 3600 * 3600 - days * 86400 ))" +%Y-%m-%dT%H:%M:%SZ)

mkdir -p "$work/xdg"
"$bin" simulate --config "$config" --scenario "$scenario" --seed "$seed" --days "$days" \
  --start "$start" --output "$work/readings.csv" --truth "$work/truth.jsonl"

# mosquitto_pub reads its options from this file, so the password stays off every command line.
printf -- '-h %s\n-p %s\n-u %s\n-P %s\n-q 0\n' "$host" "$port" "$user" "$MQTT_PASSWORD" \
  > "$work/xdg/mosquitto_pub"
chmod 600 "$work/xdg/mosquitto_pub"
export XDG_CONFIG_HOME="$work/xdg"

# QoS 0: `mosquitto_pub -l -q 1` (2.0.11) can exit at end of input before its queue drains and
# lose the tail; with QoS 0 every line is sent. QoS 0 is not queued for offline sessions, so the
# compose service starts only once riverwatch is healthy (connected and subscribed).
awk -F, -v prefix="$prefix" '
  NR == 1 { next }
  NF == 4 {
    printf "{\"station\":\"%s\",\"parameter\":\"%s\",\"time\":\"%s\",\"value\":%s}\n", $2, $3, $1, $4 \
      | ("mosquitto_pub -l -t " prefix "/" $2)
    n++
  }
  END { printf "published %d readings\n", n > "/dev/stderr" }
' "$work/readings.csv"
