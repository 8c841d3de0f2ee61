//! The lead ledger on a real SQLite file.

use crate::T0;
use riverwatch_engine::leads::{
    Category, DetectorScore, EvidenceQuery, Lead, ParamSummary, Severity, Status, Window,
    SCHEMA_VERSION,
};
use riverwatch_engine::time::{HOUR, MINUTE};
use riverwatch_engine::DetectorId;
use riverwatch_live::ledger::{LeadFilter, Ledger, LedgerError, SCHEMA_VERSION as LEDGER_VERSION};

/// A lead built by hand: window `start`..`start + revision h`, NH3-N evidence at `station`
/// from an hour before to two hours after `start`.
pub fn lead(id: &str, revision: u32, category: Category, station: &str, start: i64) -> Lead {
    Lead {
        schema_version: SCHEMA_VERSION,
        id: id.to_string(),
        revision,
        category,
        station: station.into(),
        river: Some("东辽河".into()),
        segment: None,
        stations: vec![station.into()],
        window: Window {
            start,
            end: start + HOUR * revision as i64,
        },
        open: revision < 3,
        parameters: vec![ParamSummary {
            station: station.into(),
            parameter: "nh3n".into(),
            unit: "mg/L".into(),
            peak: 2.5 + revision as f64,
            peak_time: start + 10 * MINUTE,
            baseline: Some(0.4),
            limit: Some(1.0),
            limit_class: None,
            ratio: Some(2.5),
            exceedance_multiple: Some(1.5),
            direction: 1,
        }],
        severity: Severity::High,
        confidence: 0.8,
        detectors: vec![DetectorScore {
            detector: DetectorId::Standard,
            score: 0.9,
        }],
        summary: format!("NH3-N at {station} rose to {}", 2.5 + revision as f64),
        config_hash: "abc".into(),
        model_versions: vec![],
        evidence: EvidenceQuery {
            stations: vec![station.into()],
            parameters: vec!["nh3n".into()],
            from: start - HOUR,
            to: start + 2 * HOUR,
        },
        status: Status::New,
        notes: vec![],
    }
}

fn open() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().expect("tmp");
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("open");
    (dir, ledger)
}

#[tokio::test]
async fn migrates_an_empty_file_and_refuses_a_newer_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ledger.sqlite");
    std::fs::write(&path, b"").expect("empty file");
    let ledger = Ledger::open(&path).expect("open empty file");
    assert_eq!(
        ledger.schema_version().await.expect("version"),
        LEDGER_VERSION
    );
    assert!(ledger
        .record_revision(&lead("L1", 1, Category::StandardExceedance, "DL03", T0), T0)
        .await
        .expect("record"));
    drop(ledger);
    // Reopening is a no-op migration and keeps the data.
    let ledger = Ledger::open(&path).expect("reopen");
    assert!(ledger.get("L1").await.expect("get").is_some());
    drop(ledger);

    let newer = rusqlite::Connection::open(&path).expect("raw");
    newer
        .pragma_update(None, "user_version", LEDGER_VERSION + 1)
        .expect("bump");
    drop(newer);
    assert!(matches!(
        Ledger::open(&path),
        Err(LedgerError::TooNew { .. })
    ));
}

#[tokio::test]
async fn revisions_are_idempotent_and_the_newest_is_the_lead() {
    let (_dir, ledger) = open();
    let r1 = lead("L1", 1, Category::SuspectedDischarge, "DL03", T0);
    let r2 = lead("L1", 2, Category::SuspectedDischarge, "DL03", T0);
    assert!(ledger.record_revision(&r1, T0).await.expect("r1"));
    assert!(
        !ledger.record_revision(&r1, T0 + 1).await.expect("r1 again"),
        "same id+revision stores once"
    );
    assert!(ledger.record_revision(&r2, T0 + 2).await.expect("r2"));
    assert_eq!(ledger.get("L1").await.expect("get"), Some(r2.clone()));
    // A late, older revision is kept in the history but does not replace the newer one.
    let (_d2, other) = open();
    other.record_revision(&r2, T0).await.expect("r2 first");
    assert!(other.record_revision(&r1, T0 + 1).await.expect("r1 late"));
    assert_eq!(
        other.get("L1").await.expect("get").map(|l| l.revision),
        Some(2)
    );
    assert_eq!(ledger.get("nope").await.expect("get"), None);
}

#[tokio::test]
async fn unpublished_revisions_wait_until_acked() {
    let (_dir, ledger) = open();
    let a1 = lead("A", 1, Category::SuspectedDischarge, "DL03", T0);
    let b1 = lead("B", 1, Category::MonitoringAnomaly, "DL05", T0);
    let a2 = lead("A", 2, Category::SuspectedDischarge, "DL03", T0);
    for (l, at) in [(&a1, T0), (&b1, T0 + 1), (&a2, T0 + 2)] {
        ledger.record_revision(l, at).await.expect("record");
    }
    let ids = |v: Vec<Lead>| {
        v.into_iter()
            .map(|l| (l.id, l.revision))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(ledger.unpublished().await.expect("list")),
        [("A".into(), 1), ("B".into(), 1), ("A".into(), 2)]
    );
    assert!(ledger.mark_published("A", 1, T0 + 5).await.expect("ack"));
    assert!(!ledger
        .mark_published("A", 1, T0 + 6)
        .await
        .expect("ack twice"));
    assert!(!ledger
        .mark_published("A", 9, T0 + 6)
        .await
        .expect("unknown revision"));
    assert_eq!(
        ids(ledger.unpublished().await.expect("list")),
        [("B".into(), 1), ("A".into(), 2)]
    );
    ledger.mark_published("A", 2, T0 + 7).await.expect("ack");
    ledger.mark_published("B", 1, T0 + 7).await.expect("ack");
    assert!(ledger.unpublished().await.expect("list").is_empty());
}

