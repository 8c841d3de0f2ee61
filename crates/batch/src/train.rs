//! Model training: a station's feature matrix (see `features`) fitted with linfa — PCA for
//! Hotelling T² and SPE, or a Gaussian mixture for the log-likelihood — and turned into the
//! engine's plain [`MultivariateModel`], with its alarm thresholds set at a quantile of the
//! model's own scores on the training rows (scored by the engine's scorer, so training and
//! detection use one formula).
//!
//! With a rolling baseline (the default) the rows are first centred on the mean of the
//! previous day of rows, the way the engine will centre them, so seasonal and flow drift
//! between the training window and the watched one does not read as anomaly. The engine also
//! keeps the instants it alarms on out of that mean for up to [`TrainOptions::hold_ms`]; the
//! training window is meant to be quiet, so the trainer centres every row. A quantile the
//! training rows cannot resolve (fewer than [`TAIL_ROWS`] rows above it) is not clamped to the
//! largest training score: the tail beyond the 0.99 quantile is fitted with an exponential and
//! the threshold extrapolated from it; the model file says which rule was used.

use crate::features::Features;
use linfa::prelude::*;
use linfa_clustering::GaussianMixtureModel;
use linfa_reduction::Pca;
use ndarray::Axis;
use riverwatch_engine::models::{Fitted, MultivariateModel, Scaler, Scorer, FORMAT};
use riverwatch_engine::time::{Millis, DAY};

/// The linfa release the models are fitted with (written into each model file).
pub const TRAINER: &str = "linfa 0.8";

/// Which model to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Principal components: T² and SPE.
    Pca,
    /// Gaussian mixture: negative log-likelihood.
    Gmm,
}

impl Kind {
    /// Reads `pca` or `gmm`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pca" => Some(Self::Pca),
            "gmm" => Some(Self::Gmm),
            _ => None,
        }
    }
}

/// Training options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// Model kind.
    pub kind: Kind,
    /// Quantile of training scores the alarm threshold is set at (e.g. 0.999).
    pub quantile: f64,
    /// Share of variance the retained PCA components explain.
    pub pca_variance: f64,
    /// Mixture components.
    pub gmm_components: usize,
    /// Rolling baseline the features are centred on, ms (0: fixed training means).
    pub baseline_ms: Millis,
    /// Longest run of alarming instants the engine keeps out of the rolling baseline, ms.
    pub hold_ms: Millis,
    /// Ratio to the threshold above which an instant counts as alarming for the hold.
    pub hold_ratio: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            kind: Kind::Pca,
            quantile: 0.9995,
            pca_variance: 0.9,
            gmm_components: 2,
            baseline_ms: DAY,
            hold_ms: DAY / 2,
            hold_ratio: 1.0,
        }
    }
}

/// Why a model could not be fitted.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// linfa refused the data.
    #[error("station {station}: fitting failed: {reason}")]
    Fit {
        /// Station.
        station: String,
        /// linfa's message.
        reason: String,
    },
}

/// Nearest-rank quantile of `v` (sorted in place); `q` in [0, 1].
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1)) - 1;
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// Rows above an empirical quantile needed to trust it; with fewer, the threshold is
/// extrapolated from the tail.
pub const TAIL_ROWS: f64 = 10.0;

/// Quantile above which the tail is fitted when extrapolating.
const TAIL_FROM: f64 = 0.99;

/// The `q` quantile of `scores`, and how it was obtained: the empirical quantile when at least
/// [`TAIL_ROWS`] rows lie above it, otherwise the 0.99 quantile `u` plus the exponential
/// tail's extrapolation `β · ln(0.01 / (1 − q))`, with `β` the mean excess of the scores
/// above `u` (the peaks-over-threshold estimate for a light, exponential-like tail, which T²,
/// SPE and a Gaussian negative log-likelihood have).
pub fn tail_quantile(scores: &mut [f64], q: f64) -> (f64, String) {
    let n = scores.len() as f64;
    if (1.0 - q) * n >= TAIL_ROWS || q <= TAIL_FROM {
        return (quantile(scores, q), format!("empirical {q} quantile"));
    }
    let u = quantile(scores, TAIL_FROM);
    let excess: Vec<f64> = scores.iter().filter(|s| **s > u).map(|s| s - u).collect();
    let beta = if excess.is_empty() {
        0.0
    } else {
        excess.iter().sum::<f64>() / excess.len() as f64
    };
    let t = u + beta * ((1.0 - TAIL_FROM) / (1.0 - q)).ln();
    let rule = format!(
        "{q} quantile extrapolated: exponential tail above the {TAIL_FROM} quantile \
         ({} rows, mean excess {beta:.4})",
        excess.len()
    );
    (t, rule)
}

