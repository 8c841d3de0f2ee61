//! Trained multivariate models as plain data, and their scoring with plain f64 math.
//!
//! `riverwatch train` (crates/batch) fits these with linfa and saves them as JSON; the engine
//! only reads and scores them, so it needs no linear-algebra crate. A model describes one
//! station: the features (parameters) it expects at one instant, the scaler that standardises
//! them, the fitted parameters (PCA components, or Gaussian mixture weights, means and
//! covariances) and the alarm threshold the trainer set at a quantile of its training scores.
//! [`MultivariateModel::parse`] checks everything the scorer relies on (dimensions, finite
//! numbers, positive scales, positive-definite covariances) so scoring itself cannot fail.

use crate::model::{ParamId, StationId};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub mod rolling;

/// The model file format this engine writes. It also reads formats 1 (no rolling baseline, no
/// threshold rule) and 2 (a baseline that absorbs every instant): the fields they lack take
/// their defaults, which is what those formats meant.
pub const FORMAT: u32 = 3;

/// Per-feature standardisation: `z = (x − mean) / std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Training means.
    pub means: Vec<f64>,
    /// Training standard deviations (all > 0).
    pub stds: Vec<f64>,
}

/// The fitted parameters, by model kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fitted {
    /// Principal components of the standardised features: Hotelling T² within the retained
    /// subspace, squared prediction error (SPE) outside it.
    Pca {
        /// Retained components, one unit vector of feature weights each.
        components: Vec<Vec<f64>>,
        /// Variance of the training scores along each component (all > 0).
        variances: Vec<f64>,
        /// T² alarm threshold.
        t2_threshold: f64,
        /// SPE alarm threshold.
        spe_threshold: f64,
    },
    /// Gaussian mixture over the standardised features: the alarm statistic is the negative
    /// log-likelihood.
    Gmm {
        /// Component weights (sum to 1).
        weights: Vec<f64>,
        /// Component means.
        means: Vec<Vec<f64>>,
        /// Component covariance matrices (row-major, positive definite).
        covariances: Vec<Vec<Vec<f64>>>,
        /// Negative log-likelihood alarm threshold.
        threshold: f64,
        /// Spread of training scores above their median (turns the excess into a ratio).
        scale: f64,
    },
}

/// A trained per-station multivariate model, as saved under `models/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultivariateModel {
    /// File format version ([`FORMAT`]).
    pub format: u32,
    /// Station the model watches.
    pub station: StationId,
    /// Parameters, in the order the scaler and fitted parameters use.
    pub features: Vec<ParamId>,
    /// Grid step the training data was resampled to, ms.
    pub interval_ms: Millis,
    /// Training window start, ms.
    pub trained_from: Millis,
    /// Training window end, ms.
    pub trained_to: Millis,
    /// Training rows (grid instants with every feature present).
    pub training_rows: usize,
    /// Quantile of the training scores the thresholds were set at.
    pub quantile: f64,
    /// Rolling baseline, in scored instants: each feature is first centred on its mean over
    /// the previous `baseline_rows` instants (see [`rolling`]), and the scaler standardises
    /// what is left. 0: no rolling baseline, the scaler's means are the fixed centre.
    #[serde(default)]
    pub baseline_rows: usize,
    /// Alarming instants in a row the rolling baseline leaves out of its mean (see
    /// [`rolling::HeldBaseline`]): the instants whose ratio is above `baseline_hold_ratio`.
    /// 0 (formats 1 and 2): every scored instant joins the baseline.
    #[serde(default)]
    pub baseline_hold_rows: usize,
    /// The ratio (statistic / threshold) above which an instant is kept out of the baseline.
    #[serde(default = "one")]
    pub baseline_hold_ratio: f64,
    /// How the thresholds were derived from the training scores (empirical quantile, or a
    /// tail extrapolation when the quantile lies beyond what the rows can resolve).
    #[serde(default)]
    pub threshold_rule: String,
    /// Feature standardisation (of the centred features when `baseline_rows` > 0).
    pub scaler: Scaler,
    /// Fitted parameters.
    pub fitted: Fitted,
    /// What fitted it (e.g. `linfa 0.8`).
    pub trainer: String,
    /// SHA-256 of the file's JSON with this field empty (the model's version).
    pub digest: String,
}

fn one() -> f64 {
    1.0
}

/// Why a model file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("model {file}: {reason}")]
pub struct ModelError {
    /// The file (or `<text>`).
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

/// A model's verdict on one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The statistic divided by its threshold (> 1: alarm). For PCA the larger of T² and SPE.
    pub ratio: f64,
    /// The raw statistic (T² or SPE, whichever gave the ratio; or the negative log-likelihood).
    pub statistic: f64,
    /// The threshold it was judged against.
    pub threshold: f64,
    /// Index of the feature with the largest standardised deviation.
    pub feature: usize,
}

