//! `riverwatch leads` on a real ledger file: offline with `--ledger`, and through a real HTTP API
//! served by this test on a free loopback port.

use crate::cli::riverwatch;
use riverwatch_engine::config::Config;
use riverwatch_engine::leads::Lead;
use riverwatch_engine::time::{parse_rfc3339, MINUTE};
use riverwatch_engine::{DataFlag, Reading};
use riverwatch_live::api::{fixed_config, router, ApiState, Health};
use riverwatch_live::report::evidence_digest;
use riverwatch_live::store::{ReadingStore, SqliteStore};
use riverwatch_live::{Ledger, Secret};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

/// A lead as the engine would write it, at `station` over one hour from `start`.
fn lead(id: &str, category: &str, station: &str, start: &str, end: &str) -> Lead {
    serde_json::from_value(json!({
        "schema_version": 1,
        "id": id,
        "revision": 1,
        "category": category,
        "station": station,
        "river": "东辽河",
        "segment": null,
        "stations": [station],
        "window": {"start": start, "end": end},
        "open": false,
        "parameters": [],
        "severity": "medium",
        "confidence": 0.7,
        "detectors": [{"detector": "standard", "score": 0.9}],
        "summary": format!("NH3-N at {station} rose, then fell"),
        "config_hash": "c0ffee",
        "model_versions": [],
        "evidence": {"stations": [station], "parameters": ["nh3n"], "from": start, "to": end},
    }))
    .unwrap()
}

/// A ledger with three leads: `a1` (DL03, oldest), `b2` (DL04), `c3` (DL03, newest).
fn ledger_file(rt: &tokio::runtime::Runtime, dir: &Path) -> PathBuf {
    let path = dir.join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let leads = [
        lead(
            "a1",
            "standard_exceedance",
            "DL03",
            "2025-07-01T00:00:00Z",
            "2025-07-01T01:00:00Z",
        ),
        lead(
            "b2",
            "suspected_discharge",
            "DL04",
            "2025-07-02T00:00:00Z",
            "2025-07-02T03:00:00Z",
        ),
        lead(
            "c3",
            "monitoring_anomaly",
            "DL03",
            "2025-07-03T00:00:00Z",
            "2025-07-03T06:00:00Z",
        ),
    ];
    rt.block_on(async {
        for l in &leads {
            ledger.record_revision(l, 0).await.unwrap();
        }
    });
    path
}

/// `readings.sqlite` beside the ledger: DL03 NH3-N every 10 minutes over 2025-07-01 00:00–02:00
/// (inside lead a1's evidence query) and DL04 readings that no DL03 lead may pick up. Returns
/// the path and the digest of a1's evidence.
fn readings_file(rt: &tokio::runtime::Runtime, dir: &Path) -> (PathBuf, String) {
    let path = dir.join("readings.sqlite");
    let t0 = parse_rfc3339("2025-07-01T00:00:00Z").unwrap();
    let reading = |station: &str, i: i64| Reading {
        station: station.into(),
        parameter: "nh3n".into(),
        time: t0 + i * 10 * MINUTE,
        value: 0.4 + i as f64 * 0.25,
        flag: DataFlag::N,
    };
    let dl03: Vec<Reading> = (0..12).map(|i| reading("DL03", i)).collect();
    let dl04: Vec<Reading> = (0..12).map(|i| reading("DL04", i)).collect();
    let store = SqliteStore::open(&path).unwrap();
    rt.block_on(async {
        store.write(&dl03).await.unwrap();
        store.write(&dl04).await.unwrap();
    });
    // a1's query: DL03 NH3-N from 00:00 to 01:00 (exclusive).
    (path, evidence_digest(&dl03[..6]))
}

