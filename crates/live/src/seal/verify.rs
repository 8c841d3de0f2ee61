//! `verify lead`: is this lead revision still what was sealed, and does the same engine with
//! the same settings, run again on the same readings, make the same lead? Five checks, each
//! an exact yes or no with what differs:
//!
//! 1. `chain` — the revision's entry hashes and links correctly and seals the stored JSON, and
//!    the analysts' decisions on the lead are the sealed ones;
//! 2. `signature` — the entry's Ed25519 signature verifies (with the expected key, if given);
//! 3. `config` — the kept config texts still hash to the lead's config hash, and a config
//!    directory given to check against is that config (else: the keys that differ);
//! 4. `evidence` — the store's readings, re-read with the sealed definition, give the sealed
//!    digest (else: the streams that differ);
//! 5. `replay` — the engine, with the verified config and the given model files, fed the
//!    store's readings from where the live engine's state began (or a given warm-up before the
//!    evidence) up to what it had seen when it made the revision, makes the same revision of
//!    the lead: same id, window, category, severity, stations and model versions. The store
//!    gives readings in time order, the live engine got them in arrival order: a lead that
//!    depends on arrival order (a gap seen only because one station's messages lagged) does
//!    not come out again, and the check says so.
//!
//! The replay itself is passed in ([`Replay`]) because it is the batch crate's, which depends
//! on this one: the binary and the API both hand in `riverwatch_batch::replay::revisions`, the
//! loop `riverwatch replay` runs, with the window's end left open as the live service had it.

use super::config_diff::config_differences;
use super::records::{config_digests, KIND_CONFIG, KIND_DECISION};
use super::PublicKey;
use crate::ledger::{ChainReport, Ledger, LedgerError, SealedRevision};
use crate::store::{ReadingStore, StoreError};
use riverwatch_engine::config::Config;
use riverwatch_engine::leads::Lead;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::time::{Millis, Rfc3339, DAY};
use riverwatch_engine::{Engine, Reading};
use serde::Serialize;
use std::sync::Arc;

/// Default history replayed before the evidence window, for the detectors' baselines (the
/// service's default start-up replay window).
pub const DEFAULT_WARMUP: Millis = 2 * DAY;

/// Re-runs the engine: a fresh engine (config and models set) and readings in store order →
/// every lead revision made, the window's end left open (no final flush: the service had not
/// flushed when it made the revision).
pub type Replay = dyn Fn(Engine, &[Reading]) -> Vec<Lead> + Send + Sync;

/// Why verification could not run at all (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such revision, or it was recorded before sealing began.
    #[error("lead {0} has no sealed revision{1}")]
    NotSealed(String, String),
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `chain`, `signature`, `config`, `evidence` or `replay`.
    pub name: &'static str,
    /// Passed.
    pub ok: bool,
    /// What was checked, or what differs.
    pub detail: String,
}

/// The verdict on one lead revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeadVerification {
    /// Lead id.
    pub lead: String,
    /// Revision verified.
    pub revision: u32,
    /// Every check passed.
    pub ok: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// Chain entry of the revision.
    pub entry: i64,
    /// Its digest.
    pub digest: String,
    /// Public key that signed it, if signed.
    pub signed_by: Option<String>,
}

/// What to verify against.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    /// Revision (`None`: the latest).
    pub revision: Option<u32>,
    /// The key the entry must be signed with.
    pub key: Option<PublicKey>,
    /// A config to check the lead's config hash against (e.g. `--config DIR`).
    pub config: Option<Config>,
    /// History replayed before the evidence window; `None`: from where the live engine's
    /// state began (recorded in the seal), else [`DEFAULT_WARMUP`].
    pub warmup: Option<Millis>,
    /// The trained model files the engine re-runs with (the lead's model versions say which).
    pub models: Vec<MultivariateModel>,
    /// The replay; `None` skips the replay check.
    pub replay: Option<&'a Replay>,
}

/// Verifies lead `id` (see the module docs).
pub async fn verify_lead<S: ReadingStore>(
    ledger: &Ledger,
    store: &S,
    id: &str,
    opts: VerifyOptions<'_>,
) -> Result<LeadVerification, VerifyError> {
    let sealed = ledger
        .sealed_revision(id, opts.revision)
        .await?
        .ok_or_else(|| {
            VerifyError::NotSealed(
                id.to_string(),
                opts.revision.map_or(String::new(), |r| format!(" {r}")),
            )
        })?;
    let mut checks = vec![
        chain_check(&sealed, &ledger.verify_chain(None).await?),
        signature_check(&sealed, opts.key),
    ];
    let (config_check, config) = config_check(ledger, &sealed, opts.config).await?;
    checks.push(config_check);
    checks.push(evidence_check(store, &sealed).await?);
    if let Some(replay) = opts.replay {
        checks.push(match config {
            Some(cfg) => {
                let mut engine = Engine::new(cfg);
                let refused = engine.set_models(opts.models);
                let mut check = replay_check(store, &sealed, engine, opts.warmup, replay).await?;
                if !check.ok && !refused.is_empty() {
                    let refused: Vec<String> = refused.iter().map(|e| e.to_string()).collect();
                    check.detail += &format!(" (model files refused: {})", refused.join("; "));
                }
                check
            }
            None => Check {
                name: "replay",
                ok: false,
                detail: "not run: no usable config (see the config check)".into(),
            },
        });
    }
    Ok(LeadVerification {
        lead: sealed.seal.lead.clone(),
        revision: sealed.seal.revision,
        ok: checks.iter().all(|c| c.ok),
        checks,
        entry: sealed.entry.seq,
        digest: sealed.entry.digest.clone(),
        signed_by: sealed.entry.key.clone(),
    })
}

