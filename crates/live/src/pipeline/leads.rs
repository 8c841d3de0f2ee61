//! Leads stage: every lead revision is written to the ledger first, and only a revision the
//! ledger did not have yet goes on to be published (and to the live subscribers). A revision
//! re-derived after a restart — from the start-up replay or a redelivered message — is already
//! in the ledger and is neither recorded nor published again; if its first publication was
//! never acknowledged, the start-up re-send of `Ledger::unpublished` covers it.
//!
//! Each revision is sealed as it is recorded (issue 7): its evidence — the readings of the
//! definition `verify` uses (`seal::evidence`) — is digested. The engine stage hands most
//! revisions their evidence readings, taken from its cache of the recent durable readings
//! (`recent`): what the service had stored or spooled when it made the revision. A revision
//! whose evidence starts before what the cache covers (the first leads after a restart, a lead
//! open longer than `evidence_keep`) comes without, and its evidence is read from the store —
//! with the spool's readings merged in, since while a spool drains the store alone lacks
//! readings the service made durable (`SpooledStore::query_chunks`); a store failure is then recorded in the seal instead of holding the lead
//! back. Either way the seal's digest is what `verify` compares the store with later, so a
//! store that lost or changed a sealed reading is caught; which source sealed a revision is
//! counted (`riverwatch_evidence_seals_total{source}`) and logged.
//!
//! Revisions come in bursts (one message can complete several leads, an event that closes
//! revises every lead it belongs to), and handled one by one each would wait for the evidence
//! and the synchronous commits of those before it. So the stage takes every revision waiting,
//! up to [`MAX_BATCH`]: it asks the ledger which it holds already (the start-up replay
//! re-derives only those; their evidence is not sealed again), seals the others concurrently,
//! and records them in one transaction, in the order the engine made them — the chain is the
//! one recording them one at a time gives — before it publishes any of them.
//!
//! Except a revision whose evidence is read from the store: that read (up to the store's
//! timeout when InfluxDB hangs) runs apart, and meanwhile the revisions of other leads are
//! recorded and published; the later revisions of its own lead wait behind it, so each lead's
//! revisions reach the ledger and the queue in order. Across leads the order is the engine's
//! except where a lead waited — nothing downstream relies on more (a lead's revisions
//! supersede each other; different leads are independent).

use super::{now_ms, LeadRevision, Outbound};
use crate::backoff::Backoff;
use crate::ledger::Ledger;
use crate::metrics::{LeadLatency, Metrics};
use crate::seal::evidence::{collect_with, EvidenceSpec};
use crate::seal::records::SealInput;
use crate::store::{AnyStore, SpooledStore};
use riverwatch_engine::Lead;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{error, info};

/// Most revisions recorded in one transaction (and evidence seals in flight at once).
pub(crate) const MAX_BATCH: usize = 32;

/// Records lead revisions and hands new ones to the publisher.
pub(crate) struct LeadsStage {
    pub ledger: Ledger,
    /// Where the evidence of a revision that comes without it is read from: the store with the
    /// spool's readings merged in, as the cache holds them.
    pub store: SpooledStore<AnyStore>,
    pub metrics: Arc<Metrics>,
    pub live: broadcast::Sender<Lead>,
    pub prefix: String,
}

/// What recording a batch of revisions did.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Recorded {
    /// Per revision, in order: whether it was new to the ledger.
    pub new: Vec<bool>,
    /// Time spent sealing the evidence (digesting it; reading it from the store first for a
    /// revision that came without it).
    pub evidence: Duration,
    /// Time spent in the ledger (asking what it holds, then the transaction).
    pub ledger: Duration,
}

/// Revisions whose evidence is being read from the store, and per lead the revisions that
/// wait behind one (a lead's revisions are recorded in order).
#[derive(Default)]
struct Reads {
    running: JoinSet<(LeadRevision, SealInput, Duration)>,
    behind: HashMap<String, VecDeque<LeadRevision>>,
}

