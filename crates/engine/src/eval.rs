//! Event-level evaluation of detections against a simulation's ground truth.
//!
//! Matching is by station and time: an event matches a truth when it is at one of the truth's
//! stations and overlaps that station's window, widened on both sides by a tolerance (2 h plus
//! one sampling interval by default: detectors confirm over a few samples and pulses arrive
//! with travel-time jitter). One rule keeps instruments honest: a sensor-fault truth is matched
//! only by `sensor_fault` or `tamper` events — a discharge raised on a broken sensor is a false
//! alarm, and is counted as such. Everything is a pure function of the inputs, so the same
//! files always give the same report.

use crate::events::{Event, EventKind, Segment};
use crate::leads::{Category, Lead};
use crate::model::StationId;
use crate::sim::{TruthCategory, TruthFile, TruthKind, TruthRecord, TruthStation};
use crate::time::{format_duration, Millis, DAY, HOUR};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// How events are matched to truths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalOptions {
    /// Slack on both sides of a truth window, added to the station's sampling interval.
    pub tolerance: Millis,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            tolerance: 2 * HOUR,
        }
    }
}

/// What happened to one truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthOutcome {
    /// Truth id.
    pub id: String,
    /// Truth kind.
    pub kind: TruthKind,
    /// Truth category.
    pub category: TruthCategory,
    /// Matched by an alarm that counts for its category (for pollution: any event kind but
    /// `sensor_fault`).
    pub detected: bool,
    /// Ids of the matching events.
    pub events: Vec<String>,
    /// Station of the earliest detecting event.
    pub station: Option<StationId>,
    /// Earliest detecting event start − the truth's start at that station, ms.
    pub delay_ms: Option<Millis>,
    /// The same delay in that station's sampling intervals.
    pub delay_intervals: Option<f64>,
    /// Highest peak ratio to the class limit over the truth's stations.
    pub peak_ratio_to_limit: Option<f64>,
    /// For truths with a source segment seen at ≥ 2 stations: whether a matching event named
    /// the right segment (None when no matching event named any).
    pub segment_right: Option<bool>,
}

/// A count and the share it is of a total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    /// How many.
    pub count: usize,
    /// Out of.
    pub of: usize,
    /// count / of; None when `of` is 0.
    pub share: Option<f64>,
}

impl Share {
    fn new(count: usize, of: usize) -> Self {
        Self {
            count,
            of,
            share: (of > 0).then(|| count as f64 / of as f64),
        }
    }
}

/// The evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Events read.
    pub events: usize,
    /// Truth records read.
    pub truths: usize,
    /// Events matching at least one truth / all events.
    pub precision: Share,
    /// Of the matched events, those explained only by natural (runoff) truths.
    pub runoff_explained_events: usize,
    /// Events matching no truth.
    pub false_alarms: usize,
    /// Station-weeks observed (from the truth header, else inferred from the data).
    pub station_weeks: f64,
    /// False alarms per station-week.
    pub false_alarms_per_station_week: Option<f64>,
    /// Pollution truths (suspected discharge) detected.
    pub recall: Share,
    /// Pollution truths whose peak reached ≥ 2× the class limit, detected.
    pub recall_strong: Share,
    /// Harmonic mean of precision and pollution recall.
    pub f1: Option<f64>,
    /// Detection share per truth kind.
    pub recall_by_kind: BTreeMap<String, Share>,
    /// Median detection delay over detected pollution truths, ms.
    pub delay_median_ms: Option<Millis>,
    /// 90th percentile (nearest rank) of the same delays, ms.
    pub delay_p90_ms: Option<Millis>,
    /// Median detection delay in sampling intervals.
    pub delay_median_intervals: Option<f64>,
    /// 90th percentile of delays in sampling intervals.
    pub delay_p90_intervals: Option<f64>,
    /// Truth category × event kind (plus `missed`): how many truths each kind of event matched.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    /// Events with a segment that match a pollution truth seen at ≥ 2 stations: those naming
    /// the source segment of (one of) the truths they match.
    pub segment_right: Share,
    /// Tamper truths raised as `tamper` events or `monitoring_anomaly` leads at the station.
    pub tamper_raised: Share,
    /// Sensor-fault truths overlapped by a `discharge` event that no pollution truth explains:
    /// the fault itself raised the discharge. (A fault that happens to fall inside a real
    /// pulse's event is not counted.)
    pub sensor_faults_as_discharge: Share,
    /// Per truth.
    pub outcomes: Vec<TruthOutcome>,
}

