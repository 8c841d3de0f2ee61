//! The live service against a real Mosquitto: readings published in all three formats with a
//! real client arrive in the store (SQLite and InfluxDB) with the right time, station,
//! parameter and value; malformed payloads mixed in are each dead-lettered with a reason.

use riverwatch_engine::decode::encode_hj212_frame;
use riverwatch_engine::{Config, DataFlag, Reading};
use riverwatch_live::config::{ServiceConfig, StoreKind};
use riverwatch_live::store::ReadingStore;
use riverwatch_live::{Service, ServiceError, ServiceHandle};
use riverwatch_testkit::{eventually_async, unique_name, Influx, Mosquitto};
use rumqttc as mqtt;
use std::path::Path;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// 2025-11-30T00:00:00Z.
const T0: i64 = 1_764_460_800_000;
const MN_DL01: &str = "DLHSIM000000000000000001";

pub(crate) fn config(dir: &Path, broker: &Mosquitto, store: StoreKind) -> ServiceConfig {
    let mut c = ServiceConfig::local(dir, broker.port).unwrap();
    c.store.kind = store;
    c.mqtt.client_id = unique_name("rw");
    c.replay_window = Duration::ZERO;
    c
}

/// The store section of the shipped config, pointed at database `db` of `server`.
pub(crate) fn influx_kind(server: &Influx, db: &str) -> StoreKind {
    let text = riverwatch_live::config::DEFAULT_TOML
        .replace("kind = \"sqlite\"", "kind = \"influx\"")
        .replace("http://127.0.0.1:8086", &server.url())
        .replace("db = \"riverwatch\"", &format!("db = \"{db}\""));
    ServiceConfig::parse("t", &text, &|_| None)
        .unwrap()
        .store
        .kind
}