fn chain_check(s: &SealedRevision, report: &ChainReport) -> Check {
    let e = &s.entry;
    let mine: Vec<&str> = report
        .breaks
        .iter()
        .filter(|b| {
            b.subject == e.subject
                || b.seq == e.seq
                || (b.seq == e.seq + 1 && b.reason.starts_with("does not link"))
                || (b.kind == KIND_CONFIG && b.subject == s.seal.config_hash)
                || (b.kind == KIND_DECISION && b.subject == s.seal.lead)
        })
        .map(|b| b.reason.as_str())
        .collect();
    let elsewhere = report.breaks.len() - mine.len();
    let note = if elsewhere > 0 {
        format!(" ({elsewhere} problems elsewhere in the chain: run `verify ledger`)")
    } else {
        String::new()
    };
    if mine.is_empty() {
        Check {
            name: "chain",
            ok: true,
            detail: format!(
                "entry #{} ({}) links, hashes and seals the stored lead JSON{note}",
                e.seq,
                super::evidence::short(&e.digest)
            ),
        }
    } else {
        Check {
            name: "chain",
            ok: false,
            detail: format!("entry #{}: {}{note}", e.seq, mine.join("; ")),
        }
    }
}

fn signature_check(s: &SealedRevision, expected: Option<PublicKey>) -> Check {
    let (ok, detail) = match s.entry.signer(expected) {
        Ok(Some(pk)) if expected.is_some() => (true, format!("signed by the expected key {pk}")),
        Ok(Some(pk)) => (
            true,
            format!("signed by {pk} (pass the public key to require it)"),
        ),
        Ok(None) => (true, "not signed (no signing key was set)".to_string()),
        Err(reason) => (false, reason),
    };
    Check {
        name: "signature",
        ok,
        detail,
    }
}

async fn config_check(
    ledger: &Ledger,
    s: &SealedRevision,
    given: Option<Config>,
) -> Result<(Check, Option<Arc<Config>>), VerifyError> {
    let hash = &s.seal.config_hash;
    let kept = ledger.config_texts(hash).await?;
    let fail = |detail: String| Check {
        name: "config",
        ok: false,
        detail,
    };
    let kept_cfg = match &kept {
        Some(t) => match Config::from_texts(&t.stations, &t.thresholds, &t.gb3838, &t.origin) {
            Ok(c) if &c.hash != hash => {
                return Ok((
                    fail(format!(
                        "the kept config texts hash to {}, not to the lead's {}",
                        super::evidence::short(&c.hash),
                        super::evidence::short(hash)
                    )),
                    None,
                ))
            }
            Ok(_)
                if !s.seal.config_files.is_empty() && config_digests(t) != s.seal.config_files =>
            {
                return Ok((
                    fail("the kept config texts differ from the sealed file digests".into()),
                    None,
                ))
            }
            Ok(c) => Some(c),
            Err(e) => return Ok((fail(format!("the kept config no longer parses: {e}")), None)),
        },
        None => None,
    };
    match (given, kept_cfg) {
        (Some(g), kept) if &g.hash != hash => {
            let what = match &kept {
                Some(k) => config_differences(&k.texts, &g.texts),
                None => Vec::new(),
            };
            let what = if what.is_empty() {
                String::new()
            } else {
                format!(": {}", what.join("; "))
            };
            Ok((
                fail(format!(
                    "config {} hashes to {}, the lead was made with {}{what}",
                    g.texts.origin,
                    super::evidence::short(&g.hash),
                    super::evidence::short(hash)
                )),
                kept.map(Arc::new),
            ))
        }
        (Some(g), _) => Ok((
            Check {
                name: "config",
                ok: true,
                detail: format!(
                    "{} is the config the lead was made with ({})",
                    g.texts.origin,
                    super::evidence::short(hash)
                ),
            },
            Some(Arc::new(g)),
        )),
        (None, Some(k)) => Ok((
            Check {
                name: "config",
                ok: true,
                detail: format!(
                    "the kept config texts hash to the lead's config hash {}",
                    super::evidence::short(hash)
                ),
            },
            Some(Arc::new(k)),
        )),
        (None, None) => Ok((
            fail(format!(
                "config {} is not kept in the ledger; give the config directory to check against",
                super::evidence::short(hash)
            )),
            None,
        )),
    }
}

