# Sourced by the benchmark scripts (not run on its own): free loopback ports, waiting with a
# deadline, and an InfluxDB 1.x server of their own in a temp dir, started without systemd as
# crates/testkit starts one for the tests.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # seconds, command...
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# start_influxd DIR: influxd with its files under DIR/influx on free loopback ports, WAL fsync
# off, no reporting; sets ix (base URL), ix_port and ix_pid, and returns once /ping answers.
start_influxd() {
  local d=$1 rpc
  ix_port=$(free_port); rpc=$(free_port)
  cat >"$d/influxdb.conf" <<EOF
reporting-enabled = false
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$d/influx/meta"
[data]
  dir = "$d/influx/data"
  wal-dir = "$d/influx/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$ix_port"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
EOF
  setsid influxd -config "$d/influxdb.conf" >"$d/influxd.log" 2>&1 </dev/null &
  ix_pid=$!
  ix="http://127.0.0.1:$ix_port"
  wait_for 15 curl -sf "$ix/ping" && return
  echo "influxd did not start:" >&2
  cat "$d/influxd.log" >&2
  kill -KILL "$ix_pid" 2>/dev/null
  return 1
}