/// A publisher that waits until each QoS 1 message is acknowledged by the broker.
pub(crate) async fn publish_all(port: u16, msgs: &[(String, Vec<u8>)]) {
    let mut o = mqtt::MqttOptions::new(unique_name("pub"), "127.0.0.1", port);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = mqtt::AsyncClient::new(o, msgs.len() + 10);
    for (t, p) in msgs {
        client
            .publish(t.clone(), mqtt::QoS::AtLeastOnce, false, p.clone())
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < msgs.len() {
        match tokio::time::timeout(Duration::from_secs(20), events.poll()).await {
            Ok(Ok(mqtt::Event::Incoming(mqtt::Incoming::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("publisher: {e}"),
            Err(_) => panic!("publisher: {acked} of {} acked", msgs.len()),
        }
    }
}

/// Good messages in the three formats at `T0 + i·5 min`, and the readings they carry.
fn good(i: i64) -> (Vec<(String, Vec<u8>)>, Vec<Reading>) {
    let t = T0 + i * 300_000;
    let r = |station: &str, parameter: &str, value: f64| Reading {
        station: station.into(),
        parameter: parameter.into(),
        time: t,
        value,
        flag: DataFlag::N,
    };
    let json = format!(r#"{{"station":"DL03","time":{t},"values":{{"ph":7.{i},"do":8.25}}}}"#);
    let senml = format!(
        r#"[{{"bn":"DL02:","bt":{},"n":"nh3n","v":0.{i}5}}]"#,
        t / 1000
    );
    let frame = encode_hj212_frame(MN_DL01, "2011", t, &[("w01001", 7.5, DataFlag::N)], t);
    let msgs = vec![
        ("riverwatch/readings/DL03".to_string(), json.into_bytes()),
        ("riverwatch/senml/DL02".to_string(), senml.into_bytes()),
        (format!("riverwatch/hj212/{MN_DL01}"), frame.into_bytes()),
    ];
    let readings = vec![
        r("DL03", "ph", format!("7.{i}").parse().unwrap()),
        r("DL03", "do", 8.25),
        r("DL02", "nh3n", format!("0.{i}5").parse().unwrap()),
        r("DL01", "ph", 7.5),
    ];
    (msgs, readings)
}

/// Malformed payloads of several kinds.
fn bad(i: usize) -> (String, Vec<u8>) {
    match i % 4 {
        0 => (
            "riverwatch/readings/DL03".into(),
            format!("{{not json {i}").into_bytes(),
        ),
        1 => (
            "riverwatch/readings/NOPE".into(),
            format!(r#"{{"time":{T0},"values":{{"ph":{i}}}}}"#).into_bytes(),
        ),
        2 => (
            format!("riverwatch/hj212/{MN_DL01}"),
            format!("##0010QN={i}&&0000\r\n").into_bytes(),
        ),
        _ => ("riverwatch/senml/DL02".into(), vec![0xff, 0xfe, i as u8]),
    }
}

/// Runs a started service until its token is cancelled; returns once its ingest subscribed.
pub(crate) async fn run_subscribed(
    service: Service,
) -> (
    ServiceHandle,
    CancellationToken,
    JoinHandle<Result<(), ServiceError>>,
) {
    let h = service.handle();
    let cancel = service.cancel_token();
    let stop = cancel.clone();
    let run = tokio::spawn(service.run_until(async move { stop.cancelled().await }));
    let subscribed = eventually_async(Duration::from_secs(10), || async {
        h.health.snapshot().ingest_connected.then_some(())
    })
    .await;
    assert!(subscribed.is_some(), "ingest never subscribed");
    (h, cancel, run)
}

async fn stored(h: &ServiceHandle) -> Vec<Reading> {
    h.store
        .inner()
        .query(&[], T0 - 1, T0 + 86_400_000)
        .await
        .unwrap()
}

async fn run_mix(
    store: impl Fn(&Path) -> StoreKind,
    bad_count: usize,
) -> (Vec<Reading>, Vec<Reading>, ServiceHandle, usize) {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &broker, store(dir.path()));
    let service = Service::start(cfg, Config::embedded(), None).await.unwrap();
    let (h, _, run) = run_subscribed(service).await;
    let mut msgs = Vec::new();
    let mut want = Vec::new();
    for i in 0..10 {
        let (m, r) = good(i);
        msgs.extend(m);
        want.extend(r);
        for k in 0..bad_count / 10 {
            msgs.push(bad(i as usize * 1000 + k));
        }
    }
    publish_all(broker.port, &msgs).await;
    let expect_dead = bad_count / 10 * 10;
    let got = eventually_async(Duration::from_secs(30), || async {
        let s = stored(&h).await;
        let dead = h.ledger.dead_letters(100_000).await.unwrap().len();
        (s.len() >= want.len() && dead >= expect_dead).then_some(s)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "not all readings stored / dead-lettered: {}",
            h.metrics.render()
        )
    });
    assert!(h.health.snapshot().ingest_connected);
    h.health.is_ready().then_some(()).expect("ready");
    run.abort();
    (want, got, h, expect_dead)
}

fn sorted(mut v: Vec<Reading>) -> Vec<Reading> {
    v.sort_by(riverwatch_live::store::reading_order);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_formats_reach_sqlite_and_bad_payloads_are_dead_lettered() {
    let (want, got, h, dead) =
        run_mix(|d| StoreKind::Sqlite(d.join("readings.sqlite")), 1000).await;
    assert_eq!(sorted(got), sorted(want));
    let letters = h.ledger.dead_letters(100_000).await.unwrap();
    assert_eq!(letters.len(), dead);
    for reason in ["malformed", "unknown_station", "not_utf8"] {
        assert!(
            letters.iter().any(|d| d.reason.starts_with(reason)),
            "no {reason} dead letter"
        );
        assert!(h.metrics.rejected(reason) > 0, "{reason}");
    }
    let counted: u64 = [
        "malformed",
        "unknown_station",
        "not_utf8",
        "bad_length",
        "bad_crc",
    ]
    .iter()
    .map(|r| h.metrics.rejected(r))
    .sum();
    assert_eq!(counted, dead as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_formats_reach_influxdb() {
    let server = Influx::shared();
    let db = unique_name("svc");
    server.create_db(&db);
    let (want, got, _h, _) = run_mix(move |_| influx_kind(server, &db), 0).await;
    assert_eq!(sorted(got), sorted(want));
}

/// A thresholds reload reaches the HTTP API: the config its handlers (replays, station health,
/// dossiers) ask for per request is the one the engine was sent, and a broken file changes
/// neither.
#[tokio::test]
async fn the_api_follows_a_thresholds_reload() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let shipped = Config::embedded();
    let path = dir.path().join("thresholds.toml");
    std::fs::write(&path, &shipped.texts.thresholds).unwrap();
    let cfg = config(
        dir.path(),
        &broker,
        StoreKind::Sqlite(dir.path().join("r.sqlite")),
    );
    let service = Service::start(cfg, shipped.clone(), Some(path.clone()))
        .await
        .unwrap();
    let (h, cancel, run) = run_subscribed(service).await;
    let api = h.api_state(None, None);
    assert_eq!((api.config)().hash, shipped.hash);

    let edited = shipped
        .texts
        .thresholds
        .replace("allowed_lateness = \"10m\"", "allowed_lateness = \"20m\"");
    assert_ne!(edited, shipped.texts.thresholds);
    let want = shipped.with_thresholds_text(&edited).unwrap().hash;
    std::fs::write(&path, &edited).unwrap();
    let reloaded = eventually_async(Duration::from_secs(10), || async {
        ((api.config)().hash == want).then_some(())
    })
    .await;
    assert!(reloaded.is_some(), "the API kept the start-up thresholds");
    assert_eq!(h.config().hash, want);
    assert_eq!(
        (api.config)().thresholds.engine.allowed_lateness,
        20 * 60_000
    );

    std::fs::write(&path, "[engine]\nallowed_lateness = \"soon\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        (api.config)().hash,
        want,
        "a broken file replaced the thresholds"
    );
    cancel.cancel();
    run.await.unwrap().unwrap();
}
