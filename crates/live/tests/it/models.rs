//! Trained models in the live service (issue 5): a PCA model file in `models.dir` is loaded at
//! start, flags readings the univariate detectors let through, and its digest reaches the lead
//! and the lead's seal; a corrupt file beside it is logged and counted while the rest runs; and
//! the directory is read again when it changes. A restart replays the store into the model's
//! rolling baseline, so the model is not silent while the baseline would warm up.

use crate::service::{config, publish_all, run_subscribed};
use crate::T0;
use riverwatch_engine::models::{Fitted, MultivariateModel, Scaler, FORMAT};
use riverwatch_engine::time::{Millis, DAY, MINUTE};
use riverwatch_engine::{Config, DataFlag, DetectorId, Engine, Lead, Output, Reading};
use riverwatch_live::config::StoreKind;
use riverwatch_live::ledger::SealedRevision;
use riverwatch_live::pipeline::now_ms;
use riverwatch_live::store::SqliteStore;
use riverwatch_live::{LeadFilter, ReadingStore, Service, ServiceHandle};
use riverwatch_testkit::{eventually_async, Mosquitto};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const STEP: i64 = 5 * MINUTE;
/// Readings before, during and after the shift. The model's findings name one parameter at a
/// time, so the engine judges the event a monitoring one, which raises a lead from 6 h on
/// (`events.min_monitoring_duration`): the shift lasts 6.5 h.
const BEFORE: i64 = 100;
const SHIFTED: i64 = 78;
const AFTER: i64 = 40;

/// DO and conductivity of DL03 moving together (one principal component), as a trainer would
/// have fitted them on a clean window.
pub(crate) fn model() -> MultivariateModel {
    let h = std::f64::consts::FRAC_1_SQRT_2;
    MultivariateModel {
        format: FORMAT,
        station: "DL03".into(),
        features: vec!["do".into(), "cond".into()],
        interval_ms: STEP,
        trained_from: T0 - 30 * 86_400_000,
        trained_to: T0,
        training_rows: 8640,
        quantile: 0.999,
        // Fixed centre: the scaler's means, no rolling baseline.
        baseline_rows: 0,
        baseline_hold_rows: 0,
        baseline_hold_ratio: 1.0,
        threshold_rule: "set by hand".into(),
        scaler: Scaler {
            means: vec![8.0, 400.0],
            stds: vec![0.25, 5.0],
        },
        fitted: Fitted::Pca {
            components: vec![vec![h, h]],
            variances: vec![1.0],
            t2_threshold: 9.0,
            spe_threshold: 0.5,
        },
        trainer: "hand-built for the test".into(),
        digest: String::new(),
    }
    .with_digest()
}

/// DO and conductivity of DL03 every 5 minutes: a common swing with a little independent
/// noise, then, for `SHIFTED` readings, DO 0.8 σ up and conductivity 0.8 σ down — each well
/// inside its own swing, but against the correlation the model learnt.
pub(crate) fn readings() -> Vec<Reading> {
    readings_from(T0, BEFORE)
}

/// [`readings`] from `t0`, with `before` quiet instants ahead of the shift.
fn readings_from(t0: Millis, before: i64) -> Vec<Reading> {
    let mut out = Vec::new();
    for i in 0..before + SHIFTED + AFTER {
        let t = t0 + i * STEP;
        let a = (i as f64 * 0.3).sin();
        let noise = |k: i64| ((i * k) % 13 - 6) as f64 / 6.0 * 0.05;
        let shift = if (before..before + SHIFTED).contains(&i) {
            0.8
        } else {
            0.0
        };
        let r = |p: &str, v: f64| Reading {
            station: "DL03".into(),
            parameter: p.into(),
            time: t,
            value: (v * 1000.0).round() / 1000.0,
            flag: DataFlag::N,
        };
        out.push(r("do", 8.0 + 0.25 * (a + noise(7) + shift)));
        out.push(r("cond", 400.0 + 5.0 * (a + noise(11) - shift)));
    }
    out
}

fn leads_of(models: Vec<MultivariateModel>) -> Vec<Lead> {
    leads_over(models, &readings())
}

