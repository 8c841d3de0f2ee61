use super::*;
use crate::config::{Config, ModelsCfg};
use crate::detect::multivariate::Multivariate;
use crate::detect::{Engine, Output};
use crate::model::{DataFlag, DetectorId, FindingKind, Reading};
use crate::time::MINUTE;
use std::sync::Arc;

fn pca_model() -> MultivariateModel {
    // Two features, strongly correlated: one component along (1, 1)/√2.
    let h = std::f64::consts::FRAC_1_SQRT_2;
    MultivariateModel {
        format: FORMAT,
        station: StationId::new("S1"),
        features: vec![ParamId::new("do"), ParamId::new("cond")],
        interval_ms: 5 * MINUTE,
        trained_from: 0,
        trained_to: 1,
        training_rows: 100,
        quantile: 0.999,
        baseline_rows: 0,
        baseline_hold_rows: 0,
        baseline_hold_ratio: 1.0,
        threshold_rule: String::new(),
        scaler: Scaler {
            means: vec![8.0, 400.0],
            stds: vec![0.5, 10.0],
        },
        fitted: Fitted::Pca {
            components: vec![vec![h, h]],
            variances: vec![1.9],
            t2_threshold: 9.0,
            spe_threshold: 0.5,
        },
        trainer: "test".into(),
        digest: String::new(),
    }
    .with_digest()
}

#[test]
fn pca_statistics_follow_the_definitions() {
    let s = Scorer::new(pca_model()).unwrap();
    // Along the component: z = (2, 2) → t = 2√2, T² = 8 / 1.9, SPE = 0.
    let (t2, spe) = s.pca_statistics(&[9.0, 420.0]).unwrap();
    assert!(
        (t2 - 8.0 / 1.9).abs() < 1e-9 && spe.abs() < 1e-9,
        "{t2} {spe}"
    );
    // Against it: z = (1, −1) → t = 0, SPE = 2 → ratio 4 on SPE.
    let v = s.score(&[8.5, 390.0]);
    assert!(
        (v.statistic - 2.0).abs() < 1e-9 && (v.ratio - 4.0).abs() < 1e-9,
        "{v:?}"
    );
    assert_eq!(v.threshold, 0.5);
}

#[test]
fn gmm_of_one_component_is_the_gaussian_density() {
    let mut m = pca_model();
    m.fitted = Fitted::Gmm {
        weights: vec![1.0],
        means: vec![vec![0.0, 0.0]],
        covariances: vec![vec![vec![4.0, 0.0], vec![0.0, 1.0]]],
        threshold: 5.0,
        scale: 2.0,
    };
    let s = Scorer::new(m).unwrap();
    // z = (2, 1): maha = 1 + 1 = 2; logdet = ln 4; nll = ln 2π + ln 4 / 2 + 1.
    let v = s.score(&[9.0, 410.0]);
    let want = (2.0 * std::f64::consts::PI).ln() + 0.5 * 4f64.ln() + 1.0;
    assert!((v.statistic - want).abs() < 1e-9, "{v:?}");
    assert!((v.ratio - (1.0 + (want - 5.0) / 2.0)).abs() < 1e-9);
}