impl LeadsStage {
    /// Records the revisions that arrive and publishes the new ones. A revision whose evidence
    /// must be read from the store is read apart: the revisions of other leads are recorded and
    /// published meanwhile, those of its own lead wait behind it.
    #[tracing::instrument(name = "leads", skip_all)]
    pub async fn run(self, mut rx: mpsc::Receiver<LeadRevision>, out: mpsc::Sender<Outbound>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut reads = Reads::default();
        let mut open = true;
        while open || !reads.running.is_empty() {
            let (ready, read) = tokio::select! {
                Some(done) = reads.running.join_next(), if !reads.running.is_empty() => {
                    let (rev, input, took) = match done {
                        Ok(done) => done,
                        Err(e) => {
                            error!(error = %e, "evidence read task failed");
                            continue;
                        }
                    };
                    let mut ready = Vec::new();
                    self.release(&rev.lead.id, &mut reads, &mut ready);
                    (ready, Some((rev, input, took)))
                }
                n = rx.recv_many(&mut batch, MAX_BATCH), if open && reads.running.len() < MAX_BATCH => {
                    open = n > 0;
                    if !open {
                        continue;
                    }
                    (self.arrived(&mut batch, &mut reads).await, None)
                }
            };
            if !self.commit(ready, read, &out).await {
                return;
            }
        }
    }

    /// The revisions of `batch` the ledger does not hold yet that can be recorded now; the
    /// others go to a store read or behind their lead's.
    async fn arrived(&self, batch: &mut Vec<LeadRevision>, reads: &mut Reads) -> Vec<LeadRevision> {
        let (held, _) = self.held(batch).await;
        let mut ready = Vec::new();
        for (rev, held) in batch.drain(..).zip(held) {
            if held {
                continue;
            }
            if let Some(queue) = reads.behind.get_mut(&rev.lead.id) {
                queue.push_back(rev);
            } else if rev.evidence.is_some() {
                ready.push(rev);
            } else {
                reads.behind.insert(rev.lead.id.clone(), VecDeque::new());
                self.read(rev, reads);
            }
        }
        ready
    }

    /// After a store read of lead `id` ended: its waiting revisions up to the next that needs
    /// one go to `ready`; that one is read in turn.
    fn release(&self, id: &str, reads: &mut Reads, ready: &mut Vec<LeadRevision>) {
        let mut queue = reads.behind.remove(id).unwrap_or_default();
        while let Some(rev) = queue.pop_front() {
            if rev.evidence.is_some() {
                ready.push(rev);
            } else {
                reads.behind.insert(id.to_string(), queue);
                self.read(rev, reads);
                return;
            }
        }
    }

    /// Starts reading the evidence of `rev` from the store.
    fn read(&self, rev: LeadRevision, reads: &mut Reads) {
        let (store, metrics) = (self.store.clone(), Arc::clone(&self.metrics));
        reads.running.spawn(async move {
            let t = Instant::now();
            // Its own task, so that even a panic in it leaves the revision to record.
            let sealing = tokio::spawn({
                let rev = rev.clone();
                async move { seal(store, &metrics, &rev).await }
            });
            let input = sealing.await.unwrap_or_else(|e| failed(&rev, &e));
            (rev, input, t.elapsed())
        });
    }

    /// Records `read` (a revision sealed from the store) and then `ready` (sealed now from
    /// the readings they carry) in one transaction, and publishes them; false when the
    /// publisher is gone.
    async fn commit(
        &self,
        ready: Vec<LeadRevision>,
        read: Option<(LeadRevision, SealInput, Duration)>,
        out: &mpsc::Sender<Outbound>,
    ) -> bool {
        let started = Instant::now();
        let mut inputs = self.gather(&ready.iter().collect::<Vec<_>>()).await;
        let mut evidence = started.elapsed();
        let mut revs = ready;
        if let Some((rev, input, took)) = read {
            revs.insert(0, rev);
            inputs.insert(0, input);
            evidence += took;
        }
        if revs.is_empty() {
            return true;
        }
        let t = Instant::now();
        let new = self
            .record_sealed(&revs.iter().collect::<Vec<_>>(), inputs)
            .await;
        let ledger = t.elapsed();
        for (rev, new) in revs.into_iter().zip(new) {
            if !new {
                continue;
            }
            let LeadRevision {
                lead,
                at,
                made,
                evidence: held,
                extracted,
                ..
            } = rev;
            if let Some(at) = at {
                self.metrics.observe_lead(&LeadLatency {
                    durable: made.saturating_duration_since(at).saturating_sub(extracted),
                    queued: started.saturating_duration_since(made),
                    evidence: extracted + evidence,
                    ledger,
                });
            }
            let source = source(held.is_some());
            info!(lead = %lead.id, revision = lead.revision, station = %lead.station, category = ?lead.category, evidence = source, "lead revision recorded");
            let sent = out.send(Outbound::lead(&self.prefix, &lead)).await;
            // No subscribers is fine: the broadcast is for watchers (demo, API), not durability.
            let _ = self.live.send(lead);
            if sent.is_err() {
                return false;
            }
        }
        true
    }

