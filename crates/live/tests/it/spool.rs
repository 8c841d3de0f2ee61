//! The disk spool: torn-tail recovery, an InfluxDB outage bridged without loss or duplicates,
//! and a previous process's spool read together with the store before it drains.

use crate::{influx_store, readings, sorted, T0};
use riverwatch_engine::time::{DAY, MINUTE};
use riverwatch_engine::Reading;
use riverwatch_live::store::{
    Durable, InfluxStore, ReadingChunks, ReadingStore, Spool, SpooledStore,
};
use riverwatch_live::Backoff;
use riverwatch_testkit::{eventually_async, Influx};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("spool dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

#[test]
fn torn_tail_is_cut_and_complete_records_survive() {
    let dir = tempfile::tempdir().expect("tmp");
    let batches: Vec<Vec<Reading>> = (0..3)
        .map(|i| readings(&["A"], &["ph"], T0 + i * DAY, MINUTE, 5))
        .collect();
    let mut spool = Spool::open(dir.path(), 1 << 20).expect("open");
    for b in &batches {
        spool.append(b).expect("append");
    }
    drop(spool);
    // A crash in the middle of writing the third record.
    let seg = segments(dir.path()).pop().expect("a segment");
    let len = std::fs::metadata(&seg).expect("meta").len();
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open seg")
        .set_len(len - 11)
        .expect("truncate");

    let mut spool = Spool::open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(spool.records(), 2);
    assert!(
        std::fs::metadata(&seg).expect("meta").len() < len - 11,
        "torn bytes are cut off the file"
    );
    // Appends go after the last complete record and are readable.
    spool.append(&batches[2]).expect("append after recovery");
    for b in &batches {
        assert_eq!(spool.peek().expect("peek").as_ref(), Some(b));
        spool.pop().expect("pop");
    }
    assert!(spool.peek().expect("peek").is_none());
}

#[test]
fn a_flipped_byte_fails_the_crc_and_ends_the_segment_there() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut spool = Spool::open(dir.path(), 1 << 20).expect("open");
    let first = readings(&["A"], &["ph"], T0, MINUTE, 5);
    spool.append(&first).expect("append");
    spool
        .append(&readings(&["B"], &["ph"], T0, MINUTE, 5))
        .expect("append");
    drop(spool);
    let seg = segments(dir.path()).pop().expect("segment");
    let mut bytes = std::fs::read(&seg).expect("read");
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(&seg, bytes).expect("write");
    let mut spool = Spool::open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(spool.records(), 1);
    assert_eq!(spool.peek().expect("peek"), Some(first));
}

