//! `POST /api/replay`: a past window of the service's own store through the engine again, with
//! the config in force or a candidate `thresholds.toml`, compared with the leads the ledger
//! recorded — the analysts' "what would these thresholds have raised?".
//!
//! The replay machinery lives in the batch crate, which depends on this one, so the API cannot
//! call it: the root binary hands it in as a [`ReplayFn`], as it does the metrics and health
//! closures. This module owns what is the API's business: the bearer token (a replay is
//! CPU-heavy), the request's validation (window bounds, known stations, the candidate file
//! parsed with the engine's own parser so a bad key is a 400 naming it) and the answer's shape.

use super::leads::authorize;
use super::{ApiError, ApiState};
use crate::seal::verify::Replay;
use crate::store::ReadingStore;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use riverwatch_engine::config::Config;
use riverwatch_engine::time::{parse_rfc3339, Millis, DAY};
use riverwatch_engine::{Lead, StationId};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Longest window one request may replay.
pub const MAX_REPLAY_WINDOW: Millis = 31 * DAY;

/// Longest candidate thresholds text, in bytes.
const MAX_THRESHOLDS: usize = 256 * 1024;

/// What to replay: `from <= time < to` of `stations` (empty: all) through `config`.
#[derive(Debug, Clone)]
pub struct ReplayJob {
    /// The config in force, or the candidate built from it.
    pub config: Arc<Config>,
    /// First instant, ms.
    pub from: Millis,
    /// End instant (exclusive), ms.
    pub to: Millis,
    /// Stations kept; empty keeps every station.
    pub stations: Vec<StationId>,
}

/// What a replay produced and how it compares with the ledger.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayOutcome {
    /// Readings replayed.
    pub readings: u64,
    /// The last revision of every lead the replay raised, in the order they first appeared.
    pub leads: Vec<Lead>,
    /// The comparison with the recorded leads of the window.
    pub diff: ReplayDiff,
}

/// Replayed leads against recorded ones, by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayDiff {
    /// Ids only the replay raised.
    pub new: Vec<String>,
    /// Ids only the ledger holds.
    pub missing: Vec<String>,
    /// Ids in both that differ, with the fields that do.
    pub changed: Vec<ChangedLead>,
    /// How many ids agree.
    pub same: usize,
}

/// A lead in both the replay and the ledger that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedLead {
    /// Lead id.
    pub id: String,
    /// What differs (`category`, `window`, `severity`, `detectors`, `segment`).
    pub what: Vec<&'static str>,
}

/// A boxed future of a replay's outcome.
pub type ReplayFuture = Pin<Box<dyn Future<Output = Result<ReplayOutcome, ApiError>> + Send>>;

/// Runs a replay job (reading the window, replaying it off the async threads, comparing with the
/// ledger); set by the binary that has the batch side.
pub type ReplayFn = Arc<dyn Fn(ReplayJob) -> ReplayFuture + Send + Sync>;

/// What the binary hands in from the batch side: the one replay, for a window and for a lead.
#[derive(Clone)]
pub struct ReplaySide {
    /// `POST /api/replay`: a store window replayed, with the trained models the service has in
    /// force, and compared with the ledger.
    pub window: ReplayFn,
    /// `GET /api/leads/{id}/verification?replay=true`: the engine re-run of the replay check.
    pub engine: Arc<Replay>,
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplayRequest {
    from: String,
    to: String,
    #[serde(default)]
    stations: Vec<String>,
    #[serde(default)]
    thresholds: Option<String>,
}

/// `POST /api/replay` with `{from, to, stations?, thresholds?}`: `{readings, leads, diff}`.
/// Needs `Authorization: Bearer <token>`.
pub(super) async fn run<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    headers: HeaderMap,
    body: Result<Json<ReplayRequest>, JsonRejection>,
) -> Result<Json<ReplayOutcome>, ApiError> {
    authorize(
        st.api_token.as_ref().map(|s| s.expose()),
        &headers,
        "replays",
    )?;
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let job = job(&(st.config)(), req)?;
    let replay = replay_side(&st.replay)?;
    let started = std::time::Instant::now();
    let outcome = (replay.window)(job).await?;
    tracing::info!(
        readings = outcome.readings,
        leads = outcome.leads.len(),
        secs = started.elapsed().as_secs_f64(),
        "replay served"
    );
    Ok(Json(outcome))
}

