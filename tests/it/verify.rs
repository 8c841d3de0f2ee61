//! `riverwatch verify` and `keys` against a real SQLite store and ledger (issue 7). The fixture
//! records leads the way the service's leads stage does — the engine over durable readings,
//! each revision sealed with `SealInput::gather` right before `Ledger::record_sealed` — then
//! the tests tamper with one thing at a time and check that the real binary names it.

use crate::cli::riverwatch;
use riverwatch_engine::config::Config;
use riverwatch_engine::sim::{Scenario, SimOptions, Simulator};
use riverwatch_engine::time::DAY;
use riverwatch_engine::{Category, Engine, Lead, Output, Reading};
use riverwatch_live::api::{fixed_config, router, ApiState, Health};
use riverwatch_live::seal::records::SealInput;
use riverwatch_live::seal::{Signer, ENV_SIGNING_KEY};
use riverwatch_live::store::{reading_order, ReadingStore, SqliteStore};
use riverwatch_live::Ledger;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output as ProcOutput;
use std::sync::Arc;

const SEED_A: [u8; 32] = [0x11; 32];
const SEED_B: [u8; 32] = [0x22; 32];

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    ledger: PathBuf,
    store: PathBuf,
    /// A suspected-discharge lead (latest revision) with its evidence.
    lead: Lead,
}

/// Simulated readings of the shipped network, in store order.
fn readings(cfg: &Config) -> Vec<Reading> {
    let start = 1_751_328_000_000; // 2025-07-01T00:00:00Z
    let opts = SimOptions::new(Scenario::Stormy, 7, start, 6 * DAY);
    let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).unwrap();
    let (mut tick, mut all) = (Vec::new(), Vec::new());
    while sim.next_tick(&mut tick).is_some() {
        all.extend(tick.drain(..).map(|r| sim.to_reading(&r)));
    }
    all.sort_by(reading_order);
    all
}

/// Store and ledger with every lead the engine makes on the simulated week, sealed.
fn fixture(signer: Option<Signer>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let (ledger_path, store_path) = (root.join("ledger.sqlite"), root.join("readings.sqlite"));
    let cfg = Arc::new(Config::embedded());
    let all = readings(&cfg);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lead = rt.block_on(async {
        let store = SqliteStore::open(&store_path).unwrap();
        for chunk in all.chunks(20_000) {
            store.write(chunk).await.unwrap();
        }
        let ledger = Ledger::open(&ledger_path).unwrap().with_signer(signer);
        let mut engine = Engine::new(Arc::clone(&cfg));
        let mut out = Output::default();
        let mut seen: BTreeMap<String, i64> = BTreeMap::new();
        let mut recorded: Vec<Lead> = Vec::new();
        for r in &all {
            engine.push(r, &mut out);
            let t = seen.entry(r.station.to_string()).or_insert(r.time);
            *t = (*t).max(r.time);
            for lead in out.leads.drain(..) {
                let input = SealInput::gather(
                    &store,
                    &lead,
                    seen.clone(),
                    Some(all[0].time),
                    Arc::clone(&cfg),
                )
                .await;
                assert!(matches!(input.evidence, Some(Ok(_))));
                assert!(ledger.record_sealed(&lead, input, r.time).await.unwrap());
                recorded.push(lead);
            }
            out.events.clear();
        }
        // The latest revision of the first suspected discharge.
        let id = recorded
            .iter()
            .find(|l| l.category == Category::SuspectedDischarge)
            .expect("the stormy week has a discharge")
            .id
            .clone();
        recorded.into_iter().filter(|l| l.id == id).last().unwrap()
    });
    Fixture {
        _dir: dir,
        root,
        ledger: ledger_path,
        store: store_path,
        lead,
    }
}

