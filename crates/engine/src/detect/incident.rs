//! Incidents: the events (at one or several stations) that tell one story, and the lead that
//! tells it to an analyst. A lead gets a new revision only when something an analyst would care
//! about changes — category, stations, segment, severity, or the incident closing — so that a
//! growing pulse does not flood the queue.

use super::track::{OpenEvent, ParamAgg, TrackKind};
use crate::config::{Limit, WaterClass};
use crate::events::{EventKind, Segment};
use crate::leads::{
    Category, DetectorScore, EvidenceQuery, Lead, ParamSummary, Severity, Status, Window,
    SCHEMA_VERSION,
};
use crate::model::{DetectorId, ParamId, StationId};
use crate::time::{Millis, Rfc3339, HOUR};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Margin of readings kept around a lead's window as evidence.
pub const EVIDENCE_MARGIN: Millis = 12 * HOUR;

/// What the engine knows about a stream when a lead is written.
#[derive(Debug, Clone, Copy)]
pub struct StreamFacts {
    /// Unit.
    pub unit: &'static str,
    /// GB 3838 limit and its class.
    pub limit: Option<(Limit, WaterClass)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Signature {
    category: Category,
    stations: usize,
    segment: Option<Segment>,
    severity: Severity,
    open: bool,
}

/// One incident and its lead's revision state.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Lead id.
    pub id: String,
    root: StationId,
    river: Option<String>,
    stations: Vec<StationId>,
    segment: Option<Segment>,
    window: (Millis, Millis),
    params: BTreeMap<(StationId, ParamId), (ParamAgg, StreamFacts)>,
    detectors: BTreeMap<DetectorId, f64>,
    kinds: BTreeMap<String, EventKind>,
    open_events: BTreeSet<String>,
    notes: Vec<String>,
    revision: u32,
    last: Option<Signature>,
}