pub(crate) fn leads_over(models: Vec<MultivariateModel>, readings: &[Reading]) -> Vec<Lead> {
    let mut engine = Engine::new(Arc::new(Config::embedded()));
    assert!(engine.set_models(models).is_empty());
    let mut out = Output::default();
    for r in readings {
        engine.push(r, &mut out);
    }
    engine.finish(&mut out);
    out.leads
}

pub(crate) fn by_pca(l: &Lead) -> bool {
    l.detectors.iter().any(|d| d.detector == DetectorId::Pca)
}

#[test]
fn only_the_model_flags_the_shift() {
    assert!(leads_of(vec![]).is_empty(), "{:#?}", leads_of(vec![]));
    let with = leads_of(vec![model()]);
    assert!(with.iter().any(by_pca), "{with:#?}");
}

pub(crate) fn messages() -> Vec<(String, Vec<u8>)> {
    messages_of(&readings())
}

pub(crate) fn messages_of(readings: &[Reading]) -> Vec<(String, Vec<u8>)> {
    readings
        .chunks(2)
        .map(|pair| {
            let body = serde_json::json!({
                "station": "DL03",
                "time": pair[0].time,
                "values": { "do": pair[0].value, "cond": pair[1].value },
            });
            (
                "riverwatch/readings/DL03".to_string(),
                body.to_string().into_bytes(),
            )
        })
        .collect()
}

