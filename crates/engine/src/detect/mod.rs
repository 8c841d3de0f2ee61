//! The detection engine: one deterministic function of (config, readings in event-time order).
//! The live service and `replay` both drive it through [`Engine::push`] and
//! [`Engine::finish`]; it owns per-stream detector state, per-station event tracks, the
//! upstream/downstream comparison and the incidents behind leads. It never reads a clock: the
//! newest event time seen is "now".

mod incident;
pub(crate) mod multivariate;
mod profile;
mod spatial;
mod stream;
mod track;
mod window;

pub use stream::Admission;
pub use window::RollingWindow;

use crate::config::{Config, DetectorSettings, Station};
use crate::events::Event;
use crate::leads::Lead;
use crate::model::{DataFlag, Finding, FindingKind, ParamId, Reading, StationId};
use crate::models::{ModelError, MultivariateModel, Scorer};
use crate::params;
use crate::time::{Millis, MINUTE};
use incident::{Incident, StreamFacts};
use multivariate::Multivariate;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use stream::{Context, Stream};
use track::{OpenEvent, Track, TrackChange, TrackKind};

/// How often (event time) silent streams and quiet events are swept.
const SWEEP_EVERY: Millis = 5 * MINUTE;

/// One reading's score, for `detect --scores`.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Event time.
    pub time: Millis,
    /// Station.
    pub station: StationId,
    /// Parameter.
    pub parameter: ParamId,
    /// Highest detector score on the reading, in [0, 1].
    pub score: f64,
}

/// What the engine produced since the caller last drained it.
#[derive(Debug, Default)]
pub struct Output {
    /// Findings (only when [`Engine::keep_findings`] is on).
    pub findings: Vec<Finding>,
    /// Events that closed (or were reclassified after closing: the later record wins).
    pub events: Vec<Event>,
    /// New lead revisions.
    pub leads: Vec<Lead>,
    /// Per-reading scores (only when [`Engine::keep_scores`] is on).
    pub scores: Vec<Score>,
}

/// Counters of what the engine did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Readings judged.
    pub judged: u64,
    /// Readings skipped as duplicates (same stream and time).
    pub duplicates: u64,
    /// Readings skipped as later than the allowed lateness.
    pub late: u64,
    /// Readings judged before their stream had enough history for the baseline detectors.
    pub without_history: u64,
    /// Findings made.
    pub findings: u64,
    /// Events closed.
    pub events: u64,
    /// Lead revisions emitted.
    pub lead_revisions: u64,
}

/// One reading as a station keeps it: the station is the one holding it, the time that of its
/// instant and the parameter a slot of its parameter table, so holding a reading back clones no
/// names. `seq` is its place in the engine's arrival order.
#[derive(Clone, Copy)]
struct Held {
    seq: u64,
    slot: usize,
    value: f64,
    flag: DataFlag,
}

/// A station's readings at one instant held back for reordering, in arrival order: a station
/// sends its parameters together, so queueing, releasing and the per-instant steps of
/// `process` are paid once for all of them.
struct Pending {
    time: Millis,
    readings: Vec<Held>,
}

fn models_of(all: &[Multivariate], station: &StationId) -> Vec<usize> {
    (0..all.len())
        .filter(|&i| all[i].station() == station)
        .collect()
}

/// A past (or open) event remembered for the upstream/downstream comparison.
#[derive(Debug, Clone)]
struct PastEvent {
    track: TrackKind,
    start: Millis,
    end: Millis,
    lead: Option<String>,
    /// Silent or stuck: the station was not really watching.
    blind: bool,
    snapshot: OpenEvent,
}

struct StationRt {
    id: StationId,
    cfg: Option<Station>,
    streams: Vec<(ParamId, usize)>,
    /// Parameters seen, in order of arrival, with their stream once one was made (streams are
    /// made when a reading is judged, in event-time order, as before reordering existed).
    params: Vec<(ParamId, Option<usize>)>,
    /// The slot the next reading probably uses (stations send their parameters in a fixed
    /// order): tried before searching.
    next_slot: usize,
    /// Held-back instants, in time order.
    queue: VecDeque<Pending>,
    max_time: Millis,
    /// The event time the tracks were last told of: a station sends all its parameters at one
    /// instant, and only the first of them can start an instant or find an event quiet.
    instant: Millis,
    water: Track,
    monitoring: Track,
    history: VecDeque<PastEvent>,
    /// Indices into `Engine::multivariate` of the models watching this station.
    models: Vec<usize>,
}

