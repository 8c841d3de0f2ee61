"""The pipeline people write by hand today, for scripts/bench-e2e.sh to compare against.

paho-mqtt subscribes to the station JSON topics at QoS 1; each message becomes one point per
parameter (riverwatch's schema: measurement `water`, tags station and parameter, field value),
appended to a buffer that a writer thread flushes with the `influxdb` client's write_points,
every BATCH points or FLUSH seconds. paho acknowledges a message when on_message returns, so
whatever sits in the buffer at a crash is lost: that is the usual trade, kept here on purpose.

Runs until SIGTERM or SIGINT, then flushes what it holds and exits.
"""

import argparse
import json
import signal
import threading
import time

import paho.mqtt.client as mqtt
from influxdb import InfluxDBClient


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mqtt-port", type=int, required=True)
    ap.add_argument("--influx-port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--topic", default="riverwatch/readings/+")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--flush", type=float, default=1.0)
    args = ap.parse_args()

    influx = InfluxDBClient(host="127.0.0.1", port=args.influx_port, database=args.db)
    influx.create_database(args.db)

    buffer = []
    lock = threading.Lock()
    wake = threading.Event()
    stop = threading.Event()

    def on_connect(client, userdata, flags, reason, properties):
        client.subscribe(args.topic, qos=1)

    def on_message(client, userdata, msg):
        try:
            m = json.loads(msg.payload)
            points = [
                {
                    "measurement": "water",
                    "tags": {"station": m["station"], "parameter": name},
                    "time": m["time"],
                    "fields": {"value": float(value)},
                }
                for name, value in m["values"].items()
            ]
        except (ValueError, KeyError, TypeError) as e:
            print("bad message:", e, flush=True)
            return
        with lock:
            buffer.extend(points)
            if len(buffer) >= args.batch:
                wake.set()

    def writer():
        while not stop.is_set():
            wake.wait(args.flush)
            wake.clear()
            flush()
        flush()

    def flush():
        with lock:
            points = buffer[:]
            buffer.clear()
        if points:
            influx.write_points(points, time_precision="ms", batch_size=args.batch)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="reference-pipeline")
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect("127.0.0.1", args.mqtt_port, keepalive=30)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    t = threading.Thread(target=writer)
    t.start()
    client.loop_start()
    while not stop.is_set():
        time.sleep(0.2)
    client.loop_stop()
    t.join()


if __name__ == "__main__":
    main()
