//! `/api/leads/{id}/dossier` and `/api/leads/export`: the case documents of
//! [`crate::report`] over HTTP, so the web page can offer a printable dossier per lead and the
//! filtered inbox as an intake sheet. Both answer the file itself (HTML, CSV or xlsx) with a
//! `Content-Disposition` naming it; errors stay JSON like the rest of the API.

use super::leads::{lead_id, pairs, Pairs};
use super::params::{lead_filter, Params};
use super::{ApiError, ApiState};
use crate::report::{self, file_safe, Lang, SheetFormat};
use crate::store::ReadingStore;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `GET /api/leads/{id}/dossier?lang=zh|en`: the dossier as one HTML file.
pub(super) async fn dossier<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    id: Result<Path<String>, PathRejection>,
    q: Pairs,
) -> Result<Response, ApiError> {
    let id = lead_id(id)?;
    let pairs = pairs(q)?;
    let p = Params::new(&pairs, &["lang"])?;
    let lang = lang(&p)?;
    let html = report::dossier(&st.ledger, Some(&*st.store), &(st.config)(), &id, lang).await?;
    let disposition = format!("inline; filename=\"dossier-{}.html\"", file_safe(&id));
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        html,
    )
        .into_response())
}

/// `GET /api/leads/export?format=csv|xlsx&lang=zh|en&status=…&category=…&station=…&from=…&to=…`:
/// the intake sheet of every lead matching the filters of `GET /api/leads`.
pub(super) async fn export<S: ReadingStore>(
    State(st): State<ApiState<S>>,
    q: Pairs,
) -> Result<Response, ApiError> {
    let all = pairs(q)?;
    let (own, filters): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|(k, _)| k == "format" || k == "lang");
    let p = Params::new(&own, &["format", "lang"])?;
    if let Some((k, _)) = filters.iter().find(|(k, _)| k == "limit" || k == "offset") {
        return Err(ApiError::bad_param(
            k,
            "an export holds every matching lead",
        ));
    }
    let format = match p.text("format") {
        None => SheetFormat::Csv,
        Some(f) => f.parse().map_err(|e| ApiError::bad_param("format", e))?,
    };
    let lang = lang(&p)?;
    let filter = lead_filter(&filters)?;
    let body = report::intake_sheet(
        &st.ledger,
        Some(&*st.store),
        &(st.config)(),
        filter,
        format,
        lang,
    )
    .await?;
    let disposition = format!("attachment; filename=\"leads.{}\"", format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `lang`, Chinese when absent.
fn lang(p: &Params) -> Result<Lang, ApiError> {
    p.text("lang").map_or(Ok(Lang::Zh), |l| {
        l.parse().map_err(|e| ApiError::bad_param("lang", e))
    })
}