    /// Per revision, whether the ledger holds it already; and the time asking took. Unknown
    /// after an error: then every one is sealed, and the insert ignores what is there.
    async fn held(&self, revs: &[LeadRevision]) -> (Vec<bool>, Duration) {
        let t = Instant::now();
        let keys = revs
            .iter()
            .map(|r| (r.lead.id.clone(), r.lead.revision))
            .collect();
        let held = match self.ledger.has_revisions(keys).await {
            Ok(held) => held,
            Err(e) => {
                error!(error = %e, "ledger not readable; sealing every revision of the batch");
                vec![false; revs.len()]
            }
        };
        (held, t.elapsed())
    }

    /// Seals the revisions the ledger does not hold yet and writes them to it in one
    /// transaction, in order (retrying: nothing may be published before it is there).
    pub async fn record(&self, revs: &[LeadRevision]) -> Recorded {
        let (held, mut ledger) = self.held(revs).await;
        let fresh: Vec<&LeadRevision> = revs
            .iter()
            .zip(&held)
            .filter(|(_, held)| !**held)
            .map(|(r, _)| r)
            .collect();
        let t = Instant::now();
        let inputs = self.gather(&fresh).await;
        let evidence = t.elapsed();
        let t = Instant::now();
        let mut recorded = self.record_sealed(&fresh, inputs).await.into_iter();
        ledger += t.elapsed();
        let new = held
            .iter()
            .map(|held| !held && recorded.next().unwrap_or(false))
            .collect();
        Recorded {
            new,
            evidence,
            ledger,
        }
    }

