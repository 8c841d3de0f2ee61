//! Evidence integrity over HTTP (issue 7): the public key the ledger is signed with, and one
//! lead's verification — the same checks as `riverwatch verify lead`, for the web page.
//!
//! `GET /api/keys` → `{"algorithm": "ed25519", "signing": bool, "public_key": hex|null,
//! "pem": text|null, "env": "RIVERWATCH_SIGNING_KEY"}`.
//! `GET /api/leads/{id}/verification[?replay=true][&revision=N]` → `{lead, revision, ok,
//! checks: [{name, ok, detail}], entry, digest, signed_by}`; the replay check (re-running the
//! engine over the evidence and its warm-up history, through the batch side's replay) runs
//! only when asked, since it reads days of readings; 501 without the batch side.

use super::leads::{pairs, Pairs};
use super::replay::replay_side;
use super::{ApiError, ApiState};
use crate::seal::verify::{verify_lead, VerifyError, VerifyOptions};
use crate::seal::ENV_SIGNING_KEY;
use crate::store::ReadingStore;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/keys`.
pub(super) async fn keys<S: ReadingStore>(State(st): State<ApiState<S>>) -> Json<Value> {
    let key = st.ledger.public_key();
    Json(json!({
        "algorithm": "ed25519",
        "signing": key.is_some(),
        "public_key": key.map(|k| k.to_string()),
        "pem": key.map(|k| k.pem()),
        "env": ENV_SIGNING_KEY,
    }))
}

/// `GET /api/leads/{id}/verification`.
pub(super) async fn verification<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    id: Result<Path<String>, PathRejection>,
    q: Pairs,
) -> Result<Json<Value>, ApiError> {
    let id = id
        .map(|Path(id)| id)
        .map_err(|e| ApiError::bad_request(format!("lead id: {}", e.body_text())))?;
    let mut opts = VerifyOptions::default();
    for (k, v) in pairs(q)? {
        match k.as_str() {
            "replay" => match v.as_str() {
                "true" | "1" => opts.replay = Some(&*replay_side(&st.replay)?.engine),
                "false" | "0" => opts.replay = None,
                _ => return Err(ApiError::bad_param("replay", "expected true or false")),
            },
            "revision" => {
                opts.revision = Some(
                    v.parse()
                        .map_err(|_| ApiError::bad_param("revision", "expected a number"))?,
                )
            }
            _ => return Err(ApiError::bad_param(&k, "unknown parameter")),
        }
    }
    match verify_lead(&st.ledger, &*st.store, &id, opts).await {
        Ok(v) => Ok(Json(json!(v))),
        Err(VerifyError::NotSealed(id, rev)) => Err(ApiError::not_found(format!(
            "lead {id} has no sealed revision{rev}"
        ))),
        Err(VerifyError::Ledger(e)) => Err(e.into()),
        Err(VerifyError::Store(e)) => Err(e.into()),
    }
}
