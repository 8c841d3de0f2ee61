//! Engine stage: the core engine over durable readings, and its threshold reloads. The same
//! [`Detector`] runs the start-up replay of the store (and spool), so live and replayed
//! readings go through one code path (DESIGN.md, "one engine, two drivers").
//!
//! Canonical order: the engine's output (which station's event roots a lead, hence the lead id,
//! and how revisions are numbered) depends on the order readings of one instant are fed in. The
//! live order is arrival order — stations publish independently, a message lists its values in
//! any order — while the start-up replay reads the store in time, station, parameter order. So
//! the detector holds readings back for the engine's `allowed_lateness` (event time, against the
//! newest reading seen) and feeds them in (time, station, parameter) order: live, replayed after
//! a crash, or replayed by `replay`, the same readings give the same leads, ids and revisions.
//! A reading re-sent for a held-back point replaces it, as it does in the store. Held-back
//! readings are already durable; after a crash the replay feeds them.
//!
//! Trained models (issue 5) come in as whole sets, at start and on reload; the engine leaves
//! out those it refuses, which are logged and counted like unreadable files, and stamps every
//! lead revision with the versions (digests) of the models in use, which the seals record.
//!
//! For the seals (issue 7) the detector also knows what the engine has been fed: per station
//! the newest reading time, and the oldest reading time overall (where its state began). It
//! keeps the recent durable readings ([`Recent`]), held-back ones included, and hands each
//! revision its evidence taken from them when they cover the evidence window, so that the
//! leads stage seals it without reading the store.

use super::recent::{Recent, HORIZON};
use super::reload::Models;
use super::{LeadRevision, Stored};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::seal::evidence::EvidenceSpec;
use riverwatch_engine::config::Stations;
use riverwatch_engine::detect::Stats;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Config, DataFlag, Engine, Lead, Output, ParamId, Reading, StationId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, error, info};

/// The engine with the service's bookkeeping around it.
pub(crate) struct Detector {
    engine: Engine,
    /// Readings waiting for their turn (value and flag by point), in the order they will be fed.
    held: BTreeMap<(Millis, StationId, ParamId), (f64, DataFlag)>,
    /// Newest reading time seen.
    newest: Millis,
    lateness: Millis,
    /// Newest reading time fed to the engine, per station.
    fed: HashMap<StationId, Millis>,
    /// Oldest reading time fed to the engine.
    fed_from: Option<Millis>,
    /// Recent durable readings, to seal evidence from.
    recent: Recent,
    out: Output,
    seen: Stats,
    metrics: Arc<Metrics>,
    health: Health,
}

impl Detector {
    /// A detector whose evidence cache keeps the stations of revisable leads back to
    /// `evidence_keep` (see `recent`).
    pub fn new(
        cfg: Arc<Config>,
        metrics: Arc<Metrics>,
        health: Health,
        evidence_keep: Duration,
    ) -> Self {
        let keep = Millis::try_from(evidence_keep.as_millis()).unwrap_or(Millis::MAX);
        Self {
            lateness: cfg.thresholds.engine.allowed_lateness,
            engine: Engine::new(cfg),
            held: BTreeMap::new(),
            newest: Millis::MIN,
            fed: HashMap::new(),
            fed_from: None,
            recent: Recent::new(HORIZON, keep),
            out: Output::default(),
            seen: Stats::default(),
            metrics,
            health,
        }
    }

    /// Takes readings and feeds the engine those whose turn has come (module doc); appends the
    /// lead revisions they produced to `leads`.
    pub fn push(&mut self, readings: &[Reading], leads: &mut Vec<Lead>) {
        let covered = self.recent.covered_from();
        self.health.saw(readings);
        for r in readings {
            self.newest = self.newest.max(r.time);
            self.recent.insert(r);
            self.held.insert(
                (r.time, r.station.clone(), r.parameter.clone()),
                (r.value, r.flag),
            );
        }
        let upto = self.newest.saturating_sub(self.lateness);
        while let Some(entry) = self.held.first_entry() {
            if entry.key().0 > upto {
                break;
            }
            let ((time, station, parameter), (value, flag)) = entry.remove_entry();
            let r = Reading {
                station,
                parameter,
                time,
                value,
                flag,
            };
            self.fed_from = Some(self.fed_from.map_or(r.time, |t| t.min(r.time)));
            match self.fed.get_mut(&r.station) {
                Some(t) => *t = (*t).max(r.time),
                None => {
                    self.fed.insert(r.station.clone(), r.time);
                }
            }
            self.engine.push(&r, &mut self.out);
            leads.append(&mut self.out.leads);
            self.out.events.clear();
        }
        if self.recent.covered_from() != covered {
            // Swept: leads the engine has forgotten need their evidence kept no longer.
            let engine = &self.engine;
            self.recent.retain_kept(|id| engine.holds_lead(id));
        }
        self.metrics
            .evidence_cache
            .set(i64::try_from(self.recent.len()).unwrap_or(i64::MAX));
        let now = self.engine.stats();
        self.metrics
            .findings
            .inc_by(now.findings.saturating_sub(self.seen.findings));
        self.metrics
            .events
            .inc_by(now.events.saturating_sub(self.seen.events));
        self.seen = now;
    }

