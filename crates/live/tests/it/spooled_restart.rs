//! A restart after an InfluxDB outage: the readings the previous process spooled and did not
//! drain before it stopped count at start-up like the stored ones — the replay feeds them to
//! the engine (the spooled value winning a point the store holds too), the evidence cache
//! holds them, and without a replay the cache claims nothing before the newest of them. The
//! earlier process's spool is written with [`Spool`] into the service's spool directory; the
//! store is SQLite, which the drain fills right after the start.

use crate::models::{
    around_a_restart, by_pca, leads_over, messages, messages_of, model, models_dir, pca_lead,
    readings, rolling_model, sealed_evidence_rechecks, STEP,
};
use crate::service::{config, publish_all, run_subscribed};
use crate::T0;
use riverwatch_engine::time::DAY;
use riverwatch_engine::{Config, Reading};
use riverwatch_live::config::StoreKind;
use riverwatch_live::store::{Spool, SqliteStore};
use riverwatch_live::{ReadingStore, Service, ServiceError, ServiceHandle};
use riverwatch_testkit::{eventually_async, Mosquitto};
use std::path::Path;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A service over the SQLite store `db` holding `stored`, with `spooled` left in its spool by
/// the previous process and the models directory `models`; running once the drain has put
/// the spool into the store (so what the store answers later is what it will keep).
async fn restart(
    root: &Path,
    broker: &Mosquitto,
    (stored, spooled): (&[Reading], &[Reading]),
    models: &Path,
    replay_window: Duration,
) -> (
    ServiceHandle,
    CancellationToken,
    JoinHandle<Result<(), ServiceError>>,
) {
    let db = root.join("r.sqlite");
    let report = SqliteStore::open(&db).unwrap().write(stored).await.unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    let mut cfg = config(root, broker, StoreKind::Sqlite(db));
    cfg.models_dir = Some(models.to_path_buf());
    cfg.replay_window = replay_window;
    let mut spool = Spool::open(&cfg.store.spool_dir, cfg.store.spool_max_bytes).unwrap();
    for batch in spooled.chunks(10) {
        spool.append(batch).unwrap();
    }
    drop(spool);
    let service = Service::start(cfg, Config::embedded(), None).await.unwrap();
    let (h, cancel, run) = run_subscribed(service).await;
    let drained = eventually_async(Duration::from_secs(10), || async {
        (h.store.spooled().0 == 0).then_some(())
    })
    .await;
    assert!(drained.is_some(), "the spool did not drain");
    (h, cancel, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_feeds_what_the_previous_process_spooled_and_seals_it_from_memory() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (models, _) = models_dir(dir.path(), &rolling_model());
    // 200 quiet instants before the restart: the first 40 stored, the other 160 spooled while
    // InfluxDB was down; then the shift arrives live.
    let (before, live) = around_a_restart(200);
    let (stored, spooled) = before.split_at(80);
    // With the stored readings alone the model is still warming up when the shift ends.
    let without = leads_over(vec![rolling_model()], &[stored, &live].concat());
    assert!(!without.iter().any(by_pca), "{without:#?}");
    // A point the store holds with a value the spool corrects (its drain overwrites it).
    let stale = Reading {
        value: spooled[100].value + 3.0,
        ..spooled[100].clone()
    };
    let stored = [stored, &[stale]].concat();
    let window = Duration::from_millis(2 * DAY as u64);
    let (h, cancel, run) = restart(dir.path(), &broker, (&stored, spooled), &models, window).await;

    publish_all(broker.port, &messages_of(&live)).await;
    let lead = pca_lead(&h)
        .await
        .unwrap_or_else(|| panic!("no lead from the warm model: {}", h.metrics.render()));
    assert!(lead.window.start >= live[0].time, "{lead:#?}");
    // The evidence starts 12 h before the shift, in the spooled part, which the cache holds
    // from the replay: sealed from memory, and what the store holds after the drain (the
    // corrected point included) is what was sealed.
    let sealed = sealed_evidence_rechecks(&h, &lead, &dir.path().join("r.sqlite"), "memory").await;
    let evidence = sealed.seal.evidence.expect("sealed evidence");
    assert!(evidence.spec.from <= spooled[100].time, "{evidence:?}");
    cancel.cancel();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_replay_the_cache_starts_past_the_newest_spooled_reading() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (models, _) = models_dir(dir.path(), &model());
    // The store's newest reading is a day old; the spool holds one between the ones this run
    // sends, inside the evidence window of the lead it will make.
    let old = Reading {
        time: T0 - DAY,
        ..readings()[0].clone()
    };
    let between = Reading {
        time: T0 + STEP / 2,
        ..readings()[0].clone()
    };
    let (h, cancel, run) = restart(
        dir.path(),
        &broker,
        (&[old], &[between]),
        &models,
        Duration::ZERO,
    )
    .await;

    publish_all(broker.port, &messages()).await;
    let lead = pca_lead(&h)
        .await
        .unwrap_or_else(|| panic!("no lead from the PCA model: {}", h.metrics.render()));
    // The cache never saw the spooled reading, so it does not claim its time: the evidence is
    // read from the store, where the drain put it.
    sealed_evidence_rechecks(&h, &lead, &dir.path().join("r.sqlite"), "store").await;
    cancel.cancel();
    run.await.unwrap().unwrap();
}
