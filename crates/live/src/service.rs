//! The live service: opens the ledger and the store, rebuilds the engine's state from the
//! recent window in the store (and in the spool a previous process left), and runs the
//! pipeline stages as tasks under one [`CancellationToken`] and one [`JoinSet`] until a
//! shutdown signal or a stage ending.
//!
//! [`Service::start`] returns once everything runs; the caller may add its own tasks (the HTTP
//! API, the demo's simulator) with [`Service::spawn`] so they share the shutdown, and reads the
//! ledger, store, metrics and health through [`ServiceHandle`]. [`Service::run_until`] waits
//! for the shutdown future, then stops intake and lets the stages drain in order — decode,
//! store (flush, ack), engine, leads, dead letters, publisher (until every PUBACK) — within
//! `shutdown_grace`, after which the rest is aborted: whatever was not acknowledged is
//! redelivered by the broker, whatever was not published is re-sent from the ledger.

use crate::api::{ApiState, ReplaySide};
use crate::config::{Secret, ServiceConfig, StoreKind};
use crate::health::Health;
use crate::ingest::{self, Source, TlsError};
use crate::ledger::{Ledger, LedgerError};
use crate::metrics::Metrics;
use crate::pipeline::{
    load_models, now_ms, watch_reloads, DeadLetter, DeadLetterStage, DecodeStage, Detector,
    EngineStage, LeadsStage, Models, Outbound, Publisher, Queues, StoreStage, Watched, MAX_BATCH,
    MAX_FUTURE_SKEW,
};
use crate::seal::ingest::{IngestSeal, CHECKPOINT_EVERY};
use crate::seal::Signer;
use crate::store::{
    AnyStore, Batcher, InfluxStore, ReadingChunks, SpooledStore, SqliteStore, StoreError,
};
use crate::Backoff;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Config, Lead};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn, Instrument};

/// How often the store is pinged for `store_reachable`.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Times the start-up replay is tried before the service starts without it (see [`rebuild`]).
const REPLAY_ATTEMPTS: u32 = 5;

/// Why the service could not start or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The ledger could not be opened or read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store or spool could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The MQTT TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The signing key in the environment is unusable.
    #[error(transparent)]
    Key(#[from] crate::seal::keys::KeyError),
    /// Stages were still running when the shutdown grace ran out; they were aborted.
    #[error(
        "stages did not drain within {0:?}; aborted (unacknowledged messages will be redelivered)"
    )]
    Drain(Duration),
}

/// What the HTTP API and the demo need from a running service. Cheap to clone.
#[derive(Clone)]
pub struct ServiceHandle {
    /// The lead ledger (leads, status history, dead letters).
    pub ledger: Ledger,
    /// The reading store with its spool (query through `store.inner()`).
    pub store: SpooledStore<AnyStore>,
    /// Metrics; `metrics.render()` is the `/metrics` body.
    pub metrics: Arc<Metrics>,
    /// Connection, readiness and per-station last-seen times.
    pub health: Health,
    leads: broadcast::Sender<Lead>,
    models: watch::Receiver<Models>,
    config: watch::Receiver<Arc<Config>>,
}

impl ServiceHandle {
    /// What `/readyz` and `/api/stations` report: readiness, broker and store state, spool
    /// depth and per-station last readings.
    pub fn api_health(&self) -> crate::api::Health {
        let s = self.health.snapshot();
        crate::api::Health {
            ready: s.ready,
            broker_connected: s.ingest_connected,
            store_reachable: s.store_reachable,
            spool_depth: u64::try_from(self.metrics.spool_batches.get()).unwrap_or(0),
            last_reading: s.last_seen,
        }
    }

    /// Every new lead revision from now on, right after the ledger recorded it (a slow
    /// receiver misses revisions — `Lagged` — but the ledger has them all).
    pub fn subscribe_leads(&self) -> broadcast::Receiver<Lead> {
        self.leads.subscribe()
    }

