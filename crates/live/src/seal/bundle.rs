//! The evidence bundle of one verified lead revision: everything a third party needs to check
//! the lead without riverwatch — the lead as sealed, its evidence readings in the sealed
//! canonical form, a chart, the config files, the seal with its exact signed bytes, the
//! signature and public key, the verification just run, and `SHA256SUMS` over all of it, with a
//! README saying how to check each part with `sha256sum` and `openssl`.
//!
//! Assembled once in memory ([`Bundle::assemble`]) and then either written out as a directory
//! (`riverwatch verify export ID --out DIR`) or packed as one zip archive
//! (`GET /api/leads/{id}/bundle`), so the two are the same files. The archive holds them under
//! one folder named after the lead, and its timestamps are the revision's recording time, so
//! packing the same revision twice gives the same bytes.

use super::evidence::{canonical_csv, collect};
use super::evidence_chart;
use super::keys::KeyError;
use super::records::config_files;
use super::verify::LeadVerification;
use super::{sha256_hex, unhex, PublicKey};
use crate::ledger::{Ledger, LedgerError, SealedRevision};
use crate::store::{ReadingStore, StoreError};
use riverwatch_engine::time::{civil_from_days, Millis, Rfc3339, DAY};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;

/// Name of the digest list, the one file not listed in itself.
pub const SUMS: &str = "SHA256SUMS";

/// Why a bundle could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store failed while the evidence was read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The verified revision is not (or no longer) in the ledger.
    #[error("lead {0} revision {1} is not in the ledger")]
    Vanished(String, u32),
    /// The chain entry's signature or key is malformed.
    #[error("chain entry #{0}: {1}")]
    Corrupt(i64, String),
    /// The target directory holds files already.
    #[error("{} is not empty; give a new directory", .0.display())]
    NotEmpty(PathBuf),
    /// Writing a file failed.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Packing the archive failed.
    #[error("packing the evidence bundle: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// The files of one lead revision's evidence bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    lead: String,
    recorded: Millis,
    /// Every file but `SHA256SUMS`, by path inside the bundle.
    files: BTreeMap<String, Vec<u8>>,
    /// The `SHA256SUMS` text over `files`.
    sums: String,
}

impl Bundle {
    /// The bundle of the revision `v` verified: reads it from `ledger` and its evidence from
    /// `store` (the sealed definition when there is one, else the lead's evidence query).
    pub async fn assemble<S: ReadingStore>(
        ledger: &Ledger,
        store: &S,
        v: &LeadVerification,
    ) -> Result<Self, BundleError> {
        let sealed = ledger
            .sealed_revision(&v.lead, Some(v.revision))
            .await?
            .ok_or_else(|| BundleError::Vanished(v.lead.clone(), v.revision))?;
        let lead = &sealed.lead;
        let readings = match &sealed.seal.evidence {
            Some(e) => collect(store, &e.spec).await?,
            None => {
                store
                    .query(
                        &lead.evidence.stations,
                        lead.evidence.from,
                        lead.evidence.to,
                    )
                    .await?
            }
        };
        let corrupt = |what: String| BundleError::Corrupt(sealed.entry.seq, what);
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        files.insert("lead.json".into(), sealed.lead_json.clone().into_bytes());
        files.insert("readings.csv".into(), canonical_csv(&readings).into_bytes());
        files.insert(
            "chart.svg".into(),
            evidence_chart::svg(lead, &readings).into_bytes(),
        );
        files.insert("seal.json".into(), sealed.entry.body.clone().into_bytes());
        files.insert("seal.msg".into(), sealed.entry.message());
        files.insert(
            "verification.json".into(),
            serde_json::to_vec_pretty(v).map_err(|e| corrupt(e.to_string()))?,
        );
        let kept = ledger.config_texts(&lead.config_hash).await?;
        if let Some(t) = &kept {
            for (name, text) in config_files(t) {
                files.insert(format!("config/{name}"), text.as_bytes().to_vec());
            }
        }
        if let (Some(sig), Some(key)) = (&sealed.entry.signature, &sealed.entry.key) {
            let sig = unhex(sig).ok_or_else(|| corrupt("stored signature is not hex".into()))?;
            files.insert("seal.sig".into(), sig);
            let pk = PublicKey::parse(key).map_err(|e: KeyError| corrupt(e.to_string()))?;
            files.insert("public_key.pem".into(), pk.pem().into_bytes());
            files.insert("public_key.hex".into(), format!("{pk}\n").into_bytes());
        }
        let readme = readme(v, &sealed, kept.is_some(), readings.len());
        files.insert("README.txt".into(), readme.into_bytes());
        let mut sums = String::new();
        for (name, bytes) in &files {
            let _ = writeln!(sums, "{}  {name}", sha256_hex(bytes));
        }
        Ok(Self {
            lead: v.lead.clone(),
            recorded: sealed.seal.recorded_ms,
            files,
            sums,
        })
    }