impl Fixture {
    fn verify(&self, args: &[&str]) -> (bool, String) {
        let out: ProcOutput = riverwatch()
            .arg("verify")
            .args(args)
            .arg("--ledger")
            .arg(&self.ledger)
            .arg("--store")
            .arg(&self.store)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Tampers the way anyone with the files could: the `sqlite3` shell. Rows changed.
    fn sql(&self, path: &Path, sql: &str) -> usize {
        let out = std::process::Command::new("sqlite3")
            .arg(path)
            .arg(format!("{sql}; SELECT changes();"))
            .output()
            .expect("sqlite3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

/// Runs `cmd`, which must succeed (else its stderr is the failure).
fn succeeds(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn public_hex(seed: [u8; 32]) -> String {
    Signer::from_seed(seed).public_key().to_string()
}

#[test]
fn untouched_signed_lead_verifies_with_its_key_and_not_with_another() {
    let f = fixture(Some(Signer::from_seed(SEED_A)));
    let (ok, text) = f.verify(&["ledger", "--key", &public_hex(SEED_A)]);
    assert!(ok && text.contains("ledger ok"), "{text}");
    let (ok, text) = f.verify(&["lead", &f.lead.id, "--key", &public_hex(SEED_A)]);
    assert!(ok, "{text}");
    for check in ["chain", "signature", "config", "evidence", "replay"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(check) && l.contains(" ok ")),
            "{check} not ok: {text}"
        );
    }
    assert!(
        text.contains("signed by the expected key") && text.contains("verified: yes"),
        "{text}"
    );
    assert!(
        text.contains(&format!("lead {} revision {}", f.lead.id, f.lead.revision)),
        "{text}"
    );

    let other = public_hex(SEED_B);
    let (ok, text) = f.verify(&["lead", &f.lead.id, "--key", &other]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("which is not the expected key {other}")),
        "{text}"
    );
    assert!(text.contains("verified: NO (signature failed)"), "{text}");
    let (ok, text) = f.verify(&["ledger", "--key", &other]);
    assert!(
        !ok && text.contains("which is not the expected key"),
        "{text}"
    );

    // The dossier shows the ledger's seal of the lead: chain entry, recorded digest, signer.
    let page = f.root.join("dossier.html");
    succeeds(
        riverwatch()
            .args(["leads", "dossier", &f.lead.id, "--ledger"])
            .arg(&f.ledger)
            .arg("--store")
            .arg(&f.store)
            .arg("--out")
            .arg(&page),
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let sealed = Ledger::open(&f.ledger)
        .map(|l| {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(l.sealed_revision(&f.lead.id, None))
        })
        .unwrap()
        .unwrap()
        .expect("the lead is sealed");
    assert!(
        html.contains("已封存") && !html.contains("未封存"),
        "seal status"
    );
    assert!(html.contains(&sealed.entry.digest), "chain entry digest");
    let recorded = sealed.seal.evidence.as_ref().expect("evidence sealed");
    assert!(html.contains(&recorded.sha256), "recorded evidence digest");
    assert!(html.contains(&public_hex(SEED_A)), "signer's public key");

    // `keys show` prints the public key of the seed in the environment.
    let out = riverwatch()
        .args(["keys", "show"])
        .env(ENV_SIGNING_KEY, "11".repeat(32))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && shown.starts_with(&public_hex(SEED_A)),
        "{shown}"
    );
    assert!(shown.contains("-----BEGIN PUBLIC KEY-----"), "{shown}");
    let out = riverwatch()
        .args(["keys", "show"])
        .env_remove(ENV_SIGNING_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RIVERWATCH_SIGNING_KEY is not set"));
}

#[test]
fn a_changed_reading_is_named_by_its_stream() {
    let f = fixture(None);
    let p = f.lead.parameters.first().unwrap();
    let (station, param, time) = (p.station.to_string(), p.parameter.to_string(), p.peak_time);
    let n = f.sql(
        &f.store,
        &format!(
            "UPDATE readings SET value = value * 0.5 WHERE station = '{station}' AND parameter = '{param}' AND time_ms = {time}"
        ),
    );
    assert_eq!(n, 1);
    let (ok, text) = f.verify(&["lead", &f.lead.id]);
    assert!(!ok, "{text}");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("evidence"))
        .unwrap();
    assert!(
        line.contains("FAIL")
            && line.contains(&format!(
                "{station}/{param}: a reading's time, value or flag changed"
            )),
        "{text}"
    );
    assert!(text.contains("verified: NO (evidence"), "{text}");
    // The ledger itself is untouched.
    let (ok, text) = f.verify(&["ledger"]);
    assert!(ok, "{text}");

    // A deleted reading is a count change.
    f.sql(
        &f.store,
        &format!("DELETE FROM readings WHERE station = '{station}' AND parameter = '{param}' AND time_ms = {time}"),
    );
    let (_, text) = f.verify(&["lead", &f.lead.id, "--no-replay"]);
    assert!(
        text.contains(&format!("{station}/{param}: ")) && text.contains("readings sealed,"),
        "{text}"
    );
}

#[test]
fn a_changed_ledger_row_is_named() {
    let f = fixture(None);
    let id = &f.lead.id;
    let severity = serde_json::to_value(f.lead.severity).unwrap();
    let severity = severity.as_str().unwrap();
    let other = if severity == "critical" {
        "low"
    } else {
        "critical"
    };
    // The revision row (the API's copy in `leads` stays as it was).
    let n = f.sql(
        &f.ledger,
        &format!(
            "UPDATE lead_revisions SET json = replace(json, '\"severity\":\"{severity}\"', '\"severity\":\"{other}\"') WHERE id = '{id}' AND revision = {}",
            f.lead.revision
        ),
    );
    assert_eq!(n, 1);
    let (ok, text) = f.verify(&["ledger"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "lead {id} revision {}: the stored lead JSON differs from the sealed one",
            f.lead.revision
        )) && text.contains(&format!("severity: \"{severity}\" → \"{other}\"")),
        "{text}"
    );
    let (ok, text) = f.verify(&["lead", id, "--no-replay"]);
    assert!(!ok && text.contains("verified: NO (chain"), "{text}");

    // A chain entry's body, re-hashed by the tamperer: the next entry no longer links.
    let f = fixture(None);
    let n = f.sql(
        &f.ledger,
        "UPDATE chain SET body = replace(body, '\"riverwatch\":\"', '\"riverwatch\":\"9'), digest = 'x' WHERE seq = 3",
    );
    assert_eq!(n, 1);
    let (ok, text) = f.verify(&["ledger"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("entry #3") && text.contains("its body or link was altered"),
        "{text}"
    );
    assert!(
        text.contains("entry #4") && text.contains("does not link to the entry before it"),
        "{text}"
    );
}

#[test]
fn a_changed_config_is_named_by_file_and_key() {
    let f = fixture(None);
    // Checking against a config directory whose thresholds were edited since.
    let dir = f.root.join("config");
    std::fs::create_dir_all(&dir).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let shipped = std::fs::read_to_string(format!("{root}/config/thresholds.toml")).unwrap();
    let (ok, text) = {
        std::fs::write(dir.join("thresholds.toml"), &shipped).unwrap();
        f.verify(&["lead", &f.lead.id, "--config", dir.to_str().unwrap()])
    };
    assert!(ok, "the shipped config is the one used: {text}");
    let edited = shipped.replacen(
        "allowed_lateness = \"10m\"",
        "allowed_lateness = \"20m\"",
        1,
    );
    assert_ne!(edited, shipped);
    std::fs::write(dir.join("thresholds.toml"), edited).unwrap();
    let (ok, text) = f.verify(&[
        "lead",
        &f.lead.id,
        "--config",
        dir.to_str().unwrap(),
        "--no-replay",
    ]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("thresholds.toml: engine.allowed_lateness: \"10m\" → \"20m\"")
            || text.contains("allowed_lateness: \"10m\" → \"20m\""),
        "{text}"
    );

    // The config texts kept in the ledger, edited.
    let n = f.sql(
        &f.ledger,
        "UPDATE configs SET thresholds = replace(thresholds, 'allowed_lateness = \"10m\"', 'allowed_lateness = \"30m\"')",
    );
    assert_eq!(n, 1);
    let (ok, text) = f.verify(&["ledger"]);
    assert!(
        !ok && text.contains("the kept text of thresholds.toml differs from the sealed one"),
        "{text}"
    );
    let (ok, text) = f.verify(&["lead", &f.lead.id, "--no-replay"]);
    assert!(!ok && text.contains("config    FAIL"), "{text}");
}

#[test]
fn the_evidence_bundle_checks_with_sha256sum_and_openssl() {
    let f = fixture(Some(Signer::from_seed(SEED_A)));
    let out = f.root.join("bundle");
    let (ok, text) = f.verify(&[
        "export",
        &f.lead.id,
        "--out",
        out.to_str().unwrap(),
        "--no-replay",
    ]);
    assert!(ok, "{text}");
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&sums.stdout);
    assert!(sums.status.success(), "{said}");
    for file in [
        "lead.json",
        "readings.csv",
        "chart.svg",
        "seal.json",
        "seal.msg",
        "seal.sig",
        "public_key.pem",
        "README.txt",
        "config/thresholds.toml",
    ] {
        assert!(
            said.contains(&format!("{file}: OK")),
            "{file} missing: {said}"
        );
    }
    // The readings file is the sealed evidence, byte for byte.
    let seal: Value =
        serde_json::from_slice(&std::fs::read(out.join("seal.json")).unwrap()).unwrap();
    let digest = |file: &str| {
        let o = std::process::Command::new("sha256sum")
            .arg(out.join(file))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        digest("readings.csv"),
        seal["evidence"]["sha256"].as_str().unwrap()
    );
    assert_eq!(digest("lead.json"), seal["lead_sha256"].as_str().unwrap());
    assert!(
        std::fs::read_to_string(out.join("readings.csv"))
            .unwrap()
            .lines()
            .count() as u64
            > 1
    );
    // The signature checks with a common tool.
    let v = std::process::Command::new("openssl")
        .args([
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "public_key.pem",
            "-rawin",
            "-in",
            "seal.msg",
            "-sigfile",
            "seal.sig",
        ])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    // A changed file is caught.
    let csv = std::fs::read_to_string(out.join("readings.csv")).unwrap();
    std::fs::write(out.join("readings.csv"), csv.replacen(",N\n", ",T\n", 1)).unwrap();
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(!sums.status.success());
    assert!(String::from_utf8_lossy(&sums.stdout).contains("readings.csv: FAILED"));
}

/// The API over the fixture's ledger and store, signing with `SEED_A`, on a free port: the
/// runtime serving it and its base URL.
fn serve(f: &Fixture) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ledger = Ledger::open(&f.ledger)
        .unwrap()
        .with_signer(Some(Signer::from_seed(SEED_A)));
    let store = Arc::new(SqliteStore::open(&f.store).unwrap());
    let state = ApiState {
        ledger: ledger.clone(),
        store: Arc::clone(&store),
        config: fixed_config(Config::embedded()),
        api_token: None,
        metrics: Arc::new(String::new),
        health: Arc::new(Health::default),
        replay: Some(riverwatch_batch::api::replay_fn(
            store,
            ledger,
            Arc::new(|| Arc::new(Vec::new())),
        )),
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, router(state)).await });
    (rt, url)
}

