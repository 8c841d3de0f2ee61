//! The per-station multivariate detector: holds each feature's latest value and, when every
//! feature of a model has a value at the same instant, scores that instant with the model.
//! A ratio above 1 becomes a `Deviation` finding (detector `pca` or `gmm`) on the feature that
//! moved most, so it opens and extends water events like any other detector's finding.

use crate::model::{score_from_ratio, DetectorId, Finding, FindingKind, ParamId, StationId};
use crate::models::{Fitted, Scorer};
use crate::time::Millis;

/// One model's state at its station.
#[derive(Debug, Clone)]
pub struct Multivariate {
    scorer: Scorer,
    latest: Vec<Option<(Millis, f64)>>,
    scored: Millis,
}

impl Multivariate {
    /// Watches a station with a checked model.
    pub fn new(scorer: Scorer) -> Self {
        let n = scorer.model.features.len();
        Self {
            scorer,
            latest: vec![None; n],
            scored: Millis::MIN,
        }
    }

    /// The station the model watches.
    pub fn station(&self) -> &StationId {
        &self.scorer.model.station
    }

    /// The model's version string.
    pub fn version(&self) -> String {
        self.scorer.model.version()
    }

    /// Records a judged reading; when it completes an instant, scores it and pushes a finding
    /// if the model alarms.
    pub fn observe(
        &mut self,
        parameter: &ParamId,
        time: Millis,
        value: f64,
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
        let v = self.scorer.score(&x);
        if v.ratio.is_nan() || v.ratio <= 1.0 {
            return;
        }
        let (detector, what) = match model.fitted {
            Fitted::Pca { .. } => (DetectorId::Pca, "PCA T²/SPE"),
            Fitted::Gmm { .. } => (DetectorId::Gmm, "mixture negative log-likelihood"),
        };
        let f = &model.features[v.feature];
        let mean = model.scaler.means[v.feature];
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
                "{what} {:.2} is {:.2}× its trained threshold {:.2} across {} parameters; {f} moved most",
                v.statistic,
                v.ratio,
                v.threshold,
                model.features.len()
            ),
        });
    }
}