fn window_hits(
    w: &TruthStation,
    station: &StationId,
    start: Millis,
    end: Millis,
    opts: &EvalOptions,
) -> bool {
    let tol = opts.tolerance + w.interval;
    &w.station == station && start <= w.end + tol && end >= w.start - tol
}

/// The station window of `r` that event `e` overlaps, if any (kind compatibility aside).
fn overlap<'a>(r: &'a TruthRecord, e: &Event, opts: &EvalOptions) -> Option<&'a TruthStation> {
    r.stations
        .iter()
        .find(|w| window_hits(w, &e.station, e.start, e.end, opts))
}

/// Whether an event of `kind` may explain a truth of `category`.
fn compatible(category: TruthCategory, kind: EventKind) -> bool {
    category != TruthCategory::SensorFault
        || matches!(kind, EventKind::SensorFault | EventKind::Tamper)
}

/// Whether a matching event of `kind` counts as detecting a truth of `category`.
fn detects(category: TruthCategory, kind: EventKind) -> bool {
    match category {
        TruthCategory::SuspectedDischarge | TruthCategory::StandardExceedance => {
            kind != EventKind::SensorFault
        }
        _ => compatible(category, kind),
    }
}

fn same_segment(a: &Segment, b: &Segment) -> bool {
    let set = |s: &Segment| s.upstream.iter().cloned().collect::<BTreeSet<_>>();
    a.downstream == b.downstream && set(a) == set(b)
}

/// A pollution truth seen at two or more stations: the segment of its source can be inferred.
fn localisable(r: &TruthRecord) -> bool {
    r.category == TruthCategory::SuspectedDischarge && r.stations.len() >= 2
}

fn percentile<T: Copy + PartialOrd>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Station-weeks from the header, or from the stations and span seen in the data.
fn station_weeks(truth: &TruthFile, events: &[Event]) -> f64 {
    if let Some(h) = &truth.header {
        return h.station_weeks();
    }
    let mut stations = BTreeSet::new();
    let (mut lo, mut hi) = (Millis::MAX, Millis::MIN);
    for r in &truth.records {
        for w in &r.stations {
            stations.insert(w.station.clone());
            lo = lo.min(w.start);
            hi = hi.max(w.end);
        }
    }
    for e in events {
        stations.insert(e.station.clone());
        lo = lo.min(e.start);
        hi = hi.max(e.end);
    }
    if hi <= lo {
        return 0.0;
    }
    stations.len() as f64 * (hi - lo) as f64 / (7 * DAY) as f64
}

