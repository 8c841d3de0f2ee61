//! Store stage: gathers decoded messages into write batches, makes each batch durable through
//! the [`SpooledStore`] (store, or disk spool while the store is down), and only then
//! acknowledges the batch's messages and passes their readings on to the engine.
//!
//! A batch is due when it is full, when its oldest reading has waited the flush interval, or
//! when no further message is waiting and its oldest reading has waited `store.linger` (a few
//! milliseconds, to gather the messages about to arrive into the same request). The last rule
//! matters because the broker sends at most its inflight window of unacknowledged messages:
//! waiting for more would stall intake until the interval passes.
//!
//! Up to `store.writes_in_flight` batches are written at once ([`Writes`]): a due batch starts
//! as soon as a slot is free, even while another write is in flight. Starting at once rather
//! than waiting for the write in flight keeps latency at one write when the load is light,
//! and costs no batch size when it is heavy: then every slot is busy, messages gather while
//! they are, and each freed slot takes everything gathered meanwhile — the slots, not a timer,
//! pace the requests. While all slots are busy the stage keeps gathering up to a full batch,
//! then stops taking messages, which holds back decode, intake and the broker.
//!
//! Finished writes are handled in the order they started, so acks go out in PUBLISH order and
//! readings reach the engine in arrival order. A due batch that shares a point with a write in
//! flight is held until a write finishes, then checked again: the later write of a point lands
//! last, as with one write at a time. A write that cannot be made durable (spool full or
//! failing) is retried with backoff in its slot; nothing is acknowledged before it succeeds.

use super::writes::{points, Writes, Written};
use super::{Accepted, DeadLetter, Stored};
use crate::ingest::{Ack, Acker};
use crate::metrics::Metrics;
use crate::store::{Batcher, Durable, ReadingStore, SpooledStore};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info_span, Instrument};

/// One message in a batch: its reading count, arrival and ack.
type Pending = (usize, Instant, Ack);

/// Makes readings durable, then acks and forwards them.
pub(crate) struct StoreStage<S> {
    batcher: Batcher,
    writes: Writes<S, Vec<Pending>>,
    acker: Acker,
    metrics: Arc<Metrics>,
    /// Where durable readings go.
    tx: mpsc::Sender<Stored>,
    /// Where readings the store refuses go.
    dead: mpsc::Sender<DeadLetter>,
    /// The messages in the batcher, in arrival order.
    pending: Vec<Pending>,
    /// The due batch shares a point with a write in flight: wait for a write to finish.
    held: bool,
}

