//! [`SpooledStore`]: a store with the disk [`Spool`] in front, so a write is durable even while
//! the store is down — the moment the MQTT ack may go out (DESIGN.md, "Nothing is lost").
//!
//! `write` tries the store; on any failure that is not the data's fault (outage, 5xx, wrong
//! credentials, missing database) it appends the batch to the spool and reports
//! [`Durable::Spooled`]. While the spool holds anything, new batches go behind it, so with one
//! write at a time the store receives batches in arrival order. [`SpooledStore::drain`], run as
//! its own task, replays the spool oldest first with exponential backoff and removes a batch
//! only after the store took it.
//! A successful [`SpooledStore::ping`] (the service's health probe) cuts the backoff short, so
//! after a long outage the spool drains within a probe interval of the store answering again
//! rather than after the last (up to 30 s) backoff step.
//!
//! Concurrent writes (the store stage keeps `store.writes_in_flight` batches in flight): `write`
//! holds no lock across the store request, so of two batches written at once one may fail and
//! be spooled while the other, later one, is stored directly — the store then receives them out
//! of arrival order, the spooled one from the drain task. That changes nothing in what the
//! store finally holds, because the stage never has two batches with a common point (station,
//! parameter, time) in flight: a batch sharing a point with an earlier one starts only once that
//! one is durable, and then finds it either in the store already or still in the spool, where
//! it queues behind it. Spool appends are serialised by its mutex; each caller gets its own
//! answer, and the stage acks in arrival order whatever order the answers come in.
//!
//! Reading: [`SpooledStore::query_chunks`] and [`SpooledStore::newest_time`] answer as the
//! store will once the spool has drained — the store's readings with the spooled ones merged
//! in — so the start-up replay sees the readings a previous process spooled and stopped
//! before draining; queries of [`SpooledStore::inner`] see the store alone.
//!
//! Exactly-once in the database comes from idempotent point identity, not from bookkeeping: a
//! batch replayed twice (crash between the store's answer and the spool's head update, or a
//! request that failed after part of it was stored) overwrites the same points with the same
//! values.

use super::error::{SpoolError, StoreError};
use super::spool::Spool;
use super::with_spooled::WithSpooled;
use super::{all_chunks, ReadingStore, Rejected, WriteReport, DEFAULT_CHUNK};
use crate::backoff::Backoff;
use crate::blocking::locked;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Reading, StationId};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Where a written batch now is. Either way it survives a crash.
#[derive(Debug, Clone, PartialEq)]
pub enum Durable {
    /// In the store; the report lists readings it refused.
    Stored(WriteReport),
    /// In the local spool, waiting for the store.
    Spooled,
}

/// A store with a disk spool in front. Clones share the store and the spool.
pub struct SpooledStore<S> {
    inner: Arc<S>,
    spool: Arc<Mutex<Spool>>,
    level: Arc<Level>,
    wake: Arc<Notify>,
    answered: Arc<Notify>,
}

impl<S> Clone for SpooledStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            spool: Arc::clone(&self.spool),
            level: Arc::clone(&self.level),
            wake: Arc::clone(&self.wake),
            answered: Arc::clone(&self.answered),
        }
    }
}

