//! Ground truth: what the simulator injected, where and when, as the readings show it.
//!
//! A truth window at a station runs from the first to the last reading the injection actually
//! changed (or removed) there — it is recorded while the readings are generated, not predicted —
//! so an evaluator can hold a detector to the data it was given. The JSONL file starts with one
//! `{"simulation": …}` header line describing the run, then one [`TruthRecord`] per line.

use crate::events::Segment;
use crate::model::{ParamId, StationId};
use crate::time::{duration_serde, rfc3339_serde, Millis};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// What was injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthKind {
    /// Illegal industrial discharge.
    Discharge,
    /// Untreated sewage or a WWTP bypass.
    Sewage,
    /// Chemical dumping (truck, drums): short and extreme.
    ChemicalDump,
    /// Agricultural runoff after rain, at many stations at once.
    Runoff,
    /// NH3-N or TP above the class limit for weeks at one station.
    ChronicExceedance,
    /// A station reported a flat clean value, or went silent, while a pulse passed it.
    Tamper,
    /// One reading far off.
    Spike,
    /// The same value repeated.
    Stuck,
    /// Slow monotone bias, reset by cleaning.
    Drift,
    /// Missing readings.
    Dropout,
    /// Abrupt persistent step after a calibration.
    CalibrationJump,
    /// Correlated small shifts of several parameters at once, each within its univariate
    /// thresholds (a diluted discharge only a multivariate model sees).
    SubtleShift,
}

impl TruthKind {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discharge => "discharge",
            Self::Sewage => "sewage",
            Self::ChemicalDump => "chemical_dump",
            Self::Runoff => "runoff",
            Self::ChronicExceedance => "chronic_exceedance",
            Self::Tamper => "tamper",
            Self::Spike => "spike",
            Self::Stuck => "stuck",
            Self::Drift => "drift",
            Self::Dropout => "dropout",
            Self::CalibrationJump => "calibration_jump",
            Self::SubtleShift => "subtle_shift",
        }
    }

    /// The category a perfect detector would file it under.
    pub fn category(self) -> TruthCategory {
        match self {
            Self::Discharge | Self::Sewage | Self::ChemicalDump | Self::SubtleShift => {
                TruthCategory::SuspectedDischarge
            }
            Self::ChronicExceedance => TruthCategory::StandardExceedance,
            Self::Tamper => TruthCategory::MonitoringAnomaly,
            Self::Runoff => TruthCategory::Natural,
            Self::Spike | Self::Stuck | Self::Drift | Self::Dropout | Self::CalibrationJump => {
                TruthCategory::SensorFault
            }
        }
    }
}

/// The lead category a truth belongs to; `sensor_fault` and `natural` should raise no lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthCategory {
    /// Pollution entered the river at a point.
    SuspectedDischarge,
    /// Persistent breach of the station's GB 3838 target class.
    StandardExceedance,
    /// Suspected data falsification (tampering).
    MonitoringAnomaly,
    /// Instrument fault: not a case, but should not become a discharge lead either.
    SensorFault,
    /// Natural (rain runoff): basin-wide, not a point source.
    Natural,
}

impl TruthCategory {
    /// Every category, in report order.
    pub const ALL: [TruthCategory; 5] = [
        Self::SuspectedDischarge,
        Self::StandardExceedance,
        Self::MonitoringAnomaly,
        Self::SensorFault,
        Self::Natural,
    ];

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::SuspectedDischarge => "suspected_discharge",
            Self::StandardExceedance => "standard_exceedance",
            Self::MonitoringAnomaly => "monitoring_anomaly",
            Self::SensorFault => "sensor_fault",
            Self::Natural => "natural",
        }
    }
}

/// Where and when one truth shows in one station's readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthStation {
    /// Station.
    pub station: StationId,
    /// First perturbed (or missing) reading.
    #[serde(with = "rfc3339_serde")]
    pub start: Millis,
    /// Last perturbed (or missing) reading.
    #[serde(with = "rfc3339_serde")]
    pub end: Millis,
    /// Parameters perturbed, in output order.
    pub parameters: Vec<ParamId>,
    /// Highest perturbed reading over its GB 3838 target-class limit, across the parameters
    /// that have a maximum limit (CODMn, NH3-N, TP, TN at reservoirs); as sampled, so a pulse
    /// that slipped between two analyser samples shows a low ratio. None when no such value.
    pub peak_ratio_to_limit: Option<f64>,
    /// Sampling interval of the fastest perturbed parameter (the delay unit for this station).
    #[serde(with = "duration_serde")]
    pub interval: Millis,
}

/// One injected behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthRecord {
    /// Deterministic id (`discharge-0003`).
    pub id: String,
    /// What was injected.
    pub kind: TruthKind,
    /// Category a perfect detector would report.
    pub category: TruthCategory,
    /// For pollution: the river segment the source lies in (upstream stations → first station
    /// downstream of the release). For tampering: the segment of the real source above the
    /// tampered station.
    pub source_segment: Option<Segment>,
    /// For pollution: when the release started at the source.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub release: Option<Millis>,
    /// Earliest station start.
    #[serde(with = "rfc3339_serde")]
    pub start: Millis,
    /// Latest station end.
    #[serde(with = "rfc3339_serde")]
    pub end: Millis,
    /// Stations where the readings show it, in order of first appearance.
    pub stations: Vec<TruthStation>,
    /// Plain-language description of what was injected.
    pub detail: String,
    /// Id of a related record: for tampering, the pulse it hid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<String>,
}

