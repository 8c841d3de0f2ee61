//! Trained models in the live service, end to end: PCA models fitted with linfa on a clean
//! simulated window are saved beside a corrupt file, the live service is started with that
//! directory as `models.dir` (real Mosquitto, SQLite store, ledger) and fed a window of
//! correlated subtle shifts. It counts the corrupt file, uses the others, and records exactly
//! the leads a replay with the same models gives — PCA findings and model digests included —
//! which are not the leads the univariate detectors alone make.

use crate::equivalence::{by_id, stream_through_live, Live};
use crate::train::train_all;
use crate::{config, simulate};
use riverwatch_batch::replay::{replay, Ending};
use riverwatch_batch::train::Kind;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::sim::Scenario;
use riverwatch_engine::{DetectorId, Engine};
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
    let by_model: Vec<_> = expected
        .leads
        .iter()
        .filter(|l| l.detectors.iter().any(|d| d.detector == DetectorId::Pca))
        .collect();
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
}
