//! [`Writes`]: the store stage's batch writes in flight — at most `store.writes_in_flight` at
//! once, each finished in the order it was started, and never two holding the same point.
//!
//! One write at a time left the stage idle while InfluxDB answered (issue 6: ~56 ms a batch
//! under load, with the `accepted` queue full and InfluxDB not busy). Each write now runs as its
//! own task, so the next request goes out while the last is answered, and retries with backoff
//! until its batch is durable (stored or spooled): a write that cannot be made durable keeps
//! its slot, so once every slot is taken intake is held back as before.
//!
//! Order: [`Writes::next`] hands back the oldest write, however early a later one finished.
//! MQTT wants PUBACKs in PUBLISH order (3.1.1, section 4.6) and the engine gets readings in
//! arrival order; both follow from acking and forwarding batches in start order.
//!
//! Same point, later write wins: a reading is identified by (station, parameter, time), and two
//! writes in flight race each other at the store. So [`Writes::clashes`] tells whether a batch
//! shares a point with a write in flight; the stage holds such a batch until the older writes
//! are done, which leaves the store as one write at a time would. Points are kept as 64-bit
//! hashes: a collision can only make a batch wait needlessly, never let one through early.

use crate::backoff::Backoff;
use crate::metrics::Metrics;
use crate::store::{Durable, ReadingStore, SpooledStore};
use riverwatch_engine::Reading;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::error;

/// First and longest wait between attempts to make a batch durable.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(10));

/// A batch that is durable, handed back in start order with what came along with it.
#[derive(Debug)]
pub(crate) struct Written<P> {
    pub readings: Vec<Reading>,
    pub pending: P,
    pub durable: Durable,
}

struct Running<P> {
    task: JoinHandle<Durable>,
    readings: Arc<Vec<Reading>>,
    /// The batch's distinct point hashes.
    points: Vec<u64>,
    pending: P,
}

/// Batch writes in flight, oldest first. Dropping it aborts them (none was acked).
pub(crate) struct Writes<S, P> {
    store: SpooledStore<S>,
    metrics: Arc<Metrics>,
    max: usize,
    running: VecDeque<Running<P>>,
    /// Point hash → how many writes in flight hold it.
    points: FxHashMap<u64, u32>,
}

impl<S: ReadingStore + 'static, P> Writes<S, P> {
    /// Up to `max` (at least 1) writes at once through `store`.
    pub fn new(store: SpooledStore<S>, max: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            metrics,
            max: max.max(1),
            running: VecDeque::new(),
            points: FxHashMap::default(),
        }
    }

    /// The store written to.
    pub fn store(&self) -> &SpooledStore<S> {
        &self.store
    }

    /// Whether another write may start.
    pub fn has_room(&self) -> bool {
        self.running.len() < self.max
    }

    /// Whether no write is in flight.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Whether any of a batch's `points` ([`points`]) is held by a write in flight.
    pub fn clashes(&self, points: &[u64]) -> bool {
        !self.points.is_empty() && points.iter().any(|p| self.points.contains_key(p))
    }

    /// Starts writing `readings`, whose distinct point hashes are `points` ([`points`]);
    /// `pending` comes back with them from [`Writes::next`]. The caller checks
    /// [`Writes::has_room`] and [`Writes::clashes`] first.
    pub fn start(&mut self, readings: Vec<Reading>, points: Vec<u64>, pending: P) {
        for p in &points {
            *self.points.entry(*p).or_default() += 1;
        }
        let readings = Arc::new(readings);
        self.running.push_back(Running {
            task: self.spawn(Arc::clone(&readings), Duration::ZERO),
            readings,
            points,
            pending,
        });
        self.metrics.writes_in_flight.set(self.running.len() as i64);
    }

    /// Waits for the oldest write in flight to be durable; `None` when none is in flight.
    /// Cancel-safe: dropped before it returns, the write stays the oldest.
    pub async fn next(&mut self) -> Option<Written<P>> {
        loop {
            let head = self.running.front_mut()?;
            match (&mut head.task).await {
                Ok(durable) => {
                    let head = self.running.pop_front()?;
                    self.metrics.writes_in_flight.set(self.running.len() as i64);
                    for p in &head.points {
                        if let Some(n) = self.points.get_mut(p) {
                            *n -= 1;
                            if *n == 0 {
                                self.points.remove(p);
                            }
                        }
                    }
                    return Some(Written {
                        readings: Arc::unwrap_or_clone(head.readings),
                        pending: head.pending,
                        durable,
                    });
                }
                Err(e) => {
                    // Only a bug in a store panics; the batch is not durable, so write it again.
                    error!(error = %e, readings = head.readings.len(), "batch write task failed; writing the batch again");
                    let readings = Arc::clone(&head.readings);
                    let task = self.spawn(readings, RETRY.1);
                    if let Some(head) = self.running.front_mut() {
                        head.task = task;
                    }
                }
            }
        }
    }

    /// A task that writes `readings` (after `wait`) until they are durable.
    fn spawn(&self, readings: Arc<Vec<Reading>>, wait: Duration) -> JoinHandle<Durable> {
        let store = self.store.clone();
        let metrics = Arc::clone(&self.metrics);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let mut backoff = Backoff::new(RETRY.0, RETRY.1);
            loop {
                let t = Instant::now();
                match store.write(&readings).await {
                    Ok(d) => {
                        metrics.observe_store(t.elapsed());
                        return d;
                    }
                    Err(e) => {
                        let delay = backoff.next_delay();
                        error!(error = %e, readings = readings.len(), retry_in = ?delay, "batch not durable; messages not acknowledged");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        })
    }
}

impl<S, P> Drop for Writes<S, P> {
    fn drop(&mut self) {
        for r in &self.running {
            r.task.abort();
        }
    }
}

/// The distinct identities (station, parameter, time) of a batch's readings, hashed: what
/// [`Writes::clashes`] and [`Writes::start`] take, computed once per batch.
pub(crate) fn points(batch: &[Reading]) -> Vec<u64> {
    let mut points: Vec<u64> = batch
        .iter()
        .map(|r| FxBuildHasher.hash_one((&r.station, &r.parameter, r.time)))
        .collect();
    points.sort_unstable();
    points.dedup();
    points
}