#[test]
fn malformed_models_are_refused_with_a_reason() {
    let ok = serde_json::to_string(&pca_model()).unwrap();
    assert!(MultivariateModel::parse("m.json", &ok).is_ok());
    type Breakage = Box<dyn Fn(&mut MultivariateModel)>;
    let cases: Vec<(&str, Breakage)> = vec![
        ("format", Box::new(|m| m.format = 99)),
        ("scaler", Box::new(|m| m.scaler.stds[1] = 0.0)),
        (
            "changed after training",
            Box::new(|m| m.scaler.means[0] += 0.001),
        ),
        (
            "pca",
            Box::new(|m| {
                m.fitted = Fitted::Pca {
                    components: vec![vec![1.0]],
                    variances: vec![1.0],
                    t2_threshold: 1.0,
                    spe_threshold: 1.0,
                }
            }),
        ),
        (
            "positive-definite",
            Box::new(|m| {
                m.fitted = Fitted::Gmm {
                    weights: vec![1.0],
                    means: vec![vec![0.0, 0.0]],
                    covariances: vec![vec![vec![1.0, 2.0], vec![2.0, 1.0]]],
                    threshold: 1.0,
                    scale: 1.0,
                }
            }),
        ),
    ];
    for (want, change) in cases {
        let mut m = pca_model();
        change(&mut m);
        let e =
            MultivariateModel::parse("m.json", &serde_json::to_string(&m).unwrap()).unwrap_err();
        assert!(
            e.to_string().contains(want) && e.to_string().contains("m.json"),
            "{want}: {e}"
        );
    }
    let e = MultivariateModel::parse("x.json", "{\"format\": 1}").unwrap_err();
    assert!(e.reason.contains("not a model file"), "{e}");
}

#[test]
fn load_dir_keeps_good_models_beside_bad_files() {
    let dir = std::env::temp_dir().join(format!("rw-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.json"),
        serde_json::to_string(&pca_model()).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("b.json"), "not json").unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let (good, bad) = MultivariateModel::load_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(good.len(), 1);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].file.ends_with("b.json"));
    assert!(MultivariateModel::load_dir(&dir).is_err());
}

#[test]
fn engine_emits_model_findings_only_at_complete_instants() {
    let mut engine = Engine::new(Arc::new(Config::embedded())).keep_findings(true);
    let mut bad = pca_model();
    bad.format = 7;
    let refused = engine.set_models(vec![pca_model(), bad]);
    assert_eq!(refused.len(), 1);
    let mut out = Output::default();
    let push = |e: &mut Engine, out: &mut Output, p: &str, t: Millis, v: f64| {
        let r = Reading {
            station: StationId::new("S1"),
            parameter: ParamId::new(p),
            time: t,
            value: v,
            flag: DataFlag::N,
        };
        e.push(&r, out);
    };
    let t0 = 1_700_000_000_000;
    for i in 0..40 {
        let t = t0 + i * 5 * MINUTE;
        // In the last ten instants DO falls while conductivity rises: each stays within 1.2
        // of its own std, but together they leave the trained correlation.
        let k = if i >= 30 { 1.2 } else { 0.0 };
        push(&mut engine, &mut out, "do", t, 8.0 - 0.5 * k);
        if i != 35 {
            push(&mut engine, &mut out, "cond", t, 400.0 + 10.0 * k);
        }
    }
    engine.finish(&mut out);
    let pca: Vec<_> = out
        .findings
        .iter()
        .filter(|f| f.detector == DetectorId::Pca)
        .collect();
    // Nine scored instants alarm (30–39 but 35, which lacks conductivity); with 3 of 4 the
    // first finding comes at the third of them.
    assert_eq!(
        Config::embedded().thresholds.models,
        ModelsCfg { k: 3, n: 4 }
    );
    assert_eq!(pca.len(), 7, "{pca:#?}");
    assert!(pca
        .iter()
        .all(|f| f.kind == FindingKind::Deviation && f.time >= t0 + 32 * 5 * MINUTE));
    assert!(pca.iter().all(|f| f.time != t0 + 35 * 5 * MINUTE));
    let event = out
        .events
        .iter()
        .find(|e| e.detectors.contains(&DetectorId::Pca));
    assert!(
        event.is_some_and(|e| e.start == t0 + 32 * 5 * MINUTE),
        "{:#?}",
        out.events
    );
    assert_eq!(
        engine_versions(&mut engine),
        vec![format!("pca:S1:{}", pca_model().content_digest())]
    );
}

/// The versions leads would carry, seen through a lead made by a gross GB 3838 breach.
fn engine_versions(engine: &mut Engine) -> Vec<String> {
    let mut out = Output::default();
    let t0 = 1_800_000_000_000;
    for i in 0..60 {
        let r = Reading {
            station: StationId::new("S1"),
            parameter: ParamId::new("nh3n"),
            time: t0 + i * 5 * MINUTE,
            value: if i >= 40 { 30.0 } else { 0.3 },
            flag: DataFlag::N,
        };
        engine.push(&r, &mut out);
    }
    engine.finish(&mut out);
    out.leads
        .last()
        .expect("a gross breach makes a lead")
        .model_versions
        .clone()
}