impl MultivariateModel {
    /// Parses and checks a model file's text.
    pub fn parse(file: &str, text: &str) -> Result<Self, ModelError> {
        let err = |reason: String| ModelError {
            file: file.to_string(),
            reason,
        };
        let m: Self =
            serde_json::from_str(text).map_err(|e| err(format!("not a model file: {e}")))?;
        m.check().map_err(err)?;
        // Leads and seals name a model by its digest, so the digest must be the content's.
        // Checked from format 3 on: older files re-serialise with fields they did not have.
        if m.format >= 3 {
            let content = m.content_digest();
            if m.digest != content {
                return Err(err(format!(
                    "digest {} does not match the content ({content}): the file was changed \
                     after training",
                    m.digest
                )));
            }
        }
        Ok(m)
    }

    /// SHA-256 (hex) of the model's JSON with `digest` empty: the value `digest` must hold.
    pub fn content_digest(&self) -> String {
        let mut blank = self.clone();
        blank.digest.clear();
        let json = serde_json::to_vec(&blank).unwrap_or_default();
        Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The model with `digest` set to [`Self::content_digest`], as `train` saves it.
    pub fn with_digest(mut self) -> Self {
        self.digest = self.content_digest();
        self
    }

    /// Reads every `*.json` file of `dir`; files that cannot be used come back as errors
    /// beside the good models, so one bad file does not stop the rest.
    pub fn load_dir(dir: &Path) -> Result<(Vec<Self>, Vec<ModelError>), ModelError> {
        let listing = std::fs::read_dir(dir).map_err(|e| ModelError {
            file: dir.display().to_string(),
            reason: format!("cannot list: {e}"),
        })?;
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for p in paths {
            let name = p.display().to_string();
            match std::fs::read_to_string(&p) {
                Ok(text) => match Self::parse(&name, &text) {
                    Ok(m) => good.push(m),
                    Err(e) => bad.push(e),
                },
                Err(e) => bad.push(ModelError {
                    file: name,
                    reason: format!("cannot read: {e}"),
                }),
            }
        }
        Ok((good, bad))
    }

    /// `pca` or `gmm`.
    pub fn kind(&self) -> &'static str {
        match self.fitted {
            Fitted::Pca { .. } => "pca",
            Fitted::Gmm { .. } => "gmm",
        }
    }

    /// The version string leads (and their seals) carry: kind, station and the whole digest,
    /// so a sealed lead names exactly the model file it was scored with.
    pub fn version(&self) -> String {
        format!("{}:{}:{}", self.kind(), self.station, self.digest)
    }

