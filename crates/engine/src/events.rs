//! Events: findings consolidated over time at one station (and linked across stations along the
//! river). This file holds the record that `detect` writes and `eval` reads; the consolidation
//! itself lives in [`crate::detect`].

use crate::model::{DetectorId, ParamId, StationId};
use crate::time::{rfc3339_serde, Millis};
use serde::{Deserialize, Serialize};

/// What an event is judged to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Coherent change of the water, not explained by the station's instruments: a suspected discharge.
    Discharge,
    /// Persistent breach of the GB 3838 limit of the station's target class.
    Exceedance,
    /// The station stuck or went silent while a pollution signal passed it (seen downstream).
    Tamper,
    /// Instrument misbehaviour: spike, stuck value, silence, impossible value, fault flags, drift.
    SensorFault,
}

impl EventKind {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discharge => "discharge",
            Self::Exceedance => "exceedance",
            Self::Tamper => "tamper",
            Self::SensorFault => "sensor_fault",
        }
    }
}

/// A river segment: the water between the upstream stations and a downstream station.
/// `upstream` is empty when the downstream station is the first on its river.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Segment {
    /// Stations bounding the segment upstream (all clean when the source was localised).
    pub upstream: Vec<StationId>,
    /// Station bounding it downstream.
    pub downstream: StationId,
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.upstream.is_empty() {
            write!(f, "above {}", self.downstream)
        } else {
            let ups: Vec<&str> = self.upstream.iter().map(|s| s.as_str()).collect();
            write!(f, "{} → {}", ups.join("/"), self.downstream)
        }
    }
}

/// One consolidated event, as written to `events.jsonl` (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Deterministic id (station, track and start time).
    pub id: String,
    /// Station.
    pub station: StationId,
    /// Parameters with findings, sorted.
    pub parameters: Vec<ParamId>,
    /// First finding.
    #[serde(with = "rfc3339_serde")]
    pub start: Millis,
    /// Last finding.
    #[serde(with = "rfc3339_serde")]
    pub end: Millis,
    /// Highest finding score in [0, 1].
    pub score: f64,
    /// What the event is judged to be.
    pub kind: EventKind,
    /// Detectors that contributed, sorted.
    pub detectors: Vec<DetectorId>,
    /// Source segment, when the upstream comparison localised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// Id of the lead this event belongs to, if it raised or joined one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<String>,
    /// Number of findings consolidated.
    pub findings: u32,
}