/// Fits a model for `f` over the window `[from, to)`.
pub fn fit(
    f: &Features,
    from: Millis,
    to: Millis,
    o: &TrainOptions,
) -> Result<MultivariateModel, TrainError> {
    let fail = |reason: String| TrainError::Fit {
        station: f.station.to_string(),
        reason,
    };
    let baseline_rows = if o.baseline_ms > 0 && f.interval > 0 {
        (o.baseline_ms / f.interval).max(1) as usize
    } else {
        0
    };
    let centred;
    let f = if baseline_rows > 0 {
        centred = f.centred(baseline_rows).map_err(|e| fail(e.to_string()))?;
        &centred
    } else {
        f
    };
    let d = f.names.len();
    let data = DatasetBase::from(f.rows.clone());
    let fitted = match o.kind {
        Kind::Pca => {
            let pca = Pca::params(d).fit(&data).map_err(|e| fail(e.to_string()))?;
            let comps = pca.components();
            // Variance of the training scores along each component (linfa's own
            // `explained_variance` divides by the component count, not the row count).
            let proj = f.rows.dot(&comps.t());
            let vars: Vec<f64> = proj.axis_iter(Axis(1)).map(|c| c.var(1.0)).collect();
            let total: f64 = vars.iter().sum();
            let mut k = 0;
            let mut acc = 0.0;
            while k < d - 1 && acc < o.pca_variance * total {
                acc += vars[k];
                k += 1;
            }
            let k = k.max(1);
            Fitted::Pca {
                components: comps.outer_iter().take(k).map(|r| r.to_vec()).collect(),
                variances: vars[..k].iter().map(|v| v.max(1e-9)).collect(),
                t2_threshold: 1.0,
                spe_threshold: 1.0,
            }
        }
        Kind::Gmm => {
            let gmm = GaussianMixtureModel::<f64>::params(o.gmm_components.max(1))
                .n_runs(3)
                .tolerance(1e-4)
                .reg_covariance(1e-4)
                .fit(&data)
                .map_err(|e| fail(e.to_string()))?;
            Fitted::Gmm {
                weights: gmm.weights().to_vec(),
                means: gmm.means().outer_iter().map(|r| r.to_vec()).collect(),
                covariances: gmm
                    .covariances()
                    .outer_iter()
                    .map(|c| c.outer_iter().map(|r| r.to_vec()).collect())
                    .collect(),
                threshold: 0.0,
                scale: 1.0,
            }
        }
    };
    let mut model = MultivariateModel {
        format: FORMAT,
        station: f.station.clone(),
        features: f.names.clone(),
        interval_ms: f.interval,
        trained_from: from,
        trained_to: to,
        training_rows: f.rows.nrows(),
        quantile: o.quantile,
        baseline_rows,
        baseline_hold_rows: if baseline_rows > 0 && o.hold_ms > 0 {
            (o.hold_ms / f.interval).max(1) as usize
        } else {
            0
        },
        baseline_hold_ratio: o.hold_ratio,
        threshold_rule: String::new(),
        scaler: Scaler {
            means: f.means.clone(),
            stds: f.stds.clone(),
        },
        fitted,
        trainer: TRAINER.to_string(),
        digest: String::new(),
    };
    set_thresholds(&mut model, f, o.quantile).map_err(fail)?;
    let model = model.with_digest();
    Ok(model)
}

/// Scores the training rows (`raw`: centred when the model has a baseline) with the engine's
/// scorer and sets the thresholds at `q`.
fn set_thresholds(model: &mut MultivariateModel, f: &Features, q: f64) -> Result<(), String> {
    let scorer = Scorer::new(model.clone()).map_err(|e| e.reason)?;
    let mut stats: Vec<f64> = Vec::with_capacity(f.raw.nrows());
    let mut spe: Vec<f64> = Vec::with_capacity(f.raw.nrows());
    for row in f.raw.outer_iter() {
        let x = row.to_vec();
        match scorer.pca_statistics(&x) {
            Some((t2, e)) => {
                stats.push(t2);
                spe.push(e);
            }
            None => stats.push(scorer.score(&x).statistic),
        }
    }
    model.threshold_rule = match &mut model.fitted {
        Fitted::Pca {
            t2_threshold,
            spe_threshold,
            ..
        } => {
            let (t2, rule) = tail_quantile(&mut stats, q);
            *t2_threshold = t2.max(1e-9);
            *spe_threshold = tail_quantile(&mut spe, q).0.max(1e-9);
            rule
        }
        Fitted::Gmm {
            threshold, scale, ..
        } => {
            let median = quantile(&mut stats, 0.5);
            let (t, rule) = tail_quantile(&mut stats, q);
            *threshold = t;
            *scale = (*threshold - median).max(1e-6);
            rule
        }
    };
    Ok(())
}

/// Writes `model` as `<dir>/<station>.<kind>.json`; returns the path.
pub fn save(
    dir: &std::path::Path,
    model: &MultivariateModel,
) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.{}.json", model.station, model.kind()));
    let json = serde_json::to_string_pretty(model)?;
    std::fs::write(&path, json)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::tail_quantile;

    /// Scores with an exact unit-exponential distribution: the i-th of n is −ln(1 − (i+½)/n).
    fn exponential(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| -(1.0 - (i as f64 + 0.5) / n as f64).ln())
            .collect()
    }

    #[test]
    fn a_resolvable_quantile_is_empirical() {
        let (t, rule) = tail_quantile(&mut exponential(6048), 0.99);
        assert!(rule.starts_with("empirical"), "{rule}");
        assert!((t - 100f64.ln()).abs() < 0.01, "{t}");
    }

    #[test]
    fn beyond_the_rows_the_tail_is_extrapolated_not_clamped_to_the_maximum() {
        let max = exponential(6048).into_iter().fold(f64::MIN, f64::max);
        let (t4, rule) = tail_quantile(&mut exponential(6048), 0.9999);
        let (t5, _) = tail_quantile(&mut exponential(6048), 0.99999);
        assert!(rule.contains("extrapolated"), "{rule}");
        // The true quantiles are ln 10⁴ and ln 10⁵; the largest of the rows is ≈ ln 12 096.
        assert!((t4 - 1e4f64.ln()).abs() < 0.3, "{t4}");
        assert!((t5 - 1e5f64.ln()).abs() < 0.3, "{t5}");
        assert!(t5 > max && t5 > t4 + 2.0, "{t4} {t5} {max}");
    }
}
