//! The lead ledger: every lead revision the engine produced, whether the broker has acked its
//! publication, the analysts' status changes and notes, and dead letters — in one SQLite file.
//!
//! Leads are written here before they are published and re-published after a crash until the
//! broker acks (DESIGN.md, "Nothing is lost"): [`Ledger::record_revision`] is idempotent per
//! `(id, revision)`, [`Ledger::unpublished`] lists what still needs sending, oldest first, and
//! [`Ledger::mark_published`] records the ack. The engine owns a lead's content; analysts own
//! its status: a new revision never resets the status, and the leads this API returns carry the
//! ledger's status and its history as `notes`.
//!
//! Every row that matters as evidence — each lead revision, the config it was made with,
//! each analyst decision, ingest and dead-letter checkpoints — is sealed into one hash chain in the same transaction
//! (`chain`), optionally signed; `audit` walks it back (issue 7).
//!
//! Every method is `async` and runs its SQL in the blocking pool, each as one transaction.

mod audit;
mod chain;
mod schema;
#[cfg(test)]
mod tests;

pub use audit::{ChainBreak, ChainReport};
pub use chain::{lead_subject, message, ChainEntry, SealedRevision};
pub use schema::SCHEMA_VERSION;

use crate::blocking::{locked, TaskFailed};
use crate::seal::records::{DecisionSeal, SealInput};
use crate::seal::{sha256_hex, Signer};
use riverwatch_engine::leads::{Category, Lead, Note, Severity, Status};
use riverwatch_engine::time::Millis;
use riverwatch_engine::StationId;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A ledger failure.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite failed.
    #[error("ledger {path}: {source}")]
    Sqlite {
        /// Ledger file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer riverwatch.
    #[error("ledger {path} has schema version {found}; this riverwatch knows up to {known}")]
    TooNew {
        /// Ledger file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// No lead with this id.
    #[error("lead {0} not found")]
    NotFound(String),
    /// A stored lead's JSON does not read back (written by an incompatible version).
    #[error("lead {id}: stored JSON unreadable: {reason}")]
    Corrupt {
        /// Lead id.
        id: String,
        /// Parser message.
        reason: String,
    },
    /// A blocking task died.
    #[error("ledger task failed: {0}")]
    Task(String),
}

impl From<TaskFailed> for LedgerError {
    fn from(e: TaskFailed) -> Self {
        Self::Task(e.0)
    }
}

/// Which leads [`Ledger::list`] returns. `None` fields do not filter.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadFilter {
    /// Current status.
    pub status: Option<Status>,
    /// Category.
    pub category: Option<Category>,
    /// Station where the lead was first seen.
    pub station: Option<StationId>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Leads localised to the river segment that ends at this (downstream) station.
    pub segment: Option<StationId>,
    /// Leads whose window ends at or after this time.
    pub from: Option<Millis>,
    /// Leads whose window starts before this time.
    pub to: Option<Millis>,
    /// Page size (capped at [`LeadFilter::MAX_LIMIT`]).
    pub limit: u32,
    /// Leads to skip (newest window first).
    pub offset: u64,
}

impl LeadFilter {
    /// Largest page.
    pub const MAX_LIMIT: u32 = 1000;
}

impl Default for LeadFilter {
    fn default() -> Self {
        Self {
            status: None,
            category: None,
            station: None,
            severity: None,
            segment: None,
            from: None,
            to: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// One analyst action on a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// When.
    pub time: Millis,
    /// Who.
    pub analyst: String,
    /// Status before.
    pub from: Status,
    /// Status after (equal to `from` for a note without a status change).
    pub to: Status,
    /// Note text.
    pub note: String,
}

/// One recorded revision of a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// When the ledger recorded it.
    pub recorded: Millis,
    /// The lead as it was at that revision (status and notes are not part of a revision).
    pub lead: Lead,
}

/// A message or reading the service could not use, kept with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Sequence number.
    pub seq: i64,
    /// When it was rejected.
    pub time: Millis,
    /// MQTT topic it came from (or the stage that refused it).
    pub topic: String,
    /// Why.
    pub reason: String,
    /// The payload as received.
    pub payload: Vec<u8>,
}

/// The lead ledger. Clones share the connection.
#[derive(Clone)]
pub struct Ledger {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    signer: Option<Arc<Signer>>,
}