    /// Writes sealed revisions to the ledger in one transaction, in order, retrying until it
    /// takes them; per revision, whether it was new.
    async fn record_sealed(&self, revs: &[&LeadRevision], inputs: Vec<SealInput>) -> Vec<bool> {
        if revs.is_empty() {
            return Vec::new();
        }
        let batch: Vec<_> = revs.iter().map(|r| r.lead.clone()).zip(inputs).collect();
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
        let new = loop {
            match self.ledger.record_all(batch.clone(), now_ms()).await {
                Ok(new) => break new,
                Err(e) => {
                    error!(error = %e, revisions = batch.len(), "lead revisions not recorded; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        };
        self.metrics
            .lead_revisions
            .inc_by(new.iter().filter(|n| **n).count() as u64);
        new
    }

    /// The seal inputs of `revs`, in order, sealed concurrently.
    async fn gather(&self, revs: &[&LeadRevision]) -> Vec<SealInput> {
        let mut seals = JoinSet::new();
        for (i, rev) in revs.iter().enumerate() {
            let (store, metrics) = (self.store.clone(), Arc::clone(&self.metrics));
            let rev = (*rev).clone();
            seals.spawn(async move { (i, seal(store, &metrics, &rev).await) });
        }
        let mut inputs: Vec<Option<SealInput>> = vec![None; revs.len()];
        while let Some(done) = seals.join_next().await {
            // A task that failed is named by `failed` below; the panic hook printed the rest.
            if let Ok((i, input)) = done {
                inputs[i] = Some(input);
            }
        }
        revs.iter()
            .zip(inputs)
            .map(|(rev, input)| input.unwrap_or_else(|| failed(rev, "the task ended")))
            .collect()
    }
}

/// The seal input of a revision whose sealing failed (a bug: a panic), with why.
fn failed(rev: &LeadRevision, why: impl std::fmt::Display) -> SealInput {
    error!(lead = %rev.lead.id, error = %why, "evidence seal failed");
    SealInput {
        evidence: Some(Err(format!("the evidence seal failed: {why}"))),
        seen: rev.seen.clone(),
        engine_from: rev.engine_from,
        config: Some(Arc::clone(&rev.config)),
    }
}

/// The seal input of `rev`: from the readings it carries, else read from the store.
async fn seal(store: SpooledStore<AnyStore>, metrics: &Metrics, rev: &LeadRevision) -> SealInput {
    metrics.evidence_sealed(source(rev.evidence.is_some()));
    let (seen, config) = (rev.seen.clone(), Arc::clone(&rev.config));
    let input = match &rev.evidence {
        Some((spec, readings)) => {
            SealInput::held(spec.clone(), readings, seen, rev.engine_from, config)
        }
        None => {
            let spec = EvidenceSpec::of(&rev.lead, &seen);
            let read = collect_with(&spec, |stations, from, to| async move {
                store.query(&stations, from, to).await
            })
            .await;
            SealInput::read(spec, read, seen, rev.engine_from, config)
        }
    };
    if let Some(Err(e)) = &input.evidence {
        error!(error = %e, lead = %rev.lead.id, "evidence not readable; revision sealed without it");
    }
    input
}

/// Where a revision's evidence was sealed from, as the metric label and log field say it.
fn source(held: bool) -> &'static str {
    if held {
        "memory"
    } else {
        "store"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Health;
    use crate::pipeline::recent::KEEP;
    use crate::pipeline::Detector;
    use crate::seal::evidence::{collect, EvidenceSeal, EvidenceSpec};
    use crate::seal::records::LeadSeal;
    use crate::store::{InfluxOpts, InfluxStore, ReadingStore, Spool, SqliteStore};
    use riverwatch_engine::sim::{Scenario, SimOptions, Simulator};
    use riverwatch_engine::time::DAY;
    use riverwatch_engine::{Config, Reading};
    use riverwatch_testkit::Influx;
    use std::time::Duration;

    /// Stormy simulated days (seed 7) written to `store` and fed to a detector one message at a
    /// time, until it has made `n` lead revisions; returns them.
    async fn revisions(store: &AnyStore, n: usize) -> Vec<LeadRevision> {
        let cfg = Arc::new(Config::embedded());
        let opts = SimOptions::new(Scenario::Stormy, 7, 1_751_328_000_000, 30 * DAY);
        let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).expect("simulator");
        let mut detector = Detector::new(cfg, Arc::default(), Health::default(), KEEP);
        let (mut tick, mut made, mut revs) = (Vec::new(), Vec::new(), Vec::new());
        let mut all = Vec::new();
        while revs.len() < n && sim.next_tick(&mut tick).is_some() {
            let readings: Vec<_> = tick.iter().map(|r| sim.to_reading(r)).collect();
            for msg in readings.chunk_by(|a, b| a.station == b.station) {
                detector.push(msg, &mut made);
                revs.extend(detector.revisions(&mut made, Some(Instant::now())));
            }
            all.extend(readings);
        }
        store.write(&all).await.expect("stored");
        assert!(
            revs.len() >= n,
            "thirty stormy days make {} revisions",
            revs.len()
        );
        revs
    }

    #[tokio::test]
    async fn revisions_arriving_together_are_sealed_recorded_and_published_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let store =
            AnyStore::Sqlite(SqliteStore::open(&dir.path().join("r.sqlite")).expect("store"));
        let revs = revisions(&store, 6).await;
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
        let (live, _) = broadcast::channel(64);
        let spooled =
            SpooledStore::open(store.clone(), &dir.path().join("spool"), 1 << 20).expect("spool");
        let stage = || LeadsStage {
            ledger: ledger.clone(),
            store: spooled.clone(),
            metrics: Arc::new(Metrics::new()),
            live: live.clone(),
            prefix: "rw/leads".into(),
        };
        let want: Vec<_> = revs
            .iter()
            .map(|r| {
                (
                    format!("rw/leads/{}", r.lead.station),
                    r.lead.id.clone(),
                    r.lead.revision,
                )
            })
            .collect();
        // Every revision is waiting before the stage starts: they are taken as one batch.
        let run = |revs: Vec<LeadRevision>| {
            let stage = stage();
            async move {
                let (tx, rx) = mpsc::channel(MAX_BATCH);
                let (out_tx, mut out_rx) = mpsc::channel(MAX_BATCH);
                for rev in revs {
                    tx.send(rev).await.expect("queued");
                }
                drop(tx);
                stage.run(rx, out_tx).await;
                let mut published = Vec::new();
                while let Some(ob) = out_rx.recv().await {
                    let (id, revision) = ob.lead.expect("a lead");
                    published.push((ob.topic, id, revision));
                }
                published
            }
        };
        let again: Vec<_> = revs
            .iter()
            .map(|r| LeadRevision {
                at: None,
                ..r.clone()
            })
            .collect();
        // Each lead's revisions in order; a lead whose evidence is read from the store may be
        // overtaken by others (`a_slow_evidence_read_holds_back_only_its_own_lead`).
        let published = run(revs).await;
        let mut sorted = published.clone();
        sorted.sort();
        let mut all = want.clone();
        all.sort();
        assert_eq!(sorted, all, "every revision published once");
        for (_, id, _) in &want {
            let of = |v: &[(String, String, u32)]| {
                v.iter()
                    .filter(|(_, i, _)| i == id)
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(of(&published), of(&want), "{id} in order");
        }

        let recorded: Vec<_> = ledger
            .unpublished()
            .await
            .expect("ledger")
            .iter()
            .map(|l| (l.id.clone(), l.revision))
            .collect();
        let want_ids: Vec<_> = published
            .iter()
            .map(|(_, id, r)| (id.clone(), *r))
            .collect();
        assert_eq!(recorded, want_ids, "recorded in the order published");
        for (id, revision) in &want_ids {
            let sealed = ledger
                .sealed_revision(id, Some(*revision))
                .await
                .expect("ledger")
                .expect("sealed");
            let LeadSeal { evidence, .. } = sealed.seal;
            let evidence = evidence.expect("evidence read back from the store");
            assert!(evidence.readings > 0, "{id}#{revision}: {evidence:?}");
        }
        let report = ledger.verify_chain(None).await.expect("audit");
        assert!(report.ok(), "{:?}", report.breaks);
        assert_eq!(report.leads, want.len() as u64);

        // Re-derived (a restart): already in the ledger, so neither recorded nor published.
        assert_eq!(run(again).await, Vec::new());
        let report = ledger.verify_chain(None).await.expect("audit");
        assert_eq!(report.leads, want.len() as u64);
    }

    /// A revision that comes with its evidence readings is sealed from them, one that comes
    /// without (the cache did not reach back to its evidence start) from the store with what
    /// waits in the spool (here corrections of evidence readings, not drained yet); either way
    /// the seal is the one the store's readings give once the spool has drained, and the
    /// metric counts each source.
    #[tokio::test]
    async fn revisions_without_their_evidence_are_sealed_from_the_store_and_spool() {
        let dir = tempfile::tempdir().expect("tmp");
        let store =
            AnyStore::Sqlite(SqliteStore::open(&dir.path().join("r.sqlite")).expect("store"));
        let mut revs = revisions(&store, 6).await;
        let mut spooled = Vec::new();
        for rev in revs.iter_mut().skip(1).step_by(2) {
            rev.evidence = None;
            let spec = EvidenceSpec::of(&rev.lead, &rev.seen);
            let stored = collect(&store, &spec).await.expect("read");
            spooled.extend(stored.into_iter().rev().take(3).map(|r| Reading {
                value: r.value + 1.0,
                ..r
            }));
        }
        let spool_dir = dir.path().join("spool");
        let mut spool = Spool::open(&spool_dir, 1 << 20).expect("spool");
        spool.append(&spooled).expect("spooled");
        drop(spool);
        let held = revs.iter().filter(|r| r.evidence.is_some()).count();
        assert!(held >= 2, "{held} of {} come with evidence", revs.len());
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
        let metrics = Arc::new(Metrics::new());
        let stage = LeadsStage {
            ledger: ledger.clone(),
            store: SpooledStore::open(store.clone(), &spool_dir, 1 << 20).expect("spooled"),
            metrics: Arc::clone(&metrics),
            live: broadcast::channel(8).0,
            prefix: "rw/leads".into(),
        };
        let recorded = stage.record(&revs).await;
        assert_eq!(recorded.new, vec![true; revs.len()]);
        // The drain's work: afterwards the store holds what the service had made durable —
        // also for the revisions with evidence, made before the corrections arrived.
        let mut want = Vec::new();
        for rev in revs.iter().filter(|r| r.evidence.is_some()) {
            let spec = EvidenceSpec::of(&rev.lead, &rev.seen);
            let readings = collect(&store, &spec).await.expect("read");
            want.push(EvidenceSeal::new(spec, &readings));
        }
        store.write(&spooled).await.expect("drained");
        for rev in revs.iter().filter(|r| r.evidence.is_none()) {
            let spec = EvidenceSpec::of(&rev.lead, &rev.seen);
            let readings = collect(&store, &spec).await.expect("read");
            want.push(EvidenceSeal::new(spec, &readings));
        }
        let (with, without): (Vec<_>, Vec<_>) = revs.iter().partition(|r| r.evidence.is_some());
        for (rev, want) in with.into_iter().chain(without).zip(want) {
            let sealed = ledger
                .sealed_revision(&rev.lead.id, Some(rev.lead.revision))
                .await
                .expect("ledger")
                .expect("sealed");
            assert_eq!(sealed.seal.evidence, Some(want), "{}", rev.lead.id);
        }
        let text = metrics.render();
        for (source, n) in [("memory", held), ("store", revs.len() - held)] {
            let line = format!("riverwatch_evidence_seals_total{{source=\"{source}\"}} {n}\n");
            assert!(text.contains(&line), "{line} in {text}");
        }
    }

    /// A revision whose evidence must be read from a store that hangs (a frozen InfluxDB)
    /// holds back only the later revisions of its own lead: the others are recorded and
    /// published first, each lead's still in order, and it is sealed with the store's error.
    #[tokio::test]
    async fn a_slow_evidence_read_holds_back_only_its_own_lead() {
        let dir = tempfile::tempdir().expect("tmp");
        let sqlite =
            AnyStore::Sqlite(SqliteStore::open(&dir.path().join("r.sqlite")).expect("store"));
        let mut revs = revisions(&sqlite, 8).await;
        let slow = revs
            .iter()
            .position(|r| revs.iter().filter(|o| o.lead.id == r.lead.id).count() >= 2)
            .expect("a lead revised twice");
        let key = |r: &LeadRevision| (r.lead.id.clone(), r.lead.revision);
        let (slow_id, slow_revision) = key(&revs[slow]);
        revs[slow].evidence = None;
        let (mine, others): (Vec<_>, Vec<_>) = revs.iter().partition(|r| r.lead.id == slow_id);
        assert!(!others.is_empty());
        let want: Vec<_> = others.into_iter().chain(mine).map(key).collect();

        let server = Influx::start();
        let url = server.url().parse().expect("url");
        let influx = InfluxStore::new(InfluxOpts {
            timeout: Duration::from_secs(2),
            attempts: 1,
            ..InfluxOpts::new(url, "frozen")
        })
        .expect("client");
        let store =
            SpooledStore::open(AnyStore::Influx(influx), &dir.path().join("spool"), 1 << 20)
                .expect("spool");
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
        let stage = LeadsStage {
            ledger: ledger.clone(),
            store,
            metrics: Arc::new(Metrics::new()),
            live: broadcast::channel(8).0,
            prefix: "rw/leads".into(),
        };
        let (tx, rx) = mpsc::channel(MAX_BATCH);
        let (out_tx, mut out_rx) = mpsc::channel(MAX_BATCH);
        for rev in revs {
            tx.send(rev).await.expect("queued");
        }
        drop(tx);
        server.pause();
        stage.run(rx, out_tx).await;
        server.resume();
        let mut published = Vec::new();
        while let Some(ob) = out_rx.recv().await {
            published.push(ob.lead.expect("a lead"));
        }
        assert_eq!(published, want);
        let sealed = ledger
            .sealed_revision(&slow_id, Some(slow_revision))
            .await
            .expect("ledger")
            .expect("sealed")
            .seal;
        assert_eq!(sealed.evidence, None);
        assert!(sealed.evidence_error.is_some(), "{sealed:?}");
        let report = ledger.verify_chain(None).await.expect("audit");
        assert!(report.ok(), "{:?}", report.breaks);
    }
}