/// The run a truth file describes (its first line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationHeader {
    /// Format version.
    pub version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// First reading time.
    #[serde(with = "rfc3339_serde")]
    pub start: Millis,
    /// End of the simulated period (exclusive).
    #[serde(with = "rfc3339_serde")]
    pub end: Millis,
    /// Probe sampling interval.
    #[serde(with = "duration_serde")]
    pub interval: Millis,
    /// Analyser sampling interval.
    #[serde(with = "duration_serde")]
    pub analyser_interval: Millis,
    /// Stations simulated.
    pub stations: Vec<StationId>,
}

impl SimulationHeader {
    /// Station-weeks covered (the denominator of false-alarm rates).
    pub fn station_weeks(&self) -> f64 {
        self.stations.len() as f64 * (self.end - self.start) as f64
            / (7.0 * crate::time::DAY as f64)
    }
}

#[derive(Serialize, Deserialize)]
struct HeaderLine {
    simulation: SimulationHeader,
}

/// A parsed truth file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TruthFile {
    /// The run, when the file has a header line.
    pub header: Option<SimulationHeader>,
    /// The records.
    pub records: Vec<TruthRecord>,
}

/// A truth line that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct TruthParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl TruthFile {
    /// Writes the header line and one line per record.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        if let Some(h) = &self.header {
            let line = serde_json::to_string(&HeaderLine {
                simulation: h.clone(),
            })
            .unwrap_or_default();
            let _ = writeln!(out, "{line}");
        }
        for r in &self.records {
            let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
        }
        out
    }

    /// Reads a truth JSONL text; blank lines are skipped, the header is optional.
    pub fn parse_jsonl(text: &str) -> Result<Self, TruthParseError> {
        let mut out = Self::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let err = |e: serde_json::Error| TruthParseError {
                line: i + 1,
                reason: e.to_string(),
            };
            if line.starts_with("{\"simulation\"") {
                out.header = Some(
                    serde_json::from_str::<HeaderLine>(line)
                        .map_err(err)?
                        .simulation,
                );
            } else {
                let r: TruthRecord = serde_json::from_str(line).map_err(err)?;
                if r.stations.iter().any(|s| s.end < s.start) {
                    return Err(TruthParseError {
                        line: i + 1,
                        reason: "a station window ends before it starts".into(),
                    });
                }
                out.records.push(r);
            }
        }
        Ok(out)
    }
}

mod opt_rfc3339 {
    use crate::time::{parse_rfc3339, Millis, Rfc3339};
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.collect_str(&Rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse_rfc3339(&s)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("`{s}` is not an RFC 3339 time"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_round_trip_and_errors() {
        let rec = TruthRecord {
            id: "discharge-0001".into(),
            kind: TruthKind::Discharge,
            category: TruthKind::Discharge.category(),
            source_segment: Some(Segment {
                upstream: vec!["DL02".into()],
                downstream: "DL03".into(),
            }),
            release: Some(1_721_000_000_000),
            start: 1_721_003_600_000,
            end: 1_721_010_800_000,
            stations: vec![TruthStation {
                station: "DL03".into(),
                start: 1_721_003_600_000,
                end: 1_721_010_800_000,
                parameters: vec!["cond".into(), "nh3n".into()],
                peak_ratio_to_limit: Some(3.2),
                interval: 300_000,
            }],
            detail: "test".into(),
            related: None,
        };
        let file = TruthFile {
            header: Some(SimulationHeader {
                version: 1,
                scenario: "typical".into(),
                seed: 1,
                start: 1_721_000_000_000,
                end: 1_721_000_000_000 + 7 * crate::time::DAY,
                interval: 300_000,
                analyser_interval: 4 * crate::time::HOUR,
                stations: vec!["DL03".into(), "DL04".into()],
            }),
            records: vec![rec],
        };
        let text = file.to_jsonl();
        assert!(
            text.contains("\"kind\":\"discharge\"") && text.contains("\"interval\":\"5m\""),
            "{text}"
        );
        let back = TruthFile::parse_jsonl(&text).unwrap();
        assert_eq!(back, file);
        assert!((back.header.unwrap().station_weeks() - 2.0).abs() < 1e-9);
        let e = TruthFile::parse_jsonl("\n{\"id\": 3}\n").unwrap_err();
        assert_eq!(e.line, 2);
        let bad = text.replace(
            "\"end\":\"2024-07-15T02:33:20Z\",\"parameters\"",
            "\"end\":\"2020-01-01T00:00:00Z\",\"parameters\"",
        );
        assert!(TruthFile::parse_jsonl(&bad).is_err(), "{bad}");
    }
}
