//! Consolidating one station's findings into events over time. A station has two tracks: the
//! water track (deviations and exceedances) and the monitoring track (faults, silence, flags).
//! The water track opens in the manner of a binomial event discriminator — `k` anomalous
//! readings among the last `n` — or at once on a strong finding or two parameters moving
//! together; both tracks close after a quiet gap scaled to the slowest cadence involved.

use crate::config::EventsCfg;
use crate::events::{Event, EventKind, Segment};
use crate::model::{DetectorId, Finding, FindingKind, ParamId, StationId};
use crate::time::Millis;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};

/// Which track an event is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    /// Deviations and exceedances.
    Water,
    /// Instrument and station behaviour.
    Monitoring,
}

/// What one parameter did within an event.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamAgg {
    /// Most extreme value in the direction of change.
    pub peak: f64,
    /// When.
    pub peak_time: Millis,
    /// +1 / −1.
    pub direction: i8,
    /// Baseline at the first finding.
    pub baseline: Option<f64>,
    /// Best exceedance ratio seen (C/Cs), if any.
    pub ratio: Option<f64>,
    /// Longest sampling interval of the stream.
    pub interval: Millis,
}

/// An event being built.
#[derive(Debug, Clone)]
pub struct OpenEvent {
    /// Deterministic id.
    pub id: String,
    /// Track.
    pub track: TrackKind,
    /// Station.
    pub station: StationId,
    /// First finding.
    pub start: Millis,
    /// Last finding.
    pub end: Millis,
    /// Per parameter.
    pub params: BTreeMap<ParamId, ParamAgg>,
    /// Best score per detector.
    pub detectors: BTreeMap<DetectorId, f64>,
    /// Findings consolidated.
    pub findings: u32,
    /// Two or more parameters deviated at one instant, or a trained model alarmed.
    pub coherent: bool,
    /// Distinct instants with exceedance findings.
    pub exceedance_instants: u32,
    last_exceedance_instant: Millis,
    current_instant: Millis,
    instant_params: Vec<ParamId>,
    /// An upstream station saw the same pulse at the right lag.
    pub propagated: bool,
    /// The station was stuck or silent while a pulse passed it.
    pub tamper: bool,
    /// Source segment when localised.
    pub segment: Option<Segment>,
    /// Lead (incident) this event belongs to.
    pub lead: Option<String>,
}

