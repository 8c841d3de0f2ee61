//! `/api/leads`: the list with filters and pagination, one lead with its evidence readings and
//! status history, and the analysts' status changes behind a bearer token.

use super::params::{snake_name, STATUSES};
use super::{now, ApiError, ApiState};
use crate::ledger::{LeadFilter, StatusChange};
use crate::report;
use crate::store::ReadingStore;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use riverwatch_engine::leads::{Lead, Status};
use riverwatch_engine::time::rfc3339_serde;
use riverwatch_engine::time::{Millis, Rfc3339};
use riverwatch_engine::Reading;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Longest analyst name, in characters.
const MAX_ANALYST: usize = 200;
/// Longest note, in characters.
const MAX_NOTE: usize = 10_000;

/// Query pairs, or a 400 when the query string does not decode.
pub(super) type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The pairs of a decoded query string.
pub(super) fn pairs(q: Pairs) -> Result<Vec<(String, String)>, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))
}

/// The lead id of the path, or a 400 when it does not decode (not UTF-8).
pub(super) fn lead_id(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|e| ApiError::bad_request(format!("lead id: {}", e.body_text())))
}

/// The lead the path names, with its id; 404 when the ledger has none.
async fn lead_of<S: ReadingStore>(
    st: &ApiState<S>,
    id: Result<Path<String>, PathRejection>,
) -> Result<(String, Lead), ApiError> {
    let id = lead_id(id)?;
    let lead = st
        .ledger
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("lead {id} not found")))?;
    Ok((id, lead))
}

/// `GET /api/leads`: `{total, leads, counts}`, newest window first. `counts` holds, per status,
/// how many leads match every filter but `status` (what an inbox shows beside its tabs).
pub(super) async fn list<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    q: Pairs,
) -> Result<Json<Value>, ApiError> {
    let filter = super::params::lead_filter(&pairs(q)?)?;
    let mut counts = serde_json::Map::new();
    for status in [
        Status::New,
        Status::Acknowledged,
        Status::Confirmed,
        Status::Dismissed,
    ] {
        let only = LeadFilter {
            status: Some(status),
            limit: 0,
            offset: 0,
            ..filter.clone()
        };
        counts.insert(snake_name(&status), st.ledger.list(only).await?.1.into());
    }
    let (leads, total) = st.ledger.list(filter).await?;
    Ok(Json(
        json!({ "total": total, "leads": leads, "counts": counts }),
    ))
}

/// One status change as the API shows it.
#[derive(Serialize)]
struct HistoryEntry {
    #[serde(with = "rfc3339_serde")]
    time: Millis,
    analyst: String,
    from: Status,
    to: Status,
    note: String,
}

fn history_view(h: Vec<StatusChange>) -> Vec<HistoryEntry> {
    h.into_iter()
        .map(|c| HistoryEntry {
            time: c.time,
            analyst: c.analyst,
            from: c.from,
            to: c.to,
            note: c.note,
        })
        .collect()
}

/// A reading as the API shows it: time as RFC 3339.
#[derive(Serialize)]
pub(super) struct ReadingView<'a> {
    #[serde(with = "rfc3339_serde")]
    time: Millis,
    station: &'a str,
    parameter: &'a str,
    value: f64,
    flag: char,
}

impl<'a> From<&'a Reading> for ReadingView<'a> {
    fn from(r: &'a Reading) -> Self {
        Self {
            time: r.time,
            station: r.station.as_str(),
            parameter: r.parameter.as_str(),
            value: r.value,
            flag: r.flag.letter(),
        }
    }
}

/// `GET /api/leads/{id}`: `{lead, history, revisions, evidence: {readings, truncated, total,
/// digest} | {error}}` (`revisions`: each recorded revision's time, window, severity, confidence
/// and summary, oldest first). A store failure does not hide the lead: the evidence part carries
/// the error instead. `digest` is the SHA-256 of all `total` readings (see [`crate::report`]).
pub(super) async fn detail<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (id, lead) = lead_of(&st, id).await?;
    let history = history_view(st.ledger.history(&id).await?);
    let revisions: Vec<Value> = st
        .ledger
        .revisions(&id)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "revision": r.lead.revision,
                "recorded": Rfc3339(r.recorded).to_string(),
                "window": r.lead.window,
                "severity": r.lead.severity,
                "confidence": r.lead.confidence,
                "open": r.lead.open,
                "summary": r.lead.summary,
            })
        })
        .collect();
    let evidence =
        match report::fetch_evidence(&*st.store, &lead.evidence, report::MAX_EVIDENCE).await {
            Ok(ev) => json!({
                "readings": ev.readings.iter().map(ReadingView::from).collect::<Vec<_>>(),
                "truncated": ev.truncated,
                "total": ev.total,
                "digest": ev.digest,
            }),
            Err(e) => json!({ "error": ApiError::from(e).message }),
        };
    Ok(Json(json!({
        "lead": lead,
        "history": history,
        "revisions": revisions,
        "evidence": evidence,
    })))
}

