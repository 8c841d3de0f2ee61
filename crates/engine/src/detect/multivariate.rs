//! The per-station multivariate detector: holds each feature's latest value and, when every
//! feature of a model has a value at the same instant, scores that instant with the model
//! (centred first on the model's rolling baseline when it has one, which leaves the instants the
//! model alarms on out of its mean for a bounded run). A ratio above 1 on `k` of
//! the last `n` scored instants (`[models]` in thresholds.toml) becomes a `Deviation` finding
//! (detector `pca` or `gmm`) on the feature that moved most, so it opens and extends water
//! events like any other detector's finding; a lone row in the tail of the training scores
//! does not.

use crate::config::ModelsCfg;
use crate::model::{score_from_ratio, DetectorId, Finding, FindingKind, ParamId, StationId};
use crate::models::rolling::HeldBaseline;
use crate::models::{Fitted, MultivariateModel, Scorer};
use crate::time::Millis;

/// One model's state at its station.
#[derive(Debug, Clone)]
pub struct Multivariate {
    scorer: Scorer,
    latest: Vec<Option<(Millis, f64)>>,
    scored: Millis,
    baseline: Option<HeldBaseline>,
    /// Alarm flags of the last scored instants, newest in bit 0.
    alarms: u64,
}

impl Multivariate {
    /// Watches a station with a checked model.
    pub fn new(scorer: Scorer) -> Self {
        let n = scorer.model.features.len();
        let m = &scorer.model;
        let (rows, hold) = (m.baseline_rows, m.baseline_hold_rows);
        Self {
            baseline: (rows > 0).then(|| HeldBaseline::new(n, rows, hold)),
            scorer,
            latest: vec![None; n],
            scored: Millis::MIN,
            alarms: 0,
        }
    }

    /// The station the model watches.
    pub fn station(&self) -> &StationId {
        &self.scorer.model.station
    }

    /// The model it scores with.
    pub fn model(&self) -> &MultivariateModel {
        &self.scorer.model
    }

    /// The model's version string.
    pub fn version(&self) -> String {
        self.scorer.model.version()
    }

    /// Records a judged reading; when it completes an instant, scores it and pushes a finding
    /// if the model alarms on at least `cfg.k` of the last `cfg.n` scored instants, this one
    /// included.
    pub fn observe(
        &mut self,
        parameter: &ParamId,
        time: Millis,
        value: f64,
        cfg: &ModelsCfg,
        out: &mut Vec<Finding>,
    ) {
        let model = &self.scorer.model;
        let Some(i) = model.features.iter().position(|f| f == parameter) else {
            return;
        };
        if !value.is_finite() {
            self.latest[i] = None;
            return;
        }
        self.latest[i] = Some((time, value));
        if time <= self.scored
            || !self
                .latest
                .iter()
                .all(|l| l.is_some_and(|(t, _)| t == time))
        {
            return;
        }
        self.scored = time;
        let x: Vec<f64> = self.latest.iter().flatten().map(|(_, v)| *v).collect();
        let centre = self.baseline.as_ref().and_then(|b| b.mean());
        let centred = match &mut self.baseline {
            Some(b) => match b.centre(&x) {
                Some(c) => c,
                None => {
                    b.admit(&x, false); // still learning the baseline
                    return;
                }
            },
            None => x.clone(),
        };
        let v = self.scorer.score(&centred);
        if let Some(b) = &mut self.baseline {
            b.admit(&x, v.ratio > model.baseline_hold_ratio);
        }
        let alarm = v.ratio > 1.0; // false for NaN
        self.alarms = (self.alarms << 1) | u64::from(alarm);
        let window = if cfg.n >= 64 {
            u64::MAX
        } else {
            (1u64 << cfg.n) - 1
        };
        if !alarm || (self.alarms & window).count_ones() < cfg.k {
            return;
        }
        let (detector, what) = match model.fitted {
            Fitted::Pca { .. } => (DetectorId::Pca, "PCA T²/SPE"),
            Fitted::Gmm { .. } => (DetectorId::Gmm, "mixture negative log-likelihood"),
        };
        let f = &model.features[v.feature];
        let mean = model.scaler.means[v.feature] + centre.as_ref().map_or(0.0, |c| c[v.feature]);
        let value = x[v.feature];
        out.push(Finding {
            detector,
            kind: FindingKind::Deviation,
            station: model.station.clone(),
            parameter: f.clone(),
            time,
            score: score_from_ratio(v.ratio, 1.0),
            value,
            statistic: v.statistic,
            threshold: v.threshold,
            baseline: Some(mean),
            direction: if value >= mean { 1 } else { -1 },
            explanation: format!(
                "{what} {:.2} is {:.2}× its trained threshold {:.2} across {} parameters \
                 ({} of the last {} instants above it); {f} moved most",
                v.statistic,
                v.ratio,
                v.threshold,
                model.features.len(),
                (self.alarms & window).count_ones(),
                cfg.n
            ),
        });
    }
}
