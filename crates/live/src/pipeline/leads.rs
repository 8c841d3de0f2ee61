//! Leads stage: every lead revision is written to the ledger first, and only a revision the
//! ledger did not have yet goes on to be published (and to the live subscribers). A revision
//! re-derived after a restart — from the start-up replay or a redelivered message — is already
//! in the ledger and is neither recorded nor published again; if its first publication was
//! never acknowledged, the start-up re-send of `Ledger::unpublished` covers it.

use super::{now_ms, LeadRevision, Outbound};
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use riverwatch_engine::Lead;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info};

/// Records lead revisions and hands new ones to the publisher.
pub(crate) struct LeadsStage {
    pub ledger: Ledger,
    pub metrics: Arc<Metrics>,
    pub live: broadcast::Sender<Lead>,
    pub prefix: String,
}

impl LeadsStage {
    #[tracing::instrument(name = "leads", skip_all)]
    pub async fn run(self, mut rx: mpsc::Receiver<LeadRevision>, out: mpsc::Sender<Outbound>) {
        while let Some(LeadRevision { lead, at }) = rx.recv().await {
            if !self.record(&lead).await {
                continue;
            }
            if let Some(at) = at {
                self.metrics.end_to_end.observe(at.elapsed().as_secs_f64());
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

    /// Writes the revision to the ledger (retrying: nothing may be published before it is
    /// there); true when it is new.
    pub async fn record(&self, lead: &Lead) -> bool {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.ledger.record_revision(lead, now_ms()).await {
                Ok(new) => {
                    if new {
                        self.metrics.lead_revisions.inc();
                    }
                    return new;
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