async fn evidence_check<S: ReadingStore>(
    store: &S,
    s: &SealedRevision,
) -> Result<Check, VerifyError> {
    let Some(sealed) = &s.seal.evidence else {
        return Ok(Check {
            name: "evidence",
            ok: false,
            detail: format!(
                "the evidence was not sealed: {}",
                s.seal
                    .evidence_error
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ),
        });
    };
    let diff = sealed.recheck(store).await?;
    Ok(if diff.is_empty() {
        Check {
            name: "evidence",
            ok: true,
            detail: format!(
                "{} readings in the store give the sealed digest {}",
                sealed.readings,
                super::evidence::short(&sealed.sha256)
            ),
        }
    } else {
        Check {
            name: "evidence",
            ok: false,
            detail: diff.join("; "),
        }
    })
}

/// The readings the engine had seen when it made the revision: from where its state began
/// (or `warmup` before the evidence window), every station up to its sealed cut.
pub async fn replay_input<S: ReadingStore>(
    store: &S,
    s: &SealedRevision,
    warmup: Option<Millis>,
) -> Result<Vec<Reading>, StoreError> {
    let from = match (warmup, s.seal.engine_from) {
        (Some(w), _) => s.lead.evidence.from.saturating_sub(w),
        (None, Some(t)) => t,
        (None, None) => s.lead.evidence.from.saturating_sub(DEFAULT_WARMUP),
    };
    let seen = &s.seal.seen;
    let to = seen
        .values()
        .max()
        .map_or(s.lead.evidence.to, |t| t.saturating_add(1));
    let mut readings = store.query(&[], from, to).await?;
    if !seen.is_empty() {
        readings.retain(|r| seen.get(r.station.as_str()).is_some_and(|t| r.time <= *t));
    }
    Ok(readings)
}

async fn replay_check<S: ReadingStore>(
    store: &S,
    s: &SealedRevision,
    engine: Engine,
    warmup: Option<Millis>,
    replay: &Replay,
) -> Result<Check, VerifyError> {
    let readings = replay_input(store, s, warmup).await?;
    let leads = replay(engine, &readings);
    let recorded = &s.lead;
    let same_id: Vec<&Lead> = leads.iter().filter(|l| l.id == recorded.id).collect();
    let Some(made) = same_id
        .iter()
        .find(|l| l.revision == recorded.revision)
        .or(same_id.last())
    else {
        // The latest revision of each replayed lead that overlaps the recorded window.
        let mut latest: Vec<&Lead> = Vec::new();
        for l in &leads {
            match latest.iter_mut().find(|x| x.id == l.id) {
                Some(x) => *x = l,
                None => latest.push(l),
            }
        }
        let near: Vec<String> = latest
            .into_iter()
            .filter(|l| {
                l.window.start <= recorded.window.end && l.window.end >= recorded.window.start
            })
            .map(|l| {
                format!(
                    "{} ({:?} at {}, {} .. {})",
                    l.id,
                    l.category,
                    l.station,
                    Rfc3339(l.window.start),
                    Rfc3339(l.window.end)
                )
            })
            .collect();
        return Ok(Check {
            name: "replay",
            ok: false,
            detail: format!(
                "{} readings replayed; no lead {} came out{}",
                readings.len(),
                recorded.id,
                if near.is_empty() {
                    String::new()
                } else {
                    format!(" (overlapping: {})", near.join(", "))
                }
            ),
        });
    };
    let differences = lead_differences(recorded, made);
    Ok(if differences.is_empty() {
        Check {
            name: "replay",
            ok: true,
            detail: format!(
                "{} readings replayed; lead {} revision {} came out with the same window, category, severity, stations and model versions",
                readings.len(),
                made.id,
                made.revision
            ),
        }
    } else {
        Check {
            name: "replay",
            ok: false,
            detail: format!(
                "{} readings replayed; lead {} revision {} differs: {}",
                readings.len(),
                made.id,
                made.revision,
                differences.join("; ")
            ),
        }
    })
}

/// What differs between a recorded and a replayed lead, as `field: recorded → replayed`.
pub fn lead_differences(recorded: &Lead, replayed: &Lead) -> Vec<String> {
    let mut out = Vec::new();
    let w = |l: &Lead| format!("{} .. {}", Rfc3339(l.window.start), Rfc3339(l.window.end));
    if recorded.revision != replayed.revision {
        out.push(format!(
            "revision: {} → {} (the replay made no revision {})",
            recorded.revision, replayed.revision, recorded.revision
        ));
    }
    if recorded.window != replayed.window {
        out.push(format!("window: {} → {}", w(recorded), w(replayed)));
    }
    if recorded.category != replayed.category {
        out.push(format!(
            "category: {:?} → {:?}",
            recorded.category, replayed.category
        ));
    }
    if recorded.severity != replayed.severity {
        out.push(format!(
            "severity: {:?} → {:?}",
            recorded.severity, replayed.severity
        ));
    }
    if recorded.stations != replayed.stations {
        out.push(format!(
            "stations: {:?} → {:?}",
            recorded.stations, replayed.stations
        ));
    }
    if recorded.model_versions != replayed.model_versions {
        out.push(format!(
            "model versions: {:?} → {:?} (give the model files the lead was made with)",
            recorded.model_versions, replayed.model_versions
        ));
    }
    out
}
