//! The domain nouns every other module speaks: stations, parameters, readings and findings.
//! Events and leads live in [`crate::events`] and [`crate::leads`].

use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                // Names handed out by one table share their allocation: skip the byte compare.
                Arc::ptr_eq(&self.0, &other.0) || same_text(&self.0, &other.0)
            }
        }
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state) // as derived: consistent with `eq`
            }
        }

        impl $name {
            /// Wraps a name.
            pub fn new(s: &str) -> Self {
                Self(Arc::from(s))
            }
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }
    };
}

/// Whether two names hold the same bytes. Names are short (ids of a few bytes): up to 16
/// bytes they are compared in line as their first and last words (which overlap, or are the
/// same word), not through a call to `memcmp` — names that come from different allocations
/// (a source that does not share them) are compared on every reading the engine takes.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        8..=16 => same_ends::<8>(a, b),
        4..=7 => same_ends::<4>(a, b),
        _ => a == b,
    }
}

/// Whether the first `N` and the last `N` bytes of two slices agree (false when shorter).
#[inline]
fn same_ends<const N: usize>(a: &[u8], b: &[u8]) -> bool {
    a.first_chunk::<N>() == b.first_chunk::<N>() && a.last_chunk::<N>() == b.last_chunk::<N>()
}

name_type!(
    /// A monitoring station's id (`DL03`); any id is accepted, configured or not.
    StationId
);
name_type!(
    /// A parameter's id: a known project id (`nh3n`, see [`crate::params`]) or an unknown name kept as sent.
    ParamId
);

/// The data flag a station attaches to a value (HJ 212-2017 `-Flag`); `N` is a normal measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum DataFlag {
    /// Instrument normal.
    #[default]
    N,
    /// Instrument stopped.
    F,
    /// Maintenance.
    M,
    /// Manually entered set value.
    S,
    /// Instrument fault.
    D,
    /// Calibration.
    C,
    /// Above the measurement upper limit (a censored value: the truth is at least this).
    T,
    /// Analyser to logger communication abnormal.
    B,
    /// A letter this project does not know (vendor-specific).
    Other(char),
}

impl DataFlag {
    /// Reads a flag letter; anything not in the 2017 table is kept as [`DataFlag::Other`].
    pub fn from_letter(c: char) -> Self {
        match c {
            'N' => Self::N,
            'F' => Self::F,
            'M' => Self::M,
            'S' => Self::S,
            'D' => Self::D,
            'C' => Self::C,
            'T' => Self::T,
            'B' => Self::B,
            c => Self::Other(c),
        }
    }

    /// The flag's letter.
    pub fn letter(self) -> char {
        match self {
            Self::N => 'N',
            Self::F => 'F',
            Self::M => 'M',
            Self::S => 'S',
            Self::D => 'D',
            Self::C => 'C',
            Self::T => 'T',
            Self::B => 'B',
            Self::Other(c) => c,
        }
    }

    /// Whether the value is a real measurement of the water that detection may use.
    /// `T` (over range) counts: it is strong evidence, a lower bound of the truth.
    pub fn is_measurement(self) -> bool {
        matches!(self, Self::N | Self::T)
    }
}

/// One value of one parameter at one station at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Station that measured it.
    pub station: StationId,
    /// What was measured.
    pub parameter: ParamId,
    /// Event time (UTC ms), when the water was measured — not when the message arrived.
    pub time: Millis,
    /// The value in the parameter's project unit (see [`crate::params`]).
    pub value: f64,
    /// The station's own flag for the value.
    #[serde(default)]
    pub flag: DataFlag,
}

/// Which detector produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorId {
    /// Value outside the parameter's physical range.
    Range,
    /// GB 3838-2002 class exceedance with persistence.
    Standard,
    /// Robust z-score against a rolling median and MAD.
    RobustZ,
    /// Exponentially weighted moving average of standardised residuals.
    Ewma,
    /// Two-sided CUSUM of standardised residuals.
    Cusum,
    /// Rate of change between consecutive readings.
    Rate,
    /// Stuck sensor: the same value too many times.
    Flatline,
    /// Missing data: a stream or station went silent.
    Gap,
    /// Deviation from the hour-of-day profile.
    Diurnal,
    /// Downstream change not seen at the travel-time-lagged upstream station.
    Spatial,
    /// Station flagged its own data as not a normal measurement.
    StationFlag,
    /// PCA Hotelling T² / SPE (trained model).
    Pca,
    /// Gaussian mixture log-likelihood (trained model).
    Gmm,
}

