//! Engine stage: the core engine over durable readings in arrival order, and its threshold
//! reloads. The same [`Detector`] runs the start-up replay of the store, so live and replayed
//! readings go through one code path (DESIGN.md, "one engine, two drivers").

use super::{LeadRevision, Stored};
use crate::health::Health;
use crate::metrics::Metrics;
use riverwatch_engine::detect::Stats;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Config, Engine, Output, Reading, StationId};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::info;

/// The engine with the service's bookkeeping around it.
pub(crate) struct Detector {
    engine: Engine,
    out: Output,
    seen: Stats,
    metrics: Arc<Metrics>,
    health: Health,
    /// Newest reading time per station pushed so far (what a lead's seal cuts the evidence at).
    newest: HashMap<StationId, Millis>,
    /// Oldest reading time pushed so far (where the engine's state began).
    oldest: Option<Millis>,
}

impl Detector {
    pub fn new(cfg: Arc<Config>, metrics: Arc<Metrics>, health: Health) -> Self {
        Self {
            engine: Engine::new(cfg),
            out: Output::default(),
            seen: Stats::default(),
            metrics,
            health,
            newest: HashMap::new(),
            oldest: None,
        }
    }

    /// Feeds readings in order (one message, or a chunk of the start-up replay that arrived
    /// at `at`); appends the lead revisions they produced to `leads`.
    pub fn push(
        &mut self,
        readings: &[Reading],
        at: Option<Instant>,
        leads: &mut Vec<LeadRevision>,
    ) {
        let before = leads.len();
        for r in readings {
            self.engine.push(r, &mut self.out);
            self.health.saw(&r.station, r.time);
            self.oldest = Some(self.oldest.map_or(r.time, |t| t.min(r.time)));
            match self.newest.get_mut(&r.station) {
                Some(t) => *t = (*t).max(r.time),
                None => {
                    self.newest.insert(r.station.clone(), r.time);
                }
            }
            for lead in self.out.leads.drain(..) {
                leads.push(LeadRevision {
                    lead,
                    at,
                    seen: Default::default(),
                    engine_from: None,
                    config: Arc::clone(self.engine.config()),
                });
            }
            self.out.events.clear();
        }
        if leads.len() > before {
            let seen: std::collections::BTreeMap<String, Millis> = self
                .newest
                .iter()
                .map(|(s, t)| (s.to_string(), *t))
                .collect();
            for l in &mut leads[before..] {
                l.seen = seen.clone();
                l.engine_from = self.oldest;
            }
        }
        let now = self.engine.stats();
        self.metrics
            .findings
            .inc_by(now.findings.saturating_sub(self.seen.findings));
        self.metrics
            .events
            .inc_by(now.events.saturating_sub(self.seen.events));
        self.seen = now;
    }

    fn set_config(&mut self, cfg: Arc<Config>) {
        info!(config_hash = %cfg.hash, "thresholds reloaded");
        self.engine.set_config(cfg);
    }
}

/// Runs the detector over durable readings.
pub(crate) struct EngineStage {
    pub detector: Detector,
    pub reload: watch::Receiver<Arc<Config>>,
}

impl EngineStage {
    #[tracing::instrument(name = "engine", skip_all)]
    pub async fn run(mut self, mut rx: mpsc::Receiver<Stored>, tx: mpsc::Sender<LeadRevision>) {
        let mut leads = Vec::new();
        let mut reloads = true;
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
            };
            let Some(s) = stored else { break };
            self.detector.push(&s.readings, s.at, &mut leads);
            for lead in leads.drain(..) {
                if tx.send(lead).await.is_err() {
                    return;
                }
            }
        }
    }
}
