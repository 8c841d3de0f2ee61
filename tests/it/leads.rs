//! `riverwatch leads` on a real ledger file: offline with `--ledger`, and through a real HTTP API
//! served by this test on a free loopback port.

use crate::cli::riverwatch;
use riverwatch_engine::config::Config;
use riverwatch_engine::leads::Lead;
use riverwatch_live::api::{router, ApiState, Health};
use riverwatch_live::store::SqliteStore;
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
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[0].starts_with("id,revision,category,station"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with("b2,1,suspected_discharge,DL04,DL04,2025-07-02T00:00:00Z,")
            && lines[2].ends_with(",confirmed,false,\"NH3-N at DL04 rose, then fell\""),
        "{csv}"
    );

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
    let state = ApiState {
        ledger: Ledger::open(&path).unwrap(),
        store: Arc::new(SqliteStore::open(&dir.path().join("readings.sqlite")).unwrap()),
        config: Arc::new(Config::embedded()),
        api_token: Some(Secret::new("t0k")),
        metrics: Arc::new(String::new),
        health: Arc::new(Health::default),
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

    let err = failed(leads(&["show", "zz", "--url", &url]));
    assert!(err.contains("HTTP 404") && err.contains("zz"), "{err}");
    let err = failed(leads(&["list", "--url", "http://127.0.0.1:9"]));
    assert!(err.contains("cannot reach riverwatch"), "{err}");
}