/// Feeds `(do, cond)` instants to a detector of `m` and returns the instants with findings.
fn flagged(m: MultivariateModel, cfg: ModelsCfg, rows: &[(f64, f64)]) -> Vec<usize> {
    let mut d = Multivariate::new(Scorer::new(m).unwrap());
    let mut hits = Vec::new();
    for (i, (a, b)) in rows.iter().enumerate() {
        let mut out = Vec::new();
        let t = i as Millis * 5 * MINUTE;
        d.observe(&ParamId::new("do"), t, *a, &cfg, &mut out);
        d.observe(&ParamId::new("cond"), t, *b, &cfg, &mut out);
        if !out.is_empty() {
            hits.push(i);
        }
    }
    hits
}

#[test]
fn persistence_needs_k_of_the_last_n_scored_instants() {
    // Off the trained correlation (SPE ratio 4) on every other instant from 10 on.
    let rows: Vec<(f64, f64)> = (0..30)
        .map(|i| {
            if i >= 10 && i % 2 == 0 {
                (8.5, 390.0)
            } else {
                (8.0, 400.0)
            }
        })
        .collect();
    let one = ModelsCfg { k: 1, n: 1 };
    assert_eq!(flagged(pca_model(), one, &rows).len(), 10);
    // Every other instant is 2 of any 4: never 3 of 4, but 2 of 3 from the second on.
    assert!(flagged(pca_model(), ModelsCfg { k: 3, n: 4 }, &rows).is_empty());
    assert_eq!(
        flagged(pca_model(), ModelsCfg { k: 2, n: 3 }, &rows),
        vec![12, 14, 16, 18, 20, 22, 24, 26, 28]
    );
}

#[test]
fn a_rolling_baseline_follows_drift_but_not_a_correlated_step() {
    // Both features drift together by two of their stds per 100 instants (along the trained
    // component, so T² grows), then from instant 300 DO falls while conductivity rises.
    let rows: Vec<(f64, f64)> = (0..320)
        .map(|i| {
            let drift = i as f64 / 50.0;
            let step = if i >= 300 { 1.0 } else { 0.0 };
            (8.0 + 0.5 * (drift - step), 400.0 + 10.0 * (drift + step))
        })
        .collect();
    let cfg = ModelsCfg { k: 3, n: 4 };
    let fixed = flagged(pca_model(), cfg, &rows);
    // The fixed centre reads the drift as anomaly long before the step (T² > 9 from 147 on).
    assert_eq!(fixed.first(), Some(&149), "{fixed:?}");
    let mut rolling = pca_model();
    rolling.baseline_rows = 24;
    // Centred on the previous 24 instants, the drift leaves a constant 0.25 std offset.
    rolling.scaler.means = vec![0.125, 2.5];
    let hits = flagged(rolling, cfg, &rows);
    assert_eq!(hits.first(), Some(&302), "{hits:?}");
}

/// DO falls by one std while conductivity rises by one (SPE ratio 4 on a fixed centre) over
/// instants `from..to` of `len`, quiet otherwise.
fn step(len: usize, from: usize, to: usize) -> Vec<(f64, f64)> {
    (0..len)
        .map(|i| {
            let k = if (from..to).contains(&i) { 1.0 } else { 0.0 };
            (8.0 - 0.5 * k, 400.0 + 10.0 * k)
        })
        .collect()
}

fn rolling(window: usize, hold: usize) -> MultivariateModel {
    let mut m = pca_model();
    m.baseline_rows = window;
    m.baseline_hold_rows = hold;
    m.scaler.means = vec![0.0, 0.0];
    m
}

