#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need from Debian's packages when it
# is missing (real Mosquitto and InfluxDB for the integration tests, Chromium and Playwright's
# driver for the web page's browser test), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v influx >/dev/null 2>&1 || need+=(influxdb-client)
command -v pkill >/dev/null 2>&1 || need+=(procps)
# The web page's end-to-end test (tests/it/web.rs): Debian's Chromium, driven from Node.
[ -x /usr/bin/chromium ] || need+=(chromium)
# …and a Chinese font, so the page's screenshots are readable.
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test dependencies: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  # Never let a package's install script start a system-wide service on the default ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

tools="$HOME/.cache/riverwatch-tools"
# The Compose file validator of tests/it/ops.rs (works without a Docker engine).
if [ -z "${RIVERWATCH_DCLINT:-}" ] && [ ! -x "$tools/node_modules/.bin/dclint" ]; then
  echo "installing dclint (compose validator) into $tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" dclint@3.1.0 >/dev/null
fi
# Playwright's driver only (playwright-core downloads no browser; the test uses the system one).
if [ -z "${RIVERWATCH_PLAYWRIGHT:-}" ] && [ ! -f "$tools/node_modules/playwright-core/package.json" ]; then
  echo "installing playwright-core (browser driver) into $tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" playwright-core@1.65.1 >/dev/null
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riverwatch-target}"
cargo test --workspace "$@"