impl<S: ReadingStore + 'static> SpooledStore<S> {
    /// Wraps `inner`, opening (and recovering) the spool in `dir`. Blocking: call at start-up.
    pub fn open(inner: S, dir: &Path, max_bytes: u64) -> Result<Self, StoreError> {
        let spool = Spool::open(dir, max_bytes)?;
        if !spool.is_empty() {
            info!(
                records = spool.records(),
                bytes = spool.bytes(),
                "spool holds batches from a previous run"
            );
        }
        let level = Arc::new(Level::default());
        level.mirror(&spool);
        Ok(Self {
            inner: Arc::new(inner),
            spool: Arc::new(Mutex::new(spool)),
            level,
            wake: Arc::new(Notify::new()),
            answered: Arc::new(Notify::new()),
        })
    }

    /// The store behind the spool (for queries).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The readings of `stations` (empty: all) with `from <= time < to` as the store will
    /// hold them once the spool has drained: the store's [`ReadingStore::query_chunks`] with
    /// the spool's readings of the window merged in ([`WithSpooled`]; a point held by both is
    /// the spooled one). The start-up replay reads this, so the readings a previous process
    /// spooled and did not drain are fed too, and the leads stage reads the evidence the
    /// engine stage's cache does not hold with it (while a spool drains, the store alone lacks
    /// readings the service made durable). The spool is read first, so a batch the drain moves
    /// meanwhile is found twice (merged into one point), never missed; but a point drained and
    /// then written anew directly in that moment (the spool just emptied, the same station,
    /// parameter and time re-sent with another value) would come back with its spooled value.
    pub async fn query_chunks(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
        chunk_size: usize,
    ) -> Result<WithSpooled<S::Chunks>, StoreError> {
        let wanted = stations.to_vec();
        let in_window = move |r: &Reading| {
            (from..to).contains(&r.time) && (wanted.is_empty() || wanted.contains(&r.station))
        };
        let spooled = locked(&self.spool, move |s| {
            let mut found = Vec::new();
            for batch in s.batches() {
                found.extend(batch?.into_iter().filter(&in_window));
            }
            Ok::<_, StoreError>(found)
        })
        .await?;
        if !spooled.is_empty() {
            info!(
                readings = spooled.len(),
                "spooled readings merged into a store query"
            );
        }
        let chunks = self
            .inner
            .query_chunks(stations, from, to, chunk_size)
            .await?;
        Ok(WithSpooled::new(chunks, spooled))
    }

    /// [`SpooledStore::query_chunks`], every reading in one vector.
    pub async fn query(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Reading>, StoreError> {
        all_chunks(self.query_chunks(stations, from, to, DEFAULT_CHUNK).await?).await
    }

    /// The newest reading time the store will hold once the spool has drained: the later of
    /// the store's ([`ReadingStore::newest_time`]) and the newest spooled reading's.
    pub async fn newest_time(&self) -> Result<Option<Millis>, StoreError> {
        let spooled = locked(&self.spool, |s| {
            let mut newest = None;
            for batch in s.batches() {
                newest = batch?.iter().map(|r| r.time).max().max(newest);
            }
            Ok::<_, StoreError>(newest)
        })
        .await?;
        Ok(self.inner.newest_time().await?.max(spooled))
    }

    /// Pings the store ([`ReadingStore::ping`]); when it answers, a drain waiting out a backoff
    /// step tries again at once.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await?;
        self.answered.notify_one();
        Ok(())
    }

    /// Batches and bytes waiting in the spool, as of its last change (no lock, no disk).
    pub fn spooled(&self) -> (u64, u64) {
        (
            self.level.records.load(Ordering::Acquire),
            self.level.bytes.load(Ordering::Acquire),
        )
    }

    /// Runs `f` on the spool in the blocking pool, then mirrors its level.
    async fn change<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Spool) -> Result<R, SpoolError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let level = Arc::clone(&self.level);
        locked(&self.spool, move |s| {
            let r = f(s).map_err(StoreError::from);
            level.mirror(s);
            r
        })
        .await
    }

    /// Makes a batch durable: in the store, or else in the spool. An error means neither
    /// happened (the data is malformed as a whole, or the spool is full or failing): do not ack.
    pub async fn write(&self, batch: &[Reading]) -> Result<Durable, StoreError> {
        if batch.is_empty() {
            return Ok(Durable::Stored(WriteReport::default()));
        }
        if self.spooled().1 == 0 {
            match self.inner.write(batch).await {
                Ok(report) => return Ok(Durable::Stored(report)),
                Err(e) if e.is_bad_data() => return Err(e),
                Err(e) => warn!(error = %e, readings = batch.len(), "store write failed, spooling"),
            }
        }
        let owned = batch.to_vec();
        self.change(move |s| s.append(&owned)).await?;
        self.wake.notify_one();
        Ok(Durable::Spooled)
    }

    /// Replays the spool into the store until `cancel` fires: oldest batch first, each removed
    /// only once the store took it; failures wait with `backoff`. Readings the store refuses
    /// (and whole batches it refuses as malformed) go to `rejected` for the dead-letter record.
    pub async fn drain(
        &self,
        cancel: CancellationToken,
        rejected: mpsc::Sender<Rejected>,
        mut backoff: Backoff,
    ) {
        loop {
            let head = self.change(Spool::peek).await;
            let batch = match head {
                Ok(Some(batch)) => batch,
                Ok(None) => {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = self.wake.notified() => continue,
                    }
                }
                Err(e) => {
                    error!(error = %e, "spool unreadable");
                    if self.wait(&cancel, &mut backoff).await {
                        return;
                    }
                    continue;
                }
            };
            let refused = match self.inner.write(&batch).await {
                Ok(report) => report.rejected,
                Err(e) if e.is_bad_data() => {
                    error!(error = %e, readings = batch.len(), "store refused a spooled batch, dead-lettered");
                    let reason = e.to_string();
                    batch
                        .into_iter()
                        .map(|r| Rejected {
                            reading: Some(r),
                            reason: reason.clone(),
                        })
                        .collect()
                }
                Err(e) => {
                    warn!(error = %e, "spool drain waiting for the store");
                    if self.wait(&cancel, &mut backoff).await {
                        return;
                    }
                    continue;
                }
            };
            backoff.reset();
            for r in refused {
                if rejected.send(r).await.is_err() {
                    warn!("dead-letter channel closed; refused reading only logged");
                }
            }
            if let Err(e) = self.change(Spool::pop).await {
                error!(error = %e, "spool head not advanced; the batch will be replayed");
                if self.wait(&cancel, &mut backoff).await {
                    return;
                }
            }
        }
    }

    /// Sleeps one backoff step, or less when a ping got an answer; true when cancelled.
    async fn wait(&self, cancel: &CancellationToken, backoff: &mut Backoff) -> bool {
        tokio::select! {
            _ = cancel.cancelled() => true,
            _ = tokio::time::sleep(backoff.next_delay()) => false,
            _ = self.answered.notified() => false,
        }
    }
}

/// The spool's batches and bytes, updated under its lock after every change.
#[derive(Default)]
struct Level {
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Level {
    fn mirror(&self, spool: &Spool) {
        self.records.store(spool.records(), Ordering::Release);
        self.bytes.store(spool.bytes(), Ordering::Release);
    }
}