impl OpenEvent {
    fn new(track: TrackKind, station: &StationId, start: Millis) -> Self {
        let digest = Sha256::digest(format!("event|{station}|{track:?}|{start}").as_bytes());
        let id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id: format!("E{id}"),
            track,
            station: station.clone(),
            start,
            end: start,
            params: BTreeMap::new(),
            detectors: BTreeMap::new(),
            findings: 0,
            coherent: false,
            exceedance_instants: 0,
            last_exceedance_instant: Millis::MIN,
            current_instant: Millis::MIN,
            instant_params: Vec::new(),
            propagated: false,
            tamper: false,
            segment: None,
            lead: None,
        }
    }

    fn add(&mut self, f: &Finding, interval: Millis) {
        if !opens(f) {
            // Supporting evidence only: it strengthens what the event already says about a
            // parameter, but neither adds parameters nor keeps the event alive.
            if self.params.contains_key(&f.parameter) {
                let best = self.detectors.entry(f.detector).or_insert(0.0);
                *best = best.max(f.score);
            }
            return;
        }
        self.findings += 1;
        self.end = self.end.max(f.time);
        self.start = self.start.min(f.time);
        let best = self.detectors.entry(f.detector).or_insert(0.0);
        *best = best.max(f.score);
        let agg = self.params.entry(f.parameter.clone()).or_insert(ParamAgg {
            peak: f.value,
            peak_time: f.time,
            direction: f.direction,
            baseline: f.baseline,
            ratio: None,
            interval,
        });
        agg.interval = agg.interval.max(interval);
        if agg.direction == 0 {
            agg.direction = f.direction;
        }
        let more_extreme = if agg.direction < 0 {
            f.value < agg.peak
        } else {
            f.value > agg.peak
        };
        if more_extreme && f.kind != FindingKind::Monitoring {
            agg.peak = f.value;
            agg.peak_time = f.time;
        }
        if f.kind == FindingKind::Exceedance {
            agg.ratio = Some(agg.ratio.map_or(f.statistic, |r| r.max(f.statistic)));
            if f.time != self.last_exceedance_instant {
                self.exceedance_instants += 1;
                self.last_exceedance_instant = f.time;
            }
        }
        if f.kind == FindingKind::Deviation && opens(f) {
            if f.time != self.current_instant {
                self.current_instant = f.time;
                self.instant_params.clear();
            }
            if !self.instant_params.contains(&f.parameter) {
                self.instant_params.push(f.parameter.clone());
            }
            // A trained model's alarm is itself a joint change of its features (the finding
            // names only the one that moved most), so it is coherent on its own.
            if self.instant_params.len() >= 2 || is_multivariate(f.detector) {
                self.coherent = true;
            }
        }
    }

    /// What the event is judged to be, from what it has gathered so far.
    pub fn kind(&self) -> EventKind {
        match self.track {
            TrackKind::Monitoring if self.tamper => EventKind::Tamper,
            TrackKind::Monitoring => EventKind::SensorFault,
            TrackKind::Water if self.coherent || self.propagated => EventKind::Discharge,
            TrackKind::Water if self.exceedance_instants >= 2 => EventKind::Exceedance,
            TrackKind::Water => EventKind::SensorFault,
        }
    }

    /// Highest score.
    pub fn score(&self) -> f64 {
        self.detectors.values().copied().fold(0.0, f64::max)
    }

    /// Whether the event ended: quiet for longer than the gap at `now`.
    fn is_quiet(&self, now: Millis, cfg: &EventsCfg) -> bool {
        let slowest = self.params.values().map(|p| p.interval).max().unwrap_or(0);
        let quiet = cfg
            .quiet_gap
            .max(slowest.saturating_mul(cfg.quiet_intervals as Millis));
        now - self.end > quiet
    }

    /// The record written to `events.jsonl`.
    pub fn record(&self) -> Event {
        Event {
            id: self.id.clone(),
            station: self.station.clone(),
            parameters: self.params.keys().cloned().collect(),
            start: self.start,
            end: self.end,
            score: (self.score() * 1000.0).round() / 1000.0,
            kind: self.kind(),
            detectors: self.detectors.keys().copied().collect(),
            segment: self.segment.clone(),
            lead: self.lead.clone(),
            findings: self.findings,
        }
    }
}

/// Whether a finding may open an event. EWMA and CUSUM react to autocorrelated noise and slow
/// natural change as much as to pollution (measured on the CANARY station data: most of their
/// alarms stood alone), so they only add evidence to events that other detectors opened.
fn opens(f: &Finding) -> bool {
    !matches!(f.detector, DetectorId::Ewma | DetectorId::Cusum)
}

/// Detectors that judge several parameters at once (trained models).
fn is_multivariate(d: DetectorId) -> bool {
    matches!(d, DetectorId::Pca | DetectorId::Gmm)
}

/// What a track did with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackChange {
    /// Nothing visible.
    None,
    /// An event opened.
    Opened,
    /// The open event grew.
    Extended,
}

/// One track of one station.
#[derive(Debug, Clone)]
pub struct Track {
    kind: TrackKind,
    /// The event being built, if any.
    pub open: Option<OpenEvent>,
    pending: VecDeque<(Finding, Millis)>,
    recent: VecDeque<(Millis, bool)>,
}

impl Track {
    /// An idle track.
    pub fn new(kind: TrackKind) -> Self {
        Self {
            kind,
            open: None,
            pending: VecDeque::new(),
            recent: VecDeque::new(),
        }
    }

    /// Notes that the station reported at `t` (one instant of the k-of-n window).
    pub fn instant(&mut self, t: Millis, cfg: &EventsCfg) {
        if self.recent.back().is_none_or(|(last, _)| *last < t) {
            self.recent.push_back((t, false));
            while self.recent.len() > cfg.n {
                self.recent.pop_front();
            }
            let oldest = self.recent.front().map_or(t, |r| r.0);
            while self.pending.front().is_some_and(|(f, _)| f.time < oldest) {
                self.pending.pop_front();
            }
        }
    }

    /// Closes the open event if it has been quiet long enough at `now`.
    pub fn close_if_quiet(&mut self, now: Millis, cfg: &EventsCfg) -> Option<OpenEvent> {
        if self.open.as_ref().is_some_and(|e| e.is_quiet(now, cfg)) {
            return self.open.take();
        }
        None
    }

