//! Fault tests of the live service against real servers, each with exact counts: an InfluxDB
//! outage of 30 s mid-stream, a broker restart mid-stream, and a flood of malformed payloads.
//! Each test has its own broker, database and temp dirs.

use crate::service::{config, influx_kind, publish_all};
use riverwatch_engine::decode::encode_hj212_frame;
use riverwatch_engine::{Config, DataFlag, Reading};
use riverwatch_live::api;
use riverwatch_live::config::{ServiceConfig, StoreKind};
use riverwatch_live::store::{reading_order, ReadingStore};
use riverwatch_live::{Service, ServiceHandle};
use riverwatch_testkit::{eventually_async, unique_name, Influx, Mosquitto, MosquittoOpts};
use rumqttc as mqtt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// 2025-11-30T00:00:00Z.
const T0: i64 = 1_764_460_800_000;
const MN_DL01: &str = "DLHSIM000000000000000001";
const STATIONS: [&str; 3] = ["DL02", "DL03", "DL04"];

/// Stream message `i`: station JSON for one of three stations at `T0 + i` minutes, two readings.
fn stream_msg(i: usize) -> ((String, Vec<u8>), Vec<Reading>) {
    let station = STATIONS[i % STATIONS.len()];
    let t = T0 + i as i64 * 60_000;
    let (ph, d) = (6.5 + (i % 20) as f64 / 10.0, 7.0 + (i % 7) as f64 / 4.0);
    let body = format!(r#"{{"station":"{station}","time":{t},"values":{{"ph":{ph},"do":{d}}}}}"#);
    let r = |parameter: &str, value: f64| Reading {
        station: station.into(),
        parameter: parameter.into(),
        time: t,
        value,
        flag: DataFlag::N,
    };
    (
        (format!("riverwatch/readings/{station}"), body.into_bytes()),
        vec![r("ph", ph), r("do", d)],
    )
}

fn sorted(mut v: Vec<Reading>) -> Vec<Reading> {
    v.sort_by(reading_order);
    v
}

/// A running service with its HTTP API on a free loopback port.
struct Running {
    h: ServiceHandle,
    api: u16,
    stop: CancellationToken,
    run: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(broker: &Mosquitto, dir: &std::path::Path, store: StoreKind) -> Self {
        Self::start_with(config(dir, broker, store)).await
    }

    async fn start_with(cfg: ServiceConfig) -> Self {
        let service = Service::start(cfg, Config::embedded(), None).await.unwrap();
        let h = service.handle();
        let stop = service.cancel_token();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = listener.local_addr().unwrap().port();
        let state = h.api_state(None, None);
        let (c, c2) = (stop.clone(), stop.clone());
        let run = tokio::spawn(async move {
            let _ = service.run_until(async move { c.cancelled().await }).await;
        });
        tokio::spawn(async move { api::serve(listener, state, c2).await });
        let subscribed = eventually_async(Duration::from_secs(10), || async {
            h.health.snapshot().ingest_connected.then_some(())
        })
        .await;
        assert!(subscribed.is_some(), "ingest never subscribed");
        Self { h, api, stop, run }
    }

    /// `GET /readyz`: status code and body.
    async fn readyz(&self) -> (u16, Value) {
        let resp = reqwest::get(format!("http://127.0.0.1:{}/readyz", self.api))
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// Waits (up to `secs`) until `/readyz` answers `key: value`.
    async fn readyz_until(&self, key: &str, value: Value, secs: u64) {
        let seen = eventually_async(Duration::from_secs(secs), || async {
            (self.readyz().await.1[key] == value).then_some(())
        })
        .await;
        assert!(seen.is_some(), "/readyz never said {key}: {value}");
    }

    async fn stored(&self) -> Vec<Reading> {
        self.h
            .store
            .inner()
            .query(&[], T0 - 1, T0 + 365 * 86_400_000)
            .await
            .unwrap_or_default()
    }

    async fn stop(self) {
        self.stop.cancel();
        self.run.await.unwrap();
    }
}

/// A QoS 1 publisher with a persistent session that keeps polling through connection losses
/// (rumqttc reconnects on the next poll and re-sends unacknowledged messages).
struct Feed {
    client: mqtt::AsyncClient,
    acked: Arc<AtomicUsize>,
    pump: tokio::task::JoinHandle<()>,
}

impl Feed {
    fn start(port: u16) -> Self {
        let mut o = mqtt::MqttOptions::new(unique_name("feed"), "127.0.0.1", port);
        o.set_clean_session(false).set_inflight(50);
        let (client, mut events) = mqtt::AsyncClient::new(o, 64);
        let acked = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&acked);
        let pump = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(mqtt::Event::Incoming(mqtt::Incoming::PubAck(_))) => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Self {
            client,
            acked,
            pump,
        }
    }

    async fn send(&self, (topic, payload): (String, Vec<u8>)) {
        self.client
            .publish(topic, mqtt::QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    /// Waits until the broker acknowledged at least `n` messages.
    async fn acked(&self, n: usize, secs: u64) {
        let done = eventually_async(Duration::from_secs(secs), || async {
            (self.acked.load(Ordering::Relaxed) >= n).then_some(())
        })
        .await;
        assert!(done.is_some(), "the broker acknowledged fewer than {n}");
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// `SELECT count(value)` of the whole database: points, not writes (a point written twice is
/// one point, so this counts distinct `(station, parameter, time)`).
fn influx_count(server: &Influx, db: &str) -> u64 {
    let raw = server.query(db, "SELECT count(value) FROM water");
    let v: Value = serde_json::from_str(&raw).unwrap();
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_down_30s_mid_stream_every_reading_stored_exactly_once_in_order() {
    let mut server = Influx::start(); // its own: this test stops it
    let db = unique_name("outage");
    server.create_db(&db);
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let svc = Running::start(&broker, dir.path(), influx_kind(&server, &db)).await;
    let feed = Feed::start(broker.port);
    let (msgs, mut want): (Vec<_>, Vec<_>) = (0..900).map(stream_msg).unzip();
    let mut msgs = msgs.into_iter();
    // A correction: the same point, first while InfluxDB is down (spooled), then after it is
    // back. Only an in-order drain leaves the later value in the database.
    let fix = |v: f64| {
        let body = format!(r#"{{"station":"DL03","time":{T0},"values":{{"nh3n":{v}}}}}"#);
        ("riverwatch/readings/DL03".to_string(), body.into_bytes())
    };

    for m in msgs.by_ref().take(300) {
        feed.send(m).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    feed.acked(300, 20).await;
    // In the database and answered: a write InfluxDB took but had not answered when it stops
    // would be spooled as well (and written again, harmlessly), and counted twice below.
    let before = eventually_async(Duration::from_secs(20), || async {
        (influx_count(&server, &db) == 600 && svc.h.metrics.stored.get() == 600).then_some(())
    })
    .await;
    assert!(before.is_some(), "the first 300 messages were not stored");
    assert_eq!(svc.readyz().await.1["store_reachable"], true);

    tokio::task::block_in_place(|| server.stop());
    let down = Instant::now();
    svc.readyz_until("store_reachable", false.into(), 5).await;
    feed.send(fix(1.0)).await;
    // The stream goes on while InfluxDB is down, spread over its 30 s outage.
    for m in msgs.by_ref().take(300) {
        feed.send(m).await;
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    feed.acked(601, 20).await;
    let spooled = eventually_async(Duration::from_secs(20), || async {
        (svc.h.metrics.spooled.get() == 601).then_some(())
    })
    .await;
    assert!(
        spooled.is_some(),
        "readings not spooled: {}",
        svc.h.metrics.render()
    );
    let (code, ready) = svc.readyz().await;
    assert_eq!(
        code, 200,
        "an outage the spool bridges keeps the service ready"
    );
    assert_eq!(ready["store_reachable"], false);
    assert!(ready["spool_depth"].as_u64().unwrap() > 0, "{ready}");
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;

    tokio::task::block_in_place(|| server.restart());
    feed.send(fix(2.0)).await;
    for m in msgs.by_ref() {
        feed.send(m).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    feed.acked(902, 20).await;
    want.push(vec![Reading {
        station: "DL03".into(),
        parameter: "nh3n".into(),
        time: T0,
        value: 2.0,
        flag: DataFlag::N,
    }]);
    let want = sorted(want.concat());
    // Well under the drain's 30 s backoff cap: a successful probe cuts the wait short.
    let drained = eventually_async(Duration::from_secs(15), || async {
        (svc.h.store.spooled().0 == 0 && influx_count(&server, &db) == 1801).then_some(())
    })
    .await;
    assert!(
        drained.is_some(),
        "spool not drained: {} points; {}",
        influx_count(&server, &db),
        svc.h.metrics.render()
    );
    svc.readyz_until("store_reachable", true.into(), 5).await;
    svc.readyz_until("spool_depth", 0.into(), 5).await;
    assert_eq!(influx_count(&server, &db), want.len() as u64);
    assert_eq!(
        svc.stored().await,
        want,
        "values, times, tags; the later fix wins"
    );
    assert_eq!(svc.h.metrics.rejected("store_refused"), 0);
    svc.stop().await;
}

/// InfluxDB not answering when the service starts (it starts later, or is down): the start-up
/// replay fails and is retried, then the service starts without it rather than not at all, and
/// what arrives meanwhile is spooled and drained once InfluxDB is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_down_at_start_the_service_starts_spools_and_drains() {
    let mut server = Influx::start(); // its own: this test stops it
    let db = unique_name("late");
    server.create_db(&db);
    tokio::task::block_in_place(|| server.stop());
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), &broker, influx_kind(&server, &db));
    cfg.replay_window = Duration::from_secs(2 * 86_400);
    let svc = Running::start_with(cfg).await;
    let (msgs, want): (Vec<_>, Vec<_>) = (0..100).map(stream_msg).unzip();
    publish_all(broker.port, &msgs).await;
    let spooled = eventually_async(Duration::from_secs(20), || async {
        (svc.h.metrics.spooled.get() == 200).then_some(())
    })
    .await;
    assert!(spooled.is_some(), "{}", svc.h.metrics.render());

    tokio::task::block_in_place(|| server.restart());
    let drained = eventually_async(Duration::from_secs(20), || async {
        (svc.h.store.spooled().0 == 0 && influx_count(&server, &db) == 200).then_some(())
    })
    .await;
    assert!(drained.is_some(), "{}", svc.h.metrics.render());
    assert_eq!(svc.stored().await, sorted(want.concat()));
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_nothing() {
    let mut broker = Mosquitto::start_with(MosquittoOpts {
        persistence: true,
        auth: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let svc = Running::start(
        &broker,
        dir.path(),
        StoreKind::Sqlite(dir.path().join("readings.sqlite")),
    )
    .await;
    let feed = Feed::start(broker.port);
    let (msgs, want): (Vec<_>, Vec<_>) = (0..1200).map(stream_msg).unzip();
    let want = sorted(want.concat());
    for (i, m) in msgs.into_iter().enumerate() {
        if i == 600 {
            // Mid-stream, with messages in flight both ways.
            tokio::task::block_in_place(|| broker.restart());
        }
        feed.send(m).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let all = eventually_async(Duration::from_secs(30), || async {
        let s = svc.stored().await;
        (s.len() >= want.len()).then_some(s)
    })
    .await;
    let got = all.unwrap_or_else(|| {
        panic!(
            "readings lost: {} stored of {}; {}",
            svc.h.metrics.stored.get(),
            want.len(),
            svc.h.metrics.render()
        )
    });
    assert_eq!(got, want, "each reading exactly once");
    assert!(svc.h.metrics.received.get() >= 1200);
    let reconnected = eventually_async(Duration::from_secs(10), || async {
        svc.h.health.snapshot().ingest_connected.then_some(())
    })
    .await;
    assert!(reconnected.is_some());
    svc.stop().await;
}

/// Bad payload `i` (ten kinds, cycled) and the reason it must be refused for.
fn bad(i: usize, now: i64) -> ((String, Vec<u8>), &'static str) {
    let t = now - 3_600_000 + i as i64;
    let json =
        |station: &str, body: String| (format!("riverwatch/readings/{station}"), body.into_bytes());
    let frame = || {
        encode_hj212_frame(
            MN_DL01,
            "2011",
            t,
            &[("w01001", 7.0 + (i % 10) as f64 / 10.0, DataFlag::N)],
            t,
        )
    };
    let hj = |bytes: Vec<u8>| (format!("riverwatch/hj212/{MN_DL01}"), bytes);
    let senml = |bytes: Vec<u8>| ("riverwatch/senml/DL02".to_string(), bytes);
    match i % 10 {
        0 => (
            json(
                "DL03",
                format!(r#"{{"station":"DL03","time":{t},"values":{{"ph":7.{i}"#),
            ),
            "malformed",
        ),
        1 => (
            json(
                "DL03",
                format!(r#"{{"station":"DL03","time":{t},"values":{{"ph":NaN,"do":Infinity}}}}"#),
            ),
            "no_readings",
        ),
        2 => (
            json(
                "DL03",
                format!(r#"{{"station":"DL03","time":{t},"values":{{"do":1e999}}}}"#),
            ),
            "malformed",
        ),
        3 => (
            json(
                "DL03",
                format!(
                    r#"{{"station":"DL03","time":"9999-01-01T00:00:{:02}Z","values":{{"ph":7}}}}"#,
                    i % 60
                ),
            ),
            "bad_time",
        ),
        4 => (
            json(
                "XX99",
                format!(r#"{{"station":"XX99","time":{t},"values":{{"ph":7}}}}"#),
            ),
            "unknown_station",
        ),
        5 => {
            let f = frame();
            (hj(f.as_bytes()[..f.len() / 2].to_vec()), "bad_length")
        }
        6 => {
            let f = frame();
            let body = f.trim_end_matches("\r\n");
            let crc = &body[body.len() - 4..];
            let wrong = if crc == "0000" { "FFFF" } else { "0000" };
            (
                hj(format!("{}{wrong}\r\n", &body[..body.len() - 4]).into_bytes()),
                "bad_crc",
            )
        }
        7 => (
            senml(format!(r#"[{{"bn":"DL02:","n":"ph","v":"x{i}"}}]"#).into_bytes()),
            "malformed",
        ),
        8 => (senml(vec![0xff, 0xfe, (i % 251) as u8]), "not_utf8"),
        _ => (
            senml(
                format!(
                    r#"[{{"bn":"DL02:","bt":{},"n":"ph","v":7}}]"#,
                    1e300 + i as f64
                )
                .into_bytes(),
            ),
            "bad_time",
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_payloads_dead_lettered_by_reason_and_service_healthy() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    // A reader of the dead-letter topic, subscribed before anything is published.
    let mut o = mqtt::MqttOptions::new(unique_name("dl"), "127.0.0.1", broker.port);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = mqtt::AsyncClient::new(o, 16);
    client
        .subscribe("riverwatch/deadletter", mqtt::QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, mut letters) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let (sub_tx, sub_rx) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(async move {
        let mut sub_tx = Some(sub_tx);
        while let Ok(ev) = events.poll().await {
            match ev {
                mqtt::Event::Incoming(mqtt::Incoming::SubAck(_)) => {
                    if let Some(s) = sub_tx.take() {
                        let _ = s.send(());
                    }
                }
                mqtt::Event::Incoming(mqtt::Incoming::Publish(p)) => {
                    let _ = tx.send(serde_json::from_slice(&p.payload).unwrap_or(Value::Null));
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), sub_rx)
        .await
        .unwrap()
        .unwrap();
    let svc = Running::start(
        &broker,
        dir.path(),
        StoreKind::Sqlite(dir.path().join("readings.sqlite")),
    )
    .await;

    let now = riverwatch_live::pipeline::now_ms();
    let mut msgs = Vec::new();
    let mut want_reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let mut want = Vec::new();
    for i in 0..10_000 {
        let (m, reason) = bad(i, now);
        msgs.push(m);
        *want_reasons.entry(reason).or_default() += 1;
        if i % 20 == 0 {
            let (m, r) = stream_msg(i / 20);
            msgs.push(m);
            want.extend(r);
        }
    }
    let want = sorted(want);
    publish_all(broker.port, &msgs).await;

    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen < 10_000 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(v)) = tokio::time::timeout(left, letters.recv()).await else {
            panic!(
                "{seen} dead letters published of 10000: {}",
                svc.h.metrics.render()
            );
        };
        assert!(
            v["payload"].is_string() || v["payload_base64"].is_string(),
            "{v}"
        );
        assert!(!v["detail"].as_str().unwrap_or("").is_empty(), "{v}");
        *by_reason
            .entry(v["reason"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
        seen += 1;
    }
    let want_by_reason: BTreeMap<String, u64> = want_reasons
        .iter()
        .map(|(r, n)| (r.to_string(), *n))
        .collect();
    assert_eq!(by_reason, want_by_reason, "dead-letter topic by reason");
    for (reason, n) in &want_reasons {
        assert_eq!(svc.h.metrics.rejected(reason), *n, "metric for {reason}");
    }
    let kept = svc.h.ledger.dead_letters(100_000).await.unwrap();
    assert_eq!(kept.len(), 10_000, "dead letters in the ledger");

    let stored = eventually_async(Duration::from_secs(30), || async {
        let s = svc.stored().await;
        (s.len() >= want.len()).then_some(s)
    })
    .await
    .expect("good readings stored");
    assert_eq!(
        stored, want,
        "every good reading, nothing from the bad ones"
    );

    // Healthy afterwards: ready, connected, and a new message still goes through.
    let (code, ready) = svc.readyz().await;
    assert_eq!(code, 200, "{ready}");
    assert_eq!(ready["broker_connected"], true);
    assert_eq!(ready["store_reachable"], true);
    let health = reqwest::get(format!("http://127.0.0.1:{}/healthz", svc.api))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (m, r) = stream_msg(5000);
    publish_all(broker.port, &[m]).await;
    let after = eventually_async(Duration::from_secs(10), || async {
        (svc.stored().await.len() == want.len() + r.len()).then_some(())
    })
    .await;
    assert!(
        after.is_some(),
        "a good message after the flood was not stored"
    );
    reader.abort();
    svc.stop().await;
}