    /// The trained models the engine has in force now (the last set read from `models.dir`,
    /// files the engine refuses included, as the engine stage got it; empty without one).
    /// The HTTP API's replays run with them.
    pub fn models(&self) -> Arc<Vec<MultivariateModel>> {
        Arc::clone(&self.models.borrow())
    }

    /// The engine config in force now: the one the service started with, or the last
    /// thresholds reload the engine stage was sent.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.borrow())
    }

    /// The HTTP API's state for this service: its ledger, store, metrics and health, the
    /// config in force at each request, `api_token` for status changes and `replay` for the
    /// replay endpoints (the batch side; `None` answers 501).
    pub fn api_state(&self, api_token: Option<Secret>, replay: Option<ReplaySide>) -> ApiState {
        let (metrics, health, config) = (self.metrics.clone(), self.clone(), self.clone());
        ApiState {
            ledger: self.ledger.clone(),
            store: Arc::new(self.store.inner().clone()),
            config: Arc::new(move || config.config()),
            api_token,
            metrics: Arc::new(move || metrics.render()),
            health: Arc::new(move || health.api_health()),
            replay,
        }
    }
}

/// A running service.
pub struct Service {
    handle: ServiceHandle,
    tasks: JoinSet<&'static str>,
    cancel: CancellationToken,
    grace: Duration,
}