    /// Declares that the evidence cache will be complete from `from` on: the store's and the
    /// spool's readings from there are about to be fed (the start-up replay), or they hold none
    /// from there (without a replay: past their newest reading at start).
    pub fn replaying_from(&mut self, from: Millis) {
        self.recent.complete_from(from);
    }

    /// Wraps lead revisions just made with what their seals record: the newest reading time
    /// fed per station, the oldest fed, the config in force, and the evidence readings when
    /// the cache covers them; the cache keeps their stations' readings for the next revisions.
    pub fn revisions(&mut self, leads: &mut Vec<Lead>, at: Option<Instant>) -> Vec<LeadRevision> {
        if leads.is_empty() {
            return Vec::new();
        }
        let started = Instant::now();
        let seen: BTreeMap<String, Millis> =
            self.fed.iter().map(|(s, t)| (s.to_string(), *t)).collect();
        let evidence: Vec<_> = leads
            .iter()
            .map(|lead| {
                let spec = EvidenceSpec::of(lead, &seen);
                let reach = reach(&self.engine.config().stations, &spec);
                self.recent.keep(&lead.id, spec.from, reach);
                let held = self.recent.evidence(&spec);
                if held.is_none() {
                    debug!(lead = %lead.id, revision = lead.revision, evidence_from = spec.from, cache_from = ?self.recent.covered_from(), "evidence starts before the cache; it is read from the store");
                }
                held.map(|readings| (spec, Arc::from(readings)))
            })
            .collect();
        let made = Instant::now();
        let extracted = made - started;
        leads
            .drain(..)
            .zip(evidence)
            .map(|(lead, evidence)| LeadRevision {
                lead,
                at,
                made,
                seen: seen.clone(),
                engine_from: self.fed_from,
                config: Arc::clone(self.engine.config()),
                evidence,
                extracted,
            })
            .collect()
    }

    /// Replaces the trained models; the refused ones are logged and counted.
    pub fn set_models(&mut self, models: &[riverwatch_engine::models::MultivariateModel]) {
        let offered = models.len();
        let refused = self.engine.set_models(models.to_vec());
        for e in &refused {
            error!(model = %e.file, reason = %e.reason, "model refused by the engine; it runs without it");
            self.metrics.model_errors.inc();
        }
        let used = offered - refused.len();
        self.metrics.models_loaded.set(used as i64);
        info!(models = used, "trained models in use");
    }

    fn set_config(&mut self, cfg: Arc<Config>) {
        info!(config_hash = %cfg.hash, "thresholds reloaded");
        self.lateness = cfg.thresholds.engine.allowed_lateness;
        self.engine.set_config(cfg);
    }
}

/// Runs the detector over durable readings.
pub(crate) struct EngineStage {
    pub detector: Detector,
    pub reload: watch::Receiver<Arc<Config>>,
    /// New model sets; never changes when no models directory is configured.
    pub models: watch::Receiver<Models>,
}

