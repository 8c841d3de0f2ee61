//! `thresholds.toml`: every detector threshold, with overrides per station, per parameter, or
//! both. Overrides are partial tables merged over the defaults and then read as the same typed
//! struct, so an override can only name keys the defaults have.

use super::{parse_toml, ConfigError, WaterClass};
use crate::time::{duration_serde, Millis};
use serde::{Deserialize, Serialize};

macro_rules! cfg_struct {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $(@$attr:meta)? $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($(#[$fdoc])* $(#[$attr])? pub $field: $ty),* }
    };
}

cfg_struct!(
    /// Physical-range check.
    RangeCfg { /// On or off.
    enabled: bool });
cfg_struct!(
/// GB 3838 exceedance.
StandardCfg {
    /// On or off.
    enabled: bool,
    /// Consecutive exceeding readings before a finding.
    persistence: u32,
    /// A single reading this many times the limit is reported at once.
    immediate_ratio: f64,
});
cfg_struct!(
/// Robust z-score over a rolling window.
RobustZCfg {
    /// On or off.
    enabled: bool,
    /// Rolling window, readings.
    window: usize,
    /// Alarm at |z| ≥ this.
    threshold: f64,
    /// Clean readings needed before any baseline detector judges the stream.
    min_history: usize,
    /// Smallest scale as a fraction of the median.
    relative_floor: f64,
});
cfg_struct!(
/// EWMA chart of standardised residuals.
EwmaCfg {
    /// On or off.
    enabled: bool,
    /// Smoothing weight of the newest residual.
    lambda: f64,
    /// Alarm at this many asymptotic standard deviations of the EWMA.
    threshold: f64,
});
cfg_struct!(
/// Two-sided CUSUM.
CusumCfg {
    /// On or off.
    enabled: bool,
    /// Allowance (slack) per reading, in scales.
    k: f64,
    /// Decision interval.
    h: f64,
});
cfg_struct!(
/// Rate of change.
RateCfg {
    /// On or off.
    enabled: bool,
    /// Alarm when one step exceeds this many scales.
    threshold: f64,
});
cfg_struct!(
/// Stuck sensor.
FlatlineCfg {
    /// On or off.
    enabled: bool,
    /// Identical readings in a row.
    run: u32,
    /// …lasting at least this long.
    @serde(with = "duration_serde") min_duration: Millis,
    /// …and that long a run would happen by chance less often than this.
    max_chance: f64,
});
cfg_struct!(
/// Missing data.
GapCfg {
    /// On or off.
    enabled: bool,
    /// Silence longer than this many usual intervals.
    factor: f64,
    /// …and at least this long.
    @serde(with = "duration_serde") min_silence: Millis,
});
cfg_struct!(
/// Hour-of-day profile.
DiurnalCfg {
    /// On or off.
    enabled: bool,
    /// Days of history before the profile is used.
    min_days: u32,
    /// Days the profile is the median of.
    days_kept: u32,
    /// Smallest scale as a fraction of the learnt daily swing (days differ: sun, cloud).
    swing_floor: f64,
});

cfg_struct!(
/// Settings of every per-stream detector, as resolved for one station × parameter.
DetectorSettings {
    /// Physical range.
    range: RangeCfg,
    /// GB 3838.
    standard: StandardCfg,
    /// Robust z-score.
    robust_z: RobustZCfg,
    /// EWMA.
    ewma: EwmaCfg,
    /// CUSUM.
    cusum: CusumCfg,
    /// Rate of change.
    rate: RateCfg,
    /// Flatline.
    flatline: FlatlineCfg,
    /// Gap.
    gap: GapCfg,
    /// Diurnal profile.
    diurnal: DiurnalCfg,
});

cfg_struct!(
/// Engine-wide settings.
EngineCfg {
    /// Out-of-order readings up to this old are reordered.
    @serde(with = "duration_serde") allowed_lateness: Millis,
    /// Class assumed for stations not in stations.toml.
    default_class: WaterClass,
});
cfg_struct!(
/// Event consolidation.
EventsCfg {
    /// Anomalous readings needed…
    k: usize,
    /// …among the last `n` of a station.
    n: usize,
    /// A finding this strong opens an event alone.
    strong_score: f64,
    /// Quiet time that closes an event.
    @serde(with = "duration_serde") quiet_gap: Millis,
    /// …at least this many sampling intervals.
    quiet_intervals: u32,
    /// Monitoring events shorter than this raise no lead.
    @serde(with = "duration_serde") min_monitoring_duration: Millis,
});
cfg_struct!(
/// Persistence of the trained multivariate models (PCA, Gaussian mixture).
ModelsCfg {
    /// Grid rows above the model's threshold needed…
    k: u32,
    /// …among the last `n` rows the model scored, before it reports a finding.
    n: u32,
});

impl Default for ModelsCfg {
    /// Three of the last four scored rows (what a file without `[models]` gets).
    fn default() -> Self {
        Self { k: 3, n: 4 }
    }
}

cfg_struct!(
/// Upstream/downstream comparison.
SpatialCfg {
    /// On or off.
    enabled: bool,
    /// Tolerance around the travel time, as a fraction of it.
    tolerance: f64,
    /// …and at least this long.
    @serde(with = "duration_serde") min_tolerance: Millis,
});

/// One `[[override]]` block, validated.
#[derive(Debug, Clone, PartialEq)]
struct Override {
    station: Option<String>,
    parameter: Option<String>,
    table: toml::Table,
}

/// The parsed thresholds file.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Engine-wide settings.
    pub engine: EngineCfg,
    /// Event consolidation.
    pub events: EventsCfg,
    /// Spatial comparison.
    pub spatial: SpatialCfg,
    /// Multivariate model persistence.
    pub models: ModelsCfg,
    /// Detector defaults.
    pub defaults: DetectorSettings,
    defaults_table: toml::Table,
    overrides: Vec<Override>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    engine: EngineCfg,
    events: EventsCfg,
    spatial: SpatialCfg,
    #[serde(default)]
    models: ModelsCfg,
    detectors: toml::Table,
    #[serde(default, rename = "override")]
    overrides: Vec<toml::Table>,
}

fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn read_settings(
    file: &str,
    what: &str,
    table: &toml::Table,
) -> Result<DetectorSettings, ConfigError> {
    let s: DetectorSettings = toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::key(file, what, e.message().to_string()))?;
    s.validate()
        .map_err(|(k, r)| ConfigError::key(file, format!("{what}.{k}"), r))?;
    Ok(s)
}

impl DetectorSettings {
    fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if self.robust_z.window < 5 || self.robust_z.window > 1024 {
            return Err(("robust_z.window", "must be between 5 and 1024 readings"));
        }
        if self.robust_z.min_history < 3 {
            return Err(("robust_z.min_history", "must be at least 3"));
        }
        if !pos(self.robust_z.threshold)
            || !pos(self.rate.threshold)
            || !pos(self.ewma.threshold)
            || !pos(self.cusum.h)
        {
            return Err(("threshold", "thresholds must be positive"));
        }
        if !(self.robust_z.relative_floor.is_finite() && self.robust_z.relative_floor >= 0.0) {
            return Err(("robust_z.relative_floor", "must be zero or positive"));
        }
        if !(self.ewma.lambda > 0.0 && self.ewma.lambda <= 1.0) {
            return Err(("ewma.lambda", "must be in (0, 1]"));
        }
        if !(self.cusum.k.is_finite() && self.cusum.k >= 0.0) {
            return Err(("cusum.k", "must be zero or positive"));
        }
        if self.standard.persistence == 0 || !pos(self.standard.immediate_ratio) {
            return Err((
                "standard.persistence",
                "persistence must be at least 1 and immediate_ratio positive",
            ));
        }
        if self.flatline.run < 2 {
            return Err(("flatline.run", "must be at least 2"));
        }
        if !(self.flatline.max_chance > 0.0 && self.flatline.max_chance < 1.0) {
            return Err(("flatline.max_chance", "must be in (0, 1)"));
        }
        if !(self.gap.factor >= 1.0 && self.gap.factor.is_finite()) {
            return Err(("gap.factor", "must be at least 1"));
        }
        if !(self.diurnal.swing_floor.is_finite() && self.diurnal.swing_floor >= 0.0) {
            return Err(("diurnal.swing_floor", "must be zero or positive"));
        }
        if !(1..=31).contains(&self.diurnal.days_kept) {
            return Err(("diurnal.days_kept", "must be between 1 and 31 days"));
        }
        Ok(())
    }
}