impl Incident {
    /// A new incident rooted at an event.
    pub fn new(root: &OpenEvent, river: Option<String>) -> Self {
        let digest = Sha256::digest(
            format!("lead|{}|{:?}|{}", root.station, root.track, root.start).as_bytes(),
        );
        let id: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id: format!("L{id}"),
            root: root.station.clone(),
            river,
            stations: vec![],
            segment: None,
            window: (root.start, root.end),
            params: BTreeMap::new(),
            detectors: BTreeMap::new(),
            kinds: BTreeMap::new(),
            open_events: BTreeSet::new(),
            notes: vec![],
            revision: 0,
            last: None,
        }
    }

    /// Takes in the current state of one of its events.
    pub fn absorb(
        &mut self,
        e: &OpenEvent,
        still_open: bool,
        facts: impl Fn(&StationId, &ParamId) -> StreamFacts,
    ) {
        if !self.stations.contains(&e.station) {
            self.stations.push(e.station.clone());
        }
        if self.segment.is_none() {
            self.segment = e.segment.clone();
        }
        self.window = (self.window.0.min(e.start), self.window.1.max(e.end));
        for (p, agg) in &e.params {
            let mut f = facts(&e.station, p);
            if e.track == TrackKind::Monitoring {
                // A stuck or impossible value says nothing about the water's class.
                f.limit = None;
            }
            self.params
                .insert((e.station.clone(), p.clone()), (agg.clone(), f));
        }
        for (d, s) in &e.detectors {
            let best = self.detectors.entry(*d).or_insert(0.0);
            *best = best.max(*s);
        }
        self.kinds.insert(e.id.clone(), e.kind());
        if still_open {
            self.open_events.insert(e.id.clone());
        } else {
            self.open_events.remove(&e.id);
        }
    }

    /// Whether every event closed and the window ended before `t` (safe to forget).
    pub fn is_done_before(&self, t: Millis) -> bool {
        self.open_events.is_empty() && self.window.1 < t
    }

    /// Adds a sentence to the summary (e.g. who corroborated it).
    pub fn note(&mut self, text: String) {
        if !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }

    /// Category from the kinds of its events.
    pub fn category(&self) -> Category {
        let has = |k| self.kinds.values().any(|x| *x == k);
        if has(EventKind::Discharge) {
            Category::SuspectedDischarge
        } else if has(EventKind::Exceedance) {
            Category::StandardExceedance
        } else {
            Category::MonitoringAnomaly
        }
    }

    fn max_ratio(&self) -> f64 {
        self.params
            .values()
            .filter_map(|(a, _)| a.ratio)
            .fold(0.0, f64::max)
    }

    fn severity(&self) -> Severity {
        let duration = self.window.1 - self.window.0;
        if self.category() == Category::MonitoringAnomaly {
            return if self.kinds.values().any(|k| *k == EventKind::Tamper) {
                Severity::High
            } else if duration >= 24 * HOUR {
                Severity::Medium
            } else {
                Severity::Low
            };
        }
        let ratio = self.max_ratio();
        let distinct_params: BTreeSet<&ParamId> = self.params.keys().map(|(_, p)| p).collect();
        let points = [
            ratio > 1.0,
            ratio >= 2.0,
            ratio >= 5.0,
            duration >= 12 * HOUR,
            self.stations.len() >= 2,
            distinct_params.len() >= 3,
        ]
        .iter()
        .filter(|b| **b)
        .count();
        match points {
            0 | 1 => Severity::Low,
            2 => Severity::Medium,
            3 | 4 => Severity::High,
            _ => Severity::Critical,
        }
    }

    fn signature(&self) -> Signature {
        Signature {
            category: self.category(),
            stations: self.stations.len(),
            segment: self.segment.clone(),
            severity: self.severity(),
            open: !self.open_events.is_empty(),
        }
    }

    /// The next revision of the lead, if it changed materially since the last one.
    pub fn revise(&mut self, config_hash: &str, model_versions: &[String]) -> Option<Lead> {
        let sig = self.signature();
        if self.last.as_ref() == Some(&sig) {
            return None;
        }
        self.revision += 1;
        self.last = Some(sig);
        Some(self.lead(config_hash, model_versions))
    }

    /// The lead as it stands.
    pub fn lead(&self, config_hash: &str, model_versions: &[String]) -> Lead {
        let parameters: Vec<ParamSummary> = self
            .params
            .iter()
            .map(|((s, p), (a, facts))| {
                let limit = facts.limit;
                ParamSummary {
                    station: s.clone(),
                    parameter: p.clone(),
                    unit: facts.unit.to_string(),
                    peak: a.peak,
                    peak_time: a.peak_time,
                    baseline: a.baseline.map(|b| (b * 1e4).round() / 1e4),
                    limit: limit.map(|(l, _)| l.value_for(a.peak)),
                    limit_class: limit.map(|(_, c)| c),
                    ratio: limit.map(|(l, _)| (l.ratio(a.peak) * 1e3).round() / 1e3),
                    exceedance_multiple: limit
                        .and_then(|(l, _)| l.exceedance_multiple(a.peak))
                        .map(|b| (b * 1e3).round() / 1e3),
                    direction: a.direction,
                }
            })
            .collect();
        let confidence = 1.0
            - self
                .detectors
                .values()
                .fold(1.0, |acc, s| acc * (1.0 - s.clamp(0.0, 1.0)));
        let mut evidence_params: Vec<ParamId> =
            self.params.keys().map(|(_, p)| p.clone()).collect();
        evidence_params.sort();
        evidence_params.dedup();
        let mut evidence_stations = self.stations.clone();
        if let Some(seg) = &self.segment {
            evidence_stations.extend(seg.upstream.iter().cloned());
        }
        evidence_stations.sort();
        evidence_stations.dedup();
        let category = self.category();
        Lead {
            schema_version: SCHEMA_VERSION,
            id: self.id.clone(),
            revision: self.revision,
            category,
            station: self.root.clone(),
            river: self.river.clone(),
            segment: self.segment.clone(),
            stations: self.stations.clone(),
            window: Window {
                start: self.window.0,
                end: self.window.1,
            },
            open: !self.open_events.is_empty(),
            summary: self.summary(category, &parameters),
            parameters,
            severity: self.severity(),
            confidence: (confidence * 1000.0).round() / 1000.0,
            detectors: self
                .detectors
                .iter()
                .map(|(d, s)| DetectorScore {
                    detector: *d,
                    score: (s * 1000.0).round() / 1000.0,
                })
                .collect(),
            config_hash: config_hash.to_string(),
            model_versions: model_versions.to_vec(),
            evidence: EvidenceQuery {
                stations: evidence_stations,
                parameters: evidence_params,
                from: self.window.0 - EVIDENCE_MARGIN,
                to: self.window.1 + EVIDENCE_MARGIN,
            },
            status: Status::New,
            notes: vec![],
        }
    }

    fn summary(&self, category: Category, params: &[ParamSummary]) -> String {
        let what = match category {
            Category::SuspectedDischarge => "Suspected discharge",
            Category::StandardExceedance => "GB 3838 exceedance",
            Category::MonitoringAnomaly if self.kinds.values().any(|k| *k == EventKind::Tamper) => {
                "Monitoring anomaly (possible data falsification)"
            }
            Category::MonitoringAnomaly => "Monitoring anomaly (equipment fault)",
        };
        let mut s = format!("{what} at {}", self.root);
        if let Some(seg) = &self.segment {
            s.push_str(&format!(", source localised to segment {seg}"));
        }
        s.push_str(&format!(
            ", {} to {}.",
            Rfc3339(self.window.0),
            Rfc3339(self.window.1)
        ));
        let mut shown: Vec<&ParamSummary> =
            params.iter().filter(|p| p.station == self.root).collect();
        shown.sort_by(|a, b| b.ratio.unwrap_or(0.0).total_cmp(&a.ratio.unwrap_or(0.0)));
        for p in shown.iter().take(4) {
            let dir = if p.direction < 0 {
                "fell to"
            } else {
                "rose to"
            };
            s.push_str(&format!(" {} {dir} {} {}", p.parameter, p.peak, p.unit));
            if let Some(b) = p.baseline {
                s.push_str(&format!(" (baseline {b})"));
            }
            match (p.limit, p.limit_class, p.ratio) {
                (Some(l), Some(c), Some(r)) if r > 1.0 => {
                    s.push_str(&format!(", beyond the class {c} limit {l}"));
                    if let Some(b) = p.exceedance_multiple {
                        s.push_str(&format!(" (exceedance multiple {b:.2})"));
                    }
                }
                _ => {}
            }
            s.push(';');
        }
        if self.stations.len() > 1 {
            let others: Vec<&str> = self.stations.iter().skip(1).map(|s| s.as_str()).collect();
            s.push_str(&format!(" also seen downstream at {}.", others.join(", ")));
        }
        for n in &self.notes {
            s.push(' ');
            s.push_str(n);
        }
        let dets: Vec<&str> = self.detectors.keys().map(|d| d.name()).collect();
        s.push_str(&format!(" Detectors: {}.", dets.join(", ")));
        s
    }
}
