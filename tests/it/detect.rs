//! `riverwatch detect` on a small CSV: the offline contract end to end.

use crate::cli::riverwatch;
use serde_json::Value;
use std::fmt::Write as _;

/// Three days of 5-minute data at DL02 and DL03 (20 h apart), with a discharge-like pulse
/// entering between them on the second day, and a few lines no reader should choke on.
pub fn csv() -> String {
    let mut s = String::from("time,station,parameter,value\n");
    let start = 1_719_792_000; // 2024-07-01T00:00:00Z
    for i in 0..(3 * 288) {
        let t = start + i * 300;
        let (d, h, m) = (
            1 + t / 86_400 - start / 86_400,
            (t % 86_400) / 3600,
            (t % 3600) / 60,
        );
        for (station, lag) in [("DL02", None), ("DL03", Some(0))] {
            for (p, base, bump) in [
                ("nh3n", 0.3, 2.5),
                ("cond", 400.0, 450.0),
                ("codmn", 3.0, 9.0),
            ] {
                let wiggle = ((i * 7919 + p.len() as i64 * 31 + station.len() as i64) % 97) as f64
                    / 97.0
                    - 0.5;
                let pulse = lag.is_some() && (400..430).contains(&i);
                let v = base * (1.0 + 0.02 * wiggle) + if pulse { bump } else { 0.0 };
                writeln!(s, "2024-07-{d:02}T{h:02}:{m:02}:00Z,{station},{p},{v:.3}").unwrap();
            }
        }
        if i == 100 {
            s.push_str("not,a,valid\n2024-07-01T08:20:00Z,DL02,nh3n,NaN\nyesterday,DL02,nh3n,1\n");
        }
    }
    s
}

#[test]
fn detect_writes_events_scores_and_leads() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("readings.csv");
    std::fs::write(&input, csv()).unwrap();
    let p = |n: &str| dir.path().join(n);
    let out = riverwatch()
        .args(["detect", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(p("events.jsonl"))
        .arg("--scores")
        .arg(p("scores.csv"))
        .arg("--leads")
        .arg(p("leads.jsonl"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("3 bad lines skipped"), "{stderr}");
    assert!(
        stderr.contains("line 608: skipped"),
        "bad lines are reported with their number: {stderr}"
    );

    let events: Vec<Value> = std::fs::read_to_string(p("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e["station"], "DL03");
    assert_eq!(e["kind"], "discharge");
    assert_eq!(
        e["start"], "2024-07-02T09:20:00Z",
        "the first polluted reading (step 400)"
    );
    assert_eq!(
        e["parameters"],
        serde_json::json!(["codmn", "cond", "nh3n"])
    );
    // DL02 was clean, but the tributary stations TR01 and TR02 above DL03 sent nothing: the
    // source cannot be pinned to a segment.
    assert!(e.get("segment").is_none(), "{e}");

    let leads: Vec<Value> = std::fs::read_to_string(p("leads.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = leads.last().unwrap();
    assert!(leads.iter().all(|l| l["id"] == last["id"]));
    assert_eq!(last["category"], "suspected_discharge");
    assert_eq!(last["open"], false);
    let nh3n = last["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["parameter"] == "nh3n")
        .unwrap();
    assert_eq!(nh3n["limit"], 1.5, "DL03 targets class IV");
    assert_eq!(nh3n["limit_class"], "IV");

    let scores = std::fs::read_to_string(p("scores.csv")).unwrap();
    let rows: Vec<&str> = scores.lines().collect();
    assert_eq!(rows[0], "time,station,parameter,score");
    assert_eq!(rows.len() - 1, 3 * 288 * 6, "one score per good reading");
    let high = rows
        .iter()
        .find(|r| r.starts_with("2024-07-02T09:20:00Z,DL03,nh3n,"))
        .unwrap();
    let score: f64 = high.rsplit(',').next().unwrap().parse().unwrap();
    assert!(score > 0.9, "{high}");
}
