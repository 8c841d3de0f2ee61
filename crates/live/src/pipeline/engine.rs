//! Engine stage: the core engine over durable readings in arrival order, and its threshold
//! reloads. The same [`Detector`] runs the start-up replay of the store, so live and replayed
//! readings go through one code path (DESIGN.md, "one engine, two drivers").

use super::{LeadRevision, Stored};
use crate::health::Health;
use crate::metrics::Metrics;
use riverwatch_engine::detect::Stats;
use riverwatch_engine::{Config, Engine, Lead, Output, Reading};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tracing::info;

/// The engine with the service's bookkeeping around it.
pub(crate) struct Detector {
    engine: Engine,
    out: Output,
    seen: Stats,
    metrics: Arc<Metrics>,
    health: Health,
}

impl Detector {
    pub fn new(cfg: Arc<Config>, metrics: Arc<Metrics>, health: Health) -> Self {
        Self {
            engine: Engine::new(cfg),
            out: Output::default(),
            seen: Stats::default(),
            metrics,
            health,
        }
    }

    /// Feeds readings in order; appends the lead revisions they produced to `leads`.
    pub fn push(&mut self, readings: &[Reading], leads: &mut Vec<Lead>) {
        for r in readings {
            self.engine.push(r, &mut self.out);
            self.health.saw(&r.station, r.time);
            leads.append(&mut self.out.leads);
            self.out.events.clear();
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
            self.detector.push(&s.readings, &mut leads);
            for lead in leads.drain(..) {
                if tx.send(LeadRevision { lead, at: s.at }).await.is_err() {
                    return;
                }
            }
        }
    }
}
