//! The generator: walks time in probe-interval ticks and, per tick, emits every due reading of
//! every station (stations interleaved, time order), applying the planned effects on top of the
//! undisturbed baseline and recording in the truth what each effect actually changed.
//!
//! Per reading the baseline is computed first and its noise stream always advanced, whatever
//! the effects do; effects are then layered: water (`Add`) → instrument hold → dropped reading.
//! So the same seed without injections yields the same baseline, reading for reading.

use super::baseline::{ar_coefficient, Clock, SimParam, StationBaseline};
use super::effect::{Action, Effect};
use super::network::Network;
use super::rng::Rng;
use super::scenario::{plan, Ctx, Scenario, TruthDraft};
use super::truth::{SimulationHeader, TruthFile, TruthRecord, TruthStation};
use crate::config::{Gb3838, Stations};
use crate::model::{DataFlag, ParamId, Reading, StationId};
use crate::time::{Millis, DAY, MAX_PLAUSIBLE, MINUTE, MIN_PLAUSIBLE, SECOND};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Preset.
    pub scenario: Scenario,
    /// Seed: the same seed, options and network give byte-identical readings.
    pub seed: u64,
    /// First reading time.
    pub start: Millis,
    /// Length of the period.
    pub duration: Millis,
    /// Probe sampling interval (temp, pH, DO, conductivity, turbidity).
    pub interval: Millis,
    /// Analyser sampling interval (CODMn, NH3-N, TP, TN); a multiple of `interval`.
    pub analyser_interval: Millis,
    /// Apply the scenario's injections; false gives the undisturbed baseline of the same seed.
    pub inject: bool,
}

impl SimOptions {
    /// Options with the default cadences (probes every 5 minutes, analysers every 4 hours)
    /// and injections on.
    pub fn new(scenario: Scenario, seed: u64, start: Millis, duration: Millis) -> Self {
        Self {
            scenario,
            seed,
            start,
            duration,
            interval: DEFAULT_INTERVAL,
            analyser_interval: DEFAULT_ANALYSER_INTERVAL,
            inject: true,
        }
    }
}

/// Options that cannot be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot simulate: {0}")]
pub struct SimError(pub String);

/// One simulated reading; `station` indexes [`Simulator::station_ids`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimReading {
    /// Time.
    pub time: Millis,
    /// Station index.
    pub station: usize,
    /// Parameter.
    pub param: SimParam,
    /// Value, rounded to the parameter's resolution.
    pub value: f64,
}

/// Where and how one truth showed at one station so far.
#[derive(Debug, Clone)]
struct Track {
    station: usize,
    first: Millis,
    last: Millis,
    params: u16,
    peak_ratio: Option<f64>,
}

/// Per station-and-parameter state.
#[derive(Debug, Clone, Copy)]
struct Stream {
    noise: f64,
    innovation: f64,
    phi: f64,
    last: f64,
    held: Option<f64>,
}

/// A seeded, deterministic river simulator. Call [`Simulator::next_tick`] until it returns
/// None, then take the ground truth with [`Simulator::truth`].
pub struct Simulator {
    opts: SimOptions,
    ids: Vec<StationId>,
    base: Vec<StationBaseline>,
    noise: Vec<Rng>,
    streams: Vec<[Stream; 9]>,
    effects: Vec<Vec<Effect>>,
    next_effect: Vec<usize>,
    active: Vec<Vec<usize>>,
    drafts: Vec<TruthDraft>,
    tracks: Vec<Vec<Track>>,
    tick: i64,
    ticks: i64,
    analyser_every: i64,
    scale: [f64; 9],
    bounds: [(f64, f64); 9],
}

