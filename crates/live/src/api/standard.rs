//! `/api/parameters` (the parameters riverwatch knows: names in Chinese and English, unit,
//! physical range) and `/api/limits` (the GB 3838 limits of one station's target class). The web
//! page reads both to label its charts and draw the class limit line; they come from the same
//! tables the engine judges with, so the line on the chart is the line the lead was measured by.

use super::leads::{pairs, Pairs};
use super::params::Params;
use super::{ApiError, ApiState};
use crate::store::ReadingStore;
use axum::extract::State;
use axum::Json;
use riverwatch_engine::config::Limit;
use riverwatch_engine::params::KNOWN;
use serde_json::{json, Value};

/// `GET /api/parameters`: `{parameters: [{id, name_zh, name_en, unit, range: [low, high]}]}`.
pub(super) async fn parameters() -> Json<Value> {
    let list: Vec<Value> = KNOWN
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name_zh": p.name_zh,
                "name_en": p.name_en,
                "unit": p.unit,
                "range": [p.range.0, p.range.1],
            })
        })
        .collect();
    Json(json!({ "parameters": list }))
}

/// `GET /api/limits?station=ID`: `{station, target_class, water_body, limits: [{parameter,
/// kind, value} | {parameter, kind: "range", low, high}]}` — every known parameter GB 3838 sets
/// a limit for at the station's target class and water body. 404 for an unknown station.
pub(super) async fn limits<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    q: Pairs,
) -> Result<Json<Value>, ApiError> {
    let pairs = pairs(q)?;
    let p = Params::new(&pairs, &["station"])?;
    let id = p.required("station")?;
    let config = (st.config)();
    let station = config
        .stations
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("station {id} is not configured")))?;
    let limits: Vec<Value> = KNOWN
        .iter()
        .filter_map(|p| {
            let limit = config
                .gb3838
                .limit(p.id, station.target_class, station.water_body)?;
            Some(match limit {
                Limit::Max(v) => json!({ "parameter": p.id, "kind": "max", "value": v }),
                Limit::Min(v) => json!({ "parameter": p.id, "kind": "min", "value": v }),
                Limit::Range(lo, hi) => {
                    json!({ "parameter": p.id, "kind": "range", "low": lo, "high": hi })
                }
            })
        })
        .collect();
    Ok(Json(json!({
        "station": station.id,
        "target_class": station.target_class,
        "water_body": station.water_body,
        "limits": limits,
    })))
}
