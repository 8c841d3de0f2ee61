use crate::{config, load, simulate, SimWindow};
use riverwatch_batch::features::{self, Pipeline};
use riverwatch_batch::frames::{self, Window};
use riverwatch_batch::replay::{replay, Ending, Replayed};
use riverwatch_batch::train::{self, Kind, TrainOptions};
use riverwatch_engine::eval::{evaluate, EvalOptions};
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::sim::Scenario;
use riverwatch_engine::{Config, DetectorId, Engine};
use std::path::Path;
use std::sync::Arc;

pub(crate) fn train_all(w: &SimWindow, kind: Kind, dir: &Path) -> usize {
    let window = Window {
        from: w.from,
        to: w.to,
        stations: vec![],
    };
    let (df, _) = frames::load_csv(&w.csv, &window).unwrap();
    let opts = TrainOptions {
        kind,
        ..TrainOptions::default()
    };
    let mut n = 0;
    for s in &w.cfg.stations.list {
        let f = features::build(&df, &s.id, &Pipeline::default()).unwrap();
        assert_eq!(f.interval, 5 * 60_000);
        let names: Vec<&str> = f.names.iter().map(|p| p.as_str()).collect();
        assert!(
            names.contains(&"cond") && !names.contains(&"nh3n"),
            "{names:?}"
        );
        let m = train::fit(&f, w.from, w.to, &opts).unwrap();
        assert_eq!(m.digest, m.content_digest());
        train::save(dir, &m).unwrap();
        n += 1;
    }
    n
}

fn run(cfg: &Config, w: &SimWindow, models: &[MultivariateModel]) -> Replayed {
    let mut e = Engine::new(Arc::new(cfg.clone()));
    assert!(e.set_models(models.to_vec()).is_empty());
    replay(e, &load(w), Ending::Flush, &mut |_| {})
}

/// Subtle-shift truths detected, and how many there are.
fn subtle_found(w: &SimWindow, r: &Replayed) -> (usize, usize) {
    let rep = evaluate(&w.truth, &r.events, &r.leads, &EvalOptions::default());
    rep.recall_by_kind
        .get("subtle_shift")
        .map_or((0, 0), |s| (s.count, s.of))
}

#[test]
fn trained_pca_catches_correlated_shifts_the_univariate_detectors_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(3, 21);
    let clean = simulate(dir.path(), "clean", &cfg, Scenario::Subtle, 21, 14, false);
    let shifted = simulate(dir.path(), "shifted", &cfg, Scenario::Subtle, 21, 14, true);
    let models_dir = dir.path().join("models");
    assert_eq!(train_all(&clean, Kind::Pca, &models_dir), 3);
    let (models, bad) = MultivariateModel::load_dir(&models_dir).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(models.len(), 3);

    let plain = run(&cfg, &shifted, &[]);
    let with = run(&cfg, &shifted, &models);
    let ((a, truths), (b, _)) = (
        subtle_found(&shifted, &plain),
        subtle_found(&shifted, &with),
    );
    eprintln!("subtle shifts found: {a} without models, {b} with, of {truths}");
    assert!(truths > 0 && b > a, "{b} with models, {a} without");
    let by_model: Vec<_> = with
        .leads
        .iter()
        .filter(|l| l.detectors.iter().any(|d| d.detector == DetectorId::Pca))
        .collect();
    assert!(!by_model.is_empty());
    assert!(by_model
        .iter()
        .all(|l| l.model_versions.len() == 3 && l.model_versions[0].starts_with("pca:")));
    // False alarms on the clean window stay within a budget.
    let quiet = run(&cfg, &clean, &models);
    let model_events = quiet
        .events
        .iter()
        .filter(|e| e.detectors.contains(&DetectorId::Pca))
        .count();
    eprintln!("clean window: {model_events} events with a PCA finding");
    // 3 stations × 2 weeks: at most 1.5 model events per station-week.
    assert!(model_events <= 9, "{model_events} PCA events on clean data");
}

#[test]
fn gmm_round_trip_and_incompatible_files_leave_the_rest_running() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(2, 4);
    let clean = simulate(dir.path(), "clean", &cfg, Scenario::Subtle, 4, 7, false);
    let models_dir = dir.path().join("models");
    assert_eq!(train_all(&clean, Kind::Gmm, &models_dir), 2);
    // One file from a future trainer, one truncated.
    let first = std::fs::read_dir(&models_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&first).unwrap();
    std::fs::write(
        models_dir.join("future.json"),
        text.replace("\"format\": 3", "\"format\": 4"),
    )
    .unwrap();
    std::fs::write(models_dir.join("truncated.json"), &text[..text.len() / 2]).unwrap();
    let (models, bad) = MultivariateModel::load_dir(&models_dir).unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(bad.len(), 2);
    assert!(
        bad.iter()
            .any(|e| e.file.ends_with("future.json") && e.reason.contains("format 4")),
        "{bad:?}"
    );
    assert!(
        bad.iter().any(|e| e.file.ends_with("truncated.json")),
        "{bad:?}"
    );
    // A model whose shape does not fit is refused by the engine; the good ones still score.
    let mut wrong = models[0].clone();
    wrong.scaler.means.pop();
    let mut e = Engine::new(Arc::new(cfg.clone()));
    let refused = e.set_models(vec![wrong, models[0].clone(), models[1].clone()]);
    assert_eq!(refused.len(), 1);
    assert!(refused[0].reason.contains("scaler"), "{}", refused[0]);
    let shifted = simulate(dir.path(), "shifted", &cfg, Scenario::Subtle, 4, 7, true);
    let r = replay(e, &load(&shifted), Ending::Flush, &mut |_| {});
    assert!(r.leads.iter().all(|l| l.model_versions.len() == 2));
    assert!(
        r.events
            .iter()
            .any(|e| e.detectors.contains(&DetectorId::Gmm)),
        "the mixture model fires on the shifts"
    );
}