/// The detection engine. See the module docs.
pub struct Engine {
    cfg: Arc<Config>,
    model_versions: Vec<String>,
    stations: Vec<StationRt>,
    by_station: FxHashMap<StationId, usize>,
    streams: Vec<Stream>,
    /// The default detector settings, shared by every stream they apply to (nearly all): one
    /// copy stays in cache instead of one per stream.
    default_settings: Arc<DetectorSettings>,
    watermark: Millis,
    next_sweep: Millis,
    incidents: BTreeMap<String, Incident>,
    stats: Stats,
    buf: Vec<Finding>,
    seq: u64,
    keep_findings: bool,
    keep_scores: bool,
    /// The station of the previous reading: tried before hashing (feeds come in runs of one
    /// station). An index, so remembering it clones no name.
    last_station: usize,
    /// Emptied reading lists of released instants, reused for new ones.
    spare: Vec<Vec<Held>>,
    multivariate: Vec<Multivariate>,
}

impl Engine {
    /// An engine with no state yet.
    pub fn new(cfg: Arc<Config>) -> Self {
        Self {
            default_settings: Arc::new(cfg.thresholds.defaults),
            cfg,
            model_versions: vec![],
            stations: vec![],
            by_station: FxHashMap::default(),
            streams: vec![],
            watermark: Millis::MIN,
            next_sweep: Millis::MIN,
            incidents: BTreeMap::new(),
            stats: Stats::default(),
            buf: vec![],
            seq: 0,
            keep_findings: false,
            keep_scores: false,
            last_station: usize::MAX,
            spare: vec![],
            multivariate: vec![],
        }
    }

    /// Replaces the trained multivariate models (at start and on reload). Models that fail
    /// their checks are left out and returned with the reason; the others are used, and the
    /// rest of the engine runs either way. Leads carry the versions of the models in use. A
    /// model equal to one already in use keeps its state (rolling baseline, persistence).
    pub fn set_models(&mut self, models: Vec<MultivariateModel>) -> Vec<ModelError> {
        let mut refused = Vec::new();
        // A model that is the same as before keeps its rolling baseline and persistence window
        // (as in a replay, which loads the models once); a new or changed one starts cold.
        let mut before = std::mem::take(&mut self.multivariate);
        for m in models {
            if let Some(i) = before.iter().position(|d| *d.model() == m) {
                self.multivariate.push(before.swap_remove(i));
                continue;
            }
            match Scorer::new(m) {
                Ok(s) => self.multivariate.push(Multivariate::new(s)),
                Err(e) => refused.push(e),
            }
        }
        self.model_versions = self.multivariate.iter().map(|m| m.version()).collect();
        self.model_versions.sort();
        for st in &mut self.stations {
            st.models = models_of(&self.multivariate, &st.id);
        }
        refused
    }

    /// Also return every finding in [`Output::findings`].
    pub fn keep_findings(mut self, on: bool) -> Self {
        self.keep_findings = on;
        self
    }

