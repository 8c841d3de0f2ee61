//! The bodies of the ledger's chain entries: canonical JSON (struct field order is the key
//! order, no floats), one kind per struct. A body says what was sealed; the chain entry adds
//! the previous entry's digest, its own digest and, when a key is set, the signature.

use super::evidence::{collect, EvidenceSeal, EvidenceSpec};
use super::sha256_hex;
use crate::store::{ReadingStore, StoreError};
use riverwatch_engine::config::{Config, ConfigTexts};
use riverwatch_engine::leads::Lead;
use riverwatch_engine::time::Millis;
use riverwatch_engine::Reading;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kind of a lead revision entry.
pub const KIND_LEAD: &str = "lead";
/// Kind of a config entry.
pub const KIND_CONFIG: &str = "config";
/// Kind of a per-station ingest checkpoint.
pub const KIND_INGEST: &str = "ingest";
/// Kind of a dead-letter checkpoint.
pub const KIND_DEAD_LETTERS: &str = "dead_letters";
/// Kind of an analyst's decision on a lead.
pub const KIND_DECISION: &str = "decision";

/// A sealed lead revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadSeal {
    /// Lead id.
    pub lead: String,
    /// Revision.
    pub revision: u32,
    /// SHA-256 of the lead's JSON exactly as the ledger stores it.
    pub lead_sha256: String,
    /// The evidence readings, sealed; `None` when they could not be read (see `evidence_error`).
    pub evidence: Option<EvidenceSeal>,
    /// Why the evidence is not sealed.
    pub evidence_error: Option<String>,
    /// Newest reading time per station the engine had seen when it made the revision: where a
    /// replay must stop to see what the engine saw.
    pub seen: BTreeMap<String, Millis>,
    /// Oldest reading time the engine had seen (where its state began: the start of the
    /// service's start-up replay): where a replay must start to rebuild the same state.
    pub engine_from: Option<Millis>,
    /// The lead's config hash.
    pub config_hash: String,
    /// SHA-256 of each config file's text (`stations.toml`, …); empty when the config was not
    /// at hand.
    pub config_files: BTreeMap<String, String>,
    /// The lead's model versions (digests).
    pub model_versions: Vec<String>,
    /// riverwatch version that sealed it.
    pub riverwatch: String,
    /// When it was recorded (UTC ms).
    pub recorded_ms: Millis,
}

/// A config leads were made with; its texts are in the ledger's `configs` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSeal {
    /// The config hash (over the parsed files).
    pub hash: String,
    /// Where the files came from.
    pub origin: String,
    /// SHA-256 of each file's text.
    pub files: BTreeMap<String, String>,
}

/// A station's ingest chain head at a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestCheckpoint {
    /// Station (or the topic's last segment when no reading named one).
    pub station: String,
    /// Chain head: SHA-256 over the previous head, the receive time and the payload.
    pub head: String,
    /// Payloads chained since the chain began.
    pub payloads: u64,
    /// Receive time of the newest payload chained (UTC ms).
    pub last_received: Millis,
}

/// The dead-letter chain head at a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterCheckpoint {
    /// Chain head over every dead letter up to `last_seq`.
    pub head: String,
    /// Newest dead letter chained.
    pub last_seq: i64,
    /// Dead letters chained since sealing began.
    pub count: u64,
}

/// An analyst's decision on a lead — a status change, or a note that keeps the status — as
/// its row in the ledger's status history holds it. The note is sealed by its digest: the
/// chain stays small, and a changed note is still named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionSeal {
    /// Lead id.
    pub lead: String,
    /// The row's sequence number in the status history.
    pub seq: i64,
    /// When (UTC ms).
    pub time_ms: Millis,
    /// Who.
    pub analyst: String,
    /// Status before (`new`, `acknowledged`, `confirmed`, `dismissed`).
    pub from: String,
    /// Status after (equal to `from` for a note).
    pub to: String,
    /// SHA-256 of the note text.
    pub note_sha256: String,
}

/// What the service knows when it records a lead revision, besides the lead.
#[derive(Debug, Clone, Default)]
pub struct SealInput {
    /// The sealed evidence, or why it could not be read.
    pub evidence: Option<Result<EvidenceSeal, String>>,
    /// Newest reading time per station the engine had seen.
    pub seen: BTreeMap<String, Millis>,
    /// Oldest reading time the engine had seen.
    pub engine_from: Option<Millis>,
    /// The config that made the lead (its texts are kept once per hash).
    pub config: Option<Arc<Config>>,
}

impl SealInput {
    /// Everything a revision's seal records, given what the engine had seen: its evidence
    /// `spec` (`EvidenceSpec::of(lead, &seen)`) digested from `readings`, which must be exactly
    /// the readings of it the service held durable when it made the revision (the leads stage
    /// gets both from the engine stage's cache), the cuts, the config.
    pub fn held(
        spec: EvidenceSpec,
        readings: &[Reading],
        seen: BTreeMap<String, Millis>,
        engine_from: Option<Millis>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            evidence: Some(Ok(EvidenceSeal::new(spec, readings))),
            seen,
            engine_from,
            config: Some(config),
        }
    }

    /// Like [`SealInput::held`], the evidence read from `store` instead (a store failure is
    /// recorded in its place). The leads stage calls this for a revision whose evidence the
    /// cache did not cover; `verify`'s tests seal with it.
    pub async fn gather<S: ReadingStore>(
        store: &S,
        lead: &Lead,
        seen: BTreeMap<String, Millis>,
        engine_from: Option<Millis>,
        config: Arc<Config>,
    ) -> Self {
        let spec = EvidenceSpec::of(lead, &seen);
        let read = collect(store, &spec).await;
        Self::read(spec, read, seen, engine_from, config)
    }

    /// Like [`SealInput::gather`], with the evidence of `spec` read already: `read` is what
    /// `collect` (or `collect_with`) gave.
    pub fn read(
        spec: EvidenceSpec,
        read: Result<Vec<Reading>, StoreError>,
        seen: BTreeMap<String, Millis>,
        engine_from: Option<Millis>,
        config: Arc<Config>,
    ) -> Self {
        let evidence = match read {
            Ok(readings) => Ok(EvidenceSeal::new(spec, &readings)),
            Err(e) => Err(format!("store failed when the revision was sealed: {e}")),
        };
        Self {
            evidence: Some(evidence),
            seen,
            engine_from,
            config: Some(config),
        }
    }
}

/// The config file names and their texts, in a fixed order.
pub fn config_files(t: &ConfigTexts) -> [(&'static str, &str); 3] {
    [
        ("stations.toml", &t.stations),
        ("thresholds.toml", &t.thresholds),
        ("gb3838.toml", &t.gb3838),
    ]
}

/// SHA-256 of each config file's text.
pub fn config_digests(t: &ConfigTexts) -> BTreeMap<String, String> {
    config_files(t)
        .iter()
        .map(|(n, text)| (n.to_string(), sha256_hex(text.as_bytes())))
        .collect()
}
