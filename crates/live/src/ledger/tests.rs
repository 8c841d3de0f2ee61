//! Analysts' decisions in the ledger's chain (issue 7): each sealed in the transaction that
//! records it, a decision row changed or deleted with plain SQL named by the audit, and a
//! ledger written before decisions were sealed upgraded with its chain still whole.

use super::*;
use crate::seal::records::KIND_DECISION;
use riverwatch_engine::config::Config;
use riverwatch_engine::sim::{Scenario, SimOptions, Simulator};
use riverwatch_engine::time::{DAY, HOUR};
use riverwatch_engine::{Engine, Output};

/// The first `n` lead revisions the engine makes on stormy simulated days (seed 7), with the
/// config that made them.
fn some_leads(n: usize) -> (Vec<Lead>, Arc<Config>) {
    let cfg = Arc::new(Config::embedded());
    let start = 1_751_328_000_000; // 2025-07-01T00:00:00Z
    let opts = SimOptions::new(Scenario::Stormy, 7, start, 30 * DAY);
    let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).expect("simulator");
    let mut engine = Engine::new(Arc::clone(&cfg));
    let (mut out, mut tick) = (Output::default(), Vec::new());
    while sim.next_tick(&mut tick).is_some() {
        for r in &tick {
            engine.push(&sim.to_reading(r), &mut out);
            if out.leads.len() >= n {
                out.leads.truncate(n);
                return (out.leads, cfg);
            }
        }
    }
    panic!("thirty stormy days raise fewer than {n} lead revisions");
}

/// The first lead revision the engine makes on stormy simulated days (seed 7).
fn a_lead() -> Lead {
    some_leads(1).0.remove(0)
}

/// Runs plain SQL on the ledger file, as anyone holding it could; returns the rows changed.
fn tamper(path: &Path, sql: &str) -> usize {
    let c = Connection::open(path).expect("raw connection");
    c.execute(sql, []).expect("tampering SQL runs")
}

/// The reasons of the breaks about decisions.
async fn decision_breaks(ledger: &Ledger) -> Vec<String> {
    let report = ledger.verify_chain(None).await.expect("audit runs");
    report
        .breaks
        .iter()
        .filter(|b| b.kind == KIND_DECISION)
        .map(|b| b.reason.clone())
        .collect()
}

#[tokio::test]
async fn decisions_are_sealed_and_a_changed_or_deleted_row_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ledger.sqlite");
    let signer = Signer::from_seed([3; 32]);
    let key = signer.public_key();
    let ledger = Ledger::open(&path).expect("open").with_signer(Some(signer));
    let lead = a_lead();
    let id = lead.id.as_str();
    let t = lead.window.end;
    assert!(ledger.record_revision(&lead, t).await.expect("record"));
    ledger
        .set_status(
            id,
            Status::Acknowledged,
            "wang",
            "looking into it",
            t + HOUR,
        )
        .await
        .expect("ack");
    ledger
        .set_status(id, Status::Confirmed, "li", "sample confirms", t + 2 * HOUR)
        .await
        .expect("confirm");
    let report = ledger.verify_chain(Some(key)).await.expect("audit");
    assert!(report.ok(), "{:?}", report.breaks);
    assert_eq!((report.decisions, report.leads), (2, 1));
    assert_eq!(report.signed, report.entries, "decisions are signed too");

    // Each field of a decision row, changed and put back: named while changed, whole after.
    let cases = [
        ("analyst", "'zhao'", "'li'", "analyst: \"li\" → \"zhao\""),
        (
            "to_status",
            "'dismissed'",
            "'confirmed'",
            "to_status: \"confirmed\" → \"dismissed\"",
        ),
        (
            "note",
            "'no sample taken'",
            "'sample confirms'",
            "note: its text no longer has the sealed SHA-256",
        ),
    ];
    for (column, changed, original, named) in cases {
        let set = |v: &str| format!("UPDATE status_history SET {column} = {v} WHERE seq = 2");
        assert_eq!(tamper(&path, &set(changed)), 1);
        let breaks = decision_breaks(&ledger).await;
        assert_eq!(breaks.len(), 1, "{breaks:?}");
        assert!(
            breaks[0].starts_with(&format!(
                "decision #2 on lead {id} (li, acknowledged → confirmed, "
            )) && breaks[0].contains("the stored row differs from the sealed one")
                && breaks[0].contains(named),
            "{column}: {breaks:?}"
        );
        tamper(&path, &set(original));
        assert!(ledger.verify_chain(None).await.expect("audit").ok());
    }

    // The lead's current status set behind the ledger's back.
    tamper(&path, "UPDATE leads SET status = 'dismissed'");
    assert_eq!(
        decision_breaks(&ledger).await,
        [format!(
            "lead {id}: its status is `dismissed`, but its last sealed decision (#2, li) set `confirmed`"
        )]
    );
    tamper(&path, "UPDATE leads SET status = 'confirmed'");

    // A deleted decision, and one slipped in outside riverwatch.
    assert_eq!(tamper(&path, "DELETE FROM status_history WHERE seq = 1"), 1);
    let breaks = decision_breaks(&ledger).await;
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    assert!(
        breaks[0].starts_with(&format!(
            "decision #1 on lead {id} (wang, new → acknowledged, "
        )) && breaks[0].ends_with("is sealed but its row is gone"),
        "{breaks:?}"
    );
    tamper(
        &path,
        &format!("INSERT INTO status_history (id, time_ms, analyst, from_status, to_status, note) VALUES ('{id}', {t}, 'zhao', 'confirmed', 'confirmed', 'added later')"),
    );
    let breaks = decision_breaks(&ledger).await;
    assert_eq!(breaks.len(), 2, "{breaks:?}");
    assert!(
        breaks[1].starts_with(&format!("decision #3 on lead {id} (zhao, "))
            && breaks[1].ends_with("is not in the chain: it was recorded outside riverwatch"),
        "{breaks:?}"
    );
}

