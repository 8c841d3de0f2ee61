//! Trained models in the live service, end to end: PCA models fitted with linfa on a clean
//! simulated window are saved beside a corrupt file, the live service is started with that
//! directory as `models.dir` (real Mosquitto, SQLite store, ledger) and fed a window of
//! correlated subtle shifts. It counts the corrupt file, uses the others, and records exactly
//! the leads a replay with the same models gives — PCA findings and model digests included —
//! which are not the leads the univariate detectors alone make. The service's HTTP replay of
//! its store window uses the models it has loaded: its answer is the sliced replay of the store
//! with those models (`riverwatch replay --models DIR --diff`), model leads included, which the
//! same replay without models lacks.

use crate::equivalence::{by_id, stream_through_live, Live};
use crate::train::train_all;
use crate::{config, simulate};
use riverwatch_batch::frames::Window;
use riverwatch_batch::replay::{replay, Ending, Replayer};
use riverwatch_batch::source::{self, Reader, Source};
use riverwatch_batch::train::Kind;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::sim::Scenario;
use riverwatch_engine::{DetectorId, Engine, Lead};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_service_with_trained_models_matches_replay_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(2, 4);
    let clean = simulate(dir.path(), "clean", &cfg, Scenario::Subtle, 4, 7, false);
    let models_dir = dir.path().join("models");
    assert_eq!(train_all(&clean, Kind::Pca, &models_dir), 2);
    let (models, bad) = MultivariateModel::load_dir(&models_dir).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    std::fs::write(models_dir.join("corrupt.json"), "{\"format\": 1, \"stat").unwrap();

    let shifted = simulate(dir.path(), "shifted", &cfg, Scenario::Subtle, 4, 7, true);
    let sent = crate::load(&shifted);
    let live_dir = dir.path().join("live");
    std::fs::create_dir(&live_dir).unwrap();
    let Live {
        api,
        expected,
        got,
        metrics,
    } = stream_through_live(
        &live_dir,
        &cfg,
        Some(models_dir),
        &models,
        &sent,
        (shifted.from, shifted.to),
    )
    .await;
    assert_eq!(metrics.model_errors.get(), 1, "the corrupt file is counted");
    assert_eq!(metrics.models_loaded.get(), 2);
    assert_eq!(
        got,
        by_id(&expected.leads),
        "live leads differ from the replay with the same models"
    );
    let by_model: Vec<_> = expected.leads.iter().filter(|l| by_pca(l)).collect();
    assert!(!by_model.is_empty(), "the models found the shifts live");
    let mut versions: Vec<String> = models.iter().map(|m| m.version()).collect();
    versions.sort();
    assert!(by_model.iter().all(|l| l.model_versions == versions));
    assert!(
        models
            .iter()
            .all(|m| m.digest.len() == 64 && m.version().ends_with(&m.digest)),
        "leads name the whole digest of each model file"
    );

    // Without the models the same readings give other leads.
    let plain = replay(
        Engine::new(Arc::new(cfg.clone())),
        &sent,
        Ending::Open,
        &mut |_| {},
    );
    assert_ne!(by_id(&plain.leads), got);

    // The API's replay ran with the service's models: exactly the CLI's sliced replay of the
    // store with them, PCA leads included; the same replay without models has none.
    let store = live_dir.join("readings.sqlite");
    let window = Window {
        from: shifted.from,
        to: shifted.to,
        stations: vec![],
    };
    let sliced = |models: Vec<MultivariateModel>| {
        let (store, window, cfg) = (store.clone(), window.clone(), cfg.clone());
        tokio::task::spawn_blocking(move || {
            let reader = Reader::open(&Source::Sqlite(store), &window, None).unwrap();
            let mut engine = Engine::new(Arc::new(cfg));
            assert!(engine.set_models(models).is_empty());
            let mut replayer = Replayer::new(engine);
            let n = reader
                .for_each_slice(source::SLICE, &mut |s| replayer.feed(s))
                .unwrap();
            (n, replayer.finish(Ending::Open))
        })
    };
    let (n, with) = sliced(models.clone()).await.unwrap();
    assert_eq!(api.readings, n);
    assert_eq!(api.leads, with.leads);
    assert!(
        api.leads.iter().any(by_pca),
        "the API replay has the model's leads"
    );
    let (_, without) = sliced(Vec::new()).await.unwrap();
    assert!(!without.leads.iter().any(by_pca));
    assert_ne!(without.leads, api.leads);
}

fn by_pca(l: &Lead) -> bool {
    l.detectors.iter().any(|d| d.detector == DetectorId::Pca)
}
