//! `verify ledger`: walks the hash chain from the first entry and checks every link, digest
//! and signature, then what each entry seals — the stored lead JSON of each revision (and the
//! current copy the API serves), the kept config texts, the dead letters up to each
//! checkpoint, each analyst decision's status-history row (and that a lead's current status
//! is what its last decision set) — and that no lead revision or decision was recorded outside
//! the chain. Each problem is a
//! [`ChainBreak`] naming the entry and what changed; the first is the one to look at, the
//! rest are often its consequences.
//!
//! Not detectable from the file alone: removing the newest entries (a truncated chain is a
//! valid chain). Keep the latest head elsewhere (its digest is printed by `verify ledger`) or
//! rely on the signatures of rows others already hold.

use super::chain::{
    dead_letter_link, dead_letters_start, decisions_start, entry_of, lead_subject, revisions_start,
    ChainEntry, ENTRY_COLUMNS,
};
use super::{sql_err, Ledger, LedgerError};
use crate::seal::records::{
    config_digests, ConfigSeal, DeadLetterCheckpoint, DecisionSeal, LeadSeal, KIND_CONFIG,
    KIND_DEAD_LETTERS, KIND_DECISION, KIND_INGEST, KIND_LEAD,
};
use crate::seal::{hex, sha256_hex, PublicKey, GENESIS};
use riverwatch_engine::time::Rfc3339;
use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One problem found in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// Chain entry (0 when the problem is a row no entry covers).
    pub seq: i64,
    /// Entry kind.
    pub kind: String,
    /// What the entry seals.
    pub subject: String,
    /// What is wrong, naming what changed.
    pub reason: String,
}

/// What `verify ledger` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Entries walked.
    pub entries: u64,
    /// Entries with a signature that verified.
    pub signed: u64,
    /// Lead revisions sealed.
    pub leads: u64,
    /// Configs sealed.
    pub configs: u64,
    /// Ingest checkpoints.
    pub ingest_checkpoints: u64,
    /// Dead-letter checkpoints.
    pub dead_letter_checkpoints: u64,
    /// Analyst decisions sealed.
    pub decisions: u64,
    /// Lead revisions recorded before sealing began (not covered).
    pub unsealed_revisions: u64,
    /// Analyst decisions recorded before they were sealed (not covered).
    pub unsealed_decisions: u64,
    /// Digest of the newest entry (keep it elsewhere to detect truncation).
    pub head: String,
    /// Problems, in chain order.
    pub breaks: Vec<ChainBreak>,
}

impl ChainReport {
    /// Whether the chain is whole.
    pub fn ok(&self) -> bool {
        self.breaks.is_empty()
    }
}

impl Ledger {
    /// Walks the chain (see the module docs). With `key`, every entry must be signed by it.
    pub async fn verify_chain(&self, key: Option<PublicKey>) -> Result<ChainReport, LedgerError> {
        self.call(move |c, p| audit(c, p, key)).await
    }
}

struct Walk<'a> {
    c: &'a Connection,
    p: &'a Path,
    report: ChainReport,
    sealed_revisions: HashSet<(String, u32)>,
    sealed_decisions: HashSet<i64>,
    /// Per lead, the last decision the chain seals.
    last_decision: HashMap<String, DecisionSeal>,
    dl_head: [u8; 32],
    dl_seq: i64,
    dl_count: u64,
}

impl Walk<'_> {
    fn flag(&mut self, e: &ChainEntry, reason: String) {
        self.report.breaks.push(ChainBreak {
            seq: e.seq,
            kind: e.kind.clone(),
            subject: e.subject.clone(),
            reason,
        });
    }
}

