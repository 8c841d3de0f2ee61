//! Case documents for the people who receive leads: the dossier of one lead (a self-contained
//! HTML file that prints on A4) and the case-intake sheet of many (CSV or xlsx), in Chinese by
//! default or English ([`Lang`]).
//!
//! The renderers ([`render_dossier`], [`intake_row`], [`intake_csv`], [`intake_xlsx`]) are pure:
//! lead, config and readings in, bytes out. [`dossier`] and [`intake_sheet`] gather their inputs
//! from the ledger and a reading store, and are what both the HTTP API and `riverwatch leads`
//! call, so a file fetched from the service and one rendered offline from the ledger are the
//! same. A store that cannot be read does not stop a document: it says the evidence is missing.

mod chart;
mod dossier;
mod evidence;
mod figures;
mod intake;
mod words;

pub use chart::{Panel, Rule, Series};
pub use dossier::{render as render_dossier, DossierInput};
pub use evidence::{digest as evidence_digest, fetch as fetch_evidence, Evidence};
pub use intake::{
    csv as intake_csv, csv_field, row as intake_row, xlsx as intake_xlsx, Cell, SheetDigest,
};
pub use words::Lang;

use crate::ledger::{LeadFilter, Ledger, LedgerError};
use crate::store::ReadingStore;
use riverwatch_engine::config::Config;
use riverwatch_engine::leads::Lead;

/// Most evidence readings one dossier (or lead detail) keeps in memory; all are digested.
pub const MAX_EVIDENCE: usize = 50_000;
/// Most leads one intake sheet holds.
pub const MAX_SHEET_LEADS: u64 = 100_000;

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// No lead with this id.
    #[error("lead {0} not found")]
    NotFound(String),
    /// More leads match than one sheet holds.
    #[error("{0} leads match; an intake sheet holds at most {MAX_SHEET_LEADS}: narrow the filter")]
    TooMany(u64),
    /// The xlsx writer failed.
    #[error("writing the xlsx workbook: {0}")]
    Xlsx(String),
}

/// The file format of an intake sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetFormat {
    /// CSV, UTF-8 with a byte-order mark.
    Csv,
    /// Excel 2007+ workbook.
    Xlsx,
}

impl std::str::FromStr for SheetFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            other => Err(format!("`{other}` is not a sheet format: use csv or xlsx")),
        }
    }
}

impl SheetFormat {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// The dossier of lead `id` from the ledger, with its evidence read from `store` (none: the
/// dossier says the evidence was not read).
pub async fn dossier<S: ReadingStore>(
    ledger: &Ledger,
    store: Option<&S>,
    config: &Config,
    id: &str,
    lang: Lang,
) -> Result<String, ReportError> {
    let lead = ledger
        .get(id)
        .await?
        .ok_or_else(|| ReportError::NotFound(id.to_string()))?;
    let evidence = read_evidence(store, &lead, MAX_EVIDENCE, lang).await;
    let seal = ledger.sealed_revision(id, None).await?;
    let recheck = match (store, seal.as_ref().and_then(|s| s.seal.evidence.as_ref())) {
        (Some(store), Some(sealed)) => Some(sealed.recheck(store).await.map_err(|e| e.to_string())),
        _ => None,
    };
    Ok(render_dossier(&DossierInput {
        lead: &lead,
        config,
        evidence: &evidence,
        lang,
        seal: seal.as_ref(),
        recheck,
    }))
}

/// The intake sheet of every lead matching `filter` (its `limit` and `offset` are ignored),
/// newest window first. Each lead's evidence digest is the one sealed with its latest revision;
/// for a revision without sealed evidence it is computed from `store` when one is given.
pub async fn intake_sheet<S: ReadingStore>(
    ledger: &Ledger,
    store: Option<&S>,
    config: &Config,
    filter: LeadFilter,
    format: SheetFormat,
    lang: Lang,
) -> Result<Vec<u8>, ReportError> {
    let mut rows = Vec::new();
    let mut offset = 0u64;
    loop {
        let page = LeadFilter {
            limit: LeadFilter::MAX_LIMIT,
            offset,
            ..filter.clone()
        };
        let (leads, total) = ledger.list(page).await?;
        if total > MAX_SHEET_LEADS {
            return Err(ReportError::TooMany(total));
        }
        for lead in &leads {
            let sealed = ledger
                .sealed_revision(&lead.id, None)
                .await?
                .and_then(|s| s.seal.evidence)
                .map(|e| e.sha256);
            let computed = match sealed {
                Some(_) => None,
                None => read_evidence(store, lead, 0, lang)
                    .await
                    .ok()
                    .map(|e| e.digest),
            };
            let digest = match (&sealed, &computed) {
                (Some(d), _) => SheetDigest::Sealed(d),
                (None, Some(d)) => SheetDigest::Computed(d),
                (None, None) => SheetDigest::Missing,
            };
            rows.push(intake_row(lead, config, digest, lang));
        }
        offset += leads.len() as u64;
        if leads.is_empty() || offset >= total {
            break;
        }
    }
    match format {
        SheetFormat::Csv => Ok(intake_csv(&rows, lang)),
        SheetFormat::Xlsx => intake_xlsx(&rows, lang).map_err(|e| ReportError::Xlsx(e.to_string())),
    }
}

/// The lead's evidence, or in words why there is none.
async fn read_evidence<S: ReadingStore>(
    store: Option<&S>,
    lead: &Lead,
    keep: usize,
    lang: Lang,
) -> Result<Evidence, String> {
    let Some(store) = store else {
        return Err(match lang {
            Lang::Zh => "未连接读数库（离线生成时请用 --store 指定读数文件）".into(),
            Lang::En => "no reading store given (offline, name one with --store)".into(),
        });
    };
    fetch_evidence(store, &lead.evidence, keep)
        .await
        .map_err(|e| {
            tracing::warn!(lead = %lead.id, error = %e, "evidence not readable");
            e.to_string()
        })
}

/// `id` with anything but ASCII letters, digits, `-` and `_` replaced, for a file name.
pub(crate) fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Escapes text for HTML and SVG content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