impl Service {
    /// Opens everything, replays the recent window through the engine, re-queues unpublished
    /// leads and starts the stages. `engine` is the station/threshold/GB 3838 config;
    /// `thresholds`, when given, is watched for reloads (and SIGHUP), and so is the models
    /// directory of `cfg`, whose models are loaded before the start-up replay.
    pub async fn start(
        cfg: ServiceConfig,
        engine: Config,
        thresholds: Option<PathBuf>,
    ) -> Result<Self, ServiceError> {
        let metrics = Arc::new(Metrics::new());
        let health = Health::default();
        let signer = Signer::from_env()?;
        if let Some(s) = &signer {
            info!(public_key = %s.public_key(), "ledger entries will be signed");
        }
        let ledger = Ledger::open(&cfg.ledger_path)?.with_signer(signer);
        let inner = match &cfg.store.kind {
            StoreKind::Sqlite(path) => AnyStore::Sqlite(SqliteStore::open(path)?),
            StoreKind::Influx(i) => {
                AnyStore::Influx(InfluxStore::new(i.opts(cfg.store.batch_size))?)
            }
        };
        let store = SpooledStore::open(inner, &cfg.store.spool_dir, cfg.store.spool_max_bytes)?;
        probe_once(&store, &health, &metrics).await;
        let (live, _) = broadcast::channel(1024);
        // Models before the start-up replay, so the state it rebuilds is the live one.
        let models: Models = Arc::new(match &cfg.models_dir {
            Some(dir) => load_models(dir, &metrics),
            None => Vec::new(),
        });
        let (models_tx, models_rx) = watch::channel(Arc::clone(&models));
        let engine = Arc::new(engine);
        let (reload_tx, reload_rx) = watch::channel(Arc::clone(&engine));
        let handle = ServiceHandle {
            ledger: ledger.clone(),
            store: store.clone(),
            metrics: Arc::clone(&metrics),
            health: health.clone(),
            leads: live.clone(),
            models: models_rx.clone(),
            config: reload_rx.clone(),
        };
        let leads_stage = LeadsStage {
            ledger: ledger.clone(),
            store: store.clone(),
            metrics: Arc::clone(&metrics),
            live,
            prefix: cfg.mqtt.leads_topic_prefix.clone(),
        };

        let detector = || {
            let mut d = Detector::new(
                Arc::clone(&engine),
                Arc::clone(&metrics),
                health.clone(),
                cfg.evidence_keep,
            );
            d.set_models(&models);
            d
        };
        let detector = rebuild(&store, detector, &leads_stage, cfg.replay_window).await;
        let backlog: Vec<Outbound> = ledger
            .unpublished()
            .await?
            .iter()
            .map(|l| Outbound::lead(&cfg.mqtt.leads_topic_prefix, l))
            .collect();
        if !backlog.is_empty() {
            info!(
                revisions = backlog.len(),
                "re-sending lead revisions the broker never acknowledged"
            );
        }

        let ingest_seal = Some((
            IngestSeal::resume(ledger.ingest_heads().await?, CHECKPOINT_EVERY),
            ledger.clone(),
        ));

        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let c = &cfg.channels;
        let (raw_tx, raw_rx) = mpsc::channel(c.raw.get());
        let (acc_tx, acc_rx) = mpsc::channel(c.batches.get());
        let (stored_tx, stored_rx) = mpsc::channel(c.batches.get());
        let (lead_tx, lead_rx) = mpsc::channel(c.leads.get());
        let (dead_tx, dead_rx) = mpsc::channel::<DeadLetter>(c.dead_letters.get());
        let (out_tx, out_rx) = mpsc::channel(c.leads.get());
        let mut queues = Queues::default();
        queues.watch("raw", &raw_tx);
        queues.watch("accepted", &acc_tx);
        queues.watch("stored", &stored_tx);
        queues.watch("leads", &lead_tx);
        queues.watch("dead_letters", &dead_tx);
        queues.watch("outbound", &out_tx);
        tasks.spawn(
            queues
                .run(Arc::clone(&metrics), cancel.clone())
                .map_name("queues"),
        );

        let (source, acker) = Source::new(&cfg.mqtt, health.clone(), Arc::clone(&metrics))?;
        let pub_id = format!("{}-pub", cfg.mqtt.client_id);
        let publisher = Publisher::new(
            ingest::options(&cfg.mqtt, &pub_id, true)?,
            backlog,
            ledger.clone(),
            Arc::clone(&metrics),
        );

        tasks.spawn(publisher.run(out_rx).map_name("publish"));
        tasks.spawn(
            DeadLetterStage {
                ledger: ledger.clone(),
                checkpoint_every: Duration::from_millis(CHECKPOINT_EVERY as u64),
                metrics: Arc::clone(&metrics),
                acker: acker.clone(),
                topic: cfg.mqtt.deadletter_topic.clone(),
            }
            .run(dead_rx, out_tx.clone())
            .map_name("deadletter"),
        );
        tasks.spawn(leads_stage.run(lead_rx, out_tx).map_name("leads"));
        tasks.spawn(
            EngineStage {
                detector,
                reload: reload_rx,
                models: models_rx,
            }
            .run(stored_rx, lead_tx)
            .map_name("engine"),
        );
        tasks.spawn(
            StoreStage::new(
                store.clone(),
                Batcher::new(
                    cfg.store.batch_size.get(),
                    cfg.store.flush_interval,
                    cfg.store.linger,
                ),
                cfg.store.writes_in_flight.get(),
                acker,
                Arc::clone(&metrics),
                stored_tx,
                dead_tx.clone(),
            )
            .run(acc_rx)
            .map_name("store"),
        );
        tasks.spawn(
            DecodeStage::new(Arc::clone(&engine), &cfg.mqtt, ingest_seal)
                .run(raw_rx, acc_tx, dead_tx.clone())
                .map_name("decode"),
        );
        tasks.spawn(source.run(raw_tx, cancel.clone()).map_name("ingest"));
        tasks.spawn(
            probe_store(
                store.clone(),
                health.clone(),
                Arc::clone(&metrics),
                cancel.clone(),
            )
            .map_name("store probe"),
        );
        tasks.spawn(drain_spool(store, dead_tx, cancel.clone()).map_name("spool"));
        let watched = Watched {
            thresholds: thresholds.map(|p| (p, reload_tx)),
            models: cfg.models_dir.clone().map(|d| (d, models_tx)),
            metrics: Arc::clone(&metrics),
        };
        if watched.thresholds.is_some() || watched.models.is_some() {
            tasks.spawn(watch_reloads(watched, cancel.clone()).map_name("reload"));
        }
        health.set_ready();
        info!(
            broker = %format!("{}:{}", cfg.mqtt.host, cfg.mqtt.port),
            client_id = %cfg.mqtt.client_id,
            "service started"
        );
        Ok(Self {
            handle,
            tasks,
            cancel,
            grace: cfg.shutdown_grace,
        })
    }

