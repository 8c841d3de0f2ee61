//! Store stage: gathers decoded messages into write batches, makes each batch durable through
//! the [`SpooledStore`] (store, or disk spool while the store is down), and only then
//! acknowledges the batch's messages and passes their readings on to the engine.
//!
//! A batch is written when it is full, when its oldest reading has waited the flush interval,
//! or as soon as no further message is waiting. The last rule matters because the broker sends
//! at most its inflight window (Mosquitto: 20 by default) of unacknowledged messages: waiting
//! for more would stall intake until the interval passes. Under load, messages queue while a
//! write is in progress, so batches still grow. A write that fails outright (spool full or
//! failing) is retried with backoff, holding intake back; nothing is acknowledged before.

use super::{Accepted, DeadLetter, Stored};
use crate::backoff::Backoff;
use crate::ingest::{Ack, Acker};
use crate::metrics::Metrics;
use crate::store::{AnyStore, Batcher, Durable, SpooledStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, info_span, Instrument};

/// Makes readings durable, then acks and forwards them.
pub(crate) struct StoreStage {
    pub store: SpooledStore<AnyStore>,
    pub batcher: Batcher,
    pub acker: Acker,
    pub metrics: Arc<Metrics>,
    /// Where durable readings go.
    pub tx: mpsc::Sender<Stored>,
    /// Where readings the store refuses go.
    pub dead: mpsc::Sender<DeadLetter>,
    /// Per pending message: its reading count, arrival and ack, in arrival order.
    pub pending: Vec<(usize, Instant, Ack)>,
}

impl StoreStage {
    pub async fn run(mut self, mut rx: mpsc::Receiver<Accepted>) {
        let span = info_span!("store");
        async move {
            loop {
                let msg = match self.batcher.deadline() {
                    None => rx.recv().await,
                    Some(d) => tokio::select! {
                        m = rx.recv() => m,
                        _ = tokio::time::sleep_until(d) => {
                            self.flush().await;
                            continue;
                        }
                    },
                };
                let Some(a) = msg else { break };
                self.pending.push((a.readings.len(), a.at, a.ack));
                let full = self.batcher.push(a.readings, Instant::now());
                if full || rx.is_empty() {
                    self.flush().await;
                }
            }
            self.flush().await;
        }
        .instrument(span)
        .await
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let readings = self.batcher.take();
        let pending = std::mem::take(&mut self.pending);
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let durable = loop {
            let t = Instant::now();
            match self.store.write(&readings).await {
                Ok(d) => {
                    self.metrics.observe_store(t.elapsed());
                    break d;
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    error!(error = %e, readings = readings.len(), retry_in = ?delay, "batch not durable; messages not acknowledged");
                    tokio::time::sleep(delay).await;
                }
            }
        };
        match durable {
            Durable::Stored(report) => {
                self.metrics.stored.inc_by(report.stored as u64);
                for r in report.rejected {
                    let _ = self.dead.send(DeadLetter::refused(r)).await;
                }
            }
            Durable::Spooled => {
                self.metrics.spooled.inc_by(readings.len() as u64);
            }
        }
        if let Ok((batches, bytes)) = self.store.spooled().await {
            self.metrics.spool_batches.set(batches as i64);
            self.metrics.spool_bytes.set(bytes as i64);
        }
        self.acker.ack(pending.iter().map(|p| p.2));
        let mut rest = readings.into_iter();
        for (n, at, _) in pending {
            let readings: Vec<_> = rest.by_ref().take(n).collect();
            if self
                .tx
                .send(Stored {
                    readings,
                    at: Some(at),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