impl Simulator {
    /// Plans a run over `stations` with the GB 3838 limits in `gb`.
    pub fn new(stations: &Stations, gb: &Gb3838, opts: SimOptions) -> Result<Self, SimError> {
        let bad = |m: &str| Err(SimError(m.to_string()));
        if stations.list.is_empty() {
            return bad("the network has no stations");
        }
        if opts.interval < SECOND || opts.interval > DAY {
            return bad("the sampling interval must be between 1 s and 1 day");
        }
        if opts.analyser_interval < opts.interval || opts.analyser_interval % opts.interval != 0 {
            return bad("the analyser interval must be a whole multiple of the sampling interval");
        }
        if opts.duration <= 0 || opts.duration > 3660 * DAY {
            return bad("the duration must be positive and at most ten years");
        }
        if opts.start < MIN_PLAUSIBLE || opts.start + opts.duration > MAX_PLAUSIBLE {
            return bad("the period must lie between 1990 and 2100");
        }
        let net = Network::new(stations);
        let mut levels = Rng::new(opts.seed, 1);
        let base: Vec<StationBaseline> = stations
            .list
            .iter()
            .map(|s| StationBaseline::draw(s, gb, &mut levels))
            .collect();
        let ctx = Ctx {
            stations,
            net: &net,
            base: &base,
            start: opts.start,
            end: opts.start + opts.duration,
            interval: opts.interval,
            analyser: opts.analyser_interval,
        };
        let planned = if opts.inject {
            plan(&ctx, opts.scenario, &mut Rng::new(opts.seed, 2))
        } else {
            Default::default()
        };
        let n = base.len();
        let mut effects = vec![Vec::new(); n];
        for e in planned.effects {
            if e.end >= ctx.start && e.start < ctx.end {
                effects[e.station].push(e);
            }
        }
        for list in &mut effects {
            list.sort_by_key(|e| (e.start, e.end, e.truth));
        }
        let streams = base
            .iter()
            .map(|b| {
                std::array::from_fn(|i| {
                    let p = SimParam::ALL[i];
                    let iv = if p.is_probe() {
                        opts.interval
                    } else {
                        opts.analyser_interval
                    };
                    let phi = ar_coefficient(p, iv);
                    let sd = b.noise_sd[i];
                    Stream {
                        noise: 0.0,
                        innovation: sd * (1.0 - phi * phi).sqrt(),
                        phi,
                        last: f64::NAN,
                        held: None,
                    }
                })
            })
            .collect();
        let bounds = std::array::from_fn(|i| {
            let p = SimParam::ALL[i];
            crate::params::lookup(p.id()).map_or((0.0, f64::MAX), |info| {
                (info.range.0.max(0.0), info.range.1)
            })
        });
        Ok(Self {
            ids: stations.list.iter().map(|s| s.id.clone()).collect(),
            noise: (0..n)
                .map(|i| Rng::new(opts.seed, 1000 + i as u64))
                .collect(),
            streams,
            next_effect: vec![0; n],
            active: vec![Vec::new(); n],
            tracks: vec![Vec::new(); planned.truths.len()],
            drafts: planned.truths,
            effects,
            base,
            tick: 0,
            ticks: (opts.duration + opts.interval - 1) / opts.interval,
            analyser_every: opts.analyser_interval / opts.interval,
            scale: std::array::from_fn(|i| 10f64.powi(SimParam::ALL[i].decimals() as i32)),
            bounds,
            opts,
        })
    }

    /// Station ids, indexed by [`SimReading::station`].
    pub fn station_ids(&self) -> &[StationId] {
        &self.ids
    }

    /// A simulated reading as the engine's [`Reading`] (flag `N`), e.g. to publish it.
    pub fn to_reading(&self, r: &SimReading) -> Reading {
        Reading {
            station: self.ids[r.station].clone(),
            parameter: ParamId::new(r.param.id()),
            time: r.time,
            value: r.value,
            flag: DataFlag::N,
        }
    }

    /// Ticks done and in total (for progress reporting).
    pub fn progress(&self) -> (u64, u64) {
        (self.tick as u64, self.ticks as u64)
    }

    /// Fills `out` with the readings of the next timestamp and returns it; None when done.
    /// A tick may be empty (every station silent).
    pub fn next_tick(&mut self, out: &mut Vec<SimReading>) -> Option<Millis> {
        out.clear();
        if self.tick >= self.ticks {
            return None;
        }
        let t = self.opts.start + self.tick * self.opts.interval;
        let analysers = self.tick % self.analyser_every == 0;
        self.tick += 1;
        let clock = Clock::at(t);
        for s in 0..self.base.len() {
            self.update_active(s, t);
            for i in 0..self.base[s].params.len() {
                let p = self.base[s].params[i];
                if p.is_probe() || analysers {
                    if let Some(value) = self.reading(s, p, t, &clock) {
                        out.push(SimReading {
                            time: t,
                            station: s,
                            param: p,
                            value,
                        });
                    }
                }
            }
        }
        Some(t)
    }

    fn update_active(&mut self, s: usize, t: Millis) {
        let list = &self.effects[s];
        let active = &mut self.active[s];
        active.retain(|&i| list[i].end >= t);
        while self.next_effect[s] < list.len() && list[self.next_effect[s]].start <= t {
            if list[self.next_effect[s]].end >= t {
                active.push(self.next_effect[s]);
            }
            self.next_effect[s] += 1;
        }
    }

