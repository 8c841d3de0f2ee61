//! Evidence integrity over HTTP (issue 7): the public key the ledger is signed with, one
//! lead's verification — the same checks as `riverwatch verify lead`, for the web page — and
//! its evidence bundle, the files of `riverwatch verify export` packed as one zip archive.
//!
//! `GET /api/keys` → `{"algorithm": "ed25519", "signing": bool, "public_key": hex|null,
//! "pem": text|null, "env": "RIVERWATCH_SIGNING_KEY"}`.
//! `GET /api/leads/{id}/verification[?replay=true][&revision=N]` → `{lead, revision, ok,
//! checks: [{name, ok, detail}], entry, digest, signed_by}`; the replay check (re-running the
//! engine over the evidence and its warm-up history, through the batch side's replay) runs
//! only when asked, since it reads days of readings; 501 without the batch side.
//! `GET /api/leads/{id}/bundle[?replay=true][&revision=N]` → `evidence-{id}.zip` as an
//! attachment; its `verification.json` is the verification run for it, with the same options.

use super::leads::{lead_id, pairs, Pairs};
use super::replay::replay_side;
use super::{ApiError, ApiState};
use crate::seal::bundle::{Bundle, BundleError};
use crate::seal::verify::{verify_lead, LeadVerification, VerifyError, VerifyOptions};
use crate::seal::ENV_SIGNING_KEY;
use crate::store::ReadingStore;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
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
    let v = verify(&st, &lead_id(id)?, q).await?;
    Ok(Json(json!(v)))
}

/// `GET /api/leads/{id}/bundle`.
pub(super) async fn bundle<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    id: Result<Path<String>, PathRejection>,
    q: Pairs,
) -> Result<Response, ApiError> {
    let v = verify(&st, &lead_id(id)?, q).await?;
    let bundle = Bundle::assemble(&st.ledger, &*st.store, &v)
        .await
        .map_err(bundle_error)?;
    let zip = bundle.zip().map_err(bundle_error)?;
    let disposition = format!("attachment; filename=\"{}.zip\"", bundle.name());
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}

/// Verifies lead `id` with the options of the query (`replay`, `revision`).
async fn verify<S: ReadingStore>(
    st: &ApiState<S>,
    id: &str,
    q: Pairs,
) -> Result<LeadVerification, ApiError> {
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
    match verify_lead(&st.ledger, &*st.store, id, opts).await {
        Ok(v) => Ok(v),
        Err(VerifyError::NotSealed(id, rev)) => Err(ApiError::not_found(format!(
            "lead {id} has no sealed revision{rev}"
        ))),
        Err(VerifyError::Ledger(e)) => Err(e.into()),
        Err(VerifyError::Store(e)) => Err(e.into()),
    }
}

fn bundle_error(e: BundleError) -> ApiError {
    match e {
        BundleError::Ledger(e) => e.into(),
        BundleError::Store(e) => e.into(),
        e @ BundleError::Vanished(..) => ApiError::not_found(e.to_string()),
        e => ApiError::internal(e.to_string()),
    }
}
