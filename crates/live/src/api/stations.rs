//! `/api/stations` (the configured network with last-seen times and open-lead counts) and
//! `/api/readings` (one bounded window of one or more stations' readings).

use super::leads::{pairs, Pairs, ReadingView};
use super::params::Params;
use super::station_health::{assess, LOOKBACK};
use super::{ApiError, ApiState};
use crate::ledger::LeadFilter;
use crate::store::{ReadingChunks, ReadingStore, DEFAULT_CHUNK};
use axum::extract::State;
use axum::Json;
use riverwatch_engine::leads::Status;
use riverwatch_engine::time::{Rfc3339, DAY};
use riverwatch_engine::{ParamId, StationId};
use serde_json::{json, Value};

/// Longest window `/api/readings` answers.
pub(super) const MAX_WINDOW: i64 = 31 * DAY;
/// Most readings `/api/readings` answers; a larger window is refused, not cut.
pub(super) const MAX_READINGS: usize = 200_000;
/// Most stations one `/api/readings` request names.
const MAX_STATIONS: usize = 50;

/// `GET /api/stations`: `{stations: [...]}` in config order, each with its place in the network,
/// `last_reading` (from the pipeline's health; null when none yet), `open_leads` (new plus
/// acknowledged, from the ledger) and `health` (silent, stuck, out of range: see
/// [`super::station_health`]).
pub(super) async fn list<S: ReadingStore>(
    State(st): State<ApiState<S>>,
) -> Result<Json<Value>, ApiError> {
    let health = (st.health)();
    let network_last = health.last_reading.values().max().copied();
    let config = (st.config)();
    let mut out = Vec::with_capacity(config.stations.list.len());
    for s in &config.stations.list {
        let last = health.last_reading.get(&s.id).copied();
        let recent = match last {
            Some(t) => {
                st.store
                    .query(std::slice::from_ref(&s.id), t - LOOKBACK, t + 1)
                    .await?
            }
            None => Vec::new(),
        };
        let state = assess(&config, &s.id, last, network_last, &recent);
        let mut open = 0;
        for status in [Status::New, Status::Acknowledged] {
            let filter = LeadFilter {
                status: Some(status),
                station: Some(s.id.clone()),
                limit: 0,
                ..LeadFilter::default()
            };
            open += st.ledger.list(filter).await?.1;
        }
        let upstream: Vec<Value> = s
            .upstream
            .iter()
            .map(|(id, travel)| json!({ "station": id, "travel_time_s": travel.map(|ms| ms / 1000) }))
            .collect();
        out.push(json!({
            "id": s.id,
            "name": s.name,
            "river": s.river,
            "river_km": s.river_km,
            "upstream": upstream,
            "target_class": s.target_class,
            "water_body": s.water_body,
            "last_reading": last.map(|t| Rfc3339(t).to_string()),
            "open_leads": open,
            "health": state,
        }));
    }
    Ok(Json(json!({ "stations": out })))
}

/// `GET /api/readings?station=A[,B]&from=..&to=..[&parameter=p[,q]]`: `{count, readings}` in
/// store order. Windows over [`MAX_WINDOW`] or answers over [`MAX_READINGS`] are refused with
/// 400 so that one request cannot pull a whole database into memory.
pub(super) async fn readings<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    q: Pairs,
) -> Result<Json<Value>, ApiError> {
    let pairs = pairs(q)?;
    let p = Params::new(&pairs, &["station", "from", "to", "parameter"])?;
    let stations: Vec<StationId> = list_of(p.required("station")?);
    if stations.len() > MAX_STATIONS {
        return Err(ApiError::bad_param(
            "station",
            format!("at most {MAX_STATIONS} stations per request"),
        ));
    }
    let from = super::params::time("from", p.required("from")?)?;
    let to = super::params::time("to", p.required("to")?)?;
    if to <= from {
        return Err(ApiError::bad_param("to", "must be after `from`"));
    }
    if to - from > MAX_WINDOW {
        return Err(ApiError::bad_param(
            "to",
            format!("the window may span at most {} days", MAX_WINDOW / DAY),
        ));
    }
    let parameters: Vec<ParamId> = p.text("parameter").map(list_of).unwrap_or_default();
    let mut chunks = st
        .store
        .query_chunks(&stations, from, to, DEFAULT_CHUNK)
        .await?;
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next_chunk().await? {
        out.extend(
            chunk
                .into_iter()
                .filter(|r| parameters.is_empty() || parameters.contains(&r.parameter)),
        );
        if out.len() > MAX_READINGS {
            return Err(ApiError::bad_request(format!(
                "more than {MAX_READINGS} readings in this window: narrow `from`/`to`, `station` or `parameter`"
            )));
        }
    }
    let readings: Vec<ReadingView> = out.iter().map(ReadingView::from).collect();
    Ok(Json(
        json!({ "count": readings.len(), "readings": readings }),
    ))
}

/// A comma-separated list of names, blanks dropped.
fn list_of<T: for<'a> From<&'a str>>(v: &str) -> Vec<T> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(T::from)
        .collect()
}