    /// Every file with its path inside the bundle, `SHA256SUMS` last.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .chain(std::iter::once((SUMS, self.sums.as_bytes())))
    }

    /// `evidence-{lead id}`, with anything but ASCII letters, digits, `-` and `_` replaced: the
    /// archive's folder and, with `.zip`, its file name.
    pub fn name(&self) -> String {
        format!("evidence-{}", crate::report::file_safe(&self.lead))
    }

    /// Writes the files into `out` (created; refused when it holds anything already).
    pub fn write_dir(&self, out: &Path) -> Result<(), BundleError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BundleError::Io { path, source }
        };
        if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
            return Err(BundleError::NotEmpty(out.to_path_buf()));
        }
        for (name, bytes) in self.files() {
            let path = out.join(name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::write(&path, bytes).map_err(io(&path))?;
        }
        Ok(())
    }

    /// The files as one zip archive, under the folder [`Bundle::name`]: unpack it and run
    /// `sha256sum -c SHA256SUMS` inside that folder.
    pub fn zip(&self) -> Result<Vec<u8>, BundleError> {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip_time(self.recorded))
            .unix_permissions(0o644);
        let folder = self.name();
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in self.files() {
            zip.start_file(format!("{folder}/{name}"), options)?;
            zip.write_all(bytes).map_err(zip::result::ZipError::Io)?;
        }
        Ok(zip.finish()?.into_inner())
    }
}

/// `t` as a zip timestamp (UTC; zip has no zone); the format's earliest time when `t` lies
/// outside the years zip can hold.
fn zip_time(t: Millis) -> zip::DateTime {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    let secs = t.rem_euclid(DAY) / 1000;
    let field = |v: i64| u8::try_from(v).unwrap_or(0);
    u16::try_from(y)
        .ok()
        .and_then(|y| {
            zip::DateTime::from_date_and_time(
                y,
                field(i64::from(m)),
                field(i64::from(d)),
                field(secs / 3600),
                field(secs / 60 % 60),
                field(secs % 60),
            )
            .ok()
        })
        .unwrap_or_default()
}