    /// Ledger, store, metrics, health and the live lead feed.
    pub fn handle(&self) -> ServiceHandle {
        self.handle.clone()
    }

    /// The token that stops the service; tasks added with [`Service::spawn`] should end
    /// when it fires.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs `task` alongside the stages (HTTP API, simulator): if it ends, the service stops.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task.map_name(name));
    }

    /// Runs until `shutdown` completes or a task ends, then drains within the grace period.
    pub async fn run_until(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServiceError> {
        tokio::select! {
            _ = shutdown => info!("shutdown requested"),
            Some(done) = self.tasks.join_next() => match done {
                Ok(name) => warn!(task = name, "task ended; stopping"),
                Err(e) => error!(error = %e, "task failed; stopping"),
            },
        }
        self.cancel.cancel();
        let tasks = &mut self.tasks;
        let drained = tokio::time::timeout(self.grace, async {
            while let Some(done) = tasks.join_next().await {
                match done {
                    Ok(name) => info!(task = name, "stopped"),
                    Err(e) => error!(error = %e, "task failed while stopping"),
                }
            }
        })
        .await;
        if drained.is_err() {
            self.tasks.abort_all();
            return Err(ServiceError::Drain(self.grace));
        }
        info!("service stopped");
        Ok(())
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A detector (from `make`) with its state rebuilt by [`replay`]. The store may not answer yet —
/// InfluxDB started at the same time, or down — so the replay is tried [`REPLAY_ATTEMPTS`] times
/// with backoff (7.5 s in all), and then the service starts without the engine's recent state
/// rather than not at all: while it is not there the broker keeps only so many messages for its
/// session (Mosquitto: 1,000 by default) and drops the rest, and the spool is there to take
/// the readings. Without a replay, the baselines learn again from the live readings, and the
/// evidence cache claims nothing before the readings that arrive from now on.
async fn rebuild(
    store: &SpooledStore<AnyStore>,
    make: impl Fn() -> Detector,
    leads: &LeadsStage,
    window: Duration,
) -> Detector {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(4));
    let mut attempt = 1;
    loop {
        let mut detector = make();
        let e = match replay(store, &mut detector, leads, window).await {
            Ok(()) => return detector,
            Err(e) => e,
        };
        if attempt == REPLAY_ATTEMPTS {
            error!(error = %e, "start-up replay failed; the engine starts without its recent state (baselines learn again, lead evidence from before now is read from the store)");
            let mut detector = make();
            detector.replaying_from(complete_without_replay(Err(e), now_ms()));
            return detector;
        }
        warn!(error = %e, attempt, "start-up replay failed; trying again");
        tokio::time::sleep(backoff.next_delay()).await;
        attempt += 1;
    }
}

/// Rebuilds the engine's state from the last `window` of readings (ending now): the store's,
/// with those a previous process spooled and did not drain merged in
/// ([`SpooledStore::query_chunks`]), as the live run had fed them and as the store will hold
/// them — so the evidence cache, declared complete from the window's start, holds them too.
/// Leads it derives go through the ledger; the ones it did not have (a crash between store and
/// ledger) become unpublished and are sent with the backlog.
async fn replay(
    store: &SpooledStore<AnyStore>,
    detector: &mut Detector,
    leads: &LeadsStage,
    window: Duration,
) -> Result<(), StoreError> {
    let now = now_ms();
    if window.is_zero() {
        let newest = store.newest_time().await;
        if let Err(e) = &newest {
            warn!(error = %e, "the store or spool did not say its newest reading time; lead evidence from before the next minutes is read from the store");
        }
        detector.replaying_from(complete_without_replay(newest, now));
        return Ok(());
    }
    let from = now.saturating_sub(window.as_millis() as i64);
    detector.replaying_from(from);
    let mut chunks = store
        .query_chunks(&[], from, now + 86_400_000, 10_000)
        .await?;
    let (mut n, mut found) = (0usize, Vec::new());
    while let Some(chunk) = chunks.next_chunk().await? {
        n += chunk.len();
        detector.push(&chunk, &mut found);
        let revs = detector.revisions(&mut found, None);
        for batch in revs.chunks(MAX_BATCH) {
            let recorded = leads.record(batch).await;
            for (rev, _) in batch.iter().zip(recorded.new).filter(|(_, new)| *new) {
                warn!(lead = %rev.lead.id, revision = rev.lead.revision, "replay found a lead revision the ledger lacked");
            }
        }
    }
    info!(readings = n, window = ?window, "engine state rebuilt from the store and spool");
    Ok(())
}

/// Since when the engine stage's evidence cache holds every stored reading when nothing is
/// replayed at start: past the newest reading the store already held or the spool held for
/// it (later ones can only come from this process), or from the first reading on when they
/// held none. When they cannot say, past the latest time a reading received before now may
/// carry.
fn complete_without_replay(newest: Result<Option<Millis>, StoreError>, now: Millis) -> Millis {
    match newest {
        Ok(Some(t)) => t.saturating_add(1),
        Ok(None) => Millis::MIN,
        Err(_) => now.saturating_add(MAX_FUTURE_SKEW),
    }
}

/// Pings the store every [`PROBE_EVERY`] until cancelled (see [`probe_once`]).
async fn probe_store(
    store: SpooledStore<AnyStore>,
    health: Health,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => probe_once(&store, &health, &metrics).await,
        }
    }
}