    fn check(&self) -> Result<(), String> {
        if !(1..=FORMAT).contains(&self.format) {
            return Err(format!(
                "format {} is not supported (this engine reads formats 1 to {FORMAT})",
                self.format
            ));
        }
        let d = self.features.len();
        if d == 0 {
            return Err("no features".into());
        }
        if !(self.baseline_hold_ratio.is_finite() && self.baseline_hold_ratio > 0.0) {
            return Err("baseline_hold_ratio must be a positive number".into());
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let s = &self.scaler;
        if s.means.len() != d
            || s.stds.len() != d
            || !finite(&s.means)
            || !s.stds.iter().all(|x| positive(*x))
        {
            return Err(format!(
                "scaler must have {d} finite means and {d} positive stds"
            ));
        }
        match &self.fitted {
            Fitted::Pca {
                components,
                variances,
                t2_threshold,
                spe_threshold,
            } => {
                if components.is_empty()
                    || components.len() != variances.len()
                    || components.len() > d
                {
                    return Err("pca needs 1..=features components, one variance each".into());
                }
                let well_formed = components.iter().all(|c| c.len() == d && finite(c))
                    && variances.iter().all(|v| positive(*v))
                    && positive(*t2_threshold)
                    && positive(*spe_threshold);
                if !well_formed {
                    return Err("pca components, variances or thresholds are malformed".into());
                }
            }
            Fitted::Gmm {
                weights,
                means,
                covariances,
                threshold,
                scale,
            } => {
                let k = weights.len();
                if k == 0 || means.len() != k || covariances.len() != k {
                    return Err("gmm needs as many means and covariances as weights".into());
                }
                let well_formed = weights.iter().all(|w| positive(*w))
                    && means.iter().all(|m| m.len() == d && finite(m))
                    && threshold.is_finite()
                    && positive(*scale);
                if !well_formed {
                    return Err("gmm weights, means or thresholds are malformed".into());
                }
                for c in covariances {
                    if c.len() != d
                        || c.iter().any(|r| r.len() != d || !finite(r))
                        || cholesky(c).is_none()
                    {
                        return Err(
                            "gmm covariance is not a positive-definite matrix of the feature size"
                                .into(),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Standardises one instant (`x` in feature order, raw units, or centred on the rolling
    /// baseline when the model has one) with the model's scaler.
    pub fn standardise(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(self.scaler.means.iter().zip(&self.scaler.stds))
            .map(|(v, (m, s))| (v - m) / s)
            .collect()
    }
}

/// A checked model with what scoring needs precomputed (GMM Cholesky factors).
#[derive(Debug, Clone)]
pub struct Scorer {
    /// The model.
    pub model: MultivariateModel,
    chol: Vec<(Vec<Vec<f64>>, f64)>,
}

impl Scorer {
    /// Prepares a model for scoring; refuses one that does not pass the checks.
    pub fn new(model: MultivariateModel) -> Result<Self, ModelError> {
        model.check().map_err(|reason| ModelError {
            file: model.version(),
            reason,
        })?;
        let chol = match &model.fitted {
            Fitted::Gmm { covariances, .. } => covariances
                .iter()
                .filter_map(|c| cholesky(c))
                .map(|l| {
                    let logdet = 2.0 * (0..l.len()).map(|i| l[i][i].ln()).sum::<f64>();
                    (l, logdet)
                })
                .collect(),
            Fitted::Pca { .. } => Vec::new(),
        };
        Ok(Self { model, chol })
    }

    /// Hotelling T² and SPE of one instant (`x` in raw units) under a PCA model; None for a
    /// mixture.
    pub fn pca_statistics(&self, x: &[f64]) -> Option<(f64, f64)> {
        let Fitted::Pca {
            components,
            variances,
            ..
        } = &self.model.fitted
        else {
            return None;
        };
        let mut resid = self.model.standardise(x);
        let z = resid.clone();
        let mut t2 = 0.0;
        for (c, var) in components.iter().zip(variances) {
            let t: f64 = c.iter().zip(&z).map(|(a, b)| a * b).sum();
            t2 += t * t / var;
            for (r, a) in resid.iter_mut().zip(c) {
                *r -= t * a;
            }
        }
        Some((t2, resid.iter().map(|r| r * r).sum()))
    }

    /// Scores one instant (`x` in feature order, all finite; raw units, or centred on the
    /// rolling baseline when the model has one).
    pub fn score(&self, x: &[f64]) -> Verdict {
        let z = self.model.standardise(x);
        let feature = (0..z.len())
            .max_by(|&a, &b| z[a].abs().total_cmp(&z[b].abs()))
            .unwrap_or(0);
        match &self.model.fitted {
            Fitted::Pca {
                t2_threshold,
                spe_threshold,
                ..
            } => {
                let (t2, spe) = self.pca_statistics(x).unwrap_or((0.0, 0.0));
                let (rt, rs) = (t2 / t2_threshold, spe / spe_threshold);
                if rt >= rs {
                    Verdict {
                        ratio: rt,
                        statistic: t2,
                        threshold: *t2_threshold,
                        feature,
                    }
                } else {
                    Verdict {
                        ratio: rs,
                        statistic: spe,
                        threshold: *spe_threshold,
                        feature,
                    }
                }
            }
            Fitted::Gmm {
                weights,
                means,
                threshold,
                scale,
                ..
            } => {
                let nll = -gmm_log_likelihood(weights, means, &self.chol, &z);
                Verdict {
                    ratio: 1.0 + (nll - threshold) / scale,
                    statistic: nll,
                    threshold: *threshold,
                    feature,
                }
            }
        }
    }
}

/// log p(z) under the mixture; `chol` holds each component's Cholesky factor and log-determinant.
pub fn gmm_log_likelihood(
    weights: &[f64],
    means: &[Vec<f64>],
    chol: &[(Vec<Vec<f64>>, f64)],
    z: &[f64],
) -> f64 {
    let d = z.len() as f64;
    let terms: Vec<f64> = weights
        .iter()
        .zip(means)
        .zip(chol)
        .map(|((w, mu), (l, logdet))| {
            let diff: Vec<f64> = z.iter().zip(mu).map(|(a, b)| a - b).collect();
            let y = forward_solve(l, &diff);
            let maha: f64 = y.iter().map(|v| v * v).sum();
            w.ln() - 0.5 * (d * (2.0 * std::f64::consts::PI).ln() + logdet + maha)
        })
        .collect();
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
}

/// Lower-triangular Cholesky factor of a symmetric positive-definite matrix, or None.
pub fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if !(s.is_finite() && s > 0.0) {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    Some(l)
}

fn forward_solve(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; b.len()];
    for i in 0..b.len() {
        let s: f64 = b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>();
        y[i] = s / l[i][i];
    }
    y
}

#[cfg(test)]
mod tests;