fn readme(v: &LeadVerification, s: &SealedRevision, config_kept: bool, readings: usize) -> String {
    let lead = &s.lead;
    let e = &s.entry;
    let evidence = s.seal.evidence.as_ref();
    let mut r = String::new();
    let _ = writeln!(r, "riverwatch evidence bundle");
    let _ = writeln!(r, "==========================\n");
    let _ = writeln!(
        r,
        "Lead {} revision {} ({:?}, severity {:?}) at station {},",
        lead.id, lead.revision, lead.category, lead.severity, lead.station
    );
    let _ = writeln!(
        r,
        "window {} .. {}.",
        Rfc3339(lead.window.start),
        Rfc3339(lead.window.end)
    );
    let _ = writeln!(
        r,
        "Sealed as entry #{} of the riverwatch ledger's hash chain, digest {}.",
        e.seq, e.digest
    );
    let _ = writeln!(
        r,
        "Verification when this bundle was written: {}.\n",
        if v.ok {
            "all checks passed"
        } else {
            "FAILED (see verification.json)"
        }
    );
    let _ = writeln!(r, "Files");
    let _ = writeln!(r, "-----");
    let _ = writeln!(r, "lead.json          the lead revision exactly as the ledger stores it (its SHA-256 is seal.json's lead_sha256)");
    let _ = writeln!(r, "readings.csv       the {readings} evidence readings: time,station,parameter,value,flag, sorted by time, station,");
    let _ = writeln!(r, "                   parameter; this is the sealed canonical form: its SHA-256 is seal.json's evidence.sha256");
    let _ = writeln!(
        r,
        "                   {}",
        evidence.map_or(
            "(the evidence of this revision was not sealed)".to_string(),
            |x| format!("= {}", x.sha256)
        )
    );
    let _ = writeln!(r, "chart.svg          the readings drawn per station and parameter; the lead's window is shaded");
    if config_kept {
        let _ = writeln!(
            r,
            "config/*.toml      the configuration the lead was made with (hash {}); their SHA-256",
            lead.config_hash
        );
        let _ = writeln!(r, "                   are seal.json's config_files");
    } else {
        let _ = writeln!(
            r,
            "(no config files: the ledger did not keep config {})",
            lead.config_hash
        );
    }
    if lead.model_versions.is_empty() {
        let _ = writeln!(r, "(no model files: the lead used no trained model)");
    } else {
        let _ = writeln!(
            r,
            "models             not included; the lead used models with digests {}",
            lead.model_versions.join(", ")
        );
    }
    let _ = writeln!(r, "seal.json          the sealed record: lead digest, evidence digest and definition, config hash and file");
    let _ = writeln!(
        r,
        "                   digests, model digests, riverwatch version ({})",
        s.seal.riverwatch
    );
    let _ = writeln!(r, "seal.msg           the exact bytes hashed and signed: the previous entry's digest, a line feed, seal.json");
    if e.signature.is_some() {
        let _ = writeln!(
            r,
            "seal.sig           Ed25519 signature of seal.msg (64 raw bytes)"
        );
        let _ = writeln!(r, "public_key.pem     the signing public key (also public_key.hex; the service serves it at GET /api/keys)");
    } else {
        let _ = writeln!(r, "(no signature: the service ran without a signing key)");
    }
    let _ = writeln!(
        r,
        "verification.json  the checks `riverwatch verify lead` ran when the bundle was written"
    );
    let _ = writeln!(r, "SHA256SUMS         SHA-256 of every file above\n");
    let _ = writeln!(r, "How to check");
    let _ = writeln!(r, "------------");
    let _ = writeln!(
        r,
        "1. Nothing in the bundle changed:      sha256sum -c SHA256SUMS"
    );
    let _ = writeln!(r, "   (SHA256SUMS lists README.txt too; compare its own digest with one received separately.)");
    let _ = writeln!(r, "2. The readings are the sealed ones:   sha256sum readings.csv   → must print evidence.sha256 of seal.json");
    let _ = writeln!(r, "3. The lead is the sealed one:         sha256sum lead.json      → must print lead_sha256 of seal.json");
    let _ = writeln!(
        r,
        "4. The seal is the ledger's entry:     sha256sum seal.msg       → must print {}",
        e.digest
    );
    if e.signature.is_some() {
        let _ = writeln!(r, "5. The seal is signed by the key:      openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in seal.msg -sigfile seal.sig");
    }
    let _ = writeln!(r, "6. The same lead comes out again:      riverwatch detect --input readings.csv --config config ...");
    let _ = writeln!(
        r,
        "   or, with the service's store and ledger: riverwatch verify lead {} --config DIR",
        lead.id
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use riverwatch_engine::time::parse_rfc3339;

    #[test]
    fn zip_times_are_the_utc_civil_time_or_the_earliest() {
        let t = parse_rfc3339("2025-07-03T04:05:06Z").unwrap();
        let z = zip_time(t);
        assert_eq!(
            (
                z.year(),
                z.month(),
                z.day(),
                z.hour(),
                z.minute(),
                z.second()
            ),
            (2025, 7, 3, 4, 5, 6)
        );
        assert_eq!(zip_time(0), zip::DateTime::default(), "1970 predates zip");
        assert_eq!(zip_time(i64::MAX), zip::DateTime::default());
    }
}