impl DetectorId {
    /// The snake_case name used in config files and output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Range => "range",
            Self::Standard => "standard",
            Self::RobustZ => "robust_z",
            Self::Ewma => "ewma",
            Self::Cusum => "cusum",
            Self::Rate => "rate",
            Self::Flatline => "flatline",
            Self::Gap => "gap",
            Self::Diurnal => "diurnal",
            Self::Spatial => "spatial",
            Self::StationFlag => "station_flag",
            Self::Pca => "pca",
            Self::Gmm => "gmm",
        }
    }
}

impl fmt::Display for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a finding says about the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The water changed: a deviation from the station's own baseline.
    Deviation,
    /// The water breaches the GB 3838 limit of the station's target class.
    Exceedance,
    /// The sensor or station misbehaves: impossible value, stuck value, silence, fault flags.
    Monitoring,
}

/// One detector's verdict on one reading (or, for `gap`, on one silence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Detector that fired.
    pub detector: DetectorId,
    /// What it means.
    pub kind: FindingKind,
    /// Station.
    pub station: StationId,
    /// Parameter.
    pub parameter: ParamId,
    /// Event time of the reading (or of the moment silence was noticed).
    pub time: Millis,
    /// Strength in [0, 1]; 0.5 is the detector's threshold.
    pub score: f64,
    /// The reading's value (for `gap`, the silence in hours).
    pub value: f64,
    /// The detector's statistic (a z-score, a ratio to the limit, a run length…).
    pub statistic: f64,
    /// The threshold the statistic was judged against.
    pub threshold: f64,
    /// The stream's baseline (rolling median) when the finding was made, if it had one.
    pub baseline: Option<f64>,
    /// Signed direction of the change: +1 up, −1 down, 0 none.
    pub direction: i8,
    /// Plain-language explanation: what, and how far past which threshold.
    pub explanation: String,
}

/// Maps a statistic and its threshold to a score in [0, 1]: 0.5 at the threshold, rising
/// towards 1 as the statistic grows. Monotone, so thresholds stay comparable across detectors.
pub fn score_from_ratio(stat: f64, threshold: f64) -> f64 {
    if !(stat.is_finite() && threshold > 0.0) || stat <= 0.0 {
        return if stat.is_infinite() && stat > 0.0 {
            1.0
        } else {
            0.0
        };
    }
    let r = stat / threshold;
    r / (1.0 + r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_half_at_threshold_and_monotone() {
        assert_eq!(score_from_ratio(3.0, 3.0), 0.5);
        assert!(score_from_ratio(6.0, 3.0) > score_from_ratio(4.0, 3.0));
        assert_eq!(score_from_ratio(f64::NAN, 3.0), 0.0);
        assert_eq!(score_from_ratio(-1.0, 3.0), 0.0);
        assert!(score_from_ratio(1e300, 3.0) <= 1.0);
    }

    #[test]
    fn names_from_different_allocations_compare_by_every_byte() {
        // Every length around the in-line word compares, and a change at every position.
        for len in 0..40usize {
            let text: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let (a, b) = (StationId::new(&text), StationId::new(&text));
            assert!(!Arc::ptr_eq(&a.0, &b.0));
            assert_eq!(a, b, "{text}");
            assert_eq!(ParamId::new(&text), ParamId::new(&text));
            for at in 0..len {
                let mut other = text.clone().into_bytes();
                other[at] = b'Z';
                let other = String::from_utf8(other).unwrap();
                assert_ne!(a, StationId::new(&other), "{text} vs {other}");
                assert_ne!(ParamId::new(&text), ParamId::new(&other));
            }
            let longer = format!("{text}a");
            assert_ne!(a, StationId::new(&longer));
            assert_ne!(StationId::new(&longer), a);
        }
    }

    #[test]
    fn flags() {
        assert!(DataFlag::from_letter('N').is_measurement());
        assert!(DataFlag::from_letter('T').is_measurement());
        assert!(!DataFlag::from_letter('C').is_measurement());
        assert_eq!(DataFlag::from_letter('Z'), DataFlag::Other('Z'));
        assert_eq!(DataFlag::Other('Z').letter(), 'Z');
    }
}