/// Scores `events` (and optionally `leads`) against `truth`.
pub fn evaluate(truth: &TruthFile, events: &[Event], leads: &[Lead], opts: &EvalOptions) -> Report {
    let records = &truth.records;
    // matches[i] = truths event i matches (compatible kinds only).
    let matches: Vec<Vec<usize>> = events
        .iter()
        .map(|e| {
            (0..records.len())
                .filter(|&j| {
                    compatible(records[j].category, e.kind)
                        && overlap(&records[j], e, opts).is_some()
                })
                .collect()
        })
        .collect();
    let matched = matches.iter().filter(|m| !m.is_empty()).count();
    let runoff_only = matches
        .iter()
        .filter(|m| {
            !m.is_empty()
                && m.iter()
                    .all(|&j| records[j].category == TruthCategory::Natural)
        })
        .count();
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(records.len());
    for (j, r) in records.iter().enumerate() {
        let mine: Vec<usize> = (0..events.len())
            .filter(|&i| matches[i].contains(&j))
            .collect();
        let row = confusion.entry(r.category.name().to_string()).or_default();
        let kinds: BTreeSet<&str> = mine.iter().map(|&i| events[i].kind.name()).collect();
        if kinds.is_empty() {
            *row.entry("missed".into()).or_default() += 1;
        }
        for k in kinds {
            *row.entry(k.into()).or_default() += 1;
        }
        let detecting: Vec<usize> = mine
            .iter()
            .copied()
            .filter(|&i| detects(r.category, events[i].kind))
            .collect();
        let first = detecting
            .iter()
            .copied()
            .min_by_key(|&i| (events[i].start, i));
        let (station, delay_ms, delay_intervals) =
            match first.and_then(|i| overlap(r, &events[i], opts).map(|w| (i, w))) {
                Some((i, w)) => {
                    let d = events[i].start - w.start;
                    (
                        Some(w.station.clone()),
                        Some(d),
                        Some(d as f64 / w.interval.max(1) as f64),
                    )
                }
                None => (None, None, None),
            };
        let segment_right = r
            .source_segment
            .as_ref()
            .filter(|_| localisable(r))
            .and_then(|seg| {
                let named: Vec<bool> = mine
                    .iter()
                    .filter_map(|&i| events[i].segment.as_ref())
                    .map(|es| same_segment(es, seg))
                    .collect();
                (!named.is_empty()).then(|| named.contains(&true))
            });
        outcomes.push(TruthOutcome {
            id: r.id.clone(),
            kind: r.kind,
            category: r.category,
            detected: !detecting.is_empty(),
            events: mine.iter().map(|&i| events[i].id.clone()).collect(),
            station,
            delay_ms,
            delay_intervals,
            peak_ratio_to_limit: r
                .stations
                .iter()
                .filter_map(|w| w.peak_ratio_to_limit)
                .reduce(f64::max),
            segment_right,
        });
    }
    // Per event naming a segment and matching a localisable truth: right if it names the
    // source segment of any of them (an event over two truths is judged by the one it found).
    let (mut seg_right, mut seg_total) = (0, 0);
    for (e, m) in events.iter().zip(&matches) {
        let Some(es) = &e.segment else { continue };
        let mut sources = m
            .iter()
            .map(|&j| &records[j])
            .filter(|r| localisable(r))
            .filter_map(|r| r.source_segment.as_ref())
            .peekable();
        if sources.peek().is_some() {
            seg_total += 1;
            seg_right += usize::from(sources.any(|s| same_segment(es, s)));
        }
    }
    let false_alarms = events.len() - matched;
    let pollution: Vec<&TruthOutcome> = outcomes
        .iter()
        .filter(|o| o.category == TruthCategory::SuspectedDischarge)
        .collect();
    let strong: Vec<&&TruthOutcome> = pollution
        .iter()
        .filter(|o| o.peak_ratio_to_limit.is_some_and(|p| p >= 2.0))
        .collect();
    let recall = Share::new(
        pollution.iter().filter(|o| o.detected).count(),
        pollution.len(),
    );
    let precision = Share::new(matched, events.len());
    let f1 = match (precision.share, recall.share) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    let mut recall_by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for o in &outcomes {
        let e = recall_by_kind.entry(o.kind.name().to_string()).or_default();
        e.0 += usize::from(o.detected);
        e.1 += 1;
    }
    let mut delays: Vec<Millis> = pollution.iter().filter_map(|o| o.delay_ms).collect();
    delays.sort_unstable();
    let mut delays_iv: Vec<f64> = pollution.iter().filter_map(|o| o.delay_intervals).collect();
    delays_iv.sort_by(f64::total_cmp);
    let weeks = station_weeks(truth, events);
    let tamper: Vec<&TruthRecord> = records
        .iter()
        .filter(|r| r.kind == TruthKind::Tamper)
        .collect();
    let raised = tamper
        .iter()
        .filter(|r| tamper_raised(r, events, leads, opts))
        .count();
    let faults: Vec<&TruthRecord> = records
        .iter()
        .filter(|r| r.category == TruthCategory::SensorFault)
        .collect();
    let as_discharge = faults
        .iter()
        .filter(|r| {
            events.iter().zip(&matches).any(|(e, m)| {
                e.kind == EventKind::Discharge && m.is_empty() && overlap(r, e, opts).is_some()
            })
        })
        .count();
    Report {
        events: events.len(),
        truths: records.len(),
        precision,
        runoff_explained_events: runoff_only,
        false_alarms,
        station_weeks: weeks,
        false_alarms_per_station_week: (weeks > 0.0).then(|| false_alarms as f64 / weeks),
        recall,
        recall_strong: Share::new(strong.iter().filter(|o| o.detected).count(), strong.len()),
        f1,
        recall_by_kind: recall_by_kind
            .into_iter()
            .map(|(k, (d, n))| (k, Share::new(d, n)))
            .collect(),
        delay_median_ms: percentile(&delays, 0.5),
        delay_p90_ms: percentile(&delays, 0.9),
        delay_median_intervals: percentile(&delays_iv, 0.5),
        delay_p90_intervals: percentile(&delays_iv, 0.9),
        confusion,
        segment_right: Share::new(seg_right, seg_total),
        tamper_raised: Share::new(raised, tamper.len()),
        sensor_faults_as_discharge: Share::new(as_discharge, faults.len()),
        outcomes,
    }
}

