//! SqliteStore on a real file.

use crate::{readings, sorted, T0};
use riverwatch_engine::time::{DAY, MINUTE};
use riverwatch_engine::Reading;
use riverwatch_live::store::{ReadingChunks, ReadingStore, SqliteStore};

#[tokio::test]
async fn readings_round_trip_in_order_and_rewrites_are_idempotent() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("nested/readings.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    let batch = readings(
        &["DL02", "DL01", "S 03,x"],
        &["ph", "nh3n", "do"],
        T0,
        MINUTE,
        200,
    );
    assert_eq!(
        store.write(&batch).await.expect("write").stored,
        batch.len()
    );
    // The same batch again (a replay), with one corrected value.
    let mut again = batch.clone();
    again[5].value = 99.5;
    store.write(&again).await.expect("rewrite");

    let mut want = again.clone();
    want = sorted(std::mem::take(&mut want));
    assert_eq!(store.query(&[], T0, T0 + DAY).await.expect("query"), want);

    // Chunks of 7 cut through the 9 readings that share each timestamp.
    let mut chunks = store
        .query_chunks(
            &["DL01".into(), "S 03,x".into()],
            T0 + 10 * MINUTE,
            T0 + 50 * MINUTE,
            7,
        )
        .await
        .expect("query");
    let mut got = Vec::new();
    while let Some(c) = chunks.next_chunk().await.expect("chunk") {
        assert!(!c.is_empty() && c.len() <= 7);
        got.extend(c);
    }
    let want: Vec<Reading> = want
        .into_iter()
        .filter(|r| {
            r.station.as_str() != "DL02" && r.time >= T0 + 10 * MINUTE && r.time < T0 + 50 * MINUTE
        })
        .collect();
    assert_eq!(got.len(), 40 * 6);
    assert_eq!(got, want);

    // Reopening the file finds everything.
    drop(store);
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        store.query(&[], T0, T0 + DAY).await.expect("query").len(),
        batch.len()
    );
}

#[tokio::test]
async fn newest_time_is_the_latest_reading_of_any_series() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = SqliteStore::open(&dir.path().join("r.sqlite")).expect("open");
    assert_eq!(store.newest_time().await.expect("empty"), None);
    let mut batch = readings(&["A", "B"], &["ph", "do"], T0, MINUTE, 10);
    batch[3].time = T0 + DAY; // one series runs ahead of the others
    store.write(&batch).await.expect("write");
    assert_eq!(store.newest_time().await.expect("newest"), Some(T0 + DAY));
}

#[tokio::test]
async fn non_finite_values_are_refused_not_stored() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = SqliteStore::open(&dir.path().join("r.sqlite")).expect("open");
    let mut batch = readings(&["A"], &["ph"], T0, MINUTE, 3);
    batch[0].value = f64::INFINITY;
    let report = store.write(&batch).await.expect("write");
    assert_eq!((report.stored, report.rejected.len()), (2, 1));
    assert!(report.rejected[0].reason.contains("finite"));
    assert_eq!(
        store.query(&[], T0, T0 + DAY).await.expect("query"),
        batch[1..].to_vec()
    );
}

/// A file made before the covering time index (with the narrower `readings_by_time`) gets the
/// covering one at open, in its place, and reads back what it held.
#[tokio::test]
async fn a_file_with_the_old_time_index_gets_the_covering_one_at_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("r.sqlite");
    let batch = readings(&["A", "B"], &["ph"], T0, MINUTE, 20);
    let store = SqliteStore::open(&path).expect("open");
    store.write(&batch).await.expect("write");
    drop(store);
    let indexes = || -> Vec<String> {
        let c = rusqlite::Connection::open(&path).expect("raw");
        let mut q = c
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'readings' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .expect("prepare");
        let names = q.query_map([], |r| r.get(0)).expect("query");
        names.collect::<Result<_, _>>().expect("names")
    };
    rusqlite::Connection::open(&path)
        .expect("raw")
        .execute_batch(
            "DROP INDEX readings_by_time_covering;
             CREATE INDEX readings_by_time ON readings (time_ms, station, parameter);",
        )
        .expect("the earlier schema");
    assert_eq!(indexes(), ["readings_by_time"]);
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(indexes(), ["readings_by_time_covering"]);
    assert_eq!(
        store.query(&[], T0, T0 + DAY).await.expect("query"),
        sorted(batch)
    );
}
