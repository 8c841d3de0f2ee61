//! `simulate` and `eval` end to end: a data set, a perfect "detector" built from its truth,
//! and the scores that must follow.

use crate::cli::{riverwatch, succeed};
use serde_json::{json, Value};

fn simulate(dir: &std::path::Path, extra: &[&str]) -> (String, String) {
    let csv = dir.join("r.csv");
    let truth = dir.join("t.jsonl");
    succeed(
        riverwatch()
            .args(["simulate", "--seed", "4", "--days", "6"])
            .args(extra)
            .arg("--output")
            .arg(&csv)
            .arg("--truth")
            .arg(&truth),
    );
    (
        std::fs::read_to_string(csv).unwrap(),
        std::fs::read_to_string(truth).unwrap(),
    )
}

#[test]
fn simulate_writes_the_detect_contract_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, truth) = simulate(dir.path(), &["--scenario", "typical"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,station,parameter,value"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[0], "2024-07-01T00:00:00Z");
    assert_eq!(first.len(), 4);
    assert!(first[3].parse::<f64>().is_ok());
    let header: Value = serde_json::from_str(truth.lines().next().unwrap()).unwrap();
    assert_eq!(header["simulation"]["scenario"], "typical");
    assert!(truth.lines().count() > 3);
    let again = tempfile::tempdir().unwrap();
    assert_eq!(
        simulate(again.path(), &["--scenario", "typical"]),
        (csv, truth)
    );

    let other = tempfile::tempdir().unwrap();
    let (csv, _) = simulate(
        other.path(),
        &[
            "--scenario",
            "load",
            "--stations",
            "20",
            "--analyser-interval",
            "probe",
            "--write-config",
            other.path().join("cfg").to_str().unwrap(),
        ],
    );
    let stations: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(stations.len(), 20);
    assert!(csv.lines().filter(|l| l.contains(",nh3n,")).count() > 20 * 6 * 24);
    let check = riverwatch()
        .args(["config", "check"])
        .arg(other.path().join("cfg"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("(20 stations)"));
}

#[test]
fn eval_scores_a_perfect_detector_and_a_blind_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, truth) = simulate(dir.path(), &["--scenario", "typical"]);
    // A perfect detector: one event per truth at its first station, of the right kind.
    let mut events = String::new();
    for (i, line) in truth.lines().skip(1).enumerate() {
        let r: Value = serde_json::from_str(line).unwrap();
        let kind = match r["category"].as_str().unwrap() {
            "suspected_discharge" | "natural" => "discharge",
            "standard_exceedance" => "exceedance",
            "monitoring_anomaly" => "tamper",
            _ => "sensor_fault",
        };
        let w = &r["stations"][0];
        let e = json!({"id": format!("e{i}"), "station": w["station"], "parameters": w["parameters"],
            "start": w["start"], "end": w["end"], "score": 0.9, "kind": kind, "detectors": [], "findings": 1});
        events.push_str(&format!("{e}\n"));
    }
    std::fs::write(dir.path().join("perfect.jsonl"), events).unwrap();
    std::fs::write(dir.path().join("blind.jsonl"), "").unwrap();
    let eval = |events: &str| -> Value {
        let out = eval_cmd(dir.path(), events, &["--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let perfect = eval("perfect.jsonl");
    assert_eq!(perfect["precision"]["share"], 1.0);
    assert_eq!(perfect["recall"]["share"], 1.0);
    assert_eq!(perfect["false_alarms"], 0);
    assert_eq!(perfect["delay_median_ms"], 0);
    let blind = eval("blind.jsonl");
    assert_eq!(blind["recall"]["share"], 0.0);
    assert!(blind["precision"]["share"].is_null());

    let table = eval_cmd(dir.path(), "perfect.jsonl", &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("recall (pollution)") && text.contains("100.0 %"),
        "{text}"
    );

    std::fs::write(dir.path().join("bad.jsonl"), "{\"id\": 1}\n").unwrap();
    let out = eval_cmd(dir.path(), "bad.jsonl", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl: line 1"));
}

/// Runs `eval` on `dir`'s truth and the events file `events` in `dir`.
fn eval_cmd(dir: &std::path::Path, events: &str, extra: &[&str]) -> std::process::Output {
    riverwatch()
        .arg("eval")
        .args(extra)
        .arg("--truth")
        .arg(dir.join("t.jsonl"))
        .arg("--events")
        .arg(dir.join(events))
        .output()
        .unwrap()
}