#[tokio::test]
async fn status_changes_keep_history_and_survive_new_revisions() {
    let (_dir, ledger) = open();
    ledger
        .record_revision(&lead("L", 1, Category::StandardExceedance, "DL03", T0), T0)
        .await
        .expect("r1");
    let l = ledger
        .set_status(
            "L",
            Status::Acknowledged,
            "wang",
            "looking into it",
            T0 + HOUR,
        )
        .await
        .expect("ack");
    assert_eq!(l.status, Status::Acknowledged);
    ledger
        .set_status(
            "L",
            Status::Acknowledged,
            "li",
            "called the plant",
            T0 + 2 * HOUR,
        )
        .await
        .expect("note");
    // The engine revises the lead: content changes, the analysts' status stays.
    ledger
        .record_revision(
            &lead("L", 2, Category::StandardExceedance, "DL03", T0),
            T0 + 3 * HOUR,
        )
        .await
        .expect("r2");
    let l = ledger
        .set_status(
            "L",
            Status::Confirmed,
            "wang",
            "sample confirms",
            T0 + 4 * HOUR,
        )
        .await
        .expect("confirm");
    assert_eq!((l.revision, l.status), (2, Status::Confirmed));

    let h = ledger.history("L").await.expect("history");
    let steps: Vec<_> = h
        .iter()
        .map(|c| (c.from, c.to, c.analyst.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (Status::New, Status::Acknowledged, "wang"),
            (Status::Acknowledged, Status::Acknowledged, "li"),
            (Status::Acknowledged, Status::Confirmed, "wang")
        ]
    );
    let got = ledger.get("L").await.expect("get").expect("lead");
    assert_eq!(got.notes.len(), 3);
    assert_eq!(got.notes[1].status, None, "a note without a status change");
    assert_eq!(got.notes[2].text, "sample confirms");
    assert!(matches!(
        ledger
            .set_status("missing", Status::Dismissed, "x", "", T0)
            .await,
        Err(LedgerError::NotFound(_))
    ));
}

#[tokio::test]
async fn list_filters_and_pages() {
    let (_dir, ledger) = open();
    for i in 0..30 {
        let cat = [
            Category::SuspectedDischarge,
            Category::StandardExceedance,
            Category::MonitoringAnomaly,
        ][i % 3];
        let station = if i % 2 == 0 { "DL03" } else { "DL05" };
        ledger
            .record_revision(
                &lead(
                    &format!("L{i:02}"),
                    1,
                    cat,
                    station,
                    T0 + i as i64 * 6 * HOUR,
                ),
                T0,
            )
            .await
            .expect("record");
    }
    ledger
        .set_status("L04", Status::Dismissed, "wang", "", T0)
        .await
        .expect("dismiss");

    let (page, total) = ledger
        .list(LeadFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(total, 30);
    let ids: Vec<&str> = page.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(
        ids,
        ["L29", "L28", "L27", "L26", "L25", "L24", "L23", "L22", "L21", "L20"],
        "newest window first"
    );
    let (page3, _) = ledger
        .list(LeadFilter {
            limit: 10,
            offset: 25,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        page3.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        ["L04", "L03", "L02", "L01", "L00"]
    );

    let f = LeadFilter {
        category: Some(Category::SuspectedDischarge),
        station: Some("DL03".into()),
        ..Default::default()
    };
    let (leads, total) = ledger.list(f).await.expect("list");
    assert_eq!(total, 5); // i ≡ 0 mod 6
    assert!(leads
        .iter()
        .all(|l| l.category == Category::SuspectedDischarge && l.station.as_str() == "DL03"));

    let (leads, total) = ledger
        .list(LeadFilter {
            status: Some(Status::Dismissed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!((total, leads[0].id.as_str()), (1, "L04"));

    // Windows are [start, start + 1h]: overlap with [L10 start, L12 start) picks L10 and L11.
    let f = LeadFilter {
        from: Some(T0 + 60 * HOUR),
        to: Some(T0 + 72 * HOUR),
        ..Default::default()
    };
    let (leads, total) = ledger.list(f).await.expect("list");
    assert_eq!(total, 2);
    assert_eq!(
        leads.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        ["L11", "L10"]
    );
}

#[tokio::test]
async fn dead_letters_are_kept_with_their_reason() {
    let (_dir, ledger) = open();
    let a = ledger
        .record_dead_letter(T0, "riverwatch/hj212/X", "crc mismatch", b"##0101QN=...")
        .await
        .expect("dl");
    let b = ledger
        .record_dead_letter(T0 + 1, "store", "value is not finite", b"")
        .await
        .expect("dl");
    assert!(b > a);
    let got = ledger.dead_letters(10).await.expect("list");
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].topic.as_str(), got[1].reason.as_str()),
        ("store", "crc mismatch")
    );
    assert_eq!(got[1].payload, b"##0101QN=...");
}
