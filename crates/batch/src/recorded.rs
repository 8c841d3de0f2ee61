//! Leads the live service recorded in the ledger for a window: what `replay --diff` compares
//! with, and the analyst decisions (confirmed / dismissed) `tune` scores candidates against.

use crate::frames::Window;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Lead, Status};
use riverwatch_live::{LeadFilter, Ledger, LedgerError};

/// Every lead whose window overlaps `[from, to)` (all pages), optionally of one status.
pub async fn leads(
    ledger: &Ledger,
    from: Millis,
    to: Millis,
    status: Option<Status>,
) -> Result<Vec<Lead>, LedgerError> {
    let mut all = Vec::new();
    loop {
        let filter = LeadFilter {
            status,
            from: Some(from),
            to: Some(to),
            limit: LeadFilter::MAX_LIMIT,
            offset: all.len() as u64,
            ..LeadFilter::default()
        };
        let (page, total) = ledger.list(filter).await?;
        let empty = page.is_empty();
        all.extend(page);
        if empty || all.len() as u64 >= total {
            return Ok(all);
        }
    }
}

/// The leads recorded for a replay window: overlapping `[from, to)`, of its stations (all when
/// it names none) — what a replay of the window is compared with.
pub async fn for_window(ledger: &Ledger, window: &Window) -> Result<Vec<Lead>, LedgerError> {
    let mut all = leads(ledger, window.from, window.to, None).await?;
    if !window.stations.is_empty() {
        all.retain(|l| window.stations.contains(&l.station));
    }
    Ok(all)
}

/// Analyst decisions over a window: confirmed leads are true alarms, dismissed ones false.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    /// Leads judged real.
    pub confirmed: Vec<Lead>,
    /// Leads judged not worth pursuing.
    pub dismissed: Vec<Lead>,
}

impl Decisions {
    /// Reads the decided leads of `[from, to)` from the ledger.
    pub async fn load(ledger: &Ledger, from: Millis, to: Millis) -> Result<Self, LedgerError> {
        Ok(Self {
            confirmed: leads(ledger, from, to, Some(Status::Confirmed)).await?,
            dismissed: leads(ledger, from, to, Some(Status::Dismissed)).await?,
        })
    }

    /// Whether no lead was decided.
    pub fn is_empty(&self) -> bool {
        self.confirmed.is_empty() && self.dismissed.is_empty()
    }
}