fn audit(c: &mut Connection, p: &Path, key: Option<PublicKey>) -> Result<ChainReport, LedgerError> {
    let entries: Vec<ChainEntry> = {
        let mut st = c
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM chain ORDER BY seq"))
            .map_err(sql_err(p))?;
        let rows = st.query_map([], entry_of).map_err(sql_err(p))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(p))?
    };
    let mut w = Walk {
        c,
        p,
        report: ChainReport::default(),
        sealed_revisions: HashSet::new(),
        sealed_decisions: HashSet::new(),
        last_decision: HashMap::new(),
        dl_head: [0; 32],
        dl_seq: dead_letters_start(c).map_err(sql_err(p))?,
        dl_count: 0,
    };
    let mut prev = GENESIS.to_string();
    for e in &entries {
        w.report.entries += 1;
        if e.prev != prev {
            w.flag(e, format!(
                "does not link to the entry before it (prev {}, entry before is {}): an entry was removed, inserted or altered",
                short(&e.prev), short(&prev)
            ));
        }
        let digest = sha256_hex(&e.message());
        if digest != e.digest {
            w.flag(
                e,
                format!(
                    "its body or link was altered: it hashes to {}, the recorded digest is {}",
                    short(&digest),
                    short(&e.digest)
                ),
            );
        }
        check_signature(&mut w, e, key);
        match e.kind.as_str() {
            KIND_LEAD => check_lead(&mut w, e)?,
            KIND_CONFIG => check_config(&mut w, e)?,
            KIND_DEAD_LETTERS => check_dead_letters(&mut w, e)?,
            KIND_DECISION => check_decision(&mut w, e)?,
            KIND_INGEST => w.report.ingest_checkpoints += 1,
            other => w.flag(e, format!("unknown entry kind `{other}`")),
        }
        prev = e.digest.clone();
    }
    w.report.head = prev;
    check_coverage(&mut w)?;
    check_decision_coverage(&mut w)?;
    Ok(w.report)
}

fn check_signature(w: &mut Walk<'_>, e: &ChainEntry, expected: Option<PublicKey>) {
    match e.signer(expected) {
        Ok(Some(_)) => w.report.signed += 1,
        Ok(None) => {}
        Err(reason) => w.flag(e, reason),
    }
}

/// The entry's body as a `T`; `None` once flagged as not being `what`.
fn body<T: DeserializeOwned>(w: &mut Walk<'_>, e: &ChainEntry, what: &str) -> Option<T> {
    match serde_json::from_str(&e.body) {
        Ok(b) => Some(b),
        Err(err) => {
            w.flag(e, format!("body is not {what}: {err}"));
            None
        }
    }
}

fn check_lead(w: &mut Walk<'_>, e: &ChainEntry) -> Result<(), LedgerError> {
    w.report.leads += 1;
    let Some(seal) = body::<LeadSeal>(w, e, "a lead seal") else {
        return Ok(());
    };
    if e.subject != lead_subject(&seal.lead, seal.revision) {
        w.flag(
            e,
            format!(
                "subject does not match the sealed lead {}#{}",
                seal.lead, seal.revision
            ),
        );
    }
    w.sealed_revisions
        .insert((seal.lead.clone(), seal.revision));
    let stored: Option<String> =
        w.c.query_row(
            "SELECT json FROM lead_revisions WHERE id = ?1 AND revision = ?2",
            (&seal.lead, seal.revision),
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err(w.p))?;
    let Some(json) = stored else {
        w.flag(
            e,
            format!(
                "lead {} revision {} is sealed but its row is gone",
                seal.lead, seal.revision
            ),
        );
        return Ok(());
    };
    if sha256_hex(json.as_bytes()) != seal.lead_sha256 {
        // The API's copy (`leads`) of the same revision, if untouched, shows what changed.
        let current: Option<(u32, String)> =
            w.c.query_row(
                "SELECT revision, json FROM leads WHERE id = ?1",
                [&seal.lead],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql_err(w.p))?;
        let fields = match current {
            Some((rev, other))
                if rev == seal.revision && sha256_hex(other.as_bytes()) == seal.lead_sha256 =>
            {
                format!(" (changed: {})", changed_fields(&other, &json).join(", "))
            }
            _ => String::new(),
        };
        w.flag(
            e,
            format!(
                "lead {} revision {}: the stored lead JSON differs from the sealed one{fields}",
                seal.lead, seal.revision
            ),
        );
    }
    Ok(())
}

fn check_config(w: &mut Walk<'_>, e: &ChainEntry) -> Result<(), LedgerError> {
    w.report.configs += 1;
    let Some(seal) = body::<ConfigSeal>(w, e, "a config seal") else {
        return Ok(());
    };
    let texts = super::chain::config_texts_row(w.c, &seal.hash).map_err(sql_err(w.p))?;
    let Some(texts) = texts else {
        w.flag(
            e,
            format!(
                "config {} is sealed but its texts are gone",
                short(&seal.hash)
            ),
        );
        return Ok(());
    };
    let now = config_digests(&texts);
    let changed: Vec<&str> = seal
        .files
        .iter()
        .filter(|(f, d)| now.get(*f) != Some(*d))
        .map(|(f, _)| f.as_str())
        .collect();
    if !changed.is_empty() {
        w.flag(
            e,
            format!(
                "config {}: the kept text of {} differs from the sealed one",
                short(&seal.hash),
                changed.join(", ")
            ),
        );
    }
    Ok(())
}