#[test]
fn the_api_serves_the_key_and_a_lead_verification() {
    let f = fixture(Some(Signer::from_seed(SEED_A)));
    let (rt, url) = serve(&f);
    let get = |path: &str| -> (u16, Value) {
        rt.block_on(async {
            let r = reqwest::get(format!("{url}{path}")).await.unwrap();
            (r.status().as_u16(), r.json().await.unwrap())
        })
    };
    let (status, keys) = get("/api/keys");
    assert_eq!(status, 200);
    assert_eq!(keys["public_key"], public_hex(SEED_A));
    assert_eq!(keys["signing"], true);
    let (status, v) = get(&format!(
        "/api/leads/{}/verification?replay=true",
        f.lead.id
    ));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["chain", "signature", "config", "evidence", "replay"]
    );
    let (_, v) = get(&format!("/api/leads/{}/verification", f.lead.id));
    assert_eq!(
        v["checks"].as_array().unwrap().len(),
        4,
        "no replay unless asked: {v}"
    );
    let (status, v) = get("/api/leads/Lnone/verification");
    assert_eq!(status, 404, "{v}");
    let (status, _) = get(&format!(
        "/api/leads/{}/verification?replay=maybe",
        f.lead.id
    ));
    assert_eq!(status, 400);
}

/// `GET /api/leads/{id}/bundle`: one zip archive that `unzip` unpacks into a folder which
/// `sha256sum -c` checks, holding the same files `verify export` writes.
#[test]
fn the_api_serves_the_evidence_bundle_as_one_zip() {
    let f = fixture(Some(Signer::from_seed(SEED_A)));
    let (rt, url) = serve(&f);
    let get = |path: &str| {
        rt.block_on(async {
            let r = reqwest::get(format!("{url}{path}")).await.unwrap();
            let header = |h: &str| {
                r.headers()
                    .get(h)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            };
            let (kind, disposition) = (header("content-type"), header("content-disposition"));
            (
                r.status().as_u16(),
                kind,
                disposition,
                r.bytes().await.unwrap().to_vec(),
            )
        })
    };
    let id = &f.lead.id;
    let (status, kind, disposition, zip) = get(&format!("/api/leads/{id}/bundle"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(kind, "application/zip");
    let name = format!("evidence-{id}");
    assert_eq!(disposition, format!("attachment; filename=\"{name}.zip\""));
    assert!(zip.starts_with(b"PK\x03\x04"), "a zip archive");
    let again = get(&format!("/api/leads/{id}/bundle")).3;
    assert!(
        again == zip,
        "packing the same revision twice gives the same bytes"
    );

    // Unpacked with a common tool, checked with another.
    let archive = f.root.join("bundle.zip");
    std::fs::write(&archive, &zip).unwrap();
    let unpacked = f.root.join("unpacked");
    let o = std::process::Command::new("unzip")
        .arg("-q")
        .arg(&archive)
        .arg("-d")
        .arg(&unpacked)
        .output()
        .expect("unzip runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let folder = unpacked.join(&name);
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&folder)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&sums.stdout);
    assert!(sums.status.success(), "{said}");
    for file in ["lead.json", "readings.csv", "seal.sig", "verification.json"] {
        assert!(
            said.contains(&format!("{file}: OK")),
            "{file} missing: {said}"
        );
    }
    let lead: Value =
        serde_json::from_slice(&std::fs::read(folder.join("lead.json")).unwrap()).unwrap();
    assert_eq!(lead["id"], id.as_str());
    assert_eq!(lead["revision"], f.lead.revision);
    let v: Value =
        serde_json::from_slice(&std::fs::read(folder.join("verification.json")).unwrap()).unwrap();
    assert_eq!(v["ok"], true, "{v}");

    // The same files, byte for byte, as the command writes with the same checks.
    let dir = f.root.join("cli");
    let (ok, text) = f.verify(&["export", id, "--out", dir.to_str().unwrap(), "--no-replay"]);
    assert!(ok, "{text}");
    let listing = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut todo = vec![root.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        out
    };
    let (cli, api) = (listing(&dir), listing(&folder));
    assert_eq!(
        cli.keys().collect::<Vec<_>>(),
        api.keys().collect::<Vec<_>>()
    );
    for (file, bytes) in &cli {
        assert!(
            api[file] == *bytes,
            "{file} differs between the command and the API"
        );
    }

    // Errors are JSON, like the rest of the API.
    let (status, kind, _, body) = get("/api/leads/Lnone/bundle");
    assert_eq!(status, 404);
    assert!(kind.starts_with("application/json"), "{kind}");
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert!(e["error"].as_str().unwrap().contains("Lnone"), "{e}");
    let (status, _, _, _) = get(&format!("/api/leads/{id}/bundle?replay=maybe"));
    assert_eq!(status, 400);
}

#[test]
fn a_changed_or_deleted_decision_is_named() {
    let f = fixture(Some(Signer::from_seed(SEED_A)));
    let id = &f.lead.id;
    // Offline decisions through the ledger file, signed with the key in the environment.
    for (action, analyst, note) in [
        ("ack", "wang", "looking into it"),
        ("confirm", "li", "sample confirms"),
    ] {
        succeeds(
            riverwatch()
                .args(["leads", action, id, "--analyst", analyst, "--note", note])
                .arg("--ledger")
                .arg(&f.ledger)
                .env(ENV_SIGNING_KEY, "11".repeat(32)),
        );
    }
    let (ok, text) = f.verify(&["ledger", "--key", &public_hex(SEED_A)]);
    assert!(ok && text.contains(" 2 analyst decisions, "), "{text}");
    let (ok, text) = f.verify(&["lead", id, "--no-replay"]);
    assert!(ok, "{text}");

    let seq = 2; // the confirmation: the fixture's ledger had no decisions before
    assert_eq!(
        f.sql(
            &f.ledger,
            &format!("UPDATE status_history SET analyst = 'zhao' WHERE seq = {seq}")
        ),
        1
    );
    let (ok, text) = f.verify(&["ledger"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "(decision {id}): decision #{seq} on lead {id} (li, acknowledged → confirmed, "
        )) && text.contains("changed: analyst: \"li\" → \"zhao\""),
        "{text}"
    );
    // The lead's own verification says its decisions are not the sealed ones.
    let (ok, text) = f.verify(&["lead", id, "--no-replay"]);
    assert!(!ok && text.contains("verified: NO (chain"), "{text}");

    f.sql(
        &f.ledger,
        &format!("DELETE FROM status_history WHERE seq = {}", seq - 1),
    );
    let (ok, text) = f.verify(&["ledger"]);
    assert!(
        !ok && text.contains(&format!(
            "decision #{} on lead {id} (wang, new → acknowledged, ",
            seq - 1
        )) && text.contains("is sealed but its row is gone"),
        "{text}"
    );
}

/// The replay check re-runs the engine from where the live engine's state began, not from the
/// evidence window: the lead's detectors judged it against baselines built before the window.
/// Starting at the evidence (`--warmup 0s`) gives another answer, so a replay that read less
/// history than the live engine had would be caught here.
#[test]
fn the_replay_needs_the_history_before_the_evidence() {
    let f = fixture(None);
    let (ok, text) = f.verify(&["lead", &f.lead.id]);
    assert!(ok, "{text}");
    let replay = |text: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with("replay"))
            .unwrap_or_default()
            .to_string()
    };
    let line = replay(&text);
    let replayed = |line: &str| -> u64 {
        let n = line.split("readings replayed").next().unwrap();
        n.split_whitespace().last().unwrap().parse().unwrap()
    };
    let all = replayed(&line);
    let (ok, text) = f.verify(&["lead", &f.lead.id, "--warmup", "0s"]);
    assert!(!ok, "{text}");
    let line = replay(&text);
    assert!(
        line.contains("FAIL")
            && (line.contains(&format!("lead {} revision ", f.lead.id))
                && line.contains(" differs: ")
                || line.contains(&format!("no lead {} came out", f.lead.id))),
        "{text}"
    );
    assert!(replayed(&line) < all, "{line}");
}
