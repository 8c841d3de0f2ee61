//! The training feature pipeline on polars frames: one station's readings resampled to a
//! regular grid (mean per slot), parameters aligned as columns, short gaps filled forward,
//! rows still missing a value (long gaps) dropped, and each column standardised — against its
//! window mean, or (see [`Features::centred`]) after centring each row on the rolling baseline
//! the engine will centre it on when scoring.
//!
//! Only parameters present in most grid slots become features: an analyser that reports every
//! four hours cannot be aligned with five-minute probes without inventing data, and the engine
//! scores instants where every feature has a reading.

use polars::prelude::*;
use riverwatch_engine::models::rolling::RollingMean;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{ParamId, StationId};
use std::collections::BTreeMap;

/// Share of grid slots a parameter must fill to become a feature.
pub const MIN_COVERAGE: f64 = 0.8;

/// How the pipeline resamples and fills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pipeline {
    /// Grid step, ms (None: the station's median sampling interval).
    pub interval: Option<Millis>,
    /// Longest run of empty slots filled forward; longer gaps drop their rows.
    pub max_fill: u32,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self {
            interval: None,
            max_fill: 3,
        }
    }
}

/// A station's aligned, standardised training matrix.
#[derive(Debug, Clone)]
pub struct Features {
    /// Station.
    pub station: StationId,
    /// Feature names, column order of `rows`.
    pub names: Vec<ParamId>,
    /// Grid step, ms.
    pub interval: Millis,
    /// Means before standardising.
    pub means: Vec<f64>,
    /// Standard deviations before standardising (all > 0).
    pub stds: Vec<f64>,
    /// Standardised rows (one per complete grid slot).
    pub rows: ndarray::Array2<f64>,
    /// The same rows in raw units.
    pub raw: ndarray::Array2<f64>,
}

/// Why a station has no usable features.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// Too little data.
    #[error("station {station}: {reason}")]
    Insufficient {
        /// Station.
        station: String,
        /// What is missing.
        reason: String,
    },
    /// polars refused an operation.
    #[error("frame: {0}")]
    Polars(#[from] PolarsError),
}

fn median_step(times: &[i64]) -> Option<Millis> {
    let mut d: Vec<i64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    if d.is_empty() {
        return None;
    }
    let mid = d.len() / 2;
    Some(*d.select_nth_unstable(mid).1)
}

