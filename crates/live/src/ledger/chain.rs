//! The ledger's hash chain: one append-only sequence of entries over every sealed row — lead
//! revisions, the configs they were made with, analysts' decisions (who confirmed or
//! dismissed a lead is evidence as much as the lead), ingest checkpoints and dead-letter
//! checkpoints. Entry `n` carries `prev` (entry `n-1`'s digest, [`GENESIS`] for the first),
//! its `body` (canonical JSON from `seal::records`) and `digest = SHA-256(prev "\n" body)`;
//! with a signing key, `signature` is Ed25519 over those same bytes and `key` the public key.
//! Entries are appended inside the transaction of the row they seal, so a row is never
//! recorded unsealed. [`super::audit`] walks the chain back.

use super::{sql_err, Ledger, LedgerError};
use crate::seal::records::{
    config_digests, ConfigSeal, DeadLetterCheckpoint, DecisionSeal, IngestCheckpoint, LeadSeal,
    KIND_CONFIG, KIND_DEAD_LETTERS, KIND_DECISION, KIND_INGEST, KIND_LEAD,
};
use crate::seal::{digest_bytes, hex, link, sha256_hex, PublicKey, Signer, GENESIS};
use riverwatch_engine::config::{Config, ConfigTexts};
use riverwatch_engine::leads::Lead;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use std::sync::Arc;

/// One chain entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainEntry {
    /// Position (1 = first).
    pub seq: i64,
    /// `lead`, `config`, `decision`, `ingest` or `dead_letters`.
    pub kind: String,
    /// What it seals: `id#revision`, a config hash, a lead id (its decision), a station.
    pub subject: String,
    /// Canonical JSON of what was sealed.
    pub body: String,
    /// The previous entry's digest.
    pub prev: String,
    /// SHA-256 of [`ChainEntry::message`].
    pub digest: String,
    /// Ed25519 signature of the message (hex), when a key was set.
    pub signature: Option<String>,
    /// Public key that signed it (hex).
    pub key: Option<String>,
}

impl ChainEntry {
    /// The bytes that are hashed and signed: `prev`, a line feed, `body`.
    pub fn message(&self) -> Vec<u8> {
        message(&self.prev, &self.body)
    }
}

impl ChainEntry {
    /// Whether the entry's signature holds: `Ok(Some(key))` signed by `key` (and, with
    /// `expected`, that is the expected key), `Ok(None)` unsigned and no key expected,
    /// `Err(what is wrong)` otherwise.
    pub fn signer(&self, expected: Option<PublicKey>) -> Result<Option<PublicKey>, String> {
        match (&self.signature, &self.key) {
            (Some(sig), Some(k)) => {
                let pk = PublicKey::parse(k)
                    .map_err(|_| format!("signing key `{k}` is not an Ed25519 public key"))?;
                if !pk.verifies(&self.message(), sig) {
                    return Err(format!("signature does not verify with its key {k}"));
                }
                match expected {
                    Some(x) if x != pk => {
                        Err(format!("signed by {pk}, which is not the expected key {x}"))
                    }
                    _ => Ok(Some(pk)),
                }
            }
            (None, None) => match expected {
                Some(x) => Err(format!("not signed; expected a signature by {x}")),
                None => Ok(None),
            },
            _ => Err("signature without key (or key without signature)".into()),
        }
    }
}

/// `prev "\n" body`.
pub fn message(prev: &str, body: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(prev.len() + 1 + body.len());
    m.extend_from_slice(prev.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body.as_bytes());
    m
}

/// A lead revision with its chain entry, as `verify` needs it.
#[derive(Debug, Clone)]
pub struct SealedRevision {
    /// The lead as stored for that revision (engine content; status `new`, no notes).
    pub lead: Lead,
    /// Its JSON exactly as stored.
    pub lead_json: String,
    /// Its chain entry.
    pub entry: ChainEntry,
    /// The entry's body, parsed.
    pub seal: LeadSeal,
}

