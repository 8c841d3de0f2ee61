//! The operational endpoints — liveness, readiness, Prometheus metrics — plus the lead JSON
//! schema and the JSON answers for unknown routes and methods.

use super::{ApiError, ApiState};
use crate::store::ReadingStore;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use riverwatch_engine::time::Rfc3339;
use serde_json::json;

/// The documented lead JSON schema, served as is.
const LEAD_SCHEMA: &str = include_str!("../../../../docs/lead.schema.json");

/// `GET /healthz`: the process serves requests.
pub(super) async fn healthz() -> impl IntoResponse {
    Json(json!({ "ok": true }))
}

/// `GET /readyz`: 200 when the pipeline says it is ready, else 503 with the reasons.
pub(super) async fn readyz<S: ReadingStore>(State(st): State<ApiState<S>>) -> impl IntoResponse {
    let h = (st.health)();
    let code = if h.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let last: serde_json::Map<String, serde_json::Value> = h
        .last_reading
        .iter()
        .map(|(s, t)| (s.to_string(), Rfc3339(*t).to_string().into()))
        .collect();
    let body = json!({
        "ready": h.ready,
        "reasons": h.reasons(),
        "broker_connected": h.broker_connected,
        "store_reachable": h.store_reachable,
        "spool_depth": h.spool_depth,
        "last_reading": last,
    });
    (code, Json(body))
}

/// `GET /metrics`: the Prometheus text exposition format.
pub(super) async fn metrics<S: ReadingStore>(State(st): State<ApiState<S>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (st.metrics)(),
    )
}

/// `GET /api/schema/lead`: `docs/lead.schema.json`.
pub(super) async fn lead_schema() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        LEAD_SCHEMA,
    )
}

/// Any path no route serves.
pub(super) async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no endpoint at {}", uri.path()))
}

/// A known path with a method it does not take.
pub(super) async fn wrong_method(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take this method", uri.path()),
    )
}
