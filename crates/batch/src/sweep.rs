//! Sweep specifications (`robust_z.threshold=4..8:0.5`) and the grid of candidate thresholds
//! files they make.
//!
//! A candidate is the base `thresholds.toml` text with some `[detectors.<name>]` keys set, so it
//! goes through the same validation as a file an analyst writes (`Config::with_thresholds_text`)
//! and the chosen one can be written out as is.

use std::fmt;

/// Most candidates a grid may have (a typo like `0..1000:0.001` should not run for days).
pub const MAX_CANDIDATES: usize = 10_000;

/// One swept key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Detector table under `[detectors]`, e.g. `robust_z`.
    pub detector: String,
    /// Key in that table, e.g. `threshold`.
    pub key: String,
    /// Values in increasing order.
    pub values: Vec<f64>,
}

/// Why a sweep or a candidate is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SweepError(pub String);

impl Sweep {
    /// Parses `detector.key=LO..HI:STEP` (inclusive of HI within rounding) or
    /// `detector.key=V1,V2,…`.
    pub fn parse(spec: &str) -> Result<Self, SweepError> {
        let err = |why: &str| SweepError(format!("sweep `{spec}`: {why}"));
        let (name, range) = spec
            .split_once('=')
            .ok_or_else(|| err("expected detector.key=LO..HI:STEP"))?;
        let (detector, key) = name
            .trim()
            .split_once('.')
            .ok_or_else(|| err("expected detector.key"))?;
        if detector.is_empty() || key.is_empty() {
            return Err(err("expected detector.key"));
        }
        let num = |s: &str| -> Result<f64, SweepError> {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| err(&format!("`{s}` is not a finite number")))
        };
        let values = if let Some((lo, rest)) = range.split_once("..") {
            let (hi, step) = rest
                .split_once(':')
                .ok_or_else(|| err("expected LO..HI:STEP"))?;
            let (lo, hi, step) = (num(lo)?, num(hi)?, num(step)?);
            if step <= 0.0 || hi < lo {
                return Err(err("needs LO <= HI and STEP > 0"));
            }
            let n = ((hi - lo) / step + 1e-9).floor() as usize + 1;
            if n > MAX_CANDIDATES {
                return Err(err(&format!("more than {MAX_CANDIDATES} values")));
            }
            (0..n).map(|i| lo + step * i as f64).collect()
        } else {
            range.split(',').map(num).collect::<Result<Vec<_>, _>>()?
        };
        Ok(Self {
            detector: detector.trim().to_string(),
            key: key.trim().to_string(),
            values,
        })
    }
}

/// One point of the grid: the settings it changes and the full thresholds text.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// `(detector.key, value)` per sweep; empty for the base config.
    pub settings: Vec<(String, f64)>,
    /// The thresholds file of this candidate.
    pub thresholds: String,
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.settings.is_empty() {
            return f.write_str("(current config)");
        }
        let parts: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

/// The base config first, then every combination of the sweeps' values (the grid).
pub fn grid(base: &str, sweeps: &[Sweep]) -> Result<Vec<Candidate>, SweepError> {
    let doc: toml::Table = base
        .parse()
        .map_err(|e| SweepError(format!("thresholds file: {e}")))?;
    let total = sweeps
        .iter()
        .try_fold(1usize, |n, s| n.checked_mul(s.values.len()));
    if total.is_none_or(|n| n > MAX_CANDIDATES) {
        return Err(SweepError(format!(
            "the grid has more than {MAX_CANDIDATES} candidates"
        )));
    }
    let mut out = vec![Candidate {
        settings: Vec::new(),
        thresholds: base.to_string(),
    }];
    let mut combos: Vec<Vec<(String, f64)>> = vec![Vec::new()];
    for s in sweeps {
        let name = format!("{}.{}", s.detector, s.key);
        combos = combos
            .into_iter()
            .flat_map(|c| {
                let name = &name;
                s.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((name.clone(), *v));
                    c
                })
            })
            .collect();
    }
    if sweeps.is_empty() {
        return Ok(out);
    }
    for settings in combos {
        let mut doc = doc.clone();
        for (s, (_, v)) in sweeps.iter().zip(&settings) {
            set(&mut doc, s, *v)?;
        }
        out.push(Candidate {
            thresholds: toml::to_string(&doc).map_err(|e| SweepError(e.to_string()))?,
            settings,
        });
    }
    Ok(out)
}

/// Sets `[detectors.<detector>] <key> = v`, keeping an integer key an integer.
fn set(doc: &mut toml::Table, s: &Sweep, v: f64) -> Result<(), SweepError> {
    let table = doc
        .get_mut("detectors")
        .and_then(|d| d.as_table_mut())
        .and_then(|d| d.get_mut(&s.detector))
        .and_then(|t| t.as_table_mut())
        .ok_or_else(|| {
            SweepError(format!(
                "no [detectors.{}] table in the thresholds file",
                s.detector
            ))
        })?;
    let value = match table.get(&s.key) {
        Some(toml::Value::Integer(_)) if v.fract() == 0.0 && v.abs() < 1e15 => {
            toml::Value::Integer(v as i64)
        }
        Some(toml::Value::Integer(_)) => {
            return Err(SweepError(format!(
                "detectors.{}.{} takes whole numbers, not {v}",
                s.detector, s.key
            )))
        }
        Some(toml::Value::Float(_)) => toml::Value::Float(v),
        Some(_) => {
            return Err(SweepError(format!(
                "detectors.{}.{} is not a number",
                s.detector, s.key
            )))
        }
        None => {
            return Err(SweepError(format!(
                "detectors.{} has no key `{}`",
                s.detector, s.key
            )))
        }
    };
    table.insert(s.key.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_inclusive_and_lists_work() {
        let s = Sweep::parse("robust_z.threshold=4..8:0.5").unwrap();
        assert_eq!(s.values.len(), 9);
        assert_eq!(s.values[8], 8.0);
        let s = Sweep::parse("cusum.h = 5,10").unwrap();
        assert_eq!(
            (s.detector.as_str(), s.key.as_str(), s.values),
            ("cusum", "h", vec![5.0, 10.0])
        );
        for bad in [
            "x=1..2:0",
            "x.y=3..2:1",
            "xy=1",
            "x.y=a",
            "x.y=0..1e9:1e-9",
            "x.y=nan",
        ] {
            assert!(Sweep::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grid_sets_keys_and_keeps_integers() {
        let base = "[detectors.robust_z]\nthreshold = 6.0\nwindow = 48\n";
        let sweeps = [
            Sweep::parse("robust_z.threshold=4,5").unwrap(),
            Sweep::parse("robust_z.window=24,96").unwrap(),
        ];
        let g = grid(base, &sweeps).unwrap();
        assert_eq!(g.len(), 5);
        assert!(g[0].settings.is_empty());
        assert!(
            g[4].thresholds.contains("threshold = 5.0"),
            "{}",
            g[4].thresholds
        );
        assert!(
            g[4].thresholds.contains("window = 96"),
            "{}",
            g[4].thresholds
        );
        let half = [Sweep::parse("robust_z.window=24.5").unwrap()];
        assert!(grid(base, &half).is_err());
        assert!(grid(base, &[Sweep::parse("ewma.lambda=0.1").unwrap()]).is_err());
    }
}