impl Ledger {
    /// Opens or creates the ledger at `path` and migrates it to [`SCHEMA_VERSION`]. Blocking:
    /// call at start-up.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let mut conn = crate::sqlite_conn::open(path).map_err(sql_err(path))?;
        schema::migrate(&mut conn, path)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_path_buf()),
            signer: None,
        })
    }

    /// Runs `f` on the connection in the blocking pool.
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &Path) -> Result<R, LedgerError> + Send + 'static,
    ) -> Result<R, LedgerError> {
        let path = Arc::clone(&self.path);
        locked(&self.conn, move |c| f(c, &path)).await
    }

    /// The schema version of the open file.
    pub async fn schema_version(&self) -> Result<i64, LedgerError> {
        self.call(|c, p| {
            c.pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(sql_err(p))
        })
        .await
    }

    /// Stores a lead revision, received at `at`, sealed without evidence (see
    /// [`Ledger::record_sealed`]). Returns false when this `(id, revision)` was already
    /// recorded (nothing changes). A revision newer than the lead's current one becomes its
    /// content; the analyst status is kept.
    pub async fn record_revision(&self, lead: &Lead, at: Millis) -> Result<bool, LedgerError> {
        self.record_sealed(lead, SealInput::default(), at).await
    }

    /// [`Ledger::record_revision`] with what the seal records besides the lead: the evidence
    /// digest, what the engine had seen, and the config (kept once per hash). The revision
    /// and its chain entries are written in one transaction.
    pub async fn record_sealed(
        &self,
        lead: &Lead,
        input: SealInput,
        at: Millis,
    ) -> Result<bool, LedgerError> {
        let new = self.record_all(vec![(lead.clone(), input)], at).await?;
        Ok(new.first().copied().unwrap_or(false))
    }

    /// [`Ledger::record_sealed`] for several revisions in one transaction, in the order given:
    /// the rows and the chain end up exactly as recording them one by one at `at` would leave
    /// them, for the cost of one commit. Returns per revision whether it was new.
    pub async fn record_all(
        &self,
        revisions: Vec<(Lead, SealInput)>,
        at: Millis,
    ) -> Result<Vec<bool>, LedgerError> {
        let signer = self.signer.clone();
        self.call(move |c, p| {
            let tx = c.transaction().map_err(sql_err(p))?;
            let mut new = Vec::with_capacity(revisions.len());
            for (lead, input) in &revisions {
                new.push(
                    record_revision(&tx, signer.as_deref(), lead, input, at).map_err(sql_err(p))?,
                );
            }
            tx.commit().map_err(sql_err(p))?;
            Ok(new)
        })
        .await
    }

    /// Per `(id, revision)`, whether the ledger holds that revision already.
    pub async fn has_revisions(&self, keys: Vec<(String, u32)>) -> Result<Vec<bool>, LedgerError> {
        self.call(move |c, p| {
            let mut st = c
                .prepare_cached("SELECT 1 FROM lead_revisions WHERE id = ?1 AND revision = ?2")
                .map_err(sql_err(p))?;
            keys.iter()
                .map(|(id, revision)| st.exists((id, revision)).map_err(sql_err(p)))
                .collect()
        })
        .await
    }

    /// Recorded revisions the broker has not acked, oldest first, as the engine produced them.
    pub async fn unpublished(&self) -> Result<Vec<Lead>, LedgerError> {
        self.call(|c, p| {
            let mut st = c
                .prepare_cached(
                    "SELECT id, json FROM lead_revisions WHERE published_ms IS NULL ORDER BY seq",
                )
                .map_err(sql_err(p))?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(sql_err(p))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, json) = row.map_err(sql_err(p))?;
                out.push(parse_lead(&id, &json)?);
            }
            Ok(out)
        })
        .await
    }

    /// Records the broker's ack of a revision at `at`. False when the revision is unknown or
    /// was already marked.
    pub async fn mark_published(
        &self,
        id: &str,
        revision: u32,
        at: Millis,
    ) -> Result<bool, LedgerError> {
        let id = id.to_string();
        self.call(move |c, p| {
            let tx = c.transaction().map_err(sql_err(p))?;
            let n = tx
                .execute(
                    "UPDATE lead_revisions SET published_ms = ?3 WHERE id = ?1 AND revision = ?2 AND published_ms IS NULL",
                    (&id, revision, at),
                )
                .map_err(sql_err(p))?;
            if n > 0 {
                tx.execute(
                    "UPDATE leads SET published_revision = max(published_revision, ?2) WHERE id = ?1",
                    (&id, revision),
                )
                .map_err(sql_err(p))?;
            }
            tx.commit().map_err(sql_err(p))?;
            Ok(n > 0)
        })
        .await
    }

    /// Sets a lead's status (or, with the same status, just adds a note) and keeps the change
    /// in its history, sealed in the chain in the same transaction. Returns the lead as it now
    /// stands.
    pub async fn set_status(
        &self,
        id: &str,
        status: Status,
        analyst: &str,
        note: &str,
        at: Millis,
    ) -> Result<Lead, LedgerError> {
        let (id, analyst, note) = (id.to_string(), analyst.to_string(), note.to_string());
        let signer = self.signer.clone();
        self.call(move |c, p| {
            let tx = c.transaction().map_err(sql_err(p))?;
            let from: Option<String> = tx
                .query_row("SELECT status FROM leads WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(sql_err(p))?;
            let Some(from) = from else { return Err(LedgerError::NotFound(id)) };
            let to = name(&status);
            tx.execute("UPDATE leads SET status = ?2, updated_ms = ?3 WHERE id = ?1", (&id, &to, at))
                .map_err(sql_err(p))?;
            tx.execute(
                "INSERT INTO status_history (id, time_ms, analyst, from_status, to_status, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (&id, at, &analyst, &from, &to, &note),
            )
            .map_err(sql_err(p))?;
            let decision = DecisionSeal {
                lead: id.clone(),
                seq: tx.last_insert_rowid(),
                time_ms: at,
                analyst,
                from,
                to,
                note_sha256: sha256_hex(note.as_bytes()),
            };
            chain::record_decision(&tx, signer.as_deref(), &decision).map_err(sql_err(p))?;
            tx.commit().map_err(sql_err(p))?;
            load(c, p, &id)?.ok_or(LedgerError::NotFound(id))
        })
        .await
    }

    /// The lead's latest revision with the ledger's status and notes; `None` when unknown.
    pub async fn get(&self, id: &str) -> Result<Option<Lead>, LedgerError> {
        let id = id.to_string();
        self.call(move |c, p| load(c, p, &id)).await
    }

    /// One page of leads matching `filter`, newest window first, and the total that match.
    pub async fn list(&self, filter: LeadFilter) -> Result<(Vec<Lead>, u64), LedgerError> {
        self.call(move |c, p| {
            let (cond, args) = conditions(&filter);
            let total: i64 = c
                .query_row(
                    &format!("SELECT count(*) FROM leads{cond}"),
                    params_from_iter(args.iter()),
                    |r| r.get(0),
                )
                .map_err(sql_err(p))?;
            let sql = format!(
                "SELECT id FROM leads{cond} ORDER BY window_start_ms DESC, id LIMIT {} OFFSET {}",
                filter.limit.min(LeadFilter::MAX_LIMIT),
                filter.offset.min(i64::MAX as u64)
            );
            let ids: Vec<String> = {
                let mut st = c.prepare(&sql).map_err(sql_err(p))?;
                let rows = st
                    .query_map(params_from_iter(args.iter()), |r| r.get(0))
                    .map_err(sql_err(p))?;
                rows.collect::<Result<_, _>>().map_err(sql_err(p))?
            };
            let mut leads = Vec::with_capacity(ids.len());
            for id in ids {
                leads.extend(load(c, p, &id)?);
            }
            Ok((leads, total.max(0) as u64))
        })
        .await
    }

    /// The lead's status changes and notes, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<StatusChange>, LedgerError> {
        let id = id.to_string();
        self.call(move |c, p| history(c, p, &id)).await
    }

    /// Every recorded revision of the lead, oldest first.
    pub async fn revisions(&self, id: &str) -> Result<Vec<Revision>, LedgerError> {
        let id = id.to_string();
        self.call(move |c, p| {
            let mut st = c
                .prepare_cached(
                    "SELECT recorded_ms, json FROM lead_revisions WHERE id = ?1 ORDER BY revision",
                )
                .map_err(sql_err(p))?;
            let rows: Vec<(Millis, String)> = st
                .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql_err(p))?
                .collect::<Result<_, _>>()
                .map_err(sql_err(p))?;
            rows.into_iter()
                .map(|(recorded, json)| {
                    Ok(Revision {
                        recorded,
                        lead: parse_lead(&id, &json)?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Keeps a rejected message or reading with the reason; returns its sequence number.
    pub async fn record_dead_letter(
        &self,
        time: Millis,
        topic: &str,
        reason: &str,
        payload: &[u8],
    ) -> Result<i64, LedgerError> {
        let (topic, reason, payload) = (topic.to_string(), reason.to_string(), payload.to_vec());
        self.call(move |c, p| {
            c.execute(
                "INSERT INTO dead_letters (time_ms, topic, reason, payload) VALUES (?1, ?2, ?3, ?4)",
                (time, &topic, &reason, &payload),
            )
            .map_err(sql_err(p))?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    /// The newest `limit` dead letters, newest first.
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, LedgerError> {
        self.call(move |c, p| {
            let mut st = c
                .prepare_cached("SELECT seq, time_ms, topic, reason, payload FROM dead_letters ORDER BY seq DESC LIMIT ?1")
                .map_err(sql_err(p))?;
            let rows = st
                .query_map([limit], |r| {
                    Ok(DeadLetter { seq: r.get(0)?, time: r.get(1)?, topic: r.get(2)?, reason: r.get(3)?, payload: r.get(4)? })
                })
                .map_err(sql_err(p))?;
            rows.collect::<Result<_, _>>().map_err(sql_err(p))
        })
        .await
    }
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |source| LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// The serde (snake_case) name of a unit enum variant.
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn parse_status(s: &str) -> Status {
    serde_json::from_value(serde_json::Value::String(s.to_string())).unwrap_or_default()
}

fn parse_lead(id: &str, json: &str) -> Result<Lead, LedgerError> {
    serde_json::from_str(json).map_err(|e| LedgerError::Corrupt {
        id: id.to_string(),
        reason: e.to_string(),
    })
}

/// Inserts a lead revision and seals it, inside the caller's transaction; false when it was
/// there already (nothing is written).
fn record_revision(
    tx: &rusqlite::Transaction<'_>,
    signer: Option<&Signer>,
    lead: &Lead,
    input: &SealInput,
    at: Millis,
) -> rusqlite::Result<bool> {
    // Lead holds only finite numbers and strings; serialising it cannot fail.
    let json = serde_json::to_string(lead).unwrap_or_default();
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO lead_revisions (id, revision, json, recorded_ms) VALUES (?1, ?2, ?3, ?4)",
        (&lead.id, lead.revision, &json, at),
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    let fields = (
        &lead.id,
        lead.revision,
        name(&lead.category),
        lead.station.as_str(),
        name(&lead.status),
        lead.window.start,
        lead.window.end,
        &json,
        at,
    );
    tx.execute(
        "INSERT INTO leads (id, revision, category, station, status, window_start_ms, window_end_ms, json, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (id) DO UPDATE SET
             revision = excluded.revision, category = excluded.category, station = excluded.station,
             window_start_ms = excluded.window_start_ms, window_end_ms = excluded.window_end_ms,
             json = excluded.json, updated_ms = excluded.updated_ms
         WHERE excluded.revision > leads.revision",
        fields,
    )?;
    chain::record_lead(tx, signer, lead, &json, input, at)?;
    Ok(true)
}

/// A lead's latest revision with the ledger's status and the history as notes.
fn load(c: &Connection, p: &Path, id: &str) -> Result<Option<Lead>, LedgerError> {
    let row: Option<(String, String)> = c
        .prepare_cached("SELECT json, status FROM leads WHERE id = ?1")
        .and_then(|mut st| {
            st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(sql_err(p))?;
    let Some((json, status)) = row else {
        return Ok(None);
    };
    let mut lead = parse_lead(id, &json)?;
    lead.status = parse_status(&status);
    lead.notes = history(c, p, id)?
        .into_iter()
        .map(|h| Note {
            time: h.time,
            analyst: h.analyst,
            status: (h.from != h.to).then_some(h.to),
            text: h.note,
        })
        .collect();
    Ok(Some(lead))
}

fn history(c: &Connection, p: &Path, id: &str) -> Result<Vec<StatusChange>, LedgerError> {
    let mut st = c
        .prepare_cached("SELECT time_ms, analyst, from_status, to_status, note FROM status_history WHERE id = ?1 ORDER BY seq")
        .map_err(sql_err(p))?;
    let rows = st
        .query_map([id], |r| {
            Ok(StatusChange {
                time: r.get(0)?,
                analyst: r.get(1)?,
                from: parse_status(&r.get::<_, String>(2)?),
                to: parse_status(&r.get::<_, String>(3)?),
                note: r.get(4)?,
            })
        })
        .map_err(sql_err(p))?;
    rows.collect::<Result<_, _>>().map_err(sql_err(p))
}

/// ` WHERE …` for a filter, with its arguments.
fn conditions(f: &LeadFilter) -> (String, Vec<Value>) {
    let mut cond = Vec::new();
    let mut args = Vec::new();
    if let Some(s) = &f.status {
        cond.push("status = ?");
        args.push(Value::from(name(s)));
    }
    if let Some(c) = &f.category {
        cond.push("category = ?");
        args.push(Value::from(name(c)));
    }
    if let Some(s) = &f.station {
        cond.push("station = ?");
        args.push(Value::from(s.as_str().to_string()));
    }
    // Severity and segment live only in the lead's JSON; the ledger has few enough leads that
    // reading them there beats a migration for two filter columns.
    if let Some(s) = &f.severity {
        cond.push("json_extract(json, '$.severity') = ?");
        args.push(Value::from(name(s)));
    }
    if let Some(s) = &f.segment {
        cond.push("json_extract(json, '$.segment.downstream') = ?");
        args.push(Value::from(s.as_str().to_string()));
    }
    if let Some(from) = f.from {
        cond.push("window_end_ms >= ?");
        args.push(Value::from(from));
    }
    if let Some(to) = f.to {
        cond.push("window_start_ms < ?");
        args.push(Value::from(to));
    }
    if cond.is_empty() {
        (String::new(), args)
    } else {
        (format!(" WHERE {}", cond.join(" AND ")), args)
    }
}
