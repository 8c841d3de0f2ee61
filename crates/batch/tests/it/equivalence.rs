//! One engine, two drivers: a simulated window streamed through the live service (real
//! Mosquitto, SQLite store, ledger) and the same window replayed from that store give the same
//! leads, ids, revisions and evidence included.

use crate::{config, simulate};
use riverwatch_batch::api::for_service;
use riverwatch_batch::frames::{self, Window};
use riverwatch_batch::recorded;
use riverwatch_batch::replay::{replay, Ending, Replayed};
use riverwatch_batch::source::{self, Source};
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::sim::Scenario;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Config, Engine, Lead, Reading};
use riverwatch_live::api::{ReplayJob, ReplayOutcome};
use riverwatch_live::config::ServiceConfig;
use riverwatch_live::store::reading_order;
use riverwatch_live::{Ledger, Metrics, Service};
use riverwatch_testkit::{eventually_async, unique_name, Mosquitto};
use rumqttc as mqtt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One station JSON message per station and time, in the window's order.
fn messages(readings: &[Reading]) -> Vec<(String, String)> {
    let mut grouped: BTreeMap<(i64, String), Vec<&Reading>> = BTreeMap::new();
    for r in readings {
        grouped
            .entry((r.time, r.station.to_string()))
            .or_default()
            .push(r);
    }
    grouped
        .into_iter()
        .map(|((t, station), rs)| {
            let values: serde_json::Map<String, serde_json::Value> = rs
                .iter()
                .map(|r| (r.parameter.to_string(), r.value.into()))
                .collect();
            let body = serde_json::json!({ "station": station, "time": t, "values": values });
            (format!("riverwatch/readings/{station}"), body.to_string())
        })
        .collect()
}

