//! Leads: the analyst-facing record. The JSON form is versioned and documented by
//! `docs/lead.schema.json`; a test checks emitted leads against it.

use crate::config::WaterClass;
use crate::events::Segment;
use crate::model::{DetectorId, ParamId, StationId};
use crate::time::{rfc3339_serde, Millis};
use serde::{Deserialize, Serialize};

/// Version of the lead JSON; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The three kinds of lead a supervisor receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Something entered the river: a coherent change localised to a station or segment.
    SuspectedDischarge,
    /// The water breached the GB 3838 limit of the station's target class, persistently.
    StandardExceedance,
    /// The station's data stopped being true: equipment fault or suspected falsification.
    MonitoringAnomaly,
}

/// How serious a lead is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Clear breach or change.
    Medium,
    /// Large, long or broad.
    High,
    /// Gross breach over a long time or many stations.
    Critical,
}

/// Analyst workflow status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not looked at yet.
    #[default]
    New,
    /// Seen, under review.
    Acknowledged,
    /// Judged real.
    Confirmed,
    /// Judged not worth pursuing.
    Dismissed,
}

/// The time window a lead covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start.
    #[serde(with = "rfc3339_serde")]
    pub start: Millis,
    /// End.
    #[serde(with = "rfc3339_serde")]
    pub end: Millis,
}

/// What one parameter did at one station during the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSummary {
    /// Station.
    pub station: StationId,
    /// Parameter.
    pub parameter: ParamId,
    /// Unit of the values ("" when unknown).
    pub unit: String,
    /// Most extreme value in the window (highest, or lowest for a fall).
    pub peak: f64,
    /// When it was seen.
    #[serde(with = "rfc3339_serde")]
    pub peak_time: Millis,
    /// The station's baseline (rolling median) before the change, when known.
    pub baseline: Option<f64>,
    /// GB 3838 limit for the reference class, when the standard has one for this item.
    pub limit: Option<f64>,
    /// Class the limit is taken from (the station's target class).
    pub limit_class: Option<WaterClass>,
    /// Peak relative to the limit (C/Cs; Cs/C for DO; HJ 2.3 index for pH); > 1 breaches.
    pub ratio: Option<f64>,
    /// GB 3838 exceedance multiple (C − Cs)/Cs, for items that define one.
    pub exceedance_multiple: Option<f64>,
    /// +1 rose, −1 fell.
    pub direction: i8,
}

/// One detector's strongest score in the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorScore {
    /// Detector.
    pub detector: DetectorId,
    /// Best score.
    pub score: f64,
}

/// A stable description of the readings behind a lead, enough to fetch them again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceQuery {
    /// Stations.
    pub stations: Vec<StationId>,
    /// Parameters.
    pub parameters: Vec<ParamId>,
    /// From (inclusive): the window with a margin before it.
    #[serde(with = "rfc3339_serde")]
    pub from: Millis,
    /// To (exclusive): the window with a margin after it.
    #[serde(with = "rfc3339_serde")]
    pub to: Millis,
}

/// An analyst's note or status change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// When.
    #[serde(with = "rfc3339_serde")]
    pub time: Millis,
    /// Who.
    pub analyst: String,
    /// Status set, if any.
    pub status: Option<Status>,
    /// Text.
    pub text: String,
}

/// The analyst-facing record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// JSON schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Deterministic id: the same readings and config give the same id.
    pub id: String,
    /// Starts at 1; grows each time the lead changes materially.
    pub revision: u32,
    /// Category.
    pub category: Category,
    /// Station where it was first seen (the station under suspicion for monitoring anomalies).
    pub station: StationId,
    /// River of that station, when configured.
    pub river: Option<String>,
    /// Source segment, when localised.
    pub segment: Option<Segment>,
    /// Every station involved (the first, then those that saw it downstream).
    pub stations: Vec<StationId>,
    /// Window.
    pub window: Window,
    /// Still growing (false once every event behind it closed).
    pub open: bool,
    /// Per station × parameter figures.
    pub parameters: Vec<ParamSummary>,
    /// Severity.
    pub severity: Severity,
    /// Confidence in [0, 1] from detector agreement.
    pub confidence: f64,
    /// Contributing detectors with their best scores.
    pub detectors: Vec<DetectorScore>,
    /// One-paragraph plain-language summary.
    pub summary: String,
    /// Hash of the configuration that produced it.
    pub config_hash: String,
    /// Versions (digests) of trained models used.
    pub model_versions: Vec<String>,
    /// How to fetch the readings behind it.
    pub evidence: EvidenceQuery,
    /// Workflow status.
    #[serde(default)]
    pub status: Status,
    /// Analyst notes and status history.
    #[serde(default)]
    pub notes: Vec<Note>,
}