/// A tamper truth is raised by a `tamper` event at its station, or by a `monitoring_anomaly`
/// lead naming the station, overlapping its window.
fn tamper_raised(r: &TruthRecord, events: &[Event], leads: &[Lead], opts: &EvalOptions) -> bool {
    let by_event = events
        .iter()
        .any(|e| e.kind == EventKind::Tamper && overlap(r, e, opts).is_some());
    let by_lead = leads.iter().any(|l| {
        l.category == Category::MonitoringAnomaly
            && r.stations.iter().any(|w| {
                let named = l.station == w.station || l.stations.contains(&w.station);
                named && window_hits(w, &w.station, l.window.start, l.window.end, opts)
            })
    });
    by_event || by_lead
}

fn pct(s: &Share) -> String {
    match s.share {
        Some(x) => format!("{:5.1} %  ({}/{})", 100.0 * x, s.count, s.of),
        None => format!("    –    (0/{})", s.of),
    }
}

fn dur(ms: Option<Millis>) -> String {
    match ms {
        Some(d) if d < 0 => format!("-{}", format_duration(-d)),
        Some(d) => format_duration(d),
        None => "–".into(),
    }
}

impl Report {
    /// The plain-text table printed by `riverwatch eval`.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let opt = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.2}"));
        let _ = writeln!(
            o,
            "events {}  truths {}  station-weeks {:.1}",
            self.events, self.truths, self.station_weeks
        );
        let _ = writeln!(o, "precision                     {}", pct(&self.precision));
        let _ = writeln!(
            o,
            "  of which runoff-explained   {}",
            self.runoff_explained_events
        );
        let _ = writeln!(o, "recall (pollution)            {}", pct(&self.recall));
        let _ = writeln!(
            o,
            "recall (peak ≥ 2× limit)      {}",
            pct(&self.recall_strong)
        );
        let _ = writeln!(o, "F1                            {}", opt(self.f1));
        let _ = writeln!(
            o,
            "delay median / p90            {} / {}  ({} / {} intervals)",
            dur(self.delay_median_ms),
            dur(self.delay_p90_ms),
            opt(self.delay_median_intervals),
            opt(self.delay_p90_intervals)
        );
        let _ = writeln!(
            o,
            "false alarms                  {}  ({} per station-week)",
            self.false_alarms,
            opt(self.false_alarms_per_station_week)
        );
        let _ = writeln!(
            o,
            "segment right                 {}",
            pct(&self.segment_right)
        );
        let _ = writeln!(
            o,
            "tamper raised                 {}",
            pct(&self.tamper_raised)
        );
        let _ = writeln!(
            o,
            "sensor faults as discharge    {}",
            pct(&self.sensor_faults_as_discharge)
        );
        let _ = writeln!(o, "\ndetected by truth kind");
        for (k, s) in &self.recall_by_kind {
            let _ = writeln!(o, "  {k:<20} {}", pct(s));
        }
        let columns = [
            "discharge",
            "exceedance",
            "tamper",
            "sensor_fault",
            "missed",
        ];
        let _ = write!(o, "\ntruth category × event kind\n  {:<20}", "");
        for c in columns {
            let _ = write!(o, " {c:>12}");
        }
        o.push('\n');
        for cat in TruthCategory::ALL {
            let Some(row) = self.confusion.get(cat.name()) else {
                continue;
            };
            let _ = write!(o, "  {:<20}", cat.name());
            for c in columns {
                let _ = write!(o, " {:>12}", row.get(c).copied().unwrap_or(0));
            }
            o.push('\n');
        }
        o
    }
}

#[cfg(test)]
mod tests;