pub(super) const ENTRY_COLUMNS: &str = "seq, kind, subject, body, prev, digest, signature, key";

pub(super) fn entry_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChainEntry> {
    Ok(ChainEntry {
        seq: r.get(0)?,
        kind: r.get(1)?,
        subject: r.get(2)?,
        body: r.get(3)?,
        prev: r.get(4)?,
        digest: r.get(5)?,
        signature: r.get(6)?,
        key: r.get(7)?,
    })
}

/// Appends an entry sealing `body` (call inside the transaction that writes the sealed row).
pub(super) fn append<T: Serialize>(
    c: &Connection,
    signer: Option<&Signer>,
    kind: &str,
    subject: &str,
    body: &T,
) -> rusqlite::Result<ChainEntry> {
    // The bodies hold strings, integers and maps only: serialising them cannot fail.
    let body = serde_json::to_string(body).unwrap_or_default();
    let prev: String = c
        .query_row(
            "SELECT digest FROM chain ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| GENESIS.to_string());
    let msg = message(&prev, &body);
    let digest = sha256_hex(&msg);
    let signature = signer.map(|s| s.sign(&msg));
    let key = signer.map(|s| s.public_key().to_string());
    c.execute(
        "INSERT INTO chain (kind, subject, body, prev, digest, signature, key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        (kind, subject, &body, &prev, &digest, &signature, &key),
    )?;
    Ok(ChainEntry {
        seq: c.last_insert_rowid(),
        kind: kind.into(),
        subject: subject.into(),
        body,
        prev,
        digest,
        signature,
        key,
    })
}

/// `id#revision`, the subject of a lead entry.
pub fn lead_subject(id: &str, revision: u32) -> String {
    format!("{id}#{revision}")
}

/// Keeps `cfg`'s texts (once per hash) and seals them.
pub(super) fn record_config(
    c: &Connection,
    signer: Option<&Signer>,
    cfg: &Config,
) -> rusqlite::Result<()> {
    let t = &cfg.texts;
    let n = c.execute(
        "INSERT OR IGNORE INTO configs (hash, origin, stations, thresholds, gb3838) VALUES (?1, ?2, ?3, ?4, ?5)",
        (&cfg.hash, &t.origin, &t.stations, &t.thresholds, &t.gb3838),
    )?;
    if n > 0 {
        let body = ConfigSeal {
            hash: cfg.hash.clone(),
            origin: t.origin.clone(),
            files: config_digests(t),
        };
        append(c, signer, KIND_CONFIG, &cfg.hash, &body)?;
    }
    Ok(())
}

/// Seals a lead revision just inserted with JSON `json`.
pub(super) fn record_lead(
    c: &Connection,
    signer: Option<&Signer>,
    lead: &Lead,
    json: &str,
    input: &crate::seal::records::SealInput,
    at: riverwatch_engine::time::Millis,
) -> rusqlite::Result<()> {
    let config = input
        .config
        .as_deref()
        .filter(|c| c.hash == lead.config_hash);
    if let Some(cfg) = config {
        record_config(c, signer, cfg)?;
    }
    let (evidence, evidence_error) = match &input.evidence {
        Some(Ok(e)) => (Some(e.clone()), None),
        Some(Err(e)) => (None, Some(e.clone())),
        None => (None, Some("not sealed by this recorder".to_string())),
    };
    let body = LeadSeal {
        lead: lead.id.clone(),
        revision: lead.revision,
        lead_sha256: sha256_hex(json.as_bytes()),
        evidence,
        evidence_error,
        seen: input.seen.clone(),
        engine_from: input.engine_from,
        config_hash: lead.config_hash.clone(),
        config_files: config.map(|c| config_digests(&c.texts)).unwrap_or_default(),
        model_versions: lead.model_versions.clone(),
        riverwatch: crate::seal::VERSION.to_string(),
        recorded_ms: at,
    };
    append(
        c,
        signer,
        KIND_LEAD,
        &lead_subject(&lead.id, lead.revision),
        &body,
    )?;
    Ok(())
}

/// Seals an analyst's decision (call inside the transaction that inserts its row).
pub(super) fn record_decision(
    c: &Connection,
    signer: Option<&Signer>,
    decision: &DecisionSeal,
) -> rusqlite::Result<()> {
    append(c, signer, KIND_DECISION, &decision.lead, decision)?;
    Ok(())
}

impl Ledger {
    /// Signs every chain entry appended from now on with `signer` (`None`: unsigned).
    pub fn with_signer(mut self, signer: Option<Signer>) -> Self {
        self.signer = signer.map(Arc::new);
        self
    }

    /// The public key entries are signed with, when a signing key is set.
    pub fn public_key(&self) -> Option<PublicKey> {
        self.signer.as_ref().map(|s| s.public_key())
    }

    /// A lead revision (`None`: the latest) with its chain entry; `None` when the revision is
    /// unknown or was recorded before sealing began.
    pub async fn sealed_revision(
        &self,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<SealedRevision>, LedgerError> {
        let id = id.to_string();
        self.call(move |c, p| {
            let rev: Option<u32> = match revision {
                Some(r) => Some(r),
                None => c
                    .query_row("SELECT max(revision) FROM lead_revisions WHERE id = ?1", [&id], |r| r.get(0))
                    .map_err(sql_err(p))?,
            };
            let Some(rev) = rev else { return Ok(None) };
            let json: Option<String> = c
                .query_row(
                    "SELECT json FROM lead_revisions WHERE id = ?1 AND revision = ?2",
                    (&id, rev),
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err(p))?;
            let Some(lead_json) = json else { return Ok(None) };
            let entry = c
                .query_row(
                    &format!("SELECT {ENTRY_COLUMNS} FROM chain WHERE kind = ?1 AND subject = ?2 ORDER BY seq LIMIT 1"),
                    (KIND_LEAD, lead_subject(&id, rev)),
                    entry_of,
                )
                .optional()
                .map_err(sql_err(p))?;
            let Some(entry) = entry else { return Ok(None) };
            let seal: LeadSeal = serde_json::from_str(&entry.body).map_err(|e| LedgerError::Corrupt {
                id: id.clone(),
                reason: format!("chain entry {}: {e}", entry.seq),
            })?;
            let lead = super::parse_lead(&id, &lead_json)?;
            Ok(Some(SealedRevision { lead, lead_json, entry, seal }))
        })
        .await
    }

    /// The config texts kept for `hash`.
    pub async fn config_texts(&self, hash: &str) -> Result<Option<ConfigTexts>, LedgerError> {
        let hash = hash.to_string();
        self.call(move |c, p| config_texts_row(c, &hash).map_err(sql_err(p)))
            .await
    }

    /// Seals ingest chain heads.
    pub async fn checkpoint_ingest(&self, heads: Vec<IngestCheckpoint>) -> Result<(), LedgerError> {
        if heads.is_empty() {
            return Ok(());
        }
        let signer = self.signer.clone();
        self.call(move |c, p| {
            let tx = c.transaction().map_err(sql_err(p))?;
            for h in &heads {
                append(&tx, signer.as_deref(), KIND_INGEST, &h.station, h).map_err(sql_err(p))?;
            }
            tx.commit().map_err(sql_err(p))
        })
        .await
    }

    /// The newest ingest checkpoint of every station (where its chain continues after a restart).
    pub async fn ingest_heads(&self) -> Result<Vec<IngestCheckpoint>, LedgerError> {
        self.call(|c, p| {
            let mut st = c
                .prepare(
                    "SELECT body FROM chain WHERE seq IN (SELECT max(seq) FROM chain WHERE kind = ?1 GROUP BY subject)",
                )
                .map_err(sql_err(p))?;
            let rows = st.query_map([KIND_INGEST], |r| r.get::<_, String>(0)).map_err(sql_err(p))?;
            let mut out = Vec::new();
            for body in rows {
                let body = body.map_err(sql_err(p))?;
                // An unreadable body is for `verify ledger` to report; the chain restarts there.
                if let Ok(h) = serde_json::from_str(&body) {
                    out.push(h);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Extends the dead-letter chain over the dead letters recorded since the last checkpoint
    /// and seals its head; `None` when there were none.
    pub async fn checkpoint_dead_letters(
        &self,
    ) -> Result<Option<DeadLetterCheckpoint>, LedgerError> {
        let signer = self.signer.clone();
        self.call(move |c, p| {
            let tx = c.transaction().map_err(sql_err(p))?;
            let last = last_dead_letter_checkpoint(&tx).map_err(sql_err(p))?;
            let (mut head, mut count, mut seq) = match &last {
                Some(cp) => (digest_bytes(&cp.head).unwrap_or([0; 32]), cp.count, cp.last_seq),
                None => ([0; 32], 0, dead_letters_start(&tx).map_err(sql_err(p))?),
            };
            let before = count;
            {
                let mut st = tx
                    .prepare("SELECT seq, time_ms, topic, payload FROM dead_letters WHERE seq > ?1 ORDER BY seq")
                    .map_err(sql_err(p))?;
                let mut rows = st.query([seq]).map_err(sql_err(p))?;
                while let Some(r) = rows.next().map_err(sql_err(p))? {
                    let (s, t, topic, payload): (i64, i64, String, Vec<u8>) =
                        (r.get(0).map_err(sql_err(p))?, r.get(1).map_err(sql_err(p))?, r.get(2).map_err(sql_err(p))?, r.get(3).map_err(sql_err(p))?);
                    head = dead_letter_link(&head, t, &topic, &payload);
                    count += 1;
                    seq = s;
                }
            }
            if count == before {
                return Ok(None);
            }
            let cp = DeadLetterCheckpoint { head: hex(&head), last_seq: seq, count };
            append(&tx, signer.as_deref(), KIND_DEAD_LETTERS, "dead_letters", &cp).map_err(sql_err(p))?;
            tx.commit().map_err(sql_err(p))?;
            Ok(Some(cp))
        })
        .await
    }
}

/// One link of the dead-letter chain.
pub(super) fn dead_letter_link(
    prev: &[u8; 32],
    time: i64,
    topic: &str,
    payload: &[u8],
) -> [u8; 32] {
    link(prev, time, &[topic.as_bytes(), b"\0", payload])
}

fn last_dead_letter_checkpoint(c: &Connection) -> rusqlite::Result<Option<DeadLetterCheckpoint>> {
    let body: Option<String> = c
        .query_row(
            "SELECT body FROM chain WHERE kind = ?1 ORDER BY seq DESC LIMIT 1",
            [KIND_DEAD_LETTERS],
            |r| r.get(0),
        )
        .optional()?;
    Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
}

/// The newest dead letter recorded before sealing began (not chained).
pub(super) fn dead_letters_start(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT dead_letters_upto FROM seal_start", [], |r| r.get(0))
}

/// The newest status-history row recorded before decisions were sealed (not chained).
pub(super) fn decisions_start(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT decisions_upto FROM seal_start", [], |r| r.get(0))
}

/// The newest lead revision recorded before sealing began (not chained).
pub(super) fn revisions_start(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT revisions_upto FROM seal_start", [], |r| r.get(0))
}

/// The config texts kept under `hash`, if any.
pub(super) fn config_texts_row(
    c: &rusqlite::Connection,
    hash: &str,
) -> rusqlite::Result<Option<ConfigTexts>> {
    c.query_row(
        "SELECT origin, stations, thresholds, gb3838 FROM configs WHERE hash = ?1",
        [hash],
        |r| {
            Ok(ConfigTexts {
                origin: r.get(0)?,
                stations: r.get(1)?,
                thresholds: r.get(2)?,
                gb3838: r.get(3)?,
            })
        },
    )
    .optional()
}