#[tokio::test]
async fn a_ledger_from_before_sealed_decisions_upgrades_and_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ledger.sqlite");
    let lead = a_lead();
    let t = lead.window.end;
    // What a riverwatch of schema version 2 wrote: a sealed revision, an unsealed decision.
    let head = {
        let mut c = Connection::open(&path).expect("raw connection");
        for (i, sql) in schema::MIGRATIONS[..2].iter().enumerate() {
            let tx = c.transaction().expect("tx");
            tx.execute_batch(sql).expect("old migration");
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .expect("version");
            tx.commit().expect("commit");
        }
        let tx = c.transaction().expect("tx");
        assert!(record_revision(&tx, None, &lead, &SealInput::default(), t).expect("record"));
        tx.commit().expect("commit");
        c.execute(
            "UPDATE leads SET status = 'dismissed' WHERE id = ?1",
            [&lead.id],
        )
        .expect("old status change");
        c.execute(
            "INSERT INTO status_history (id, time_ms, analyst, from_status, to_status, note) VALUES (?1, ?2, 'wang', 'new', 'dismissed', 'sensor cleaning')",
            (&lead.id, t + HOUR),
        )
        .expect("old history row");
        let head: String = c
            .query_row(
                "SELECT digest FROM chain ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("head");
        head
    };

    let ledger = Ledger::open(&path).expect("upgrade");
    assert_eq!(
        ledger.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    let report = ledger.verify_chain(None).await.expect("audit");
    assert!(report.ok(), "{:?}", report.breaks);
    assert_eq!(report.head, head, "the old chain is kept as it was");
    assert_eq!((report.entries, report.decisions), (1, 0));
    assert_eq!(report.unsealed_decisions, 1);

    // Decisions from now on are sealed, after the old entries.
    ledger
        .set_status(
            &lead.id,
            Status::Confirmed,
            "li",
            "reopened: sample confirms",
            t + 2 * HOUR,
        )
        .await
        .expect("confirm");
    let report = ledger.verify_chain(None).await.expect("audit");
    assert!(report.ok(), "{:?}", report.breaks);
    assert_eq!((report.entries, report.decisions), (2, 1));
    assert_eq!(report.unsealed_decisions, 1);
    assert_eq!(
        tamper(
            &path,
            "UPDATE status_history SET analyst = 'zhao' WHERE analyst = 'li'"
        ),
        1
    );
    let breaks = decision_breaks(&ledger).await;
    assert!(
        breaks.len() == 1 && breaks[0].contains("analyst: \"li\" → \"zhao\""),
        "{breaks:?}"
    );
}

/// Every row of `sql`'s single text-convertible column set, as strings joined by `|`.
fn rows(path: &Path, sql: &str) -> Vec<String> {
    let c = Connection::open(path).expect("raw connection");
    let mut st = c.prepare(sql).expect("query");
    let n = st.column_count();
    let rows = st
        .query_map([], |r| {
            (0..n)
                .map(|i| r.get::<_, Value>(i).map(|v| format!("{v:?}")))
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("rows");
    rows.map(|r| r.expect("row").join("|")).collect()
}

#[tokio::test]
async fn revisions_recorded_together_chain_as_recorded_one_by_one() {
    let (leads, cfg) = some_leads(5);
    let input = |i: usize| SealInput {
        evidence: Some(Err(format!("store down {i}"))),
        seen: [("DL03".to_string(), 1_751_328_000_000 + i as i64)].into(),
        engine_from: Some(1_751_328_000_000),
        config: Some(Arc::clone(&cfg)),
    };
    let at = 1_751_400_000_000;
    let dir = tempfile::tempdir().expect("tmp");
    let (one_path, all_path) = (dir.path().join("one.sqlite"), dir.path().join("all.sqlite"));
    let signer = || Some(Signer::from_seed([5; 32]));
    let one = Ledger::open(&one_path).expect("open").with_signer(signer());
    let all = Ledger::open(&all_path).expect("open").with_signer(signer());

    let mut one_new = Vec::new();
    for (i, lead) in leads.iter().enumerate() {
        one_new.push(one.record_sealed(lead, input(i), at).await.expect("record"));
    }
    // The batch also holds a revision twice: the second copy is not new and writes nothing.
    let mut batch: Vec<_> = leads
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, l)| (l, input(i)))
        .collect();
    batch.push((leads[1].clone(), input(9)));
    let all_new = all.record_all(batch, at).await.expect("record all");
    assert_eq!(one_new, vec![true; 5]);
    assert_eq!(all_new, vec![true, true, true, true, true, false]);

    for sql in [
        "SELECT seq, kind, subject, body, prev, digest, signature, key FROM chain ORDER BY seq",
        "SELECT seq, id, revision, json, recorded_ms, published_ms FROM lead_revisions ORDER BY seq",
        "SELECT * FROM leads ORDER BY id",
        "SELECT * FROM configs ORDER BY hash",
    ] {
        let want = rows(&one_path, sql);
        assert!(!want.is_empty(), "{sql}");
        assert_eq!(rows(&all_path, sql), want, "{sql}");
    }
    let report = all
        .verify_chain(signer().map(|s| s.public_key()))
        .await
        .expect("audit");
    assert!(report.ok(), "{:?}", report.breaks);
    assert_eq!((report.leads, report.configs), (5, 1));
    let keys = vec![
        (leads[0].id.clone(), leads[0].revision),
        ("no-such-lead".to_string(), 1),
    ];
    assert_eq!(
        all.has_revisions(keys).await.expect("has"),
        vec![true, false]
    );
}