fn leads(args: &[&str]) -> Output {
    riverwatch().arg("leads").args(args).output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The ids in the first column of a `leads list` table.
fn listed(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("leads ") && !l.starts_with("no leads"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn offline_list_show_confirm_export() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_file(&rt, dir.path());
    let ledger = path.to_str().unwrap();

    let table = ok(leads(&["list", "--ledger", ledger]));
    assert!(
        table.starts_with("ID ") && table.contains("WINDOW"),
        "{table}"
    );
    assert_eq!(listed(&table), ["c3", "b2", "a1"], "{table}");
    assert!(table.contains("leads 1-3 of 3"), "{table}");
    assert!(
        table.contains("2025-07-02T00:00:00Z .. 2025-07-02T03:00:00Z"),
        "{table}"
    );
    let table = ok(leads(&[
        "list",
        "--ledger",
        ledger,
        "--station",
        "DL03",
        "--limit",
        "1",
    ]));
    assert_eq!(listed(&table), ["c3"]);
    assert!(table.contains("leads 1-1 of 2"), "{table}");
    let err = failed(leads(&["list", "--ledger", ledger, "--status", "open"]));
    assert!(err.contains("`--status`"), "{err}");

    let shown: Value =
        serde_json::from_str(&ok(leads(&["show", "b2", "--ledger", ledger]))).unwrap();
    assert_eq!(
        (&shown["id"], &shown["status"]),
        (&json!("b2"), &json!("new"))
    );

    let said = ok(leads(&[
        "confirm",
        "b2",
        "--analyst",
        "wang",
        "--note",
        "sampled: 3.2 mg/L",
        "--ledger",
        ledger,
    ]));
    assert!(said.contains("b2 is now confirmed"), "{said}");
    let shown: Value =
        serde_json::from_str(&ok(leads(&["show", "b2", "--ledger", ledger]))).unwrap();
    assert_eq!(shown["status"], "confirmed");
    assert_eq!(shown["notes"][0]["analyst"], "wang");
    assert_eq!(shown["notes"][0]["text"], "sampled: 3.2 mg/L");
    let table = ok(leads(&[
        "list",
        "--ledger",
        ledger,
        "--status",
        "confirmed",
    ]));
    assert_eq!(listed(&table), ["b2"]);

    let jsonl = ok(leads(&[
        "export",
        "--ledger",
        ledger,
        "--to",
        "2025-07-03T00:00:00Z",
    ]));
    let ids: Vec<String> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Lead>(l).unwrap().id)
        .collect();
    assert_eq!(ids, ["b2", "a1"]);
    let csv_path = dir.path().join("leads.csv");
    ok(leads(&[
        "export",
        "--ledger",
        ledger,
        "--format",
        "csv",
        "--out",
        csv_path.to_str().unwrap(),
    ]));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("UTF-8 byte-order mark");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(
        lines[0],
        "线索编号,发现时间,所在河流,监测站/河段,线索类别,超标项目,超标倍数,持续时长,严重程度,置信度,状态,证据摘要值"
    );
    assert_eq!(
        lines[2],
        "b2,2025-07-02 08:00,东辽河,DL04（二龙山入库 reservoir inflow (illustrative)）,疑似偷排,无,—,3小时,中,70%,已确认,未计算（未封存，未读取证据读数）",
        "{csv}"
    );
    let en = ok(leads(&[
        "export", "--ledger", ledger, "--format", "csv", "--lang", "en",
    ]));
    assert!(en.starts_with("\u{feff}Lead number,Detected at,"), "{en}");
    assert!(
        en.contains(",suspected discharge,none,—,3 h,medium,70%,confirmed,"),
        "{en}"
    );
    let err = failed(leads(&["export", "--ledger", ledger, "--format", "xlsx"]));
    assert!(err.contains("--out"), "{err}");

    // The dossier, offline: the lead from the ledger, its evidence from the readings file.
    let (store, digest) = readings_file(&rt, dir.path());
    let store = store.to_str().unwrap();
    let page = dir.path().join("a1.html");
    ok(leads(&[
        "dossier",
        "a1",
        "--ledger",
        ledger,
        "--store",
        store,
        "--out",
        page.to_str().unwrap(),
    ]));
    let html = std::fs::read_to_string(&page).unwrap();
    for want in [
        "线索编号",
        "a1",
        "水质超标",
        "东辽河",
        "c0ffee",
        &digest,
        "证据读数条数</th><td>6</td>",
        // Recorded through the ledger, so sealed in its chain (without an evidence digest).
        "已封存",
    ] {
        assert!(html.contains(want), "dossier lacks {want}");
    }
    let html = ok(leads(&[
        "dossier", "a1", "--ledger", ledger, "--lang", "en",
    ]));
    assert!(
        html.contains("Lead number") && html.contains("no reading store given"),
        "{html}"
    );
    let err = failed(leads(&["dossier", "a1", "--store", store]));
    assert!(err.contains("--ledger"), "{err}");
    let pdf = dir.path().join("a1.pdf");
    let out = riverwatch()
        .args(["leads", "dossier", "a1", "--ledger", ledger, "--out"])
        .arg(&page)
        .arg("--pdf")
        .arg(&pdf)
        .env("RIVERWATCH_CHROMIUM", dir.path().join("no-such-browser"))
        .output()
        .unwrap();
    let err = failed(out);
    assert!(
        err.contains("cannot run") && err.contains("chromium"),
        "{err}"
    );
    assert!(page.is_file() && !pdf.exists());

    let err = failed(leads(&["show", "zz", "--ledger", ledger]));
    assert!(err.contains("lead zz not found"), "{err}");
    let err = failed(leads(&[
        "list",
        "--ledger",
        dir.path().join("none.sqlite").to_str().unwrap(),
    ]));
    assert!(err.contains("no ledger at"), "{err}");
}

#[test]
fn over_http_with_and_without_the_token() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_file(&rt, dir.path());
    let (readings, digest) = readings_file(&rt, dir.path());
    let state = ApiState {
        ledger: Ledger::open(&path).unwrap(),
        store: Arc::new(SqliteStore::open(&readings).unwrap()),
        config: fixed_config(Config::embedded()),
        api_token: Some(Secret::new("t0k")),
        metrics: Arc::new(String::new),
        health: Arc::new(Health::default),
        replay: None,
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, router(state)).await });

    let table = ok(leads(&[
        "list",
        "--url",
        &url,
        "--category",
        "monitoring_anomaly",
    ]));
    assert_eq!(listed(&table), ["c3"]);
    let shown: Value = serde_json::from_str(&ok(leads(&["show", "a1", "--url", &url]))).unwrap();
    assert_eq!(shown["id"], "a1");

    let dismiss = [
        "dismiss",
        "a1",
        "--analyst",
        "li",
        "--note",
        "maintenance",
        "--url",
        &url,
    ];
    let out = riverwatch()
        .arg("leads")
        .args(dismiss)
        .env_remove("RIVERWATCH_API_TOKEN")
        .output()
        .unwrap();
    assert!(failed(out).contains("HTTP 401"));
    let out = riverwatch()
        .arg("leads")
        .args(dismiss)
        .env("RIVERWATCH_API_TOKEN", "t0k")
        .output()
        .unwrap();
    assert!(ok(out).contains("a1 is now dismissed"));
    let table = ok(leads(&[
        "list",
        "--ledger",
        path.to_str().unwrap(),
        "--status",
        "dismissed",
    ]));
    assert_eq!(listed(&table), ["a1"], "the service wrote the ledger");

    // The service renders the same dossier as the ledger file and readings file do offline.
    let served = ok(leads(&["dossier", "c3", "--url", &url]));
    let offline = ok(leads(&[
        "dossier",
        "c3",
        "--ledger",
        path.to_str().unwrap(),
        "--store",
        readings.to_str().unwrap(),
    ]));
    assert_eq!(served, offline);
    assert!(ok(leads(&["dossier", "a1", "--url", &url])).contains(&digest));
    let xlsx = dir.path().join("leads.xlsx");
    ok(leads(&[
        "export",
        "--format",
        "xlsx",
        "--station",
        "DL03",
        "--url",
        &url,
        "--out",
        xlsx.to_str().unwrap(),
    ]));
    let bytes = std::fs::read(&xlsx).unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"), "an xlsx is a zip file");
    let csv = ok(leads(&[
        "export",
        "--format",
        "csv",
        "--station",
        "DL03",
        "--url",
        &url,
    ]));
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.contains(&digest),
        "the service digests a1's evidence: {csv}"
    );

    let err = failed(leads(&["show", "zz", "--url", &url]));
    assert!(err.contains("HTTP 404") && err.contains("zz"), "{err}");
    let err = failed(leads(&["dossier", "zz", "--url", &url]));
    assert!(err.contains("HTTP 404") && err.contains("zz"), "{err}");
    let err = failed(leads(&["list", "--url", "http://127.0.0.1:9"]));
    assert!(err.contains("cannot reach riverwatch"), "{err}");
}
