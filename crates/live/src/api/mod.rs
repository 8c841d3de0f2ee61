//! The HTTP API of the live service: leads (list, detail with evidence readings, analyst status
//! changes, the printable dossier and the intake-sheet export, a lead's verification and
//! evidence bundle, and the ledger's public key), stations with their health, bounded reading windows, parameters and
//! GB 3838 limits, replays of a past window (with a candidate thresholds file), the lead JSON
//! schema, the operational endpoints (`/healthz`, `/readyz`, `/metrics`), and the analysts' web
//! page (`/` and `/ui/...`) that uses them.
//!
//! The API owns no state of its own. It reads the [`Ledger`] and a [`ReadingStore`], and asks
//! closures for what the pipeline knows (its Prometheus text and its [`Health`]), so the pipeline
//! can change how it counts without this module knowing, and for replays (the batch side, which
//! depends on this crate). The store is a type parameter because
//! [`ReadingStore`] is not object safe; the service passes its [`AnyStore`].
//!
//! Every answer is JSON (but the dossier, HTML, the export, CSV or xlsx, and the evidence
//! bundle, zip); every error is `{"error": "..."}` with a status code that says whose
//! fault it is (400 names the bad parameter, 401/403 for status changes, 404 unknown lead or
//! route, 500/503 for ledger and store failures). Input never panics a handler.

mod documents;
mod error;
mod leads;
mod ops;
mod params;
mod replay;
mod seal;
mod standard;
mod station_health;
mod stations;
mod web;

pub use error::ApiError;
pub use params::{lead_filter, lead_query};
pub use replay::{
    ChangedLead, ReplayDiff, ReplayFn, ReplayFuture, ReplayJob, ReplayOutcome, ReplaySide,
    MAX_REPLAY_WINDOW,
};

use crate::config::Secret;
use crate::ledger::Ledger;
use crate::store::{AnyStore, ReadingStore};
use axum::routing::{get, post};
use axum::Router;
use riverwatch_engine::config::Config;
use riverwatch_engine::time::Millis;
use riverwatch_engine::StationId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the pipeline reports about itself, for `/readyz` and `/api/stations`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// The pipeline is up and taking readings (the pipeline decides what that takes).
    pub ready: bool,
    /// The MQTT connection is up.
    pub broker_connected: bool,
    /// The last store write or query succeeded.
    pub store_reachable: bool,
    /// Batches waiting in the disk spool.
    pub spool_depth: u64,
    /// Event time of the newest reading received, per station.
    pub last_reading: BTreeMap<StationId, Millis>,
}

impl Health {
    /// Why the service is not ready, in words; empty when it is.
    pub fn reasons(&self) -> Vec<String> {
        if self.ready {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.broker_connected {
            out.push("mqtt broker not connected".to_string());
        }
        if !self.store_reachable {
            out.push("reading store unreachable".to_string());
        }
        if out.is_empty() {
            out.push("pipeline not started yet".to_string());
        }
        out
    }
}

/// Produces the Prometheus text exposition of the service's metrics.
pub type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;
/// Produces the pipeline's current [`Health`].
pub type HealthFn = Arc<dyn Fn() -> Health + Send + Sync>;
/// Produces the engine config in force (a service's changes when its thresholds are reloaded).
pub type ConfigFn = Arc<dyn Fn() -> Arc<Config> + Send + Sync>;

/// A [`ConfigFn`] that always answers `config` (tests, and servers without reloads).
pub fn fixed_config(config: Config) -> ConfigFn {
    let config = Arc::new(config);
    Arc::new(move || Arc::clone(&config))
}

/// Everything the handlers read. Clones share it.
pub struct ApiState<S = AnyStore> {
    /// The lead ledger.
    pub ledger: Ledger,
    /// Where evidence and reading windows come from.
    pub store: Arc<S>,
    /// Stations, thresholds and standard limits in force, asked for per request, so replays,
    /// station health and dossiers follow a thresholds reload.
    pub config: ConfigFn,
    /// Bearer token for status changes; `None` refuses every change.
    pub api_token: Option<Secret>,
    /// Prometheus text for `/metrics`.
    pub metrics: MetricsFn,
    /// Pipeline health for `/readyz` and `/api/stations`.
    pub health: HealthFn,
    /// Replays for `POST /api/replay` and the replay check of a lead's verification; `None`
    /// answers 501 to both (a build without the batch side).
    pub replay: Option<ReplaySide>,
}

impl<S> Clone for ApiState<S> {
    fn clone(&self) -> Self {
        Self {
            ledger: self.ledger.clone(),
            store: Arc::clone(&self.store),
            config: Arc::clone(&self.config),
            api_token: self.api_token.clone(),
            metrics: Arc::clone(&self.metrics),
            health: Arc::clone(&self.health),
            replay: self.replay.clone(),
        }
    }
}

/// Serves the API on `listener` until `shutdown` is cancelled.
pub async fn serve<S: ReadingStore + 'static>(
    listener: tokio::net::TcpListener,
    state: ApiState<S>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The API's routes over `state`; serve it with [`serve`] or `axum::serve`.
pub fn router<S: ReadingStore + 'static>(state: ApiState<S>) -> Router {
    Router::new()
        .route("/api/leads", get(leads::list::<S>))
        .route("/api/leads/export", get(documents::export::<S>))
        .route("/api/leads/{id}", get(leads::detail::<S>))
        .route("/api/leads/{id}/status", post(leads::set_status::<S>))
        .route("/api/leads/{id}/verification", get(seal::verification::<S>))
        .route("/api/leads/{id}/bundle", get(seal::bundle::<S>))
        .route("/api/keys", get(seal::keys::<S>))
        .route(
            "/api/leads/{id}/evidence.csv",
            get(leads::evidence_csv::<S>),
        )
        .route("/api/leads/{id}/dossier", get(documents::dossier::<S>))
        .route("/api/stations", get(stations::list::<S>))
        .route("/api/readings", get(stations::readings::<S>))
        .route("/api/replay", post(replay::run::<S>))
        .route("/api/parameters", get(standard::parameters))
        .route("/api/limits", get(standard::limits::<S>))
        .route("/api/schema/lead", get(ops::lead_schema))
        .route("/", get(web::index))
        .route("/ui/{file}", get(web::asset))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz::<S>))
        .route("/metrics", get(ops::metrics::<S>))
        .fallback(ops::no_route)
        .method_not_allowed_fallback(ops::wrong_method)
        .with_state(state)
}

/// The wall clock in [`Millis`] (the API stamps analyst actions; the engine never reads it).
fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as Millis)
}