async fn count(server: &Influx, db: &str) -> u64 {
    let raw = server.query(db, "SELECT count(value) FROM water");
    let v: serde_json::Value = serde_json::from_str(&raw).expect("json");
    v["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

fn spooled_store(store: &InfluxStore, dir: &Path) -> SpooledStore<InfluxStore> {
    SpooledStore::open(store.clone(), dir, 64 << 20).expect("spool")
}

fn start_drain(
    s: &SpooledStore<InfluxStore>,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<()>,
    mpsc::Receiver<riverwatch_live::store::Rejected>,
) {
    let cancel = CancellationToken::new();
    let (tx, rx) = mpsc::channel(16);
    let s2 = s.clone();
    let c2 = cancel.clone();
    let task = tokio::spawn(async move {
        s2.drain(
            c2,
            tx,
            Backoff::new(Duration::from_millis(20), Duration::from_millis(200)),
        )
        .await
    });
    (cancel, task, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_outage_is_spooled_across_a_restart_and_drained_exactly_once() {
    let mut server = Influx::start(); // its own server: this test kills it
    let (store, db) = {
        let (s, db) = influx_store(&server, 500);
        let mut opts = s.opts().clone();
        opts.attempts = 1;
        opts.timeout = Duration::from_secs(2);
        (InfluxStore::new(opts).expect("client"), db)
    };
    let spool_dir = tempfile::tempdir().expect("tmp");
    let stations = ["DL01", "DL02", "DL03"];
    let batches: Vec<Vec<Reading>> = (0..12)
        .map(|i| {
            readings(
                &stations,
                &["ph", "do"],
                T0 + i * 1000 * MINUTE,
                MINUTE,
                100,
            )
        })
        .collect();
    let total: usize = batches.iter().map(Vec::len).sum();

    let spooled = spooled_store(&store, spool_dir.path());
    let (cancel, task, _rx) = start_drain(&spooled);
    assert!(
        matches!(spooled.write(&batches[0]).await.expect("write"), Durable::Stored(r) if r.stored == 600)
    );

    server.stop();
    for b in &batches[1..8] {
        assert_eq!(
            spooled.write(b).await.expect("durable while down"),
            Durable::Spooled
        );
    }
    // MQTT may deliver a message twice (no ack before a crash): the same batch again.
    assert_eq!(
        spooled.write(&batches[3]).await.expect("durable"),
        Durable::Spooled
    );
    // The service stops while InfluxDB is still down; the spool stays on disk.
    cancel.cancel();
    task.await.expect("drain ends on cancel");
    drop(spooled);

    let spooled = spooled_store(&store, spool_dir.path());
    assert_eq!(
        spooled.spooled().0,
        8,
        "every spooled batch survived the restart"
    );
    let (cancel, task, mut rejected) = start_drain(&spooled);
    // Still down: new batches queue behind the old ones.
    for b in &batches[8..] {
        assert_eq!(spooled.write(b).await.expect("durable"), Durable::Spooled);
    }
    server.restart();
    let drained = eventually_async(Duration::from_secs(30), || async {
        (spooled.spooled().0 == 0).then_some(())
    })
    .await;
    assert!(drained.is_some(), "spool did not drain");
    // Once drained, writes go straight to the store again.
    assert!(matches!(
        spooled.write(&batches[0]).await.expect("write"),
        Durable::Stored(_)
    ));

    assert_eq!(
        count(&server, &db).await,
        total as u64,
        "each reading exactly once"
    );
    let all: Vec<Reading> = batches.concat();
    let back = spooled
        .inner()
        .query(&[], T0, T0 + 365 * DAY)
        .await
        .expect("query");
    assert_eq!(back, sorted(all));
    assert!(rejected.try_recv().is_err(), "nothing was refused");
    cancel.cancel();
    task.await.expect("drain ends");
}

/// What `chunks` hands out, checking each chunk is in store order and not empty.
async fn gather(mut chunks: impl ReadingChunks) -> Vec<Reading> {
    let mut all = Vec::new();
    while let Some(chunk) = chunks.next_chunk().await.expect("chunk") {
        assert!(!chunk.is_empty());
        all.extend(chunk);
    }
    assert_eq!(all, sorted(all.clone()));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_process_spool_is_read_with_the_store_as_it_will_be_drained() {
    let (store, _db) = influx_store(Influx::shared(), 500);
    let spool_dir = tempfile::tempdir().expect("tmp");
    let stations = ["DL01", "DL02"];
    // The earlier process stored the first hours, then InfluxDB went down: the rest, and a
    // correction of a stored point, waited in the spool when it stopped.
    let stored = readings(&stations, &["ph", "do"], T0, MINUTE, 300);
    let report = store.write(&stored).await.expect("stored");
    assert!(report.rejected.is_empty(), "{report:?}");
    let later = readings(&stations, &["ph", "do"], T0 + 300 * MINUTE, MINUTE, 200);
    let correction = Reading {
        value: -1.25,
        ..stored[41].clone()
    };
    let mut spool = Spool::open(spool_dir.path(), 64 << 20).expect("spool");
    for b in later.chunks(37) {
        spool.append(b).expect("append");
    }
    spool
        .append(std::slice::from_ref(&correction))
        .expect("append");
    drop(spool);

    let spooled = spooled_store(&store, spool_dir.path());
    let newest = spooled.newest_time().await.expect("newest");
    assert_eq!(
        newest,
        Some(T0 + 499 * MINUTE),
        "the spool's newest, not the store's"
    );
    let (from, to) = (T0 + 5 * MINUTE, T0 + 400 * MINUTE);
    let in_window = |r: &&Reading| (from..to).contains(&r.time);
    let mut want: Vec<Reading> = stored
        .iter()
        .chain(&later)
        .filter(in_window)
        .cloned()
        .collect();
    let at = want
        .iter()
        .position(|r| *r == stored[41])
        .expect("in the window");
    want[at] = correction;
    let got = gather(
        spooled
            .query_chunks(&[], from, to, 64)
            .await
            .expect("query"),
    )
    .await;
    assert_eq!(got, sorted(want));
    // One station: the spool is filtered like the store.
    let dl02 = ["DL02".into()];
    let one = gather(
        spooled
            .query_chunks(&dl02, from, to, 64)
            .await
            .expect("query"),
    )
    .await;
    let want: Vec<Reading> = got
        .iter()
        .filter(|r| r.station == dl02[0])
        .cloned()
        .collect();
    assert_eq!(one, want);

    // The drain makes the store what the merged answer said it would be.
    let (cancel, task, _rx) = start_drain(&spooled);
    let drained = eventually_async(Duration::from_secs(20), || async {
        (spooled.spooled().0 == 0).then_some(())
    })
    .await;
    assert!(drained.is_some(), "spool did not drain");
    cancel.cancel();
    task.await.expect("drain ends");
    assert_eq!(
        spooled.inner().query(&[], from, to).await.expect("query"),
        got
    );
    assert_eq!(spooled.inner().newest_time().await.expect("newest"), newest);
}