/// The batch side, or 501 when the binary was built without it.
pub(super) fn replay_side(side: &Option<ReplaySide>) -> Result<&ReplaySide, ApiError> {
    side.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this service was built without the replay side",
        )
    })
}

/// Checks the request and builds the job.
fn job(config: &Arc<Config>, req: ReplayRequest) -> Result<ReplayJob, ApiError> {
    let time = |name: &str, s: &str| {
        parse_rfc3339(s).ok_or_else(|| ApiError::bad_param(name, "not an RFC 3339 time"))
    };
    let (from, to) = (time("from", &req.from)?, time("to", &req.to)?);
    if to <= from {
        return Err(ApiError::bad_param("to", "must be after `from`"));
    }
    if to - from > MAX_REPLAY_WINDOW {
        return Err(ApiError::bad_param(
            "to",
            format!(
                "the window is longer than {} days; replay a longer one with `riverwatch replay`",
                MAX_REPLAY_WINDOW / DAY
            ),
        ));
    }
    let mut stations = Vec::with_capacity(req.stations.len());
    for s in &req.stations {
        let id = s.trim();
        if config.stations.get(id).is_none() {
            return Err(ApiError::bad_param(
                "stations",
                format!("unknown station `{id}`"),
            ));
        }
        stations.push(StationId::new(id));
    }
    let config = match req.thresholds.as_deref() {
        None => Arc::clone(config),
        Some(t) if t.len() > MAX_THRESHOLDS => {
            return Err(ApiError::bad_param(
                "thresholds",
                format!("longer than {} KiB", MAX_THRESHOLDS / 1024),
            ))
        }
        Some(t) => Arc::new(
            config
                .with_thresholds_text(t)
                .map_err(|e| ApiError::bad_param("thresholds", e))?,
        ),
    };
    Ok(ReplayJob {
        config,
        from,
        to,
        stations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(from: &str, to: &str, thresholds: Option<&str>) -> ReplayRequest {
        ReplayRequest {
            from: from.into(),
            to: to.into(),
            stations: vec![],
            thresholds: thresholds.map(String::from),
        }
    }

    #[test]
    fn window_bounds_stations_and_thresholds_are_checked() {
        let cfg = Arc::new(Config::embedded());
        let ok = job(
            &cfg,
            req("2025-05-01T00:00:00Z", "2025-05-08T00:00:00Z", None),
        )
        .unwrap();
        assert_eq!(ok.to - ok.from, 7 * DAY);
        assert_eq!(ok.config.hash, cfg.hash);
        for (from, to) in [
            ("2025-05-01", "2025-05-08T00:00:00Z"),
            ("2025-05-08T00:00:00Z", "2025-05-01T00:00:00Z"),
            ("2025-05-01T00:00:00Z", "2025-06-02T00:00:00Z"),
        ] {
            let e = job(&cfg, req(from, to, None)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{from} {to}");
        }
        let mut r = req("2025-05-01T00:00:00Z", "2025-05-02T00:00:00Z", None);
        r.stations = vec!["NOPE".into()];
        assert!(job(&cfg, r).unwrap_err().message.contains("NOPE"));
        let same = job(
            &cfg,
            req(
                "2025-05-01T00:00:00Z",
                "2025-05-02T00:00:00Z",
                Some(&cfg.texts.thresholds),
            ),
        )
        .unwrap();
        assert_eq!(same.config.hash, cfg.hash);
    }
}