fn check_dead_letters(w: &mut Walk<'_>, e: &ChainEntry) -> Result<(), LedgerError> {
    w.report.dead_letter_checkpoints += 1;
    let Some(cp) = body::<DeadLetterCheckpoint>(w, e, "a dead-letter checkpoint") else {
        return Ok(());
    };
    let from = w.dl_seq;
    let rows: Vec<(i64, i64, String, Vec<u8>)> = {
        let mut st = w
            .c
            .prepare("SELECT seq, time_ms, topic, payload FROM dead_letters WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")
            .map_err(sql_err(w.p))?;
        let rows = st
            .query_map((from, cp.last_seq), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(sql_err(w.p))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(w.p))?
    };
    for (_, t, topic, payload) in &rows {
        w.dl_head = dead_letter_link(&w.dl_head, *t, topic, payload);
        w.dl_count += 1;
    }
    if hex(&w.dl_head) != cp.head || w.dl_count != cp.count {
        w.flag(e, format!(
            "dead letters #{}..#{}: {} sealed, {} stored now, chain head {} sealed, {} now: a dead letter was altered or removed",
            from + 1, cp.last_seq, cp.count, w.dl_count, short(&cp.head), short(&hex(&w.dl_head))
        ));
        // Continue from the sealed state so later checkpoints are judged on their own.
        w.dl_head = crate::seal::digest_bytes(&cp.head).unwrap_or(w.dl_head);
        w.dl_count = cp.count;
    }
    w.dl_seq = cp.last_seq;
    Ok(())
}

fn check_decision(w: &mut Walk<'_>, e: &ChainEntry) -> Result<(), LedgerError> {
    w.report.decisions += 1;
    let Some(seal) = body::<DecisionSeal>(w, e, "a decision seal") else {
        return Ok(());
    };
    if e.subject != seal.lead {
        w.flag(
            e,
            format!(
                "subject does not match the sealed decision's lead {}",
                seal.lead
            ),
        );
    }
    w.sealed_decisions.insert(seal.seq);
    let row =
        w.c.query_row(
            &format!("SELECT {DECISION_COLUMNS} FROM status_history WHERE seq = ?1"),
            [seal.seq],
            decision_of,
        )
        .optional()
        .map_err(sql_err(w.p))?;
    match row {
        None => w.flag(
            e,
            format!("{} is sealed but its row is gone", describe(&seal)),
        ),
        Some(now) => {
            let changed = decision_changes(&seal, &now);
            if !changed.is_empty() {
                w.flag(
                    e,
                    format!(
                        "{}: the stored row differs from the sealed one (changed: {})",
                        describe(&seal),
                        changed.join(", ")
                    ),
                );
            }
        }
    }
    w.last_decision.insert(seal.lead.clone(), seal);
    Ok(())
}

/// The status-history columns [`decision_of`] reads.
const DECISION_COLUMNS: &str = "seq, id, time_ms, analyst, from_status, to_status, note";

/// A status-history row in the form its seal takes.
fn decision_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<DecisionSeal> {
    Ok(DecisionSeal {
        seq: r.get(0)?,
        lead: r.get(1)?,
        time_ms: r.get(2)?,
        analyst: r.get(3)?,
        from: r.get(4)?,
        to: r.get(5)?,
        note_sha256: sha256_hex(r.get::<_, String>(6)?.as_bytes()),
    })
}

/// `decision #seq on lead ID (analyst, from → to, time)`.
fn describe(d: &DecisionSeal) -> String {
    format!(
        "decision #{} on lead {} ({}, {} → {}, {})",
        d.seq,
        d.lead,
        d.analyst,
        d.from,
        d.to,
        Rfc3339(d.time_ms)
    )
}

/// What differs between a sealed decision and its row now, as `field: sealed → stored`.
fn decision_changes(sealed: &DecisionSeal, now: &DecisionSeal) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, a: &str, b: &str| {
        if a != b {
            out.push(format!("{name}: {a:?} → {b:?}"));
        }
    };
    field("lead", &sealed.lead, &now.lead);
    field(
        "time",
        &Rfc3339(sealed.time_ms).to_string(),
        &Rfc3339(now.time_ms).to_string(),
    );
    field("analyst", &sealed.analyst, &now.analyst);
    field("from_status", &sealed.from, &now.from);
    field("to_status", &sealed.to, &now.to);
    if sealed.note_sha256 != now.note_sha256 {
        out.push(format!(
            "note: its text no longer has the sealed SHA-256 {}",
            short(&sealed.note_sha256)
        ));
    }
    out
}