/// A `models` directory under `root` holding `m` as its one file; the directory and the file.
pub(crate) fn models_dir(root: &Path, m: &MultivariateModel) -> (PathBuf, PathBuf) {
    let dir = root.join("models");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("dl03-pca.json");
    let m = m.clone().with_digest();
    std::fs::write(&file, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    (dir, file)
}

/// The first lead with a PCA finding the service records within 30 s.
pub(crate) async fn pca_lead(h: &ServiceHandle) -> Option<Lead> {
    eventually_async(Duration::from_secs(30), || async {
        let (leads, _) = h.ledger.list(LeadFilter::default()).await.ok()?;
        leads.into_iter().find(by_pca)
    })
    .await
}

/// The lead's latest seal, once checked: its evidence, re-read from the store `db`, gives the
/// sealed digest, and the service has sealed evidence from `source` (`memory`: its cache of
/// durable readings; `store`: read back, the evidence starting before the cache).
pub(crate) async fn sealed_evidence_rechecks(
    h: &ServiceHandle,
    lead: &Lead,
    db: &Path,
    source: &str,
) -> SealedRevision {
    let sealed = h
        .ledger
        .sealed_revision(&lead.id, None)
        .await
        .unwrap()
        .expect("the revision is sealed");
    let evidence = sealed
        .seal
        .evidence
        .clone()
        .expect("its evidence is sealed");
    assert!(evidence.readings > 0, "{evidence:?}");
    let store = SqliteStore::open(db).unwrap();
    assert_eq!(
        evidence.recheck(&store).await.unwrap(),
        Vec::<String>::new()
    );
    let text = h.metrics.render();
    let line = format!("riverwatch_evidence_seals_total{{source=\"{source}\"}}");
    assert!(text.contains(&line), "{line} in {text}");
    sealed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_loads_models_seals_their_digests_and_counts_bad_files() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (models, good) = models_dir(dir.path(), &model());
    std::fs::write(models.join("broken.json"), "{\"format\": 1, \"station\": ").unwrap();

    let db = dir.path().join("r.sqlite");
    // A reading an earlier process stored, between the ones this run sends: the cache never
    // sees it (nothing is replayed), so the evidence cannot come from the cache.
    let earlier = Reading {
        time: T0 + STEP / 2,
        ..readings()[0].clone()
    };
    let stored = SqliteStore::open(&db).unwrap().write(&[earlier]).await;
    assert_eq!(stored.unwrap().stored, 1);
    let mut cfg = config(dir.path(), &broker, StoreKind::Sqlite(db.clone()));
    cfg.models_dir = Some(models.clone());
    let service = Service::start(cfg, Config::embedded(), None).await.unwrap();
    let loaded = service.handle().metrics;
    assert_eq!(loaded.model_errors.get(), 1, "the corrupt file is counted");
    assert_eq!(loaded.models_loaded.get(), 1, "the good model is in use");
    let (h, cancel, run) = run_subscribed(service).await;

    publish_all(broker.port, &messages()).await;
    let lead = pca_lead(&h)
        .await
        .unwrap_or_else(|| panic!("no lead from the PCA model: {}", h.metrics.render()));
    let version = model().with_digest().version();
    assert!(version.ends_with(&model().content_digest()), "{version}");
    assert_eq!(lead.model_versions, vec![version.clone()]);
    // The evidence starts 12 h before the shift, before the first reading the service got,
    // and the store held a reading from before the start: sealed from the store, that reading
    // included (the recheck compares the seal with everything the store holds in the window).
    let sealed = sealed_evidence_rechecks(&h, &lead, &db, "store").await;
    assert_eq!(sealed.seal.model_versions, vec![version]);

    // Reload on change: without the good file no model is in use, and the corrupt one is
    // counted again at that load.
    std::fs::remove_file(&good).unwrap();
    let reloaded = eventually_async(Duration::from_secs(10), || async {
        (h.metrics.models_loaded.get() == 0).then_some(())
    })
    .await;
    assert!(reloaded.is_some(), "{}", h.metrics.render());
    assert_eq!(h.metrics.model_errors.get(), 2);
    let text = h.metrics.render();
    assert!(text.contains("riverwatch_model_errors_total 2"), "{text}");
    cancel.cancel();
    run.await.unwrap().unwrap();
}

/// A day-long rolling baseline: 288 instants, so a cold model scores nothing for 144.
pub(crate) fn rolling_model() -> MultivariateModel {
    MultivariateModel {
        baseline_rows: 288,
        scaler: Scaler {
            means: vec![0.0, 0.0],
            stds: vec![0.25, 5.0],
        },
        ..model()
    }
}

/// `history` quiet instants of [`readings_from`] ending in time for the shift and what
/// follows it to end just before now: the readings from before a restart, and the live ones.
pub(crate) fn around_a_restart(history: i64) -> (Vec<Reading>, Vec<Reading>) {
    let t0 = now_ms() / STEP * STEP - (history + SHIFTED + AFTER) * STEP;
    let mut before = readings_from(t0, history);
    let live = before.split_off(2 * history as usize);
    (before, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_replays_the_store_into_the_rolling_baseline() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (models, _) = models_dir(dir.path(), &rolling_model());
    // 200 quiet instants stored before the restart (more than the 144 of the warm-up, well
    // inside the 2-day replay window), then the shift arrives live right after it.
    let (stored, live) = around_a_restart(200);
    // Cold, the model is still warming up when the shift comes and ends: no lead from it.
    assert!(!leads_over(vec![rolling_model()], &live).iter().any(by_pca));
    let all = [&stored[..], &live].concat();
    assert!(leads_over(vec![rolling_model()], &all).iter().any(by_pca));

    let db = dir.path().join("r.sqlite");
    let report = SqliteStore::open(&db)
        .unwrap()
        .write(&stored)
        .await
        .unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    let mut cfg = config(dir.path(), &broker, StoreKind::Sqlite(db.clone()));
    cfg.models_dir = Some(models);
    cfg.replay_window = Duration::from_millis(2 * DAY as u64);
    let service = Service::start(cfg, Config::embedded(), None).await.unwrap();
    assert_eq!(service.handle().metrics.models_loaded.get(), 1);
    let (h, cancel, run) = run_subscribed(service).await;
    publish_all(broker.port, &messages_of(&live)).await;
    let lead = pca_lead(&h)
        .await
        .unwrap_or_else(|| panic!("no lead from the warm model: {}", h.metrics.render()));
    let shift = live[0].time;
    assert!(lead.window.start >= shift, "{lead:#?}");
    // The evidence starts 12 h before the shift, inside the start-up replay: the replayed
    // readings are in the cache, and the evidence is sealed from memory.
    sealed_evidence_rechecks(&h, &lead, &db, "memory").await;
    cancel.cancel();
    run.await.unwrap().unwrap();
}