impl EngineStage {
    #[tracing::instrument(name = "engine", skip_all)]
    pub async fn run(mut self, mut rx: mpsc::Receiver<Stored>, tx: mpsc::Sender<LeadRevision>) {
        let mut leads = Vec::new();
        let (mut reloads, mut model_reloads) = (true, true);
        loop {
            let stored = tokio::select! {
                s = rx.recv() => s,
                changed = self.reload.changed(), if reloads => {
                    match changed {
                        Ok(()) => {
                            let cfg = Arc::clone(&self.reload.borrow_and_update());
                            self.detector.set_config(cfg);
                        }
                        Err(_) => reloads = false,
                    }
                    continue;
                }
                changed = self.models.changed(), if model_reloads => {
                    match changed {
                        Ok(()) => {
                            let models = Arc::clone(&self.models.borrow_and_update());
                            self.detector.set_models(&models);
                        }
                        Err(_) => model_reloads = false,
                    }
                    continue;
                }
            };
            let Some(s) = stored else { break };
            self.detector.push(&s.readings, &mut leads);
            for rev in self.detector.revisions(&mut leads, s.at) {
                if tx.send(rev).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The stations of `spec` and every station downstream of them: those a later revision of the
/// lead may add as what it saw travels down the river.
fn reach(stations: &Stations, spec: &EvidenceSpec) -> Vec<StationId> {
    let mut reach: Vec<StationId> = spec
        .stations
        .iter()
        .map(|cut| StationId::new(&cut.station))
        .collect();
    let mut next = 0;
    while let Some(id) = reach.get(next) {
        let below: Vec<StationId> = stations
            .downstream_of(id.as_str())
            .map(|(s, _)| s.id.clone())
            .collect();
        for s in below {
            if !reach.contains(&s) {
                reach.push(s);
            }
        }
        next += 1;
    }
    reach
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::recent::KEEP;
    use crate::seal::evidence::collect;
    use crate::store::{ReadingStore, SqliteStore};
    use riverwatch_engine::sim::{Scenario, SimOptions, Simulator};
    use riverwatch_engine::time::DAY;

    /// Lead revisions (id, revision, category, severity, stations) from feeding `readings`
    /// one message (station and instant) at a time.
    fn leads(cfg: &Arc<Config>, readings: &[Reading]) -> Vec<String> {
        let mut d = Detector::new(Arc::clone(cfg), Arc::default(), Health::default(), KEEP);
        let mut out = Vec::new();
        for msg in readings.chunk_by(|a, b| (a.time, &a.station) == (b.time, &b.station)) {
            d.push(msg, &mut out);
        }
        out.iter()
            .map(|l| {
                format!(
                    "{} r{} {:?} {:?} {:?}",
                    l.id, l.revision, l.category, l.severity, l.stations
                )
            })
            .collect()
    }

    #[test]
    fn arrival_order_within_the_lateness_does_not_change_leads() {
        let cfg = Arc::new(Config::embedded());
        let start = 1_719_792_000_000; // 2024-07-01
        let opts = SimOptions::new(Scenario::Typical, 5, start, 5 * DAY);
        let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).unwrap();
        let (mut as_simulated, mut tick) = (Vec::new(), Vec::new());
        while sim.next_tick(&mut tick).is_some() {
            as_simulated.extend(tick.iter().map(|r| sim.to_reading(r)));
        }
        // Another arrival order: within each instant, stations and parameters reversed.
        let mut reversed = Vec::with_capacity(as_simulated.len());
        for instant in as_simulated.chunk_by(|a, b| a.time == b.time) {
            reversed.extend(instant.iter().rev().cloned());
        }
        let want = leads(&cfg, &as_simulated);
        assert!(want.len() >= 3, "{want:?}");
        assert_eq!(leads(&cfg, &reversed), want);
    }

    /// Ten stormy simulated days, each reading durable in the store before the detector gets
    /// its message (as the store stage does: a day of ticks written ahead, and some points of
    /// the tick before re-sent with new values, written just before their message): a revision
    /// carries its evidence exactly when the cache reaches back to the evidence start, and then
    /// it is what the store gives for the same spec at that moment.
    #[tokio::test]
    async fn evidence_from_the_cache_is_what_the_store_gives() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = SqliteStore::open(&dir.path().join("r.sqlite")).expect("store");
        let cfg = Arc::new(Config::embedded());
        let start = 1_751_328_000_000; // 2025-07-01
        let opts = SimOptions::new(Scenario::Stormy, 7, start, 10 * DAY);
        let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).expect("simulator");
        let mut ticks: Vec<Vec<Reading>> = Vec::new();
        let mut tick = Vec::new();
        while sim.next_tick(&mut tick).is_some() {
            ticks.push(tick.iter().map(|r| sim.to_reading(r)).collect());
        }
        let mut d = Detector::new(cfg, Arc::default(), Health::default(), KEEP);
        let mut made = Vec::new();
        let (mut from_memory, mut from_store, mut resent) = (0, 0, 0);
        for (n, readings) in ticks.iter().enumerate() {
            if n % 288 == 0 {
                let day: Vec<Reading> = ticks[n..].iter().take(288).flatten().cloned().collect();
                store.write(&day).await.expect("stored");
            }
            let again: Vec<Reading> = match n.checked_sub(1) {
                Some(before) if n % 29 == 3 => ticks[before]
                    .iter()
                    .step_by(5)
                    .map(|r| Reading {
                        value: r.value + 0.125,
                        ..r.clone()
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if !again.is_empty() {
                store.write(&again).await.expect("stored");
                resent += again.len();
            }
            let messages = std::iter::once(&again[..])
                .filter(|m| !m.is_empty())
                .chain(readings.chunk_by(|a, b| a.station == b.station));
            for msg in messages {
                d.push(msg, &mut made);
                for rev in d.revisions(&mut made, None) {
                    let spec = EvidenceSpec::of(&rev.lead, &rev.seen);
                    // Kept for as long as the lead may be revised: only evidence from before
                    // the first reading (the cache never claimed that time) is read back.
                    assert_eq!(rev.evidence.is_some(), spec.from >= start, "{spec:?}");
                    let stored = collect(&store, &spec).await.expect("read");
                    match &rev.evidence {
                        Some((held_spec, held)) => {
                            assert_eq!(held_spec, &spec);
                            let what = format!("{}#{}", rev.lead.id, rev.lead.revision);
                            assert_eq!(held[..], stored[..], "{what}");
                            from_memory += 1;
                        }
                        None => from_store += 1,
                    }
                }
            }
        }
        assert!(resent > 1_000, "{resent} points re-sent");
        assert!(
            from_memory >= 10 && from_memory > 4 * from_store,
            "{from_memory} revisions sealed from memory, {from_store} from the store"
        );
        let covered = d.recent.covered_from().expect("covered");
        assert!(covered >= start + 6 * DAY, "old readings swept out");
        let per_day = ticks[..288].iter().map(Vec::len).sum::<usize>();
        // Ten days fed; the stations of leads the engine may still revise are kept from their
        // evidence start (most of this stormy network), the others swept.
        assert!(d.recent.len() <= 8 * per_day, "{} held", d.recent.len());
    }
}