    /// Also return every reading's score in [`Output::scores`].
    pub fn keep_scores(mut self, on: bool) -> Self {
        self.keep_scores = on;
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// Replaces the configuration (threshold reload). Streams created from now on use it;
    /// existing streams keep their learnt state but take the new thresholds.
    pub fn set_config(&mut self, cfg: Arc<Config>) {
        self.default_settings = Arc::new(cfg.thresholds.defaults);
        self.cfg = cfg;
        // New quiet gaps may find an event quiet at an instant already seen.
        for st in &mut self.stations {
            st.instant = Millis::MIN;
        }
        let streams = std::mem::take(&mut self.streams);
        self.streams = streams
            .into_iter()
            .map(|s| self.rebuild_stream_settings(s))
            .collect();
    }

    fn rebuild_stream_settings(&self, s: Stream) -> Stream {
        let fresh = self.make_stream(&s.station, &s.parameter);
        s.with_settings_of(fresh)
    }

    /// Whether the engine still holds the incident behind lead `id`, so may revise it again
    /// (a closed lead too, until the events that could still join it are past).
    pub fn holds_lead(&self, id: &str) -> bool {
        self.incidents.contains_key(id)
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The newest event time seen.
    pub fn watermark(&self) -> Millis {
        self.watermark
    }

    fn station_index(&mut self, id: &StationId) -> usize {
        let last = self.last_station;
        if self.stations.get(last).is_some_and(|s| s.id == *id) {
            return last;
        }
        if let Some(&i) = self.by_station.get(id) {
            self.last_station = i;
            return i;
        }
        self.last_station = self.stations.len();
        let cfg = self.cfg.stations.get(id.as_str()).cloned();
        self.stations.push(StationRt {
            id: id.clone(),
            cfg,
            streams: vec![],
            params: vec![],
            next_slot: 0,
            queue: VecDeque::new(),
            max_time: Millis::MIN,
            instant: Millis::MIN,
            water: Track::new(TrackKind::Water),
            monitoring: Track::new(TrackKind::Monitoring),
            history: VecDeque::new(),
            models: models_of(&self.multivariate, id),
        });
        self.by_station.insert(id.clone(), self.stations.len() - 1);
        self.stations.len() - 1
    }

    fn make_stream(&self, station: &StationId, parameter: &ParamId) -> Stream {
        let cfg = &self.cfg;
        let settings = cfg
            .thresholds
            .for_stream(station.as_str(), parameter.as_str());
        let settings = if settings == *self.default_settings {
            self.default_settings.clone()
        } else {
            Arc::new(settings)
        };
        let st = cfg.stations.get(station.as_str());
        let class = st.map_or(cfg.thresholds.engine.default_class, |s| s.target_class);
        let body = st.map(|s| s.water_body).unwrap_or_default();
        let limit = cfg
            .gb3838
            .limit(parameter.as_str(), class, body)
            .map(|l| (l, class));
        Stream::new(
            station.clone(),
            parameter.clone(),
            params::lookup(parameter.as_str()),
            settings,
            limit,
        )
    }

    fn stream_index(&mut self, si: usize, parameter: &ParamId) -> usize {
        if let Some((_, i)) = self.stations[si]
            .streams
            .iter()
            .find(|(p, _)| p == parameter)
        {
            return *i;
        }
        let s = self.make_stream(&self.stations[si].id, parameter);
        self.streams.push(s);
        let i = self.streams.len() - 1;
        self.stations[si].streams.push((parameter.clone(), i));
        i
    }

    /// The slot of `parameter` in a station's parameter table, added when new.
    fn param_slot(st: &mut StationRt, parameter: &ParamId) -> usize {
        let hint = st.next_slot;
        let slot = match st.params.get(hint).filter(|(p, _)| p == parameter) {
            Some(_) => hint,
            None => match st.params.iter().position(|(p, _)| p == parameter) {
                Some(i) => i,
                None => {
                    st.params.push((parameter.clone(), None));
                    st.params.len() - 1
                }
            },
        };
        st.next_slot = if slot + 1 == st.params.len() {
            0
        } else {
            slot + 1
        };
        slot
    }

    /// Feeds one reading. Readings of one station are reordered within the allowed lateness;
    /// older ones are counted in [`Stats::late`] and skipped.
    pub fn push(&mut self, r: &Reading, out: &mut Output) {
        let si = self.station_index(&r.station);
        let lateness = self.cfg.thresholds.engine.allowed_lateness;
        self.seq += 1;
        let st = &mut self.stations[si];
        st.max_time = st.max_time.max(r.time);
        let held = Held {
            seq: self.seq,
            slot: Self::param_slot(st, &r.parameter),
            value: r.value,
            flag: r.flag,
        };
        if lateness == 0 {
            self.process(si, r.time, &[held], out);
            return;
        }
        // Kept in time order; a reading at a held instant joins it after the earlier arrivals.
        // In-order arrivals (nearly all) join or open the instant at the back. `at`: where a
        // new instant goes; none when the reading joined a held one.
        let at = match st.queue.back_mut() {
            Some(b) if b.time == r.time => {
                b.readings.push(held);
                None
            }
            Some(b) if b.time < r.time => Some(st.queue.len()),
            None => Some(0),
            Some(_) => {
                let after = st.queue.partition_point(|p| p.time <= r.time);
                match after.checked_sub(1).map(|i| &mut st.queue[i]) {
                    Some(p) if p.time == r.time => {
                        p.readings.push(held);
                        None
                    }
                    _ => Some(after),
                }
            }
        };
        if let Some(at) = at {
            let mut readings = self.spare.pop().unwrap_or_default();
            readings.push(held);
            st.queue.insert(
                at,
                Pending {
                    time: r.time,
                    readings,
                },
            );
        }
        let upto = st.max_time.saturating_sub(lateness);
        self.release(si, upto, out);
    }

    fn release(&mut self, si: usize, upto: Millis, out: &mut Output) {
        loop {
            let queue = &mut self.stations[si].queue;
            if queue.front().is_none_or(|p| p.time > upto) {
                return;
            }
            let Some(mut p) = queue.pop_front() else {
                return;
            };
            self.process(si, p.time, &p.readings, out);
            p.readings.clear();
            self.spare.push(p.readings);
        }
    }

    /// Ends the input: releases queued readings, closes every open event and finalises leads.
    pub fn finish(&mut self, out: &mut Output) {
        // Release what is still held back in global (time, arrival) order, as if it had
        // arrived in order: station by station would let one station's last hours make the
        // others look silent.
        let mut held: Vec<(Millis, Held, usize)> = vec![];
        for (si, st) in self.stations.iter_mut().enumerate() {
            for p in st.queue.drain(..) {
                held.extend(p.readings.iter().map(|h| (p.time, *h, si)));
            }
        }
        held.sort_by_key(|(t, h, _)| (*t, h.seq));
        for (t, h, si) in held {
            self.process(si, t, &[h], out);
        }
        for si in 0..self.stations.len() {
            for kind in [TrackKind::Water, TrackKind::Monitoring] {
                let track = self.track_mut(si, kind);
                if let Some(e) = track.open.take() {
                    self.on_close(si, e, out);
                }
            }
        }
    }

    fn track_mut(&mut self, si: usize, kind: TrackKind) -> &mut Track {
        match kind {
            TrackKind::Water => &mut self.stations[si].water,
            TrackKind::Monitoring => &mut self.stations[si].monitoring,
        }
    }

    /// The stream of a station's parameter slot, made on first use.
    fn slot_stream(&mut self, si: usize, slot: usize) -> usize {
        if let Some(i) = self.stations[si].params[slot].1 {
            return i;
        }
        let parameter = self.stations[si].params[slot].0.clone();
        let i = self.stream_index(si, &parameter);
        self.stations[si].params[slot].1 = Some(i);
        i
    }

    /// Judges a station's readings at instant `t`, in order.
    fn process(&mut self, si: usize, t: Millis, readings: &[Held], out: &mut Output) {
        if t > self.watermark {
            self.watermark = t;
            if self.watermark >= self.next_sweep {
                self.sweep(out);
                self.next_sweep = self.watermark + SWEEP_EVERY;
            }
        }
        for &r in readings {
            self.judge(si, t, r, out);
        }
    }

    fn judge(&mut self, si: usize, t: Millis, r: Held, out: &mut Output) {
        let idx = self.slot_stream(si, r.slot);
        let st = &self.stations[si];
        let maintenance = st
            .cfg
            .as_ref()
            .is_some_and(|s| s.in_maintenance(st.params[r.slot].0.as_str(), t));
        self.buf.clear();
        let stream = &mut self.streams[idx];
        let had_history = stream.has_history();
        let ctx = Context { maintenance };
        let (adm, score) = stream.observe(t, r.value, r.flag, &ctx, &mut self.buf);
        match adm {
            Admission::Duplicate => self.stats.duplicates += 1,
            Admission::Late => self.stats.late += 1,
            Admission::Judged => {
                self.stats.judged += 1;
                if !had_history {
                    self.stats.without_history += 1;
                }
                let st = &self.stations[si];
                if self.keep_scores {
                    out.scores.push(Score {
                        time: t,
                        station: st.id.clone(),
                        parameter: st.params[r.slot].0.clone(),
                        score,
                    });
                }
                if !maintenance && r.flag.is_measurement() && !st.models.is_empty() {
                    let cfg = self.cfg.thresholds.models;
                    let parameter = &st.params[r.slot].0;
                    for &m in &st.models {
                        let buf = &mut self.buf;
                        self.multivariate[m].observe(parameter, t, r.value, &cfg, buf);
                    }
                }
                self.next_instant(si, t, out);
                // Nearly every reading finds nothing: route (and move the buffer) only then.
                if !self.buf.is_empty() {
                    let interval = self.streams[idx].interval().unwrap_or(0);
                    let buf = std::mem::take(&mut self.buf);
                    self.route(si, &buf, interval, out);
                    self.buf = buf;
                }
            }
        }
    }

    /// Tells a station's tracks of a judged reading at `t` (an instant of their k-of-n windows)
    /// and closes their events that have gone quiet. Once per station instant: the station's
    /// other readings at the same `t` would change neither (an instant is counted once; an
    /// event not quiet at `t` stays so, as its end and quiet gap only grow until `t` moves).
    fn next_instant(&mut self, si: usize, t: Millis, out: &mut Output) {
        let st = &mut self.stations[si];
        if st.instant == t {
            return;
        }
        st.instant = t;
        let events_cfg = self.cfg.thresholds.events;
        for kind in [TrackKind::Water, TrackKind::Monitoring] {
            let track = self.track_mut(si, kind);
            track.instant(t, &events_cfg);
            if let Some(e) = track.close_if_quiet(t, &events_cfg) {
                self.on_close(si, e, out);
            }
        }
    }

    fn route(&mut self, si: usize, findings: &[Finding], interval: Millis, out: &mut Output) {
        let events_cfg = self.cfg.thresholds.events;
        for f in findings {
            self.stats.findings += 1;
            let kind = if f.kind == FindingKind::Monitoring {
                TrackKind::Monitoring
            } else {
                TrackKind::Water
            };
            let change = self.track_mut(si, kind).add(f, interval, &events_cfg);
            match change {
                TrackChange::None => {}
                TrackChange::Opened => self.on_open(si, kind, out),
                TrackChange::Extended => self.on_update(si, kind, out),
            }
            if self.keep_findings {
                out.findings.push(f.clone());
            }
        }
    }

    /// Checks every stream for silence and every open event for quiet, at the watermark.
    fn sweep(&mut self, out: &mut Output) {
        let now = self.watermark;
        let events_cfg = self.cfg.thresholds.events;
        for si in 0..self.stations.len() {
            // Events the sweep opens (silence) may end before an instant already seen: let
            // the station's next reading check them again.
            self.stations[si].instant = Millis::MIN;
            for kind in [TrackKind::Water, TrackKind::Monitoring] {
                if let Some(e) = self.track_mut(si, kind).close_if_quiet(now, &events_cfg) {
                    self.on_close(si, e, out);
                }
            }
            let mut buf = Vec::new();
            let mut interval = 0;
            for &(_, idx) in &self.stations[si].streams {
                let before = buf.len();
                self.streams[idx].check_silence(now, &mut buf);
                if buf.len() > before {
                    interval = interval.max(self.streams[idx].interval().unwrap_or(0));
                }
            }
            if !buf.is_empty() {
                buf.sort_by_key(|f| f.time);
                self.route(si, &buf, interval, out);
            }
        }
        self.prune_history(now);
    }

    fn prune_history(&mut self, now: Millis) {
        let keep = self
            .cfg
            .stations
            .list
            .iter()
            .flat_map(|s| s.upstream.iter().filter_map(|u| u.1))
            .max()
            .unwrap_or(0)
            * 2
            + self.cfg.thresholds.spatial.min_tolerance
            + self.cfg.thresholds.events.quiet_gap;
        for st in &mut self.stations {
            while st.history.front().is_some_and(|p| p.end < now - keep) {
                st.history.pop_front();
            }
        }
        self.incidents.retain(|_, i| !i.is_done_before(now - keep));
    }

    fn facts<'a>(
        streams: &'a [Stream],
        stations: &'a [StationRt],
        by: &'a FxHashMap<StationId, usize>,
    ) -> impl Fn(&StationId, &ParamId) -> StreamFacts + 'a {
        move |s, p| {
            let idx = by
                .get(s)
                .and_then(|&si| stations[si].streams.iter().find(|(q, _)| q == p))
                .map(|(_, i)| *i);
            match idx {
                Some(i) => StreamFacts {
                    unit: streams[i].unit(),
                    limit: streams[i].limit(),
                },
                None => StreamFacts {
                    unit: "",
                    limit: None,
                },
            }
        }
    }