#[test]
fn a_held_baseline_does_not_alarm_again_after_the_shift_it_caught() {
    let (cfg, rows) = (ModelsCfg { k: 3, n: 4 }, step(100, 40, 56));
    // Absorbing every instant: two thirds of the step enter the mean, so the quiet readings
    // after it sit off the mean the other way (SPE ratio 1.8) until the step leaves the window.
    let absorbed = flagged(rolling(24, 0), cfg, &rows);
    assert!(absorbed.iter().any(|&i| i >= 58), "{absorbed:?}");
    assert!(
        absorbed.iter().all(|i| !(52..58).contains(i)),
        "the step is absorbed before it ends: {absorbed:?}"
    );
    // Held: the step stays out of the mean, alarms to its end and not after it.
    let held = flagged(rolling(24, 24), cfg, &rows);
    assert_eq!(held, (42..56).collect::<Vec<_>>());
}

#[test]
fn a_lasting_change_joins_the_baseline_once_the_hold_runs_out() {
    let cfg = ModelsCfg { k: 3, n: 4 };
    let rows = step(200, 40, 200);
    let held = flagged(rolling(24, 12), cfg, &rows);
    // Twelve alarming instants are held, then the new level joins the mean and the alarm ends.
    assert_eq!(held.first(), Some(&42), "{held:?}");
    let last = *held.last().unwrap();
    assert!((60..80).contains(&last), "{held:?}");
}

#[test]
fn format_2_files_load_with_a_baseline_that_absorbs_every_instant() {
    let mut m = rolling(24, 24);
    m.format = 2;
    let mut v = serde_json::to_value(&m).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("baseline_hold_rows");
    o.remove("baseline_hold_ratio");
    let old = MultivariateModel::parse("old.json", &v.to_string()).unwrap();
    assert_eq!((old.baseline_hold_rows, old.baseline_hold_ratio), (0, 1.0));
    let cfg = ModelsCfg { k: 3, n: 4 };
    let rows = step(100, 40, 56);
    assert_eq!(
        flagged(old, cfg, &rows),
        flagged(rolling(24, 0), cfg, &rows)
    );
    let mut bad = rolling(24, 24);
    bad.baseline_hold_ratio = f64::NAN;
    assert!(Scorer::new(bad).unwrap_err().reason.contains("hold_ratio"));
}

/// Reloading an unchanged model keeps its rolling baseline (as a replay, which loads the models
/// once, has it); a model whose content changed starts cold and misses the shift's start.
#[test]
fn a_reload_keeps_the_rolling_state_of_unchanged_models() {
    let model = rolling(24, 0).with_digest();
    let pca_times = |reload: Option<&MultivariateModel>| {
        let mut engine = Engine::new(Arc::new(Config::embedded())).keep_findings(true);
        assert!(engine.set_models(vec![model.clone()]).is_empty());
        let mut out = Output::default();
        let t0 = 1_700_000_000_000;
        for (i, (a, b)) in step(60, 30, 45).into_iter().enumerate() {
            if let (28, Some(m)) = (i, reload) {
                assert!(engine.set_models(vec![m.clone()]).is_empty());
            }
            for (p, v) in [("do", a), ("cond", b)] {
                let r = Reading {
                    station: StationId::new("S1"),
                    parameter: ParamId::new(p),
                    time: t0 + i as Millis * 5 * MINUTE,
                    value: v,
                    flag: DataFlag::N,
                };
                engine.push(&r, &mut out);
            }
        }
        engine.finish(&mut out);
        let times: Vec<Millis> = out
            .findings
            .iter()
            .filter(|f| f.detector == DetectorId::Pca)
            .map(|f| f.time)
            .collect();
        times
    };
    let once = pca_times(None);
    assert!(!once.is_empty(), "the shift is caught without a reload");
    assert_eq!(pca_times(Some(&model)), once);
    let mut retrained = model.clone();
    retrained.trainer = "retrained".into();
    let cold = pca_times(Some(&retrained.with_digest()));
    assert!(
        cold.first() > once.first() || cold.is_empty(),
        "{cold:?} vs {once:?}"
    );
}