/// Builds the feature matrix of `station` from a window frame (see `frames`).
pub fn build(df: &DataFrame, station: &StationId, p: &Pipeline) -> Result<Features, FeatureError> {
    let insufficient = |reason: String| FeatureError::Insufficient {
        station: station.to_string(),
        reason,
    };
    let here = df.column("station")?.str()?.equal(station.as_str());
    let clean = df.column("flag")?.str()?.equal("N");
    let rows = df.filter(&(&here & &clean))?;
    let time = rows.column("time")?.i64()?;
    let param = rows.column("parameter")?.str()?;
    let value = rows.column("value")?.f64()?;
    // Per parameter: its times (for the interval) and values.
    let mut series: BTreeMap<&str, Vec<(i64, f64)>> = BTreeMap::new();
    for ((t, q), v) in time.iter().zip(param.iter()).zip(value.iter()) {
        if let (Some(t), Some(q), Some(v)) = (t, q, v) {
            if v.is_finite() {
                series.entry(q).or_default().push((t, v));
            }
        }
    }
    let interval = match p.interval {
        Some(i) if i > 0 => i,
        _ => series
            .values()
            .filter_map(|s| median_step(&s.iter().map(|x| x.0).collect::<Vec<_>>()))
            .min()
            .ok_or_else(|| insufficient("no parameter has two readings".into()))?,
    };
    let (Some(t0), Some(t1)) = (time.min(), time.max()) else {
        return Err(insufficient("no clean readings in the window".into()));
    };
    let slots = ((t1 - t0) / interval + 1) as usize;
    let mut columns = vec![Column::new(
        "slot".into(),
        (0..slots as i64)
            .map(|i| t0 + i * interval)
            .collect::<Vec<_>>(),
    )];
    let mut names = Vec::new();
    for (name, points) in &series {
        let mut sum = vec![0.0; slots];
        let mut n = vec![0u32; slots];
        for &(t, v) in points {
            let i = ((t - t0) / interval) as usize;
            sum[i] += v;
            n[i] += 1;
        }
        let filled = n.iter().filter(|c| **c > 0).count();
        if (filled as f64) < MIN_COVERAGE * slots as f64 {
            continue;
        }
        let col: Vec<Option<f64>> = sum
            .iter()
            .zip(&n)
            .map(|(s, c)| (*c > 0).then(|| s / *c as f64))
            .collect();
        let col = Column::new((*name).into(), col)
            .fill_null(FillNullStrategy::Forward(Some(p.max_fill)))?;
        columns.push(col);
        names.push(ParamId::new(name));
    }
    if names.len() < 2 {
        return Err(insufficient(format!(
            "{} parameter(s) cover {:.0}% of the {} ms grid; a multivariate model needs two",
            names.len(),
            MIN_COVERAGE * 100.0,
            interval
        )));
    }
    let grid = DataFrame::new(slots, columns)?.drop_nulls::<String>(None)?;
    let n = grid.height();
    let d = names.len();
    let mut raw = ndarray::Array2::zeros((n, d));
    for (j, name) in names.iter().enumerate() {
        let col = grid.column(name.as_str())?.f64()?;
        for (i, v) in col.iter().enumerate() {
            raw[[i, j]] = v.unwrap_or(f64::NAN);
        }
    }
    standardised(station.clone(), names, interval, raw)
}

/// Standardises the columns of `raw` (rows with a non-finite value were already dropped).
fn standardised(
    station: StationId,
    names: Vec<ParamId>,
    interval: Millis,
    raw: ndarray::Array2<f64>,
) -> Result<Features, FeatureError> {
    let n = raw.nrows();
    if n < 10 * names.len() {
        return Err(FeatureError::Insufficient {
            station: station.to_string(),
            reason: format!("only {n} complete grid rows"),
        });
    }
    let mut rows = raw.clone();
    let (mut means, mut stds) = (Vec::new(), Vec::new());
    for (j, name) in names.iter().enumerate() {
        let col = raw.column(j);
        let mean = col.mean().unwrap_or(0.0);
        let std = col.std(1.0);
        if !(std.is_finite() && std > 0.0) {
            return Err(FeatureError::Insufficient {
                station: station.to_string(),
                reason: format!("{name} is constant over the window"),
            });
        }
        rows.column_mut(j).mapv_inplace(|v| (v - mean) / std);
        means.push(mean);
        stds.push(std);
    }
    Ok(Features {
        station,
        names,
        interval,
        means,
        stds,
        rows,
        raw,
    })
}

impl Features {
    /// The same rows centred on the rolling mean of the previous `window` rows (the engine's
    /// [`RollingMean`], so detection centres the same way), then standardised; the rows the
    /// baseline needs to warm up are dropped. `raw` then holds the centred values.
    pub fn centred(&self, window: usize) -> Result<Features, FeatureError> {
        let d = self.names.len();
        let mut b = RollingMean::new(d, window);
        let mut kept = Vec::with_capacity(self.raw.len());
        for row in self.raw.outer_iter() {
            if let Some(c) = b.centre_and_push(&row.to_vec()) {
                kept.extend(c);
            }
        }
        let n = kept.len() / d;
        let raw = ndarray::Array2::from_shape_vec((n, d), kept).map_err(|e| {
            FeatureError::Insufficient {
                station: self.station.to_string(),
                reason: e.to_string(),
            }
        })?;
        standardised(self.station.clone(), self.names.clone(), self.interval, raw)
    }
}