    fn on_open(&mut self, si: usize, kind: TrackKind, out: &mut Output) {
        if kind == TrackKind::Water {
            self.compare_upstream(si, out);
        }
        self.on_update(si, kind, out);
    }

    fn on_update(&mut self, si: usize, kind: TrackKind, out: &mut Output) {
        let Some(e) = self.track_mut(si, kind).open.clone() else {
            return;
        };
        if let Some(lead) = self.sync_incident(si, &e, true, None, out) {
            if let Some(open) = self.track_mut(si, kind).open.as_mut() {
                open.lead = Some(lead);
            }
        }
    }

    fn on_close(&mut self, si: usize, mut e: OpenEvent, out: &mut Output) {
        if let Some(lead) = self.sync_incident(si, &e, false, None, out) {
            e.lead = Some(lead);
        }
        self.stats.events += 1;
        out.events.push(e.record());
        let blind = e
            .detectors
            .keys()
            .any(|d| matches!(d, crate::DetectorId::Gap | crate::DetectorId::Flatline));
        self.stations[si].history.push_back(PastEvent {
            track: e.track,
            start: e.start,
            end: e.end,
            lead: e.lead.clone(),
            blind,
            snapshot: e,
        });
    }

    /// Creates or updates the incident behind an event when it deserves a lead; returns its id.
    fn sync_incident(
        &mut self,
        si: usize,
        e: &OpenEvent,
        still_open: bool,
        note: Option<String>,
        out: &mut Output,
    ) -> Option<String> {
        use crate::events::EventKind;
        let min_mon = self.cfg.thresholds.events.min_monitoring_duration;
        let deserves = match e.kind() {
            EventKind::Discharge | EventKind::Exceedance | EventKind::Tamper => true,
            EventKind::SensorFault => e.end - e.start >= min_mon,
        };
        if e.lead.is_none() && !deserves {
            return None;
        }
        let id = match &e.lead {
            Some(id) if self.incidents.contains_key(id) => id.clone(),
            _ => {
                let river = self.stations[si]
                    .cfg
                    .as_ref()
                    .map(|s| s.river.clone())
                    .filter(|r| !r.is_empty());
                let inc = Incident::new(e, river);
                let id = inc.id.clone();
                self.incidents.insert(id.clone(), inc);
                id
            }
        };
        let facts = Self::facts(&self.streams, &self.stations, &self.by_station);
        let inc = self.incidents.get_mut(&id).expect("inserted above");
        inc.absorb(e, still_open, facts);
        if let Some(n) = note {
            inc.note(n);
        }
        if let Some(lead) = inc.revise(&self.cfg.hash, &self.model_versions) {
            self.stats.lead_revisions += 1;
            out.leads.push(lead);
        }
        Some(id)
    }
}

#[cfg(test)]
mod tests;