impl Thresholds {
    /// Parses and validates `thresholds.toml`, including every override.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawFile = parse_toml(file, text)?;
        let defaults = read_settings(file, "detectors", &raw.detectors)?;
        let e = &raw.events;
        if e.k == 0 || e.n == 0 || e.k > e.n || e.n > 64 {
            return Err(ConfigError::key(file, "events.k", "need 1 ≤ k ≤ n ≤ 64"));
        }
        if !(e.strong_score > 0.5 && e.strong_score <= 1.0) {
            return Err(ConfigError::key(
                file,
                "events.strong_score",
                "must be in (0.5, 1]",
            ));
        }
        if e.quiet_gap <= 0 {
            return Err(ConfigError::key(
                file,
                "events.quiet_gap",
                "must be positive",
            ));
        }
        let m = &raw.models;
        if m.k == 0 || m.k > m.n || m.n > 64 {
            return Err(ConfigError::key(file, "models.k", "need 1 ≤ k ≤ n ≤ 64"));
        }
        if !(raw.spatial.tolerance.is_finite() && raw.spatial.tolerance >= 0.0) {
            return Err(ConfigError::key(
                file,
                "spatial.tolerance",
                "must be zero or positive",
            ));
        }
        let mut overrides = Vec::new();
        for (i, mut t) in raw.overrides.into_iter().enumerate() {
            let mut sel = |k: &str| -> Result<Option<String>, ConfigError> {
                match t.remove(k) {
                    None => Ok(None),
                    Some(toml::Value::String(s)) => Ok(Some(s)),
                    Some(_) => Err(ConfigError::key(
                        file,
                        format!("override[{i}].{k}"),
                        "must be a string",
                    )),
                }
            };
            let (station, parameter) = (sel("station")?, sel("parameter")?);
            let mut merged = raw.detectors.clone();
            merge(&mut merged, &t);
            read_settings(file, &format!("override[{i}]"), &merged)?;
            overrides.push(Override {
                station,
                parameter,
                table: t,
            });
        }
        // Most specific last, so that it wins; the sort is stable, so file order breaks ties.
        overrides.sort_by_key(|o| {
            (
                o.station.is_some(),
                o.parameter.is_some() && o.station.is_some(),
            )
        });
        Ok(Self {
            engine: raw.engine,
            events: raw.events,
            spatial: raw.spatial,
            models: raw.models,
            defaults,
            defaults_table: raw.detectors,
            overrides,
        })
    }

    /// The detector settings that apply to one station × parameter.
    pub fn for_stream(&self, station: &str, parameter: &str) -> DetectorSettings {
        let matching: Vec<&Override> = self
            .overrides
            .iter()
            .filter(|o| {
                o.station.as_deref().is_none_or(|s| s == station)
                    && o.parameter.as_deref().is_none_or(|p| p == parameter)
            })
            .collect();
        if matching.is_empty() {
            return self.defaults;
        }
        let mut t = self.defaults_table.clone();
        for o in matching {
            merge(&mut t, &o.table);
        }
        read_settings("thresholds", "override", &t).expect("every override was validated on load")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::embedded::THRESHOLDS;

    #[test]
    fn overrides_resolve_by_specificity() {
        let text = format!(
            "{THRESHOLDS}\n[[override]]\nstation = \"DL03\"\nparameter = \"nh3n\"\nrobust_z = {{ threshold = 9.0 }}\n\
             [[override]]\nparameter = \"nh3n\"\nrobust_z = {{ threshold = 7.0, window = 30 }}\n"
        );
        let t = Thresholds::parse("t.toml", &text).unwrap();
        assert_eq!(t.for_stream("DL01", "ph").robust_z.threshold, 6.0);
        assert_eq!(t.for_stream("DL01", "nh3n").robust_z.threshold, 7.0);
        let s = t.for_stream("DL03", "nh3n");
        assert_eq!((s.robust_z.threshold, s.robust_z.window), (9.0, 30));
    }

    #[test]
    fn errors_name_the_key() {
        let bad = format!(
            "{THRESHOLDS}\n[[override]]\nparameter = \"ph\"\nrobust_z = {{ thresold = 9.0 }}\n"
        );
        let e = Thresholds::parse("t.toml", &bad).unwrap_err();
        assert!(
            e.to_string().contains("override[0]") && e.to_string().contains("thresold"),
            "{e}"
        );
        let e = Thresholds::parse(
            "t.toml",
            &THRESHOLDS.replace("lambda = 0.2", "lambda = 2.0"),
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("detectors.ewma.lambda"));
        let e = Thresholds::parse(
            "t.toml",
            &THRESHOLDS.replace("quiet_gap = \"2h\"", "quiet_gap = \"soon\""),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a duration"), "{e}");
        let e = Thresholds::parse(
            "t.toml",
            &THRESHOLDS.replace("[spatial]", "[spatial]\nfoo = 1"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `foo`"), "{e}");
    }
}
