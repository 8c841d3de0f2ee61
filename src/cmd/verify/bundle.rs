//! The evidence bundle of `verify export`: everything a third party needs to check a lead
//! without riverwatch — the lead as sealed, its evidence readings in the sealed canonical form,
//! a chart, the config files, the seal with its exact signed bytes, the signature and public
//! key, the verification just run, and `SHA256SUMS` over all of it, with a README saying how to
//! check each part with `sha256sum` and `openssl`.

use super::chart;
use anyhow::{bail, Context as _, Result};
use riverwatch_engine::time::Rfc3339;
use riverwatch_live::seal::evidence::{canonical_csv, collect};
use riverwatch_live::seal::records::config_files;
use riverwatch_live::seal::unhex;
use riverwatch_live::seal::verify::LeadVerification;
use riverwatch_live::store::{AnyStore, ReadingStore};
use riverwatch_live::Ledger;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Writes the bundle of the verified revision `v` into `out`.
pub async fn write(
    ledger: &Ledger,
    store: &AnyStore,
    v: &LeadVerification,
    out: &Path,
) -> Result<()> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!("{} is not empty; give a new directory", out.display());
    }
    let sealed = ledger
        .sealed_revision(&v.lead, Some(v.revision))
        .await?
        .with_context(|| format!("lead {} revision {} vanished", v.lead, v.revision))?;
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
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert("lead.json".into(), sealed.lead_json.clone().into_bytes());
    let csv = canonical_csv(&readings);
    files.insert("readings.csv".into(), csv.into_bytes());
    files.insert("chart.svg".into(), chart::svg(lead, &readings).into_bytes());
    files.insert("seal.json".into(), sealed.entry.body.clone().into_bytes());
    files.insert("seal.msg".into(), sealed.entry.message());
    files.insert(
        "verification.json".into(),
        serde_json::to_vec_pretty(v).context("verification to JSON")?,
    );
    let kept = ledger.config_texts(&lead.config_hash).await?;
    if let Some(t) = &kept {
        for (name, text) in config_files(t) {
            files.insert(format!("config/{name}"), text.as_bytes().to_vec());
        }
    }
    if let (Some(sig), Some(key)) = (&sealed.entry.signature, &sealed.entry.key) {
        files.insert(
            "seal.sig".into(),
            unhex(sig).context("stored signature is not hex")?,
        );
        let pk = riverwatch_live::seal::PublicKey::parse(key)?;
        files.insert("public_key.pem".into(), pk.pem().into_bytes());
        files.insert("public_key.hex".into(), format!("{pk}\n").into_bytes());
    }
    let readme = readme(v, &sealed, kept.is_some(), readings.len());
    files.insert("README.txt".into(), readme.into_bytes());

    let mut sums = String::new();
    for (name, bytes) in &files {
        let path = out.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        let _ = writeln!(sums, "{}  {name}", riverwatch_live::seal::sha256_hex(bytes));
    }
    std::fs::write(out.join("SHA256SUMS"), sums).context("writing SHA256SUMS")?;
    Ok(())
}

fn readme(
    v: &LeadVerification,
    s: &riverwatch_live::ledger::SealedRevision,
    config_kept: bool,
    readings: usize,
) -> String {
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