/// `GET /api/leads/{id}/evidence.csv`: the lead's evidence readings as the long CSV of the
/// offline contract (`time,station,parameter,value[,flag]`), so an analyst can keep them and
/// `riverwatch detect` can read them back. Refused (503) rather than cut when the store fails.
pub(super) async fn evidence_csv<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (id, lead) = lead_of(&st, id).await?;
    let ev = report::fetch_evidence(&*st.store, &lead.evidence, report::MAX_EVIDENCE).await?;
    let mut body = String::from("time,station,parameter,value,flag\n");
    for r in &ev.readings {
        riverwatch_engine::csv::write_line(&mut body, r);
    }
    // Only the lead id's safe characters go into the file name.
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"evidence-{name}.csv\""),
            ),
        ],
        body,
    ))
}

/// Body of `POST /api/leads/{id}/status`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    status: String,
    analyst: String,
    #[serde(default)]
    note: String,
}

/// `POST /api/leads/{id}/status`: sets the status, keeps the change in the history, answers
/// `{lead, history}`. Needs `Authorization: Bearer <token>`.
pub(super) async fn set_status<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(
        st.api_token.as_ref().map(|s| s.expose()),
        &headers,
        "status changes",
    )?;
    let id = lead_id(id)?;
    // 415 without `Content-Type: application/json`; any other body problem is a 400.
    let Json(body) = body.map_err(|e| match e.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(e.status(), e.body_text()),
        _ => ApiError::bad_request(e.body_text()),
    })?;
    let status = match body.status.as_str() {
        "acknowledged" => Status::Acknowledged,
        "confirmed" => Status::Confirmed,
        "dismissed" => Status::Dismissed,
        other => {
            return Err(ApiError::bad_request(format!(
                "field `status`: `{other}` is not one of {}",
                STATUSES[1..].join(", ")
            )))
        }
    };
    let analyst = body.analyst.trim();
    if analyst.is_empty() || analyst.chars().count() > MAX_ANALYST {
        return Err(ApiError::bad_request(format!(
            "field `analyst`: must be 1 to {MAX_ANALYST} characters"
        )));
    }
    if body.note.chars().count() > MAX_NOTE {
        return Err(ApiError::bad_request(format!(
            "field `note`: longer than {MAX_NOTE} characters"
        )));
    }
    let lead = st
        .ledger
        .set_status(&id, status, analyst, &body.note, now())
        .await?;
    tracing::info!(lead = %id, status = %snake_name(&status), analyst, "lead status set");
    let history = history_view(st.ledger.history(&id).await?);
    Ok(Json(json!({ "lead": lead, "history": history })))
}

/// Checks the bearer token: 403 when the service has none (`what` is off), 401 when the
/// request's is missing or different.
pub(super) fn authorize(
    token: Option<&str>,
    headers: &HeaderMap,
    what: &str,
) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{what} are disabled: start the service with {} set",
                crate::config::ENV_API_TOKEN
            ),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if same(g.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong bearer token",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("{what} need `Authorization: Bearer <token>`"),
        )),
    }
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn bearer_token_checks() {
        assert!(authorize(Some("s3cret"), &with("Bearer s3cret"), "status changes").is_ok());
        for bad in ["Bearer s3cre", "Bearer s3cretx", "Basic s3cret", "s3cret"] {
            let e = authorize(Some("s3cret"), &with(bad), "status changes").unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{bad}");
        }
        assert_eq!(
            authorize(Some("s3cret"), &HeaderMap::new(), "status changes")
                .unwrap_err()
                .status,
            StatusCode::UNAUTHORIZED
        );
        let e = authorize(None, &with("Bearer anything"), "status changes").unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains("RIVERWATCH_API_TOKEN"), "{}", e.message);
    }
}