/// Records whether the store answers a ping within [`PROBE_EVERY`], and the spool depth (which
/// the drain shrinks without another write updating the gauges).
async fn probe_once(store: &SpooledStore<AnyStore>, health: &Health, metrics: &Metrics) {
    let up = matches!(
        tokio::time::timeout(PROBE_EVERY, store.ping()).await,
        Ok(Ok(()))
    );
    if up != health.snapshot().store_reachable {
        if up {
            info!("reading store answers");
        } else {
            warn!("reading store unreachable");
        }
    }
    health.set_store_reachable(up);
    let (batches, bytes) = store.spooled();
    metrics.spool_batches.set(batches as i64);
    metrics.spool_bytes.set(bytes as i64);
}

/// Replays the spool into the store; readings the store refuses become dead letters.
async fn drain_spool(
    store: SpooledStore<AnyStore>,
    dead: mpsc::Sender<DeadLetter>,
    cancel: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel(256);
    let forward = async move {
        while let Some(r) = rx.recv().await {
            if dead.send(DeadLetter::refused(r)).await.is_err() {
                break;
            }
        }
    };
    let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    tokio::join!(store.drain(cancel, tx, backoff), forward);
}

/// Names a task's future so the join set can say which one ended.
trait MapName: Future<Output = ()> + Sized {
    fn map_name(self, name: &'static str) -> impl Future<Output = &'static str> + Send
    where
        Self: Send,
    {
        async move {
            self.instrument(tracing::info_span!("task", name)).await;
            name
        }
    }
}

impl<F: Future<Output = ()>> MapName for F {}

#[cfg(test)]
mod tests {
    use super::*;
    use riverwatch_engine::time::DAY;

    #[test]
    fn without_a_replay_the_cache_is_complete_past_what_the_store_held() {
        let now = 40 * DAY;
        // Readings the store held before the start are not in the cache: it starts past them.
        assert_eq!(
            complete_without_replay(Ok(Some(now - DAY)), now),
            now - DAY + 1
        );
        // An empty store: whatever is stored from now on went through the cache.
        assert_eq!(complete_without_replay(Ok(None), now), Millis::MIN);
        // A store that cannot say: past any time a reading received before now may carry.
        let err = StoreError::Query {
            reason: "down".into(),
        };
        assert_eq!(
            complete_without_replay(Err(err), now),
            now + MAX_FUTURE_SKEW
        );
    }
}