    /// One reading: baseline + noise, then the active effects. None when it is dropped.
    fn reading(&mut self, s: usize, p: SimParam, t: Millis, clock: &Clock) -> Option<f64> {
        let pi = p as usize;
        let z = self.noise[s].normal();
        let st = &mut self.streams[s][pi];
        st.noise = st.phi * st.noise + st.innovation * z;
        let undisturbed = self.base[s].mean(p, clock) + st.noise;
        let mut v = undisturbed;
        let (mut held, mut dropped) = (false, false);
        for &k in &self.active[s] {
            let e = &self.effects[s][k];
            if !e.covers(p) {
                continue;
            }
            match e.action {
                Action::Add { amount, shape, .. } => v += amount * shape.at(t as f64),
                Action::Hold(_) => held = true,
                Action::Drop(_) => dropped = true,
            }
        }
        let st = &mut self.streams[s][pi];
        let value = if held {
            *st.held
                .get_or_insert(if st.last.is_nan() { v } else { st.last })
        } else {
            st.held = None;
            v
        };
        let (lo, hi) = self.bounds[pi];
        let value = ((value.clamp(lo, hi) * self.scale[pi]).round() / self.scale[pi]) + 0.0;
        if !dropped && !held {
            st.last = value;
        }
        // Credit the effects that shaped this reading: a drop hides everything else, a hold
        // hides the water. An added effect's peak ratio counts only its own contribution, so
        // overlapping injections do not inherit each other's peaks.
        let limit = self.base[s].limit[pi];
        for &k in &self.active[s] {
            let e = &self.effects[s][k];
            if !e.covers(p) {
                continue;
            }
            let ratio = match e.action {
                Action::Drop(_) => Some(None),
                Action::Hold(_) => (!dropped).then(|| limit.map(|l| value / l)),
                Action::Add { amount, shape, .. } => {
                    let c = amount * shape.at(t as f64);
                    (!dropped && !held && c != 0.0)
                        .then(|| limit.map(|l| (undisturbed + c).clamp(lo, hi) / l))
                }
            };
            if let Some(ratio) = ratio {
                track(&mut self.tracks[e.truth], s, t, p, ratio);
            }
        }
        (!dropped).then_some(value)
    }

    /// The header line of the truth file.
    pub fn header(&self) -> SimulationHeader {
        SimulationHeader {
            version: 1,
            scenario: self.opts.scenario.name().to_string(),
            seed: self.opts.seed,
            start: self.opts.start,
            end: self.opts.start + self.opts.duration,
            interval: self.opts.interval,
            analyser_interval: self.opts.analyser_interval,
            stations: self.ids.clone(),
        }
    }

    /// The ground truth of the readings generated so far (complete once `next_tick` returned
    /// None). Injections that changed no reading are left out.
    pub fn truth(&self) -> TruthFile {
        let mut records = Vec::new();
        for (i, (d, tracks)) in self.drafts.iter().zip(&self.tracks).enumerate() {
            if tracks.is_empty() {
                continue;
            }
            let mut stations: Vec<TruthStation> = tracks
                .iter()
                .map(|tr| TruthStation {
                    station: self.ids[tr.station].clone(),
                    start: tr.first,
                    end: tr.last,
                    parameters: SimParam::ALL
                        .iter()
                        .filter(|p| tr.params & p.bit() != 0)
                        .map(|p| ParamId::new(p.id()))
                        .collect(),
                    peak_ratio_to_limit: tr.peak_ratio.map(|r| (r * 1000.0).round() / 1000.0),
                    interval: if SimParam::ALL
                        .iter()
                        .any(|p| p.is_probe() && tr.params & p.bit() != 0)
                    {
                        self.opts.interval
                    } else {
                        self.opts.analyser_interval
                    },
                })
                .collect();
            stations.sort_by_key(|a| (a.start, a.end));
            records.push(TruthRecord {
                id: truth_id(d, i),
                kind: d.kind,
                category: d.kind.category(),
                source_segment: d.segment.clone(),
                release: d.release,
                start: stations.iter().map(|s| s.start).min().unwrap_or(0),
                end: stations.iter().map(|s| s.end).max().unwrap_or(0),
                stations,
                detail: d.detail.clone(),
                related: d.related.map(|j| truth_id(&self.drafts[j], j)),
            });
        }
        TruthFile {
            header: Some(self.header()),
            records,
        }
    }
}

/// A truth's id: its kind and its 1-based place in the plan (`discharge-0003`).
fn truth_id(d: &TruthDraft, index: usize) -> String {
    format!("{}-{:04}", d.kind.name(), index + 1)
}

fn track(tracks: &mut Vec<Track>, station: usize, t: Millis, p: SimParam, ratio: Option<f64>) {
    let i = match tracks.iter().position(|tr| tr.station == station) {
        Some(i) => i,
        None => {
            tracks.push(Track {
                station,
                first: t,
                last: t,
                params: 0,
                peak_ratio: None,
            });
            tracks.len() - 1
        }
    };
    let tr = &mut tracks[i];
    tr.last = tr.last.max(t);
    tr.params |= p.bit();
    if let Some(r) = ratio {
        tr.peak_ratio = Some(tr.peak_ratio.map_or(r, |x: f64| x.max(r)));
    }
}

/// Default sampling intervals: probes every 5 minutes, analysers every 4 hours.
pub const DEFAULT_INTERVAL: Millis = 5 * MINUTE;
/// Default analyser interval (signals.md §1: national practice is one analysis per 4 h).
pub const DEFAULT_ANALYSER_INTERVAL: Millis = 240 * MINUTE;
