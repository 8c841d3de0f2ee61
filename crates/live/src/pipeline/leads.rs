//! Leads stage: every lead revision is written to the ledger first, and only a revision the
//! ledger did not have yet goes on to be published (and to the live subscribers). A revision
//! re-derived after a restart — from the start-up replay or a redelivered message — is already
//! in the ledger and is neither recorded nor published again; if its first publication was
//! never acknowledged, the start-up re-send of `Ledger::unpublished` covers it.
//!
//! Each revision is sealed as it is recorded (issue 7): its evidence is read back from the
//! store with the definition `verify` uses (`seal::evidence`) — every reading the engine had
//! seen is durable by then — and digested; a store failure is recorded in the seal instead
//! of holding the lead back.

use super::{now_ms, LeadRevision, Outbound};
use crate::ledger::Ledger;
use crate::metrics::{LeadLatency, Metrics};
use crate::seal::records::SealInput;
use crate::store::AnyStore;
use riverwatch_engine::Lead;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tracing::{error, info};

/// Records lead revisions and hands new ones to the publisher.
pub(crate) struct LeadsStage {
    pub ledger: Ledger,
    /// Where the evidence is read back from to seal it.
    pub store: AnyStore,
    pub metrics: Arc<Metrics>,
    pub live: broadcast::Sender<Lead>,
    pub prefix: String,
}

impl LeadsStage {
    #[tracing::instrument(name = "leads", skip_all)]
    pub async fn run(self, mut rx: mpsc::Receiver<LeadRevision>, out: mpsc::Sender<Outbound>) {
        while let Some(rev) = rx.recv().await {
            let started = Instant::now();
            let Some((evidence, ledger)) = self.record(&rev).await else {
                continue;
            };
            let LeadRevision { lead, at, made, .. } = rev;
            if let Some(at) = at {
                self.metrics.observe_lead(&LeadLatency {
                    durable: made.saturating_duration_since(at),
                    queued: started.saturating_duration_since(made),
                    evidence,
                    ledger,
                });
            }
            info!(lead = %lead.id, revision = lead.revision, station = %lead.station, category = ?lead.category, "lead revision recorded");
            let sent = out.send(Outbound::lead(&self.prefix, &lead)).await;
            // No subscribers is fine: the broadcast is for watchers (demo, API), not durability.
            let _ = self.live.send(lead);
            if sent.is_err() {
                break;
            }
        }
    }

    /// Seals the revision and writes it to the ledger (retrying: nothing may be published
    /// before it is there); when it is new, how long the evidence and the ledger took.
    pub async fn record(&self, rev: &LeadRevision) -> Option<(Duration, Duration)> {
        let lead = &rev.lead;
        let mut delay = Duration::from_millis(50);
        let t = Instant::now();
        let input = SealInput::gather(
            &self.store,
            lead,
            rev.seen.clone(),
            rev.engine_from,
            Arc::clone(&rev.config),
        )
        .await;
        let evidence = t.elapsed();
        let t = Instant::now();
        if let Some(Err(e)) = &input.evidence {
            error!(error = %e, lead = %lead.id, "evidence not readable; revision sealed without it");
        }
        loop {
            match self
                .ledger
                .record_sealed(lead, input.clone(), now_ms())
                .await
            {
                Ok(new) => {
                    if new {
                        self.metrics.lead_revisions.inc();
                    }
                    return new.then(|| (evidence, t.elapsed()));
                }
                Err(e) => {
                    error!(error = %e, lead = %lead.id, "lead revision not recorded; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