/// Publishes every message at QoS 1 and returns once the broker acknowledged them all.
async fn publish(port: u16, msgs: &[(String, String)]) {
    let o = mqtt::MqttOptions::new(unique_name("pub"), "127.0.0.1", port);
    let (client, mut events) = mqtt::AsyncClient::new(o, 1000);
    let total = msgs.len();
    let acks = tokio::spawn(async move {
        let mut acked = 0;
        while acked < total {
            match events.poll().await {
                Ok(mqtt::Event::Incoming(mqtt::Incoming::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => panic!("publisher: {e} after {acked} of {total} acks"),
            }
        }
    });
    for (topic, body) in msgs {
        client
            .publish(topic, mqtt::QoS::AtLeastOnce, false, body.as_bytes())
            .await
            .expect("queue a publication");
    }
    tokio::time::timeout(Duration::from_secs(120), acks)
        .await
        .expect("every publication acknowledged in time")
        .expect("publisher task");
}

/// A lead as the engine made it: without the analysts' status and notes the ledger adds.
fn engine_view(l: &Lead) -> serde_json::Value {
    let mut v = serde_json::to_value(l).expect("lead serialises");
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        o.remove("notes");
    }
    v
}

pub(crate) fn by_id(leads: &[Lead]) -> BTreeMap<String, serde_json::Value> {
    leads
        .iter()
        .map(|l| (l.id.clone(), engine_view(l)))
        .collect()
}

/// What streaming a window through the live service gave.
pub(crate) struct Live {
    /// What the service's `POST /api/replay` answered for the window once everything was
    /// stored, with the models the service had loaded (the binary's wiring, `for_service`).
    pub api: ReplayOutcome,
    /// The replay of what the live engine was fed, with the same models.
    pub expected: Replayed,
    /// The leads the ledger recorded, by id, as the engine made them.
    pub got: BTreeMap<String, serde_json::Value>,
    /// The service's metrics at the end.
    pub metrics: Arc<Metrics>,
}

/// Streams `sent` through a live service (real Mosquitto, SQLite store `dir/readings.sqlite`,
/// ledger `dir/ledger.sqlite`) whose `models.dir` is `models_dir`, and replays what its engine
/// was fed with `models`: every reading durable first, the live engine then fed, in (time,
/// station, parameter) order, every reading up to `allowed_lateness` before the newest one (it
/// holds the rest back for late arrivals).
pub(crate) async fn stream_through_live(
    dir: &Path,
    cfg: &Config,
    models_dir: Option<PathBuf>,
    models: &[MultivariateModel],
    sent: &[Reading],
    window: (Millis, Millis),
) -> Live {
    let broker = Mosquitto::start();
    let mut sc = ServiceConfig::local(dir, broker.port).unwrap();
    sc.mqtt.client_id = unique_name("rw");
    sc.replay_window = Duration::ZERO;
    sc.models_dir = models_dir;
    let service = Service::start(sc, cfg.clone(), None).await.unwrap();
    let h = service.handle();
    let cancel = service.cancel_token();
    let stop = cancel.clone();
    let run = tokio::spawn(service.run_until(async move { stop.cancelled().await }));
    let subscribed = eventually_async(Duration::from_secs(10), || async {
        h.health.snapshot().ingest_connected.then_some(())
    })
    .await;
    assert!(subscribed.is_some(), "ingest never subscribed");
    publish(broker.port, &messages(sent)).await;

    let all_stored = eventually_async(Duration::from_secs(120), || async {
        (h.metrics.stored.get() >= sent.len() as u64).then_some(())
    })
    .await;
    assert!(
        all_stored.is_some(),
        "stored {} of {}",
        h.metrics.stored.get(),
        sent.len()
    );
    let mut fed = sent.to_vec();
    fed.sort_by(reading_order);
    let newest = fed.last().map_or(0, |r| r.time);
    fed.retain(|r| r.time <= newest - cfg.thresholds.engine.allowed_lateness);
    let mut engine = Engine::new(Arc::new(cfg.clone()));
    assert!(engine.set_models(models.to_vec()).is_empty());
    let expected = replay(engine, &fed, Ending::Open, &mut |_| {});
    let want = by_id(&expected.leads);
    let ledger = Ledger::open(&dir.join("ledger.sqlite")).unwrap();
    // Lead revisions trail the readings through the stages: wait for them, then compare.
    eventually_async(Duration::from_secs(60), || async {
        let got = recorded::leads(&ledger, window.0, window.1, None)
            .await
            .ok()?;
        (by_id(&got) == want).then_some(())
    })
    .await;
    let got = by_id(
        &recorded::leads(&ledger, window.0, window.1, None)
            .await
            .unwrap(),
    );
    let job = ReplayJob {
        config: Arc::new(cfg.clone()),
        from: window.0,
        to: window.1,
        stations: vec![],
    };
    let api = (for_service(&h).window)(job).await.expect("the API replay");
    cancel.cancel();
    run.await.unwrap().unwrap();
    Live {
        api,
        expected,
        got,
        metrics: h.metrics,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_service_and_replay_of_its_store_give_the_same_leads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(4, 7);
    let w = simulate(dir.path(), "typical", &cfg, Scenario::Typical, 7, 10, true);
    let sent = crate::load(&w);
    let Live {
        api, expected, got, ..
    } = stream_through_live(dir.path(), &cfg, None, &[], &sent, (w.from, w.to)).await;
    assert!(expected.leads.len() >= 3, "{} leads", expected.leads.len());
    assert_eq!(
        got,
        by_id(&expected.leads),
        "live leads differ from the replay of the sent readings"
    );
    let store_path = dir.path().join("readings.sqlite");

    // The other driver: the window read back from the live service's store.
    let window = Window {
        from: w.from,
        to: w.to,
        stations: vec![],
    };
    let (df, _) = tokio::task::spawn_blocking(move || {
        source::load(&Source::Sqlite(store_path), &window, None)
    })
    .await
    .unwrap()
    .expect("store window loads");
    let stored = frames::readings(&df).unwrap();
    assert_eq!(stored.len(), sent.len(), "every reading was stored once");
    let replayed = replay(
        Engine::new(Arc::new(cfg)),
        &stored,
        Ending::Open,
        &mut |_| {},
    );
    assert_eq!(
        by_id(&replayed.leads),
        got,
        "replay from the store differs from live"
    );
    assert_eq!(replayed.events.len(), expected.events.len());
    // The HTTP API's replay of the same store window gives the same leads.
    assert_eq!(api.readings, stored.len() as u64);
    assert_eq!(api.leads, replayed.leads);
}