impl<S: ReadingStore + 'static> StoreStage<S> {
    /// A stage writing `batcher`'s batches to `store`, `writes_in_flight` at once.
    pub fn new(
        store: SpooledStore<S>,
        batcher: Batcher,
        writes_in_flight: usize,
        acker: Acker,
        metrics: Arc<Metrics>,
        tx: mpsc::Sender<Stored>,
        dead: mpsc::Sender<DeadLetter>,
    ) -> Self {
        Self {
            batcher,
            writes: Writes::new(store, writes_in_flight, Arc::clone(&metrics)),
            acker,
            metrics,
            tx,
            dead,
            pending: Vec::new(),
            held: false,
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Accepted>) {
        let span = info_span!("store");
        async move {
            let mut open = true;
            loop {
                let now = Instant::now();
                let due = !self.pending.is_empty()
                    && (!open
                        || (rx.is_empty() && self.batcher.has_lingered(now))
                        || self.batcher.is_due(now));
                if due && !self.held && self.writes.has_room() {
                    let points = points(self.batcher.readings());
                    if self.writes.clashes(&points) {
                        self.held = true;
                    } else {
                        let pending = std::mem::take(&mut self.pending);
                        self.writes.start(self.batcher.take(), points, pending);
                        continue;
                    }
                }
                if !open && self.pending.is_empty() && self.writes.is_empty() {
                    break;
                }
                // A batch not yet due may become due at the end of its linger, and is due at
                // its deadline at the latest.
                let deadline = self.batcher.next_change(now).filter(|_| !due);
                tokio::select! {
                    m = rx.recv(), if open && !self.batcher.is_full() => match m {
                        Some(a) => {
                            self.pending.push((a.readings.len(), a.at, a.ack));
                            self.batcher.push(a.readings, Instant::now());
                        }
                        None => open = false,
                    },
                    Some(w) = self.writes.next(), if !self.writes.is_empty() => {
                        self.held = false;
                        self.finish(w).await;
                    }
                    _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Counts a durable batch, then acks its messages and forwards their readings, in order.
    async fn finish(&mut self, w: Written<Vec<Pending>>) {
        match w.durable {
            Durable::Stored(report) => {
                self.metrics.stored.inc_by(report.stored as u64);
                for r in report.rejected {
                    let _ = self.dead.send(DeadLetter::refused(r)).await;
                }
            }
            Durable::Spooled => {
                self.metrics.spooled.inc_by(w.readings.len() as u64);
            }
        }
        let (batches, bytes) = self.writes.store().spooled();
        self.metrics.spool_batches.set(batches as i64);
        self.metrics.spool_bytes.set(bytes as i64);
        self.acker.ack(w.pending.iter().map(|p| p.2));
        let mut rest = w.readings.into_iter();
        for (n, at, _) in w.pending {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::Backoff;
    use crate::store::{Scripted, SqliteStore};
    use riverwatch_engine::time::Millis;
    use riverwatch_engine::Reading;
    use rumqttc as mqtt;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    /// 2025-11-30T00:00:00Z.
    const T: Millis = 1_764_460_800_000;

    fn reading(station: &str, time: Millis, value: f64) -> Reading {
        Reading {
            station: station.into(),
            parameter: "nh3n".into(),
            time,
            value,
            flag: Default::default(),
        }
    }

    /// Writes of batches holding a negative value take 300 ms; the others none.
    fn slow_if_negative(batch: &[Reading]) -> Duration {
        if batch.iter().any(|r| r.value < 0.0) {
            Duration::from_millis(300)
        } else {
            Duration::ZERO
        }
    }

    /// A store stage over a real SQLite file and spool, with its ack requests readable.
    struct Rig {
        store: SpooledStore<Scripted>,
        metrics: Arc<Metrics>,
        accepted: mpsc::Sender<Accepted>,
        acks: flume::Receiver<mqtt::Request>,
        stored: mpsc::Receiver<Stored>,
        stage: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    /// Batches of `batch_size` readings, `in_flight` writes at once, no flush by age, no linger.
    fn rig(batch_size: usize, in_flight: usize) -> Rig {
        rig_with(batch_size, in_flight, 1 << 20, Duration::ZERO)
    }

    /// [`rig`] with a spool of `spool_bytes` and an early write's `linger`.
    fn rig_with(batch_size: usize, in_flight: usize, spool_bytes: u64, linger: Duration) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::open(&dir.path().join("readings.sqlite")).unwrap();
        let store = SpooledStore::open(
            Scripted::new(sqlite, slow_if_negative),
            &dir.path().join("spool"),
            spool_bytes,
        )
        .unwrap();
        let metrics = Arc::new(Metrics::new());
        let (ack_tx, acks) = flume::unbounded();
        let (accepted, rx) = mpsc::channel(64);
        let (stored_tx, stored) = mpsc::channel(64);
        let stage = StoreStage::new(
            store.clone(),
            Batcher::new(batch_size, Duration::from_secs(60), linger),
            in_flight,
            Acker::into_channel(ack_tx),
            Arc::clone(&metrics),
            stored_tx,
            mpsc::channel(64).0,
        );
        Rig {
            store,
            metrics,
            accepted,
            acks,
            stored,
            stage: tokio::spawn(stage.run(rx)),
            _dir: dir,
        }
    }

    impl Rig {
        async fn send(&self, pkid: u16, readings: Vec<Reading>) {
            let ack = Ack::qos1(pkid);
            let at = Instant::now();
            self.accepted
                .send(Accepted { readings, at, ack })
                .await
                .unwrap();
        }

        /// Ends intake and waits for the stage: the packet ids acked and the readings passed
        /// on, both in the order they left.
        async fn close(&mut self) -> (Vec<u16>, Vec<Vec<Reading>>) {
            let (closed, _) = mpsc::channel(1);
            drop(std::mem::replace(&mut self.accepted, closed));
            (&mut self.stage).await.unwrap();
            let acks = self
                .acks
                .try_iter()
                .map(|r| match r {
                    mqtt::Request::PubAck(a) => a.pkid,
                    other => panic!("not an ack: {other:?}"),
                })
                .collect();
            let mut forwarded = Vec::new();
            while let Ok(s) = self.stored.try_recv() {
                assert!(s.at.is_some());
                forwarded.push(s.readings);
            }
            (acks, forwarded)
        }

        /// `f` of the first reading of each batch the store took, in the order it took them.
        fn finished<V>(&self, f: impl Fn(&Reading) -> V) -> Vec<V> {
            self.store.inner().finished().iter().map(f).collect()
        }

        /// The stored value of `station`'s reading at `time`.
        async fn value(&self, station: &str, time: Millis) -> Option<f64> {
            let all = self.store.inner().query(&[], T, T + 1_000).await.unwrap();
            all.iter()
                .find(|r| r.station.as_str() == station && r.time == time)
                .map(|r| r.value)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_within_the_linger_share_one_write_made_before_the_deadline() {
        for (linger, writes) in [(Duration::ZERO, 2), (Duration::from_secs(1), 1)] {
            let mut rig = rig_with(100, 2, 1 << 20, linger);
            rig.send(1, vec![reading("DL01", T, 1.0)]).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            rig.send(2, vec![reading("DL01", T + 10, 2.0)]).await;
            // Well past the linger, far before the 60-s flush interval, intake still open.
            let acked = riverwatch_testkit::eventually_async(Duration::from_secs(5), || async {
                (rig.acks.len() == 2).then_some(())
            })
            .await;
            assert!(acked.is_some(), "linger {linger:?}: both messages acked");
            assert_eq!(rig.finished(|r| r.time).len(), writes, "linger {linger:?}");
            let (acks, _) = rig.close().await;
            assert_eq!(acks, [1, 2]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_later_write_finishing_first_still_acks_and_forwards_in_arrival_order() {
        let mut rig = rig(2, 2);
        let msgs: Vec<Vec<Reading>> = (0..6)
            .map(|i| {
                let v = if i == 0 { -1.0 } else { i as f64 };
                let t = T + i * 10;
                vec![reading("DL01", t, v), reading("DL02", t, v)]
            })
            .collect();
        for (i, m) in msgs.iter().enumerate() {
            rig.send(i as u16 + 1, m.clone()).await;
        }
        // The first write takes 300 ms, so both slots are busy for a while (and never more).
        let mut peak = 0;
        for _ in 0..2_000 {
            peak = peak.max(rig.metrics.writes_in_flight.get());
            if peak >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(peak, 2, "writes in flight at most");
        let (acks, forwarded) = rig.close().await;
        assert_eq!(rig.metrics.writes_in_flight.get(), 0);
        // The first message's write (300 ms) was overtaken by the second's in the store…
        let finished = rig.finished(|r| r.time);
        assert_eq!(finished[..2], [T + 10, T], "{finished:?}");
        // …yet acks and readings left in arrival order.
        assert_eq!(acks, [1, 2, 3, 4, 5, 6]);
        assert_eq!(forwarded, msgs);
        assert_eq!(rig.metrics.stored.get(), 12);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_sharing_a_point_with_a_write_in_flight_waits_for_it() {
        let mut rig = rig(1, 2);
        rig.send(1, vec![reading("DL01", T, -1.0)]).await; // 300 ms to write
        rig.send(2, vec![reading("DL01", T, 2.0)]).await; // same point: must land last
        rig.send(3, vec![reading("DL02", T + 5, -3.0)]).await; // another point, may overlap
        let (acks, forwarded) = rig.close().await;
        assert_eq!(acks, [1, 2, 3]);
        assert_eq!(forwarded.len(), 3);
        assert_eq!(rig.value("DL01", T).await, Some(2.0));
        let finished = rig.finished(|r| r.value);
        assert_eq!(finished[..2], [-1.0, 2.0], "{finished:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_spooled_while_a_later_one_is_stored_keeps_ack_order_and_point_order() {
        let mut rig = rig(1, 3);
        rig.store.inner().set_down(Some("DL09"));
        // 1 fails after 300 ms and is spooled; 2 is stored meanwhile; 3 rewrites 1's point, so
        // it waits for 1 and then goes into the spool behind it (the spool is not empty).
        rig.send(1, vec![reading("DL09", T, -1.0)]).await;
        rig.send(2, vec![reading("DL01", T, 2.0)]).await;
        rig.send(3, vec![reading("DL09", T, 3.0)]).await;
        let (acks, forwarded) = rig.close().await;
        assert_eq!(acks, [1, 2, 3]);
        assert_eq!(forwarded.concat().len(), 3);
        assert_eq!(rig.metrics.stored.get(), 1);
        assert_eq!(rig.metrics.spooled.get(), 2);
        assert_eq!(rig.value("DL01", T).await, Some(2.0));
        assert_eq!(rig.value("DL09", T).await, None);

        rig.store.inner().set_down(None);
        let cancel = CancellationToken::new();
        let (rejected, _) = mpsc::channel(8);
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
        let drain = tokio::spawn({
            let store = rig.store.clone();
            let cancel = cancel.clone();
            async move { store.drain(cancel, rejected, backoff).await }
        });
        let drained = riverwatch_testkit::eventually_async(Duration::from_secs(10), || async {
            (rig.store.spooled() == (0, 0)).then_some(())
        })
        .await;
        cancel.cancel();
        drain.await.unwrap();
        assert!(drained.is_some(), "the spool never drained");
        assert_eq!(rig.value("DL09", T).await, Some(3.0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_neither_stored_nor_spooled_holds_back_every_later_ack() {
        // The store refuses DL09 and the spool has no room: batch 1 is retried with backoff.
        let mut rig = rig_with(1, 2, 8, Duration::ZERO);
        rig.store.inner().set_down(Some("DL09"));
        rig.send(1, vec![reading("DL09", T, 1.0)]).await;
        rig.send(2, vec![reading("DL01", T, 2.0)]).await;
        let overtaken = riverwatch_testkit::eventually_async(Duration::from_secs(10), || async {
            (rig.value("DL01", T).await == Some(2.0)).then_some(())
        })
        .await;
        assert!(overtaken.is_some(), "batch 2 was never written");
        assert_eq!(
            rig.acks.try_iter().count(),
            0,
            "acked before batch 1 was durable"
        );
        assert!(
            rig.stored.try_recv().is_err(),
            "forwarded before batch 1 was durable"
        );
        rig.store.inner().set_down(None);
        let (acks, forwarded) = rig.close().await;
        assert_eq!(acks, [1, 2]);
        assert_eq!(forwarded.len(), 2);
        assert_eq!(rig.value("DL09", T).await, Some(1.0));
    }
}