    /// Feeds one finding (with its stream's interval).
    pub fn add(&mut self, f: &Finding, interval: Millis, cfg: &EventsCfg) -> TrackChange {
        if let Some(e) = self.open.as_mut() {
            e.add(f, interval);
            return TrackChange::Extended;
        }
        self.pending.push_back((f.clone(), interval));
        if !opens(f) {
            return TrackChange::None;
        }
        if let Some(r) = self.recent.back_mut().filter(|r| r.0 == f.time) {
            r.1 = true;
        }
        let anomalous = self.recent.iter().filter(|r| r.1).count();
        let strong = f.score >= cfg.strong_score;
        let mut params_now: Vec<&ParamId> = self
            .pending
            .iter()
            .filter(|(p, _)| p.time == f.time && p.kind == FindingKind::Deviation && opens(p))
            .map(|(p, _)| &p.parameter)
            .collect();
        params_now.sort();
        params_now.dedup();
        let open = match self.kind {
            TrackKind::Monitoring => true,
            TrackKind::Water => strong || params_now.len() >= 2 || anomalous >= cfg.k,
        };
        if !open {
            return TrackChange::None;
        }
        let start = self
            .pending
            .iter()
            .filter(|(p, _)| opens(p))
            .map(|(p, _)| p.time)
            .min()
            .unwrap_or(f.time);
        let mut e = OpenEvent::new(self.kind, &f.station, start);
        let (opening, supporting): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|(p, _)| opens(p));
        for (p, iv) in opening.iter().chain(&supporting) {
            e.add(p, *iv);
        }
        self.open = Some(e);
        TrackChange::Opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn finding(t: Millis, p: &str, kind: FindingKind, score: f64) -> Finding {
        Finding {
            detector: DetectorId::RobustZ,
            kind,
            station: "S".into(),
            parameter: p.into(),
            time: t,
            score,
            value: 1.0,
            statistic: 7.0,
            threshold: 6.0,
            baseline: Some(0.5),
            direction: 1,
            explanation: String::new(),
        }
    }

    #[test]
    fn k_of_n_opens_and_quiet_gap_closes() {
        let cfg = Config::embedded().thresholds.events;
        let mut tr = Track::new(TrackKind::Water);
        let iv = 300_000;
        tr.instant(0, &cfg);
        assert_eq!(
            tr.add(&finding(0, "nh3n", FindingKind::Deviation, 0.55), iv, &cfg),
            TrackChange::None
        );
        tr.instant(iv, &cfg);
        tr.instant(2 * iv, &cfg);
        assert_eq!(
            tr.add(
                &finding(2 * iv, "nh3n", FindingKind::Deviation, 0.55),
                iv,
                &cfg
            ),
            TrackChange::Opened
        );
        let e = tr.open.as_ref().unwrap();
        assert_eq!((e.start, e.end, e.findings), (0, 2 * iv, 2));
        assert_eq!(
            e.kind(),
            EventKind::SensorFault,
            "one parameter, no exceedance"
        );
        assert!(tr.close_if_quiet(2 * iv + cfg.quiet_gap, &cfg).is_none());
        let closed = tr.close_if_quiet(2 * iv + cfg.quiet_gap + 1, &cfg).unwrap();
        assert_eq!(closed.record().findings, 2);
    }

    #[test]
    fn two_parameters_together_open_a_discharge_at_once() {
        let cfg = Config::embedded().thresholds.events;
        let mut tr = Track::new(TrackKind::Water);
        tr.instant(0, &cfg);
        assert_eq!(
            tr.add(&finding(0, "nh3n", FindingKind::Deviation, 0.55), 1, &cfg),
            TrackChange::None
        );
        assert_eq!(
            tr.add(&finding(0, "cond", FindingKind::Deviation, 0.55), 1, &cfg),
            TrackChange::Opened
        );
        assert_eq!(tr.open.as_ref().unwrap().kind(), EventKind::Discharge);
    }

    #[test]
    fn isolated_weak_findings_do_not_open() {
        let cfg = Config::embedded().thresholds.events;
        let mut tr = Track::new(TrackKind::Water);
        for i in 0..50 {
            tr.instant(i, &cfg);
            if i % 10 == 0 {
                assert_eq!(
                    tr.add(&finding(i, "ph", FindingKind::Deviation, 0.6), 1, &cfg),
                    TrackChange::None
                );
            }
        }
        assert!(tr.open.is_none());
    }
}
