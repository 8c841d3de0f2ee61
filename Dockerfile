# riverwatch container image.
#
# Stage `builder` compiles the binary; stage `runtime` (the default target, last in this file) is
# debian:bookworm-slim with only the binary, the default config and a non-root user. Stage
# `simulator` is the optional demo publisher used by `docker compose --profile demo`.
#
#   docker build -t riverwatch .
#   docker run --rm -p 8080:8080 riverwatch            # needs a broker: see docker-compose.yml

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# --locked: build exactly the dependency versions that the tests ran with.
RUN cargo build --release --locked --bin riverwatch \
 && strip target/release/riverwatch \
 && cp target/release/riverwatch /usr/local/bin/riverwatch

# Demo publisher: the same binary (for `riverwatch simulate`) plus mosquitto_pub.
FROM debian:bookworm-slim AS simulator
RUN apt-get update \
 && apt-get install -y --no-install-recommends mosquitto-clients \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin riverwatch
COPY --from=builder /usr/local/bin/riverwatch /usr/local/bin/riverwatch
COPY config/ /etc/riverwatch/
COPY deploy/simulator/publish.sh /usr/local/bin/riverwatch-publish-demo
USER riverwatch
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/riverwatch-publish-demo"]

FROM debian:bookworm-slim AS runtime
# No packages: TLS roots are compiled into the binary (rustls), SQLite is bundled, and the health
# check speaks HTTP through bash's /dev/tcp instead of installing curl.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/riverwatch --shell /usr/sbin/nologin riverwatch \
 && install -d -o riverwatch -g riverwatch -m 0750 /var/lib/riverwatch
COPY --from=builder /usr/local/bin/riverwatch /usr/local/bin/riverwatch
# Default config: the network, thresholds and limits from config/, with the container's service
# settings (state under /var/lib/riverwatch, broker `mosquitto`, InfluxDB `influxdb`).
COPY config/stations.toml config/thresholds.toml config/gb3838.toml /etc/riverwatch/
COPY deploy/container/riverwatch.toml /etc/riverwatch/riverwatch.toml
USER riverwatch
WORKDIR /var/lib/riverwatch
VOLUME ["/var/lib/riverwatch"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/riverwatch"]
CMD ["run", "--config", "/etc/riverwatch"]