/// Decisions no entry covers, and leads whose current status is not what their last sealed
/// decision set.
fn check_decision_coverage(w: &mut Walk<'_>) -> Result<(), LedgerError> {
    let start = decisions_start(w.c).map_err(sql_err(w.p))?;
    let rows: Vec<DecisionSeal> = {
        let mut st =
            w.c.prepare(&format!(
                "SELECT {DECISION_COLUMNS} FROM status_history ORDER BY seq"
            ))
            .map_err(sql_err(w.p))?;
        let rows = st.query_map([], decision_of).map_err(sql_err(w.p))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(w.p))?
    };
    let mut before_sealing: HashSet<String> = HashSet::new();
    for d in rows {
        if d.seq <= start {
            w.report.unsealed_decisions += 1;
            before_sealing.insert(d.lead);
        } else if !w.sealed_decisions.contains(&d.seq) {
            w.report.breaks.push(ChainBreak {
                seq: 0,
                kind: KIND_DECISION.into(),
                subject: d.lead.clone(),
                reason: format!(
                    "{} is not in the chain: it was recorded outside riverwatch",
                    describe(&d)
                ),
            });
        }
    }
    let statuses: Vec<(String, String)> = {
        let mut st =
            w.c.prepare("SELECT id, status FROM leads ORDER BY id")
                .map_err(sql_err(w.p))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql_err(w.p))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(w.p))?
    };
    for (id, status) in statuses {
        let reason = match w.last_decision.get(&id) {
            Some(d) if d.to != status => format!(
                "lead {id}: its status is `{status}`, but its last sealed decision (#{}, {}) set `{}`",
                d.seq, d.analyst, d.to
            ),
            None if status != "new" && !before_sealing.contains(&id) => format!(
                "lead {id}: its status is `{status}`, but no sealed decision set it"
            ),
            _ => continue,
        };
        w.report.breaks.push(ChainBreak {
            seq: 0,
            kind: KIND_DECISION.into(),
            subject: id,
            reason,
        });
    }
    Ok(())
}

/// Lead revisions no entry covers, and current copies that differ from their sealed revision.
fn check_coverage(w: &mut Walk<'_>) -> Result<(), LedgerError> {
    let start = revisions_start(w.c).map_err(sql_err(w.p))?;
    let rows: Vec<(i64, String, u32)> = {
        let mut st =
            w.c.prepare("SELECT seq, id, revision FROM lead_revisions ORDER BY seq")
                .map_err(sql_err(w.p))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql_err(w.p))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(w.p))?
    };
    for (seq, id, rev) in rows {
        if seq <= start {
            w.report.unsealed_revisions += 1;
        } else if !w.sealed_revisions.contains(&(id.clone(), rev)) {
            w.report.breaks.push(ChainBreak {
                seq: 0,
                kind: KIND_LEAD.into(),
                subject: lead_subject(&id, rev),
                reason: format!("lead {id} revision {rev} is not in the chain: it was recorded outside riverwatch"),
            });
        }
    }
    let current: Vec<(String, u32, String, Option<String>)> = {
        let mut st = w
            .c
            .prepare("SELECT l.id, l.revision, l.json, r.json FROM leads l LEFT JOIN lead_revisions r ON r.id = l.id AND r.revision = l.revision")
            .map_err(sql_err(w.p))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(sql_err(w.p))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(w.p))?
    };
    for (id, rev, json, sealed) in current {
        if !w.sealed_revisions.contains(&(id.clone(), rev)) {
            continue; // reported above, or from before sealing
        }
        match sealed {
            Some(s) if s == json => {}
            Some(s) => w.report.breaks.push(ChainBreak {
                seq: 0,
                kind: KIND_LEAD.into(),
                subject: lead_subject(&id, rev),
                reason: format!(
                    "lead {id}: the copy the API serves differs from revision {rev} (changed: {})",
                    changed_fields(&s, &json).join(", ")
                ),
            }),
            None => {}
        }
    }
    Ok(())
}

/// Top-level keys whose values differ between two JSON objects, as `key: old → new`.
pub(crate) fn changed_fields(old: &str, new: &str) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (
        serde_json::from_str::<Value>(old),
        serde_json::from_str::<Value>(new),
    ) else {
        return vec!["not JSON any more".to_string()];
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} → {}", brief(a.get(k)), brief(b.get(k))))
        .collect()
}

fn brief(v: Option<&Value>) -> String {
    let s = v.map_or_else(|| "absent".to_string(), Value::to_string);
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn short(d: &str) -> &str {
    crate::seal::evidence::short(d)
}
