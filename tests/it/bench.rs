//! `bench publish` and `bench forward`, the end-to-end benchmark's load generator and its
//! broker-plus-InfluxDB reference, against real Mosquitto and InfluxDB: every reading
//! published reaches InfluxDB.

use crate::cli::{riverwatch, succeed};
use riverwatch_testkit::{eventually, unique_name, Influx, Mosquitto};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn the_forwarder_stores_every_reading_the_publisher_sends() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = format!("{root}/config");
    let broker = Mosquitto::start();
    let influx = Influx::shared();
    let db = unique_name("forward");
    influx.create_db(&db);
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let port = broker.port.to_string();
    let mut forward = riverwatch()
        .args(["bench", "forward", "--port", &port, "--db", &db])
        .args([
            "--url",
            &influx.url(),
            "--config",
            &config,
            "--batch",
            "700",
        ])
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let subscribed = eventually(Duration::from_secs(15), || ready.exists().then_some(()));
    assert!(subscribed.is_some(), "the forwarder never subscribed");

    let out = succeed(
        riverwatch()
            .args(["bench", "publish", "--port", &port])
            .args(["--messages", "300", "--config", &config]),
    );
    let published: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(published["acked"], 300, "{published}");
    let readings = published["readings"].as_u64().unwrap();
    assert!(readings >= 300 * 4, "{published}");

    // 700-reading batches: most are written full, the rest by the flush timer.
    let count = || {
        let body = influx.query(&db, "SELECT COUNT(value) FROM water");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["results"][0]["series"][0]["values"][0][1].as_u64()
    };
    let stored = eventually(Duration::from_secs(30), || {
        count().filter(|n| *n >= readings)
    });
    forward.kill().unwrap();
    let _ = forward.wait();
    assert_eq!(stored, Some(readings));
}
